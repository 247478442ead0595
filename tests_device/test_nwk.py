import gc
import sys
import unittest

from firmware import mac
from firmware import zb_nwk as nwk
from tests_device import vectors

MICROPYTHON = sys.implementation.name == "micropython"

# A GSME's attribute report to the hub as tshark 4.0 dissects it (MAC data 0x8861, NWK data
# 0x0048 from 0x1234 to 0x0000 radius 30 seq 7, APS data ep 1 -> 1, cluster 0x0702 profile
# 0x0109 counter 5, ZCL Report Attributes of CurrentSummationDelivered 0x060504030201).
REPORT = vectors.h(
    "6188 05 2b1a 0000 3412"
    " 4800 0000 3412 1e 07"
    " 00 01 0207 0901 01 05"
    " 18 01 0a 0000 25 010203040506"
)
MAC_LEN = 9


def parse(frame, start=MAC_LEN):
    h = nwk.NwkHeader()
    a = nwk.ApsHeader()
    return nwk.parse(frame, start, len(frame), h, a), h, a


class ParseTest(unittest.TestCase):
    def test_report_vector(self):
        r, h, a = parse(REPORT)
        self.assertEqual(r, nwk.OK)
        self.assertEqual((h.ftype, h.dst, h.src, h.radius, h.seq), (0, 0x0000, 0x1234, 30, 7))
        self.assertEqual((h.dst_ieee_off, h.src_ieee_off), (-1, -1))
        self.assertEqual(h.payload_off, MAC_LEN + 8)
        self.assertEqual((a.ftype, a.delivery, a.dst_ep, a.src_ep), (0, 0, 1, 1))
        self.assertEqual((a.cluster, a.profile, a.counter), (0x0702, 0x0109, 5))
        self.assertEqual(REPORT[a.payload_off], 0x18)  # the ZCL frame control
        self.assertFalse(a.ack_req())

    def test_ieee_addresses_follow_the_sequence_number(self):
        buf = bytearray(64)
        dst = b"\x00\x23\x7e\x00\x00\x12\xd6\x87"
        src = b"\x00\x23\x7e\x00\x00\x00\x00\x02"
        p = nwk.write_nwk(buf, 0, 0x0000, 0x1234, 9, dst_ieee=dst, src_ieee=src)
        self.assertEqual(p, 24)
        self.assertEqual(buf[0] | buf[1] << 8, 0x1848)
        h = nwk.NwkHeader()
        self.assertEqual(nwk.parse_nwk(buf, 0, p, h), nwk.OK)
        self.assertEqual((h.dst_ieee_off, h.src_ieee_off, h.payload_off), (8, 16, 24))
        self.assertEqual(bytes(buf[8:16]), bytes(reversed(dst)))
        self.assertEqual(bytes(buf[16:24]), bytes(reversed(src)))

    def test_source_route_and_multicast_are_skipped(self):
        # FC 0x0548: source route + multicast; relay count 2, index 0, two relays.
        frame = vectors.h("4805 fdff 3412 05 01 7f 02 00 1111 2222 00 01 0207 0901 01 09 00")
        h = nwk.NwkHeader()
        self.assertEqual(nwk.parse_nwk(frame, 0, len(frame), h), nwk.OK)
        self.assertEqual(h.payload_off, 8 + 1 + 2 + 4)
        self.assertEqual(h.dst, 0xFFFD)

    def test_security_is_the_documented_gap(self):
        frame = bytearray(REPORT)
        frame[MAC_LEN + 1] |= 0x02  # NWK security bit
        self.assertEqual(parse(frame)[0], nwk.SECURED)

    def test_wrong_version_and_types(self):
        frame = bytearray(REPORT)
        frame[MAC_LEN] = 0x44  # protocol version 1 (ZigBee 2004)
        self.assertEqual(parse(frame)[0], nwk.BAD_VERSION)
        frame[MAC_LEN] = 0x0B  # inter-PAN stub
        self.assertEqual(parse(frame)[0], nwk.BAD_TYPE)
        frame[MAC_LEN] = 0x4A  # reserved type 2
        self.assertEqual(parse(frame)[0], nwk.BAD_TYPE)
        frame[MAC_LEN] = 0x49  # a NWK command: the header parses, there is no APS
        r, h, a = parse(frame)
        self.assertEqual((r, h.ftype), (nwk.NOT_DATA, nwk.FT_COMMAND))

    def test_every_truncation_is_reported_not_raised(self):
        for end in range(MAC_LEN, nwk.HEADERS_LEN):
            h = nwk.NwkHeader()
            a = nwk.ApsHeader()
            r = nwk.parse(REPORT, MAC_LEN, end, h, a)
            self.assertEqual(r, nwk.TRUNCATED)

    def test_aps_variants(self):
        a = nwk.ApsHeader()
        # group delivery: group address instead of a destination endpoint
        g = vectors.h("0c 3412 0207 0901 01 09 aa")
        self.assertEqual(nwk.parse_aps(g, 0, len(g), a), nwk.OK)
        self.assertEqual((a.group, a.dst_ep, a.cluster, a.payload_off), (0x1234, -1, 0x0702, 9))
        # broadcast with ACK request
        b = vectors.h("48 ff 0207 0901 01 09")
        self.assertEqual(nwk.parse_aps(b, 0, len(b), a), nwk.OK)
        self.assertTrue(a.ack_req())
        # command, ack (both formats), secured, extended header, reserved delivery mode
        self.assertEqual(nwk.parse_aps(b"\x01\x05\x0e", 0, 3, a), nwk.NOT_DATA)
        ack = vectors.h("02 01 0207 0901 01 09")
        self.assertEqual(nwk.parse_aps(ack, 0, len(ack), a), nwk.NOT_DATA)
        self.assertEqual(a.counter, 9)
        self.assertEqual(nwk.parse_aps(b"\x12\x09", 0, 2, a), nwk.NOT_DATA)
        self.assertEqual(
            nwk.parse_aps(b"\x20\x01\x02\x07\x09\x01\x01\x09", 0, 8, a), nwk.APS_SECURED
        )
        self.assertEqual(
            nwk.parse_aps(b"\x80\x01\x02\x07\x09\x01\x01\x09", 0, 8, a), nwk.APS_UNSUPPORTED
        )
        self.assertEqual(
            nwk.parse_aps(b"\x04\x01\x02\x07\x09\x01\x01\x09", 0, 8, a), nwk.APS_UNSUPPORTED
        )
        self.assertEqual(nwk.parse_aps(b"\x03\x02\x07\x09\x01", 0, 5, a), nwk.BAD_TYPE)

    def test_junk_never_raises(self):
        # A deterministic walk over random octets: every result is a known code.
        x = 12345
        h = nwk.NwkHeader()
        a = nwk.ApsHeader()
        buf = bytearray(40)
        for _ in range(2000):
            for i in range(len(buf)):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                buf[i] = x >> 16 & 0xFF
            n = x % 41
            r = nwk.parse(buf, 0, n, h, a)
            self.assertTrue(0 <= r < len(nwk.NAMES))


class BuildTest(unittest.TestCase):
    def test_write_frame_reproduces_the_vector(self):
        buf = bytearray(127)
        p = nwk.write_frame(buf, 5, 0x1A2B, 0x0000, 0x1234, 7, 5, 0x0702)
        self.assertEqual(p, nwk.HEADERS_LEN)
        zcl = REPORT[p:]
        for i in range(len(zcl)):
            buf[p + i] = zcl[i]
        self.assertEqual(bytes(buf[: p + len(zcl)]), REPORT)
        f = mac.MacFrame()
        psdu = bytearray(REPORT) + b"\x00\x00"
        self.assertEqual(mac.parse(psdu, 0, len(psdu), f), 0)
        self.assertEqual(f.payload_off, MAC_LEN)

    def test_pending_bit(self):
        buf = bytearray(127)
        nwk.write_frame(buf, 1, 0x1A2B, 0x1234, 0x0000, 1, 1, 0x0702, pending=True)
        self.assertEqual(buf[0] | buf[1] << 8, 0x8871)


class NoAllocationTest(unittest.TestCase):
    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_parse_allocates_nothing(self):
        h = nwk.NwkHeader()
        a = nwk.ApsHeader()
        bad = bytearray(REPORT)
        bad[MAC_LEN + 1] |= 0x02
        end = len(REPORT)
        nwk.parse(REPORT, MAC_LEN, end, h, a)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(1000):
                nwk.parse(REPORT, MAC_LEN, end, h, a)
                nwk.parse(bad, MAC_LEN, end, h, a)
                nwk.parse(REPORT, MAC_LEN, 20, h, a)
            self.assertEqual(gc.mem_alloc() - before, 0)
        finally:
            gc.enable()
