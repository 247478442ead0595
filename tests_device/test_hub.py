import gc
import sys
import unittest

from contract.crc16 import fcs_ok
from contract.frame import RxFrame
from firmware import decision, mac
from firmware import hub_reject as reject
from firmware import mac_peer as peer
from firmware.core import Core
from firmware.settings import Settings
from tests_device import vectors

MICROPYTHON = sys.implementation.name == "micropython"


def make_hub(*overrides):
    return Core(Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",) + overrides)).hub


def reply(h):
    # The transmitted MPDU with its FCS, as the radio would put it on air.
    from tests_device.test_mac import with_fcs

    return with_fcs(h.out.tx_buf, h.out.tx_len)


class BeaconReplyTest(unittest.TestCase):
    def test_beacon_request_gets_a_beacon(self):
        h = make_hub("radio.pan_id=0x1A2B")
        frame = vectors.load(RxFrame(), vectors.BEACON_REQUEST)
        self.assertEqual(h.on_frame(frame, 0), decision.TRANSMIT)
        self.assertEqual(h.out.tx_kind, decision.TX_BEACON)
        psdu = reply(h)
        self.assertTrue(fcs_ok(psdu, 0, len(psdu)))
        f = mac.MacFrame()
        self.assertEqual(mac.parse(psdu, 0, len(psdu), f), reject.OK)
        self.assertEqual((f.ftype, f.src_pan, f.src_short), (mac.BEACON, 0x1A2B, 0x0000))
        self.assertEqual(peer.beacon_superframe(psdu, f), 0x4FFF)  # joining closed by default
        p = peer.beacon_payload_off(psdu, f)
        self.assertEqual(psdu[p + 3 : p + 11], vectors.h("87d6120000 7e2300"))  # EPID = GUID, LE
        self.assertEqual(psdu[p + 11 : p + 14], b"\xff\xff\xff")

    def test_permit_bit_follows_setting(self):
        h = make_hub("join.permit=1")
        h.on_frame(vectors.load(RxFrame(), vectors.BEACON_REQUEST), 0)
        psdu = reply(h)
        f = mac.MacFrame()
        mac.parse(psdu, 0, len(psdu), f)
        self.assertEqual(peer.beacon_superframe(psdu, f), 0xCFFF)

    def test_beacon_sequence_numbers_advance(self):
        h = make_hub()
        seqs = []
        for _ in range(3):
            h.on_frame(vectors.load(RxFrame(), vectors.BEACON_REQUEST), 0)
            seqs.append(h.out.tx_buf[2])
        self.assertEqual(seqs, [0, 1, 2])

    def test_zep_headroom(self):
        h = make_hub()
        frame = vectors.load(RxFrame(32), vectors.BEACON_REQUEST, off=32)
        self.assertEqual(h.on_frame(frame, 0), decision.TRANSMIT)


class DropTest(unittest.TestCase):
    def test_bad_fcs_is_counted(self):
        h = make_hub()
        frame = vectors.load(RxFrame(), vectors.BEACON_REQUEST, crc_ok=False)
        self.assertEqual(h.on_frame(frame, 0), decision.NOTHING)
        self.assertEqual(h.rejected[reject.BAD_FCS], 1)

    def test_junk_is_counted_by_reason(self):
        h = make_hub()
        h.on_frame(vectors.load(RxFrame(), b"\x05\x00\x01\x00\x00"), 0)
        h.on_frame(vectors.load(RxFrame(), b"\x03"), 0)
        h.on_frame(vectors.load(RxFrame(), vectors.BEACON), 0)  # a neighbour's beacon
        self.assertEqual(h.rejected[reject.RESERVED_TYPE], 1)
        self.assertEqual(h.rejected[reject.TOO_SHORT], 1)
        self.assertEqual(h.rejected[reject.UNHANDLED], 1)

    def test_beacon_request_to_a_unicast_address_is_not_answered(self):
        h = make_hub()
        psdu = bytearray(vectors.BEACON_REQUEST)
        psdu[5] = 0x01  # dst short 0xFF01
        from contract.crc16 import append_fcs

        append_fcs(psdu, len(psdu) - 2)
        self.assertEqual(h.on_frame(vectors.load(RxFrame(), psdu), 0), decision.NOTHING)
        self.assertEqual(h.rejected[reject.NOT_FOR_US], 1)

    def test_other_pan_is_not_for_us(self):
        from tests_device.test_mac import with_fcs

        h = make_hub("radio.pan_id=0x1A2B")
        buf = bytearray(32)
        n = peer.build_data(buf, 1, 0x5555, 0x0000, 0x5555, 0x0001, b"\x00")
        self.assertEqual(h.on_frame(vectors.load(RxFrame(), with_fcs(buf, n)), 0), 0)
        self.assertEqual(h.rejected[reject.NOT_FOR_US], 1)
        # Broadcast-PAN frames are looked at; ones the hub has no use for are "unhandled".
        h.on_frame(vectors.load(RxFrame(), vectors.COORD_REALIGN), 0)
        self.assertEqual(h.rejected[reject.UNHANDLED], 1)


class NoAllocationTest(unittest.TestCase):
    # The receive path for drops and beacon replies allocates nothing (MicroPython only:
    # CPython has no gc.mem_alloc).
    def measure(self, h, frame, rounds=1000):
        h.on_frame(frame, 0)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for i in range(rounds):
                h.on_frame(frame, i)
            return gc.mem_alloc() - before
        finally:
            gc.enable()

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_beacon_request_path(self):
        h = make_hub()
        self.assertEqual(self.measure(h, vectors.load(RxFrame(), vectors.BEACON_REQUEST)), 0)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_drop_paths(self):
        h = make_hub()
        for psdu, ok in (
            (vectors.BEACON_REQUEST, False),
            (b"\x05\x00\x01\x00\x00", True),
            (vectors.INTERPAN_UNICAST, True),
            (vectors.BEACON, True),
        ):
            self.assertEqual(self.measure(h, vectors.load(RxFrame(), psdu, crc_ok=ok)), 0)


class NoFrameAllocationTest(unittest.TestCase):
    # The floodable paths allocate nothing, call frames included (micropython.mem_total, which
    # also counts a frame freed on return; skipped where the interpreter has no such counter).
    def setUp(self):
        from tests_device.alloc import heap_bytes

        if heap_bytes(lambda: None) is None:
            self.skipTest("needs micropython.mem_total")
        self.heap_bytes = heap_bytes

    def per_frame(self, h, psdu, now=0, crc_ok=True):
        frame = vectors.load(RxFrame(), psdu, crc_ok=crc_ok)
        return self.heap_bytes(lambda: h.on_frame(frame, now), rounds=50)

    def test_beacon_request_bad_fcs_and_interpan_while_off(self):
        from tests_device import interpan_frames as ipf

        h = make_hub()
        self.assertEqual(self.per_frame(h, vectors.BEACON_REQUEST), 0)  # answered, then capped
        self.assertEqual(self.per_frame(h, vectors.BEACON, crc_ok=False), 0)
        self.assertEqual(self.per_frame(h, ipf.tunnel()), 0)  # the flag is OFF
        self.assertEqual(h.rejected[reject.INTERPAN_OFF], 51)

    def test_interpan_for_another_hub(self):
        from tests_device import interpan_frames as ipf

        h = make_hub()
        h.power_up(0)
        other = b"\x00\x23\x7e\x00\x00\x12\xd6\x88"
        self.assertEqual(self.per_frame(h, ipf.tunnel(dst=other)), 0)  # another EUI-64
        self.assertEqual(self.per_frame(h, ipf.tunnel(dst_pan=0x1234)), 0)  # another PAN
        self.assertEqual(h.rejected[reject.NOT_FOR_US], 102)

    def test_discovery_answered(self):
        from tests_device import interpan_frames as ipf

        h = make_hub("discovery.rate_per_s=1000", "discovery.burst=1000")
        h.power_up(0)
        h.device_log.add(b"\x00\x23\x7e\x00\x00\x00\x00\x05", 2)
        self.assertEqual(self.per_frame(h, ipf.get_details()), 0)
        self.assertEqual(h.out.tx_kind, decision.TX_DISCOVERY)
        self.assertEqual(sum(h.rejected), 0)  # every one answered

    def test_interpan_refused_by_the_gate(self):
        from tests_device import interpan_frames as ipf

        h = make_hub()
        h.power_up(0)
        while h.interpan_gate.shared.allow(1000):
            pass  # the shared budget spent: what is measured is the refusal, every time
        self.assertEqual(self.per_frame(h, ipf.command(), now=1000), 0)  # over the budget
        self.assertTrue(h.rejected[reject.RATE_GLOBAL] > 50, h.rejected)
        self.assertEqual(self.per_frame(h, ipf.tunnel(), now=1000), 0)  # not a command
        self.assertEqual(h.rejected[reject.NOT_A_COMMAND], 51)
