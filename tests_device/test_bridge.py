# The bridge board's serial link (firmware/bridge_link.py) and its shell (firmware/bridge.py)
# driving the real MRF24J40 driver on the register fake: frames up from the air, frames down to
# it, configuration, and junk on the line.

import gc
import sys
import unittest

from contract.crc16 import append_fcs
from firmware import bridge_link as link
from firmware.bridge import Bridge
from hal.esp32 import mrf24j40 as drv
from hal.fake import mrf24j40 as fake
from tests_device import vectors

MICROPYTHON = sys.implementation.name == "micropython"
HHT_EUI = vectors.h("00237EFFFE000001")


def encode(kind, payload):
    body = bytearray(len(payload) + 3)
    body[0] = kind
    body[1 : 1 + len(payload)] = payload
    out = bytearray(link.wire_size(len(body)))
    return bytes(out[: link.encode(body, len(payload) + 1, out)])


def decode_all(data, size=link.BODY_MAX):
    d = link.Decoder(size)
    got = []
    for b in data:
        n = d.feed(b)
        if n:
            got.append(bytes(d.buf[:n]))
    return got, d


class LinkTest(unittest.TestCase):
    def test_round_trip_with_every_octet_value(self):
        payload = bytes(range(128))
        wire = encode(link.SEND, payload)
        got, d = decode_all(wire)
        self.assertEqual(got, [bytes([link.SEND]) + payload])
        self.assertEqual((d.frames, d.junk), (1, 0))

    def test_flag_esc_and_ctrl_c_never_on_the_line_inside_a_frame(self):
        wire = encode(link.SEND, bytes([0x7E, 0x7D, 0x03, 0x03, 0x7E]))
        inner = wire[1:-1]
        for b in (0x7E, 0x03):
            self.assertFalse(b in inner)  # Ctrl-C would interrupt the board's program
        self.assertEqual(wire[0], link.FLAG)
        self.assertEqual(wire[-1], link.FLAG)

    def test_text_and_damage_are_junk_not_frames(self):
        good = encode(link.INFO, b"")
        bad = bytearray(encode(link.SEND, b"abcdef"))
        bad[3] ^= 0x01  # one bit flipped on the line: the CRC catches it
        text = b"Traceback (most recent call last):\r\n"
        got, d = decode_all(text + good + bytes(bad) + good)
        self.assertEqual(got, [bytes([link.INFO])] * 2)
        self.assertEqual(d.junk, 2)

    def test_overlong_is_dropped_until_the_next_flag(self):
        got, d = decode_all(b"\x7e" + bytes(500) + encode(link.INFO, b""))
        self.assertEqual(got, [bytes([link.INFO])])
        self.assertEqual(d.junk, 1)

    def test_any_bytes_never_raise(self):
        import random

        random.seed(4)
        d = link.Decoder()
        for _ in range(3000):
            d.feed(random.getrandbits(8))
        self.assertTrue(d.junk > 0)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_encode_and_decode_allocate_nothing(self):
        body = bytearray(link.BODY_MAX)
        out = bytearray(link.wire_size())
        d = link.Decoder()
        for i in range(100):
            body[i] = i
        body[0] = link.SEND
        k = link.encode(body, 100, out)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(5):
                k = link.encode(body, 100, out)
                for i in range(k):
                    d.feed(out[i])
            delta = gc.mem_alloc() - before
        finally:
            gc.enable()
        self.assertEqual(delta, 0)
        self.assertEqual(d.frames, 5)


class Sink:
    # The board's sys.stdout.buffer: what the bridge writes.
    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += bytes(b)


class BridgeTest(unittest.TestCase):
    def setUp(self):
        self.chip = fake.FakeMRF24J40(realtime=False)
        self.radio = drv.MRF24J40(
            self.chip.spi,
            self.chip.cs,
            reset=self.chip.reset_pin,
            int_pin=self.chip.int_pin,
            sleep_us=self.chip.sleep_us,
        )
        self.out = Sink()
        self.bridge = Bridge(self.radio, self.out)

    def tearDown(self):
        self.radio.close()

    def host_sends(self, wire):
        self.bridge.feed(wire, len(wire))

    def board_said(self):
        got, d = decode_all(self.out.data)
        self.assertEqual(d.junk, 0)
        self.out.data = b""
        return got

    def configure(self, flags=0, channel=20):
        body = bytearray(link.CONFIG_LEN + 2)
        n = link.put_config(body, channel, 0xFFFF, 0xFFFF, HHT_EUI, flags)
        out = bytearray(link.wire_size())
        self.host_sends(out[: link.encode(body, n, out)])

    def test_config_tunes_and_addresses_the_chip_and_answers_info(self):
        self.configure()
        self.assertEqual((self.chip.channel(), self.chip.pan_id()), (20, 0xFFFF))
        self.assertEqual(self.chip.ext_addr(), HHT_EUI)
        self.assertEqual(self.chip.short[fake.RXMCR], 0x00)  # normal mode, not a coordinator
        self.assertEqual(self.board_said(), [bytes([link.INFO, link.VERSION, 20, 0xA0, 0])])
        self.configure(link.PROMISCUOUS)
        self.assertEqual(self.chip.short[fake.RXMCR], 0x21)  # PROMI, NOACKRSP

    def test_air_frames_go_up_with_lqi_and_rssi(self):
        self.configure()
        self.board_said()
        self.assertTrue(self.chip.inject(vectors.BEACON_REQUEST, lqi=0x77, rssi=0x55))
        self.bridge.air()
        got = self.board_said()
        self.assertEqual(got, [bytes([link.AIR, 20, 0x77, 0x55]) + vectors.BEACON_REQUEST])

    def test_send_goes_on_air_and_its_status_comes_back(self):
        self.configure()
        self.board_said()
        mpdu = vectors.INTERPAN_UNICAST[:-2]
        self.host_sends(encode(link.SEND, mpdu))
        self.assertEqual(self.chip.sent[-1], (23, mpdu, True))
        self.bridge.air()  # the receive task services TXNIF
        self.assertEqual(self.board_said(), [bytes([link.STATUS, drv.TX_OK])])
        self.host_sends(encode(link.SEND, b"\x01"))  # too short for any MPDU
        self.assertEqual(self.board_said(), [bytes([link.STATUS, link.REFUSED])])

    def test_bad_commands_are_counted(self):
        self.host_sends(encode(0x00, b"xyz"))
        self.host_sends(encode(link.CONFIG, b"short"))
        body = bytearray(link.CONFIG_LEN + 2)
        n = link.put_config(body, 99, 0xFFFF, 0xFFFF, HHT_EUI, 0)  # no such channel
        out = bytearray(link.wire_size())
        self.host_sends(out[: link.encode(body, n, out)])
        self.assertEqual(self.bridge.stats["bad_command"], 3)
        self.assertEqual(self.board_said(), [])

    def test_secured_frames_pass_up_too(self):
        self.configure()
        self.board_said()
        f = bytearray(vectors.INTERPAN_UNICAST)
        f[0] |= 0x08
        append_fcs(f, len(f) - 2)
        self.chip.short[fake.RXMCR] = 0x21  # promiscuous: whatever its address
        self.assertTrue(self.chip.inject(bytes(f)))
        for _ in range(3):
            self.bridge.air()
        self.assertEqual(self.board_said(), [bytes([link.AIR, 20, 0xFF, 0xC8]) + bytes(f)])
