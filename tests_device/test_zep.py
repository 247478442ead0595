# ZEP v2 codec, fake medium and the ZEP/UDP radio, on CPython (pytest) and the MicroPython unix
# port (unittest). Sockets are real, on 127.0.0.1; waits are bounded polling loops.

import asyncio
import gc
import os
import socket
import sys
import time
import unittest

from contract.crc16 import crc16
from contract.frame import RxFrame
from hal.fake.medium import FakeRadio, Medium
from hal.sim import aio, zep
from hal.sim.radio_zep import ZepRadio

MP = sys.implementation.name == "micropython"

# MAC beacon request (802.15.4 command 0x07) with its FCS, as an HHT or meter sends it.
BEACON_REQ = b"\x03\x08\x06\xff\xff\xff\xff\x07\xc2\x31"

# The same frame in ZEP v2 written out by hand from the field table (Wireshark's
# epan/dissectors/packet-zep.c): channel 11, device 0x1234, CRC mode, LQI 0xff,
# NTP 0x01020304.05060708, seq 0x0a0b0c0d.
ZEP_BEACON_REQ = (
    b"EX\x02\x01\x0b\x12\x34\x01\xff"
    + b"\x01\x02\x03\x04\x05\x06\x07\x08"
    + b"\x0a\x0b\x0c\x0d"
    + bytes(10)
    + b"\x0a"
    + BEACON_REQ
)


def _addr(port):
    return socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)[0][-1]


def _base_port():
    r = os.urandom(2)
    return 20000 + ((r[0] << 8) | r[1]) % 30000


def _udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(_addr(port))
    except OSError:
        s.close()
        return None
    return s


def _radio_and_medium(**kw):
    # A radio whose medium is a plain socket the test drives by hand.
    base = _base_port()
    for i in range(100):
        pm = base + 2 * i
        m = _udp(pm)
        if m is None:
            continue
        try:
            return ZepRadio(medium_port=pm, local_port=pm + 1, **kw), m, pm + 1
        except OSError:
            m.close()
    raise OSError("no free UDP port pair")


def _radio_pair():
    # Two radios connected straight to each other, no medium in between.
    base = _base_port()
    for i in range(100):
        pa = base + 2 * i
        try:
            a = ZepRadio(medium_port=pa + 1, local_port=pa)
        except OSError:
            continue
        try:
            return a, ZepRadio(medium_port=pa, local_port=pa + 1)
        except OSError:
            a.close()
    raise OSError("no free UDP port pair")


def _poll(radio, frame, tries=400):
    for _ in range(tries):
        if radio.recv(frame):
            return True
        time.sleep(0.005)
    return False


def _drain_until(cond, radio, frame, tries=400):
    # Calls recv until cond() holds (for datagrams recv() discards); bounded.
    for _ in range(tries):
        radio.recv(frame)
        if cond():
            return True
        time.sleep(0.005)
    return False


def _psdu(frame):
    return bytes(frame.buf[frame.off : frame.off + frame.n])


def _datagram(psdu, channel=11, lqi=200, seq=1, device=7):
    b = bytearray(zep.HEADER_LEN + len(psdu))
    zep.write_header(b, channel, device, lqi, seq, len(psdu))
    b[zep.HEADER_LEN :] = psdu
    return b


def _mac_frame(i):
    # A data frame with a counter in its payload, FCS appended.
    b = bytearray(b"\x41\x88\x00\x34\x12\xff\xff\x00\x00" + bytes([i & 0xFF, 0xAA]) + bytes(2))
    c = crc16(b, 0, len(b) - 2)
    b[-2] = c & 0xFF
    b[-1] = c >> 8
    return bytes(b)


class TestCodec(unittest.TestCase):
    def test_header_matches_hand_built_vector(self):
        b = bytearray(zep.HEADER_LEN + len(BEACON_REQ))
        zep.write_header(b, 11, 0x1234, 0xFF, 0x0A0B0C0D, 10, 0x01020304, 0x05060708)
        b[zep.HEADER_LEN :] = BEACON_REQ
        self.assertEqual(bytes(b), ZEP_BEACON_REQ)

    def test_parse_and_accessors(self):
        d = bytearray(5) + ZEP_BEACON_REQ + bytearray(3)  # datagram not at offset 0
        self.assertEqual(zep.parse(d, 5, len(ZEP_BEACON_REQ)), zep.OK)
        self.assertEqual(zep.kind(d, 5), zep.TYPE_DATA)
        self.assertEqual(zep.channel(d, 5), 11)
        self.assertEqual(zep.device_id(d, 5), 0x1234)
        self.assertEqual(zep.lqi(d, 5), 0xFF)
        self.assertEqual(zep.seq(d, 5), 0x0A0B0C0D)
        self.assertEqual(zep.psdu_len(d, 5), 10)
        start = 5 + zep.HEADER_LEN
        self.assertEqual(bytes(d[start : start + zep.psdu_len(d, 5)]), BEACON_REQ)

    def test_rewrite_clears_reserved(self):
        b = bytearray(b"\xee" * 40)
        zep.write_header(b, 26, 0xFFFF, 0, 0xFFFFFFFF, 8)
        self.assertEqual(bytes(b[21:31]), bytes(10))
        self.assertEqual(bytes(b[0:9]), b"EX\x02\x01\x1a\xff\xff\x01\x00")
        self.assertEqual(bytes(b[9:17]), bytes(8))
        self.assertEqual(zep.seq(b, 0), 0xFFFFFFFF)
        self.assertEqual(zep.parse(b, 0, 40), zep.OK)

    def _bad(self, d, n=None):
        return zep.REASONS[zep.parse(d, 0, len(d) if n is None else n)]

    def test_every_reject_reason(self):
        good = bytearray(ZEP_BEACON_REQ)
        self.assertEqual(self._bad(good), "ok")
        self.assertEqual(self._bad(b"EX\x02"), "too_short")
        self.assertEqual(self._bad(good[:31]), "too_short")
        self.assertEqual(self._bad(b""), "too_short")
        d = bytearray(good)
        d[1] = ord("Y")
        self.assertEqual(self._bad(d), "bad_preamble")
        d = bytearray(good)
        d[2] = 1
        self.assertEqual(self._bad(d), "bad_version")
        self.assertEqual(self._bad(b"EX\x02\x02\x00\x00\x00\x01"), "bad_type")  # ZEP ack
        d = bytearray(good)
        d[3] = 3
        self.assertEqual(self._bad(d), "bad_type")
        d = bytearray(good)
        d[7] = 0
        self.assertEqual(self._bad(d), "bad_mode")
        d = bytearray(good[:33])
        d[31] = 1
        self.assertEqual(self._bad(d), "bad_length")
        d = bytearray(good[:32]) + bytearray(128)
        d[31] = 128
        self.assertEqual(self._bad(d), "bad_length")
        d = bytearray(good[:32])
        d[31] = 0
        self.assertEqual(self._bad(d), "bad_length")
        self.assertEqual(self._bad(good + b"\x00"), "length_mismatch")
        self.assertEqual(self._bad(good[:-1]), "length_mismatch")
        self.assertEqual(self._bad(good, len(good) - 1), "length_mismatch")

    def test_reasons_table(self):
        self.assertEqual(zep.REASONS[zep.OK], "ok")
        self.assertEqual(zep.REASONS[zep.HELLO], "hello")
        self.assertEqual(zep.REASONS[zep.LENGTH_MISMATCH], "length_mismatch")
        self.assertEqual(len(zep.REASONS), zep.LENGTH_MISMATCH + 1)
        for name in zep.REASONS:
            self.assertEqual(name, name.lower())
            self.assertTrue(" " not in name and "-" not in name, name)

    def test_parse_never_raises_on_junk(self):
        seen = {}
        x = 12345
        buf = bytearray(200)
        for trial in range(600):
            n = trial % 200
            for i in range(n):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                buf[i] = (x >> 16) & 0xFF
            if trial % 3 == 0 and n >= 4:
                buf[0:4] = b"EX\x02\x01"  # get past the cheap checks often
                buf[7] = 1
                if trial % 2 and n >= zep.HEADER_LEN:
                    buf[31] = n - zep.HEADER_LEN
            r = zep.parse(buf, 0, n)
            self.assertTrue(0 <= r < len(zep.REASONS), r)
            seen[r] = True
        self.assertIn(zep.BAD_PREAMBLE, seen)
        self.assertIn(zep.TOO_SHORT, seen)
        self.assertIn(zep.LENGTH_MISMATCH, seen)

    def test_hello(self):
        b = bytearray(zep.HEADER_LEN)
        self.assertEqual(zep.write_hello(b, 0xBEEF), zep.HEADER_LEN)
        self.assertEqual(bytes(b[0:4]), b"EX\x02\xff")
        self.assertEqual(zep.device_id(b, 0), 0xBEEF)
        self.assertEqual(bytes(b[21:26]), b"HELLO")
        self.assertEqual(zep.psdu_len(b, 0), 0)
        self.assertEqual(zep.parse(b, 0, len(b)), zep.HELLO)
        self.assertEqual(zep.kind(b, 0), zep.TYPE_HELLO)
        # RIOT's socket_zep_hello: length 8, the node's EUI-64 after the header.
        riot = bytearray(b) + b"\x00\x23\x7e\x00\x00\x12\xd6\x87"
        riot[31] = 8
        self.assertEqual(zep.parse(riot, 0, len(riot)), zep.HELLO)
        self.assertEqual(zep.parse(riot, 0, len(riot) - 1), zep.LENGTH_MISMATCH)


class TestFakeMedium(unittest.TestCase):
    def setUp(self):
        self.air = Medium()
        self.a = FakeRadio(self.air)
        self.b = FakeRadio(self.air, inbox_max=3)
        self.c = FakeRadio(self.air)
        eui = b"\x00\x23\x7e\x00\x00\x12\xd6\x87"
        self.a.configure(11, 0x1234, 0x0000, eui)
        self.b.configure(11, 0x1234, 0x0001, eui)
        self.c.configure(15, 0x1234, 0x0002, eui)
        self.f = RxFrame(FakeRadio.HEADROOM)

    def test_delivery_with_fcs(self):
        self.assertTrue(self.a.send(BEACON_REQ, 8))
        self.assertEqual(self.a.sent, [BEACON_REQ])
        self.assertTrue(self.b.recv(self.f))
        self.assertEqual(_psdu(self.f), BEACON_REQ)
        self.assertEqual(self.f.off, 0)
        self.assertEqual(self.f.n, 10)
        self.assertTrue(self.f.crc_ok)
        self.assertEqual(self.f.lqi, 255)
        self.assertFalse(self.b.recv(self.f))
        self.assertFalse(self.a.recv(self.f))  # a radio does not hear itself

    def test_channel_filter(self):
        self.a.send(BEACON_REQ, 8)
        self.assertFalse(self.c.recv(self.f))
        self.c.configure(11, 0x1234, 0x0002, bytes(8))
        self.a.send(BEACON_REQ, 8)
        self.assertTrue(self.c.recv(self.f))

    def test_bounded_inbox_drops_newest(self):
        for i in range(5):
            self.a.send(_mac_frame(i), 11)
        self.assertEqual(len(self.b.inbox), 3)
        self.assertEqual(self.b.stats["rx_dropped"], 2)
        got = []
        while self.b.recv(self.f):
            got.append(self.f.buf[9])
        self.assertEqual(got, [0, 1, 2])

    def test_inject_bad_fcs(self):
        bad = bytearray(BEACON_REQ)
        bad[-1] ^= 1
        self.assertTrue(self.b.inject(bad, lqi=40))
        self.assertTrue(self.b.recv(self.f))
        self.assertFalse(self.f.crc_ok)
        self.assertEqual(self.f.lqi, 40)
        self.assertEqual(_psdu(self.f), bytes(bad))
        self.assertRaises(ValueError, self.b.inject, bytes(128))

    def test_send_too_long(self):
        self.assertFalse(self.a.send(bytes(126), 126))
        self.assertTrue(self.a.send(bytes(125), 125))
        self.assertEqual(len(self.a.sent[0]), 127)

    def test_wait_rx_yields(self):
        async def main():
            await self.b.wait_rx()
            return True

        self.assertTrue(asyncio.run(main()))
        if MP:
            asyncio.new_event_loop()


class TestZepRadio(unittest.TestCase):
    def setUp(self):
        self.closers = []
        self.f = RxFrame(ZepRadio.HEADROOM)

    def tearDown(self):
        for c in self.closers:
            c.close()

    def _pair(self):
        a, b = _radio_pair()
        self.closers += [a, b]
        a.configure(11, 0x1234, 0x0000, b"\x00\x23\x7e\x00\x00\x12\xd6\x87")
        b.configure(11, 0x1234, 0xFFFF, b"\x00\x23\x7e\x00\x00\x00\x00\x01")
        return a, b

    def _with_medium(self, **kw):
        r, m, port = _radio_and_medium(**kw)
        self.closers += [r, m]
        r.configure(11, 0x1234, 0x0000, b"\x00\x23\x7e\x00\x00\x12\xd6\x87")
        return r, m, _addr(port)

    def test_round_trip_between_radios(self):
        a, b = self._pair()
        self.assertTrue(a.send(BEACON_REQ, 8))
        self.assertTrue(_poll(b, self.f))
        self.assertEqual(self.f.off, 32)
        self.assertEqual(self.f.n, 10)
        self.assertEqual(_psdu(self.f), BEACON_REQ)
        self.assertTrue(self.f.crc_ok)
        self.assertEqual(self.f.lqi, 255)
        self.assertEqual(self.f.rssi, -37)
        self.assertFalse(a.recv(self.f))
        self.assertEqual(a.stats["tx"], 1)
        self.assertEqual(b.stats["rx"], 1)

    def test_header_on_the_wire(self):
        r, m, _ = self._with_medium()
        m.settimeout(2)
        t0 = time.time()
        self.assertTrue(r.send(BEACON_REQ, 8))
        self.assertTrue(r.send(BEACON_REQ, 8))
        d1 = m.recv(512)
        d2 = m.recv(512)
        self.assertEqual(len(d1), 42)
        self.assertEqual(zep.parse(d1, 0, len(d1)), zep.OK)
        self.assertEqual(d1[32:], BEACON_REQ)
        self.assertEqual(zep.channel(d1, 0), 11)
        self.assertEqual(zep.lqi(d1, 0), 255)
        self.assertEqual(zep.device_id(d1, 0), r.local_port & 0xFFFF)
        self.assertEqual(zep.seq(d2, 0), zep.seq(d1, 0) + 1)
        ntp = (d1[9] << 24) | (d1[10] << 16) | (d1[11] << 8) | d1[12]
        self.assertTrue(abs(ntp - 2208988800 - t0) <= 2, ntp)

    def test_hello_on_the_wire(self):
        r, m, _ = self._with_medium()
        m.settimeout(2)
        self.assertTrue(r.hello())
        d = m.recv(512)
        self.assertEqual(zep.parse(d, 0, len(d)), zep.HELLO)
        self.assertEqual(zep.device_id(d, 0), r.local_port & 0xFFFF)

    def test_hello_from_peer_is_not_a_frame(self):
        a, b = self._pair()
        a.hello()
        self.assertTrue(_drain_until(lambda: b.stats["rx_hello"] == 1, b, self.f))
        self.assertEqual(b.stats["rx"], 0)
        self.assertEqual(b.stats["rx_junk"], 0)

    def test_channel_filter(self):
        r, m, ra = self._with_medium()
        m.sendto(_datagram(BEACON_REQ, channel=15), ra)
        self.assertTrue(_drain_until(lambda: r.stats["rx_other_channel"] == 1, r, self.f))
        m.sendto(_datagram(BEACON_REQ, channel=11, lqi=100), ra)
        self.assertTrue(_poll(r, self.f))
        self.assertEqual(self.f.lqi, 100)
        self.assertEqual(r.stats["rx"], 1)

    def test_junk_is_counted_and_skipped(self):
        r, m, ra = self._with_medium()
        m.sendto(b"GARBAGE" * 6, ra)
        self.assertTrue(_drain_until(lambda: r.stats["rx_junk"] == 1, r, self.f))
        self.assertEqual(r.stats["rx_bad_preamble"], 1)
        m.sendto(ZEP_BEACON_REQ[:-1], ra)  # a byte short
        self.assertTrue(_drain_until(lambda: r.stats["rx_junk"] == 2, r, self.f))
        self.assertEqual(r.stats["rx_length_mismatch"], 1)
        m.sendto(ZEP_BEACON_REQ, ra)
        self.assertTrue(_poll(r, self.f))
        self.assertEqual(_psdu(self.f), BEACON_REQ)

    def test_bad_fcs_is_delivered_flagged(self):
        r, m, ra = self._with_medium()
        bad = bytearray(BEACON_REQ)
        bad[3] ^= 0x10
        m.sendto(_datagram(bad), ra)
        self.assertTrue(_poll(r, self.f))
        self.assertFalse(self.f.crc_ok)
        self.assertEqual(_psdu(self.f), bytes(bad))

    def test_burst_arrives_in_order(self):
        r, m, ra = self._with_medium()
        for i in range(40):
            m.sendto(_datagram(_mac_frame(i), seq=i), ra)
        time.sleep(0.05)
        got = []
        for _ in range(400):
            if r.recv(self.f):
                self.assertTrue(self.f.crc_ok)
                got.append(self.f.buf[self.f.off + 9])
            elif len(got) == 40:
                break
            else:
                time.sleep(0.005)
        self.assertEqual(got, list(range(40)))
        self.assertEqual(r.stats["rx_overrun"], 0)

    def test_overrun_when_batch_buffer_fills(self):
        # 45-octet datagrams into a 159-octet batch: three fit, the fourth is cut (MicroPython
        # reads a whole queue in one call); CPython reads datagrams one by one and loses none.
        r, m, ra = self._with_medium(rx_buf=159)
        for i in range(5):
            m.sendto(_datagram(_mac_frame(i)), ra)
        time.sleep(0.05)
        got = []
        for _ in range(400):
            if r.recv(self.f):
                got.append(self.f.buf[self.f.off + 9])
            elif len(got) + r.stats["rx_overrun"] == 5:
                break
            else:
                time.sleep(0.005)
        if MP:
            self.assertEqual(got, [0, 1, 2, 4])
            self.assertEqual(r.stats["rx_overrun"], 1)
        else:
            self.assertEqual(got, [0, 1, 2, 3, 4])
            self.assertEqual(r.stats["rx_overrun"], 0)

    def test_send_rejects_oversize(self):
        r, m, _ = self._with_medium()
        self.assertFalse(r.send(bytes(126), 126))
        self.assertEqual(r.stats["tx_fail"], 1)
        m.settimeout(2)
        self.assertTrue(r.send(bytes(125), 125))
        d = m.recv(512)
        self.assertEqual(len(d), 32 + 127)
        self.assertEqual(zep.parse(d, 0, len(d)), zep.OK)

    def test_no_medium_is_not_fatal(self):
        r, m, _ = self._with_medium()
        m.close()  # nobody listens: the kernel answers ICMP port unreachable
        for _ in range(3):
            r.send(BEACON_REQ, 8)
            time.sleep(0.01)
            self.assertFalse(r.recv(self.f))
        self.assertTrue(r.stats["tx_fail"] + r.stats["rx_refused"] >= 1)

    def test_wait_rx(self):
        a, b = self._pair()

        async def main():
            try:
                await asyncio.wait_for(b.wait_rx(), 0.1)
                idle = "woke"
            except asyncio.TimeoutError:
                idle = "timeout"

            async def later():
                await asyncio.sleep(0.05)
                a.send(BEACON_REQ, 8)

            t = asyncio.create_task(later())
            await asyncio.wait_for(b.wait_rx(), 2)
            await t
            return idle, b.recv(self.f)

        self.assertEqual(asyncio.run(main()), ("timeout", True))
        self.assertEqual(_psdu(self.f), BEACON_REQ)
        if MP:
            asyncio.new_event_loop()

    def test_wait_rx_with_frames_already_read(self):
        r, m, ra = self._with_medium()
        for i in range(3):
            m.sendto(_datagram(_mac_frame(i)), ra)
        time.sleep(0.05)
        self.assertTrue(r.recv(self.f))

        async def main():
            await asyncio.wait_for(r.wait_rx(), 0.5)
            return r.recv(self.f)

        self.assertTrue(asyncio.run(main()))
        self.assertEqual(self.f.buf[self.f.off + 9], 1)
        if MP:
            asyncio.new_event_loop()

    def test_wait_readable_plain_socket(self):
        _, m, _ = self._with_medium()  # m: just a socket to send from
        base = _base_port()
        for i in range(100):
            s = _udp(base + i)
            if s is not None:
                sa = _addr(base + i)
                break
        self.closers.append(s)
        s.setblocking(False)

        async def main():
            async def later():
                await asyncio.sleep(0.05)
                m.sendto(b"x", sa)

            t = asyncio.create_task(later())
            await asyncio.wait_for(aio.wait_readable(s), 2)
            await t
            return s.recv(16)

        self.assertEqual(asyncio.run(main()), b"x")
        if MP:
            asyncio.new_event_loop()


@unittest.skipUnless(MP, "heap accounting is MicroPython's gc.mem_alloc")
class TestNoAllocation(unittest.TestCase):
    def test_parse_allocates_nothing(self):
        d = bytearray(ZEP_BEACON_REQ)
        junk = bytearray(b"EX\x02\x02" + bytes(40))
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(100):
                zep.parse(d, 0, 42)
                zep.parse(junk, 0, 44)
                zep.channel(d, 0)
                zep.psdu_len(d, 0)
                zep.lqi(d, 0)
                zep.kind(d, 0)
            used = gc.mem_alloc() - before
        finally:
            gc.enable()
        self.assertEqual(used, 0)

    def test_recv_allocates_nothing(self):
        r, m, port = _radio_and_medium()
        try:
            r.configure(11, 0x1234, 0, bytes(8))
            ra = _addr(port)
            f = RxFrame(ZepRadio.HEADROOM)
            good = [_datagram(_mac_frame(i)) for i in range(50)]
            other = _datagram(BEACON_REQ, channel=12)
            hello = bytearray(32)
            zep.write_hello(hello, 1)
            junk = b"EX\x02\x02" + bytes(40)
            used = 0
            got = 0
            for _ in range(4):
                for i, d in enumerate(good):
                    m.sendto(d, ra)
                    if i == 10:
                        m.sendto(other, ra)
                        m.sendto(hello, ra)
                m.sendto(junk, ra)  # last: junk ends a batch's framing
                time.sleep(0.05)
                gc.collect()
                gc.disable()
                before = gc.mem_alloc()
                n = 0
                for _ in range(60):
                    if r.recv(f):
                        n += 1
                used += gc.mem_alloc() - before
                gc.enable()
                got += n
        finally:
            gc.enable()
            r.close()
            m.close()
        self.assertEqual(got, 200)
        self.assertEqual(r.stats["rx_other_channel"], 4)
        self.assertEqual(r.stats["rx_hello"], 4)
        self.assertEqual(r.stats["rx_junk"], 4)
        self.assertEqual(used, 0)


if __name__ == "__main__":
    unittest.main()
