import unittest

from firmware import eui64, mac
from firmware import hub_reject as reject
from firmware import mac_beacon as beacon
from firmware import mac_peer as peer
from tests_device import vectors
from tests_device.vectors import with_fcs


def parse(psdu):
    f = mac.MacFrame()
    return mac.parse(psdu, 0, len(psdu), f), f


class ParseVectorsTest(unittest.TestCase):
    def test_beacon_request(self):
        r, f = parse(vectors.BEACON_REQUEST)
        self.assertEqual(r, reject.OK)
        self.assertEqual(f.ftype, mac.COMMAND)
        self.assertEqual(f.seq, 6)
        self.assertEqual((f.dst_pan, f.dst_short, f.src_mode), (0xFFFF, 0xFFFF, 0))
        self.assertEqual(peer.command_id(vectors.BEACON_REQUEST, f), mac.CMD_BEACON_REQ)

    def test_beacon(self):
        v = vectors.BEACON
        r, f = parse(v)
        self.assertEqual(r, reject.OK)
        self.assertEqual((f.ftype, f.seq, f.src_pan, f.src_short), (mac.BEACON, 0x89, 0x99AA, 0))
        self.assertEqual(peer.beacon_superframe(v, f), 0xCFFF)
        p = peer.beacon_payload_off(v, f)
        zb = peer.parse_zigbee_payload(v, p, f.payload_end)
        self.assertEqual(zb["stack_profile"], 2)
        self.assertEqual(zb["protocol_version"], 2)
        self.assertTrue(zb["router_capacity"] and zb["end_device_capacity"])
        self.assertEqual(zb["epid"], vectors.BEACON_EPID)
        self.assertEqual(zb["tx_offset"], 0xFFFFFF)

    def test_beacon_with_pending_addresses(self):
        v = vectors.BEACON_PENDING
        r, f = parse(v)
        self.assertEqual(r, reject.OK)
        p = peer.beacon_payload_off(v, f)
        self.assertEqual(p, 11 + 2 * 2 + 8)
        self.assertEqual(
            peer.parse_zigbee_payload(v, p, f.payload_end)["epid"], vectors.BEACON_EPID
        )

    def test_coordinator_realignment(self):
        v = vectors.COORD_REALIGN
        r, f = parse(v)
        self.assertEqual(r, reject.OK)
        self.assertTrue(f.ack_req())
        self.assertEqual((f.dst_mode, f.src_mode), (mac.ADDR_EXT, mac.ADDR_EXT))
        self.assertEqual((f.dst_pan, f.src_pan), (0xFFFF, 0x99AA))
        self.assertEqual(eui64.read_le(v, f.dst_ext_off), vectors.h("1122334455667788"))
        self.assertEqual(eui64.read_le(v, f.src_ext_off), vectors.h("8899aabbccddeeff"))
        self.assertEqual(peer.command_id(v, f), 8)

    def test_interpan_frames(self):
        r, f = parse(vectors.INTERPAN_UNICAST)
        self.assertEqual(r, reject.OK)
        self.assertEqual((f.ftype, f.dst_pan, f.src_pan), (mac.DATA, 0xFFFF, 0x1234))
        self.assertTrue(
            eui64.equals_le(
                vectors.INTERPAN_UNICAST, f.src_ext_off, vectors.h("8899aabbccddeeff"), 0
            )
        )
        self.assertEqual(f.payload_end - f.payload_off, 10)
        r, f = parse(vectors.INTERPAN_BROADCAST)
        self.assertEqual(r, reject.OK)
        self.assertEqual((f.dst_short, f.src_mode, f.ack_req()), (0xFFFF, mac.ADDR_EXT, False))


class BuildTest(unittest.TestCase):
    def test_beacon_request_matches_vector(self):
        buf = bytearray(16)
        self.assertEqual(with_fcs(buf, peer.build_beacon_request(buf, 6)), vectors.BEACON_REQUEST)

    def test_beacon_matches_vector(self):
        buf = bytearray(40)
        payload = beacon.zigbee_payload(vectors.BEACON_EPID)
        n = mac.build_beacon(buf, 0x89, 0x99AA, 0, beacon.superframe(True), payload)
        self.assertEqual(with_fcs(buf, n), vectors.BEACON)

    def test_interpan_frames_match_vectors(self):
        payload = vectors.h("0b00 0300080901 010500")
        buf = bytearray(64)
        n = peer.build_data(
            buf,
            0x42,
            0xFFFF,
            vectors.h("0011223344556677"),
            0x1234,
            vectors.h("8899aabbccddeeff"),
            payload,
            ack_req=True,
        )
        self.assertEqual(with_fcs(buf, n), vectors.INTERPAN_UNICAST)
        payload = vectors.h("0b00 0b00080901 010500")
        n = peer.build_data(
            buf, 0x43, 0xFFFF, 0xFFFF, 0x1234, vectors.h("8899aabbccddeeff"), payload
        )
        self.assertEqual(with_fcs(buf, n), vectors.INTERPAN_BROADCAST)

    def test_coordinator_realignment_matches_vector(self):
        buf = bytearray(64)
        n = peer.build_command(
            buf,
            0x89,
            0xFFFF,
            vectors.h("1122334455667788"),
            0x99AA,
            vectors.h("8899aabbccddeeff"),
            8,
            vectors.h("aa99dec014adde"),
        )
        self.assertEqual(with_fcs(buf, n), vectors.COORD_REALIGN)

    def test_compression_round_trip(self):
        buf = bytearray(64)
        n = peer.build_data(buf, 9, 0x1A2B, 0x0000, 0x1A2B, vectors.BEACON_EPID, b"\x01\x02")
        psdu = with_fcs(buf, n)
        r, f = parse(psdu)
        self.assertEqual(r, reject.OK)
        self.assertEqual(f.fcf & 0x40, 0x40)  # PAN ID compression used
        self.assertEqual((f.dst_pan, f.src_pan, f.dst_short), (0x1A2B, 0x1A2B, 0))
        self.assertEqual(f.payload_end - f.payload_off, 2)

    def test_ack(self):
        buf = bytearray(8)
        n = peer.build_ack(buf, 0x33, pending=True)
        r, f = parse(with_fcs(buf, n))
        self.assertEqual((r, f.ftype, f.seq, f.pending()), (reject.OK, mac.ACK, 0x33, True))


class RejectTest(unittest.TestCase):
    def check(self, psdu, why):
        r, _ = parse(psdu)
        self.assertEqual(reject.NAMES[r], reject.NAMES[why])

    def test_too_short(self):
        for n in range(5):
            self.check(bytes(n), reject.TOO_SHORT)

    def test_reserved_frame_type(self):
        self.check(vectors.h("0500 01 0000"), reject.RESERVED_TYPE)

    def test_security(self):
        self.check(vectors.h("0908 01 ffff ffff 00 0000"), reject.MAC_SECURITY)

    def test_reserved_version(self):
        self.check(vectors.h("0328 06 ffff ffff 07 0000"), reject.RESERVED_VERSION)

    def test_reserved_addr_mode(self):
        self.check(vectors.h("0304 06 ffff ffff 07 0000"), reject.RESERVED_ADDR_MODE)

    def test_compression_without_both_addresses(self):
        self.check(vectors.h("4308 06 ffff ffff 07 0000"), reject.BAD_PANID_COMP)

    def test_truncated_everywhere(self):
        # Every prefix shorter than the header plus the type's fixed fields is rejected (with a
        # fake FCS appended); from that length on, the frame parses.
        for v, minimum in (
            (vectors.COORD_REALIGN, 24),
            (vectors.INTERPAN_UNICAST, 23),
            (vectors.BEACON, 11),
            (vectors.BEACON_REQUEST, 8),
        ):
            for cut in range(3, len(v) - 1):
                r, _ = parse(v[:cut] + b"\0\0")
                self.assertEqual(r == reject.OK, cut >= minimum, (v, cut, r))

    def test_ack_with_addresses(self):
        self.check(vectors.h("0208 01 ffff ffff 0000"), reject.TRUNCATED)

    def test_command_without_id(self):
        self.check(vectors.h("0308 06 ffff ffff 0000"), reject.TRUNCATED)

    def test_every_two_byte_fcf_never_raises(self):
        buf = bytearray(vectors.INTERPAN_UNICAST)
        f = mac.MacFrame()
        seen = set()
        for fcf in range(0, 0x10000, 7):
            buf[0] = fcf & 0xFF
            buf[1] = fcf >> 8
            for n in (5, 9, 12, len(buf)):
                seen.add(mac.parse(buf, 0, n, f))
        self.assertTrue(len(seen) >= 6)
