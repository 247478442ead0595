import sys
import unittest

from contract.crc16 import append_fcs
from contract.frame import RxFrame
from firmware import decision, han_join, han_reject, mac
from firmware import hub_reject as reject
from firmware import mac_peer as peer
from firmware import zb_zcl as zclmod
from firmware.han_device_log import ESME
from tests_device import vectors
from tests_device.han_frames import (  # noqa: F401  (test_han's own names, used by others)
    CAP_ESME,
    CAP_GSME,
    ESME_EUI,
    GSME_EUI,
    HUB_EUI,
    HUB_GUID,
    PAN,
    READ_SUMMATION,
    STRANGER,
    SUPPLIER,
    assoc_request,
    data_request,
    le,
    nwk_frame,
    orphan,
    summation_report,
    with_fcs,
)
from tests_device.han_lab import Lab, assoc_response
from tests_device.han_meter import Meter

MICROPYTHON = sys.implementation.name == "micropython"
# Another EUI-64 with the GSME's lookup key (its low 30 bits, eui64.key): not a member.
KEY_TWIN = bytes((0x80,)) + GSME_EUI[1:]


class SeamTest(unittest.TestCase):
    def test_frames_it_does_not_serve_are_left_to_the_hub(self):
        lab = Lab()
        self.assertIsNone(lab.rx(vectors.BEACON))  # a neighbour's beacon
        self.assertEqual(lab.hub.rejected[reject.UNHANDLED], 1)
        self.assertEqual(sum(lab.han.rejected), 0)


class JoinTest(unittest.TestCase):
    def test_allow_listed_device_is_accepted(self):
        lab = Lab()
        out = lab.rx(assoc_request(GSME_EUI, CAP_GSME))
        s = lab.han.table.find(GSME_EUI)
        self.assertTrue(s >= 0)
        short = lab.han.table.short(s)
        self.assertEqual(out[:-2], assoc_response(out[2], GSME_EUI, short, 0x00))
        self.assertEqual(lab.out.tx_kind, decision.TX_HAN)
        note = lab.notes("device_joined")[0]
        self.assertEqual(note["guid"], "00-23-7E-00-00-00-00-02")
        self.assertEqual(note["short"], "0x%04X" % short)
        self.assertEqual((note["kind"], note["sleepy"], note["rejoin"]), ("gsme", True, False))
        # The response is a well-formed MAC command to the device's EUI.
        f = mac.MacFrame()
        self.assertEqual(mac.parse(out, 0, len(out), f), reject.OK)
        self.assertEqual((f.ftype, f.dst_mode, f.src_mode, f.dst_pan), (3, 3, 3, PAN))
        self.assertTrue(f.ack_req())

    def test_unknown_device_is_refused_with_no_slot(self):
        lab = Lab()
        out = lab.rx(assoc_request(STRANGER))
        self.assertEqual(out[:-2], assoc_response(out[2], STRANGER, 0xFFFF, 0x02))
        self.assertEqual(len(lab.han.table), 0)
        self.assertEqual(lab.han.joining.refusals[han_join.NOT_IN_LOG], 1)
        note = lab.notes("join_refused")[0]
        self.assertEqual(note["guid"], "00-23-7E-00-00-00-00-FF")
        self.assertEqual((note["status"], note["reason"]), ("access_denied", "not_in_device_log"))

    def test_the_mains_meter_joins_as_rx_on_when_idle(self):
        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)
        s = lab.han.table.find(ESME_EUI)
        self.assertFalse(lab.han.joining.sleepy(s))
        self.assertFalse(lab.han.budget.enabled(s))
        lab.join(GSME_EUI, 0x8C)  # a GSME claiming rx-on-when-idle is still battery powered
        self.assertTrue(lab.han.joining.sleepy(lab.han.table.find(GSME_EUI)))

    def test_joining_closed(self):
        lab = Lab(join_auto=False)
        self.assertFalse(lab.beacon_permit())
        out = lab.rx(assoc_request(ESME_EUI, CAP_ESME))
        self.assertEqual(out[24], han_join.ASSOC_DENIED)
        self.assertEqual(lab.notes("join_refused")[0]["reason"], "joining_closed")
        forced = Lab(join_auto=False, join_permit=True)
        self.assertTrue(forced.beacon_permit())
        self.assertEqual(forced.rx(assoc_request(ESME_EUI, CAP_ESME))[24], 0x00)

    def test_permit_bit_tells_the_truth(self):
        lab = Lab()
        self.assertTrue(lab.beacon_permit())  # the log lists devices that have not joined
        lab.join(ESME_EUI, CAP_ESME)
        self.assertTrue(lab.beacon_permit())
        lab.join(GSME_EUI)
        self.assertFalse(lab.beacon_permit())  # everyone allowed has joined
        self.assertEqual(lab.notes("join_permit")[-1]["open"], False)
        third = vectors.h("00237e0000000003")
        lab.hub.device_log.add(third, ESME)
        lab.han.tick(1000)
        self.assertTrue(lab.beacon_permit())
        lab.hub.device_log.add(third, ESME)
        lab.hub.device_log.remove(third)
        lab.han.sync(2000)
        self.assertFalse(lab.beacon_permit())

    def test_removed_from_the_log_means_removed_from_the_table(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        lab.han.send_to_device(GSME_EUI, zclmod.METERING, READ_SUMMATION, "wan", 0)
        lab.hub.device_log.remove(GSME_EUI)
        lab.han.tick(1000)
        self.assertEqual(lab.han.table.find(GSME_EUI), -1)
        self.assertEqual(lab.notes("device_removed")[0]["guid"], "00-23-7E-00-00-00-00-02")
        self.assertEqual(lab.han.indirect.used, 0)
        self.assertIsNone(lab.rx(data_request(short), 2000))
        self.assertEqual(lab.han.rejected[han_reject.NOT_MEMBER], 1)

    def test_table_full_answers_pan_at_capacity(self):
        lab = Lab(table_max=1)
        lab.join(ESME_EUI, CAP_ESME)
        self.assertFalse(lab.beacon_permit())
        out = lab.rx(assoc_request(GSME_EUI))
        self.assertEqual((out[22], out[23], out[24]), (0xFF, 0xFF, han_join.ASSOC_AT_CAPACITY))
        self.assertEqual(lab.notes("join_refused")[0]["reason"], "table_full")
        self.assertEqual(lab.han.table.find(ESME_EUI), 0)

    def test_storage_failure_refuses_rather_than_forgets(self):
        lab = Lab()
        lab.st.fail_next_write = True
        out = lab.rx(assoc_request(GSME_EUI))
        self.assertEqual(out[24], han_join.ASSOC_AT_CAPACITY)
        self.assertEqual(lab.han.joining.refusals[han_join.STORAGE], 1)
        self.assertEqual(lab.rx(assoc_request(GSME_EUI))[24], 0x00)  # storage back: admitted

    def test_flood_of_random_euis_is_bounded_and_evicts_nobody(self):
        lab = Lab(table_max=4)
        esme = lab.join(ESME_EUI, CAP_ESME)
        gsme = lab.join(GSME_EUI)
        writes = lab.st.writes
        x = 1
        eui = bytearray(8)
        answered = 0
        for i in range(1000):
            for j in range(8):
                x = (x * 75 + 74) % 65537
                eui[j] = x & 0xFF
            out = lab.rx(assoc_request(eui), i * 7)  # 7 s of flood at 1000 / 7 s
            if out is not None:
                self.assertEqual((out[22], out[23], out[24]), (0xFF, 0xFF, han_join.ASSOC_DENIED))
                answered += 1
        # The strangers' budget (4/s after a burst of 8) answers; the rest go unanswered.
        self.assertTrue(8 + 4 * 6 <= answered <= 8 + 4 * 7 + 1, answered)
        self.assertEqual(lab.han.rejected[han_reject.RATE_ASSOC], 1000 - answered)
        self.assertEqual(len(lab.han.table), 2)
        self.assertEqual(lab.han.table.short(lab.han.table.find(ESME_EUI)), esme)
        self.assertEqual(lab.han.table.short(lab.han.table.find(GSME_EUI)), gsme)
        self.assertEqual(lab.st.writes, writes)
        self.assertEqual(lab.han.joining.refusals[han_join.NOT_IN_LOG], answered)
        # Refusals are noted in aggregate: one note, then one per 10 s with the count.
        refused = lab.notes("join_refused")
        self.assertEqual(len(refused), 1)
        lab.han.tick(10000)
        refused = lab.notes("join_refused")
        self.assertEqual(len(refused), 2)
        self.assertEqual(refused[0]["count"] + refused[1]["count"], answered)
        self.assertTrue(len(lab.hub.notes) <= 32)

    def test_a_device_in_the_log_joins_through_a_flood_of_strangers(self):
        # The attacker's cheapest flood, association requests from random EUI-64s at the
        # line rate, spends only the strangers' budget: the meter joins at once, in the middle.
        lab = Lab()
        eui = bytearray(STRANGER)
        for i in range(2000):  # 21-octet requests at 864 us each: 1.7 s of air
            eui[7] = i & 0xFF
            eui[6] = i >> 8
            lab.rx(assoc_request(eui), i * 864 // 1000)
            if i == 1000:
                out = lab.rx(assoc_request(GSME_EUI), 864)
                self.assertEqual(out[24], han_join.ASSOC_SUCCESS)
        self.assertTrue(lab.han.table.find(GSME_EUI) >= 0)
        self.assertTrue(lab.han.rejected[han_reject.RATE_ASSOC] > 1900)

    def test_a_spoofed_log_entry_floods_only_its_own_budget(self):
        # Requests with the log's ESME address at the line rate: within the log's budget the
        # member is re-associated (same slot, nothing written), past it they go unanswered;
        # strangers are still refused within theirs.
        lab = Lab()
        short = lab.join(ESME_EUI, CAP_ESME)
        writes = lab.st.writes
        answered = 0
        for i in range(1000):
            out = lab.rx(assoc_request(ESME_EUI, CAP_ESME), 1000 + i)
            if out is not None:
                self.assertEqual(out[22] | out[23] << 8, short)
                answered += 1
        self.assertTrue(answered <= 8 + 4 + 1, answered)
        self.assertEqual(lab.st.writes, writes)
        out = lab.rx(assoc_request(STRANGER), 2000)
        self.assertEqual(out[24], han_join.ASSOC_DENIED)

    def test_rejoin_keeps_the_address_and_writes_nothing(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        writes = lab.st.writes
        self.assertEqual(lab.join(GSME_EUI, now=1000), short)
        self.assertEqual(lab.join(GSME_EUI, now=2000), short)
        self.assertEqual(lab.st.writes, writes)
        rejoins = [n for n in lab.notes("device_joined") if n["rejoin"]]
        self.assertEqual(len(rejoins), 1)  # rate-limited per member

    def test_members_survive_a_restart(self):
        lab = Lab()
        esme = lab.join(ESME_EUI, CAP_ESME)
        gsme = lab.join(GSME_EUI)
        again = Lab(lab.st)
        t = again.han.table
        self.assertEqual(t.short(t.find(ESME_EUI)), esme)
        self.assertEqual(t.short(t.find(GSME_EUI)), gsme)
        self.assertTrue(again.han.budget.enabled(t.find(GSME_EUI)))
        self.assertFalse(again.beacon_permit())
        self.assertEqual(again.notes("han")[0]["members"], 2)
        self.assertEqual(again.han.security.key, lab.han.security.key)  # the network key too
        again.rx(again.meter(GSME_EUI).secure(summation_report(gsme, 1234)), 500)
        self.assertEqual(again.notes("meter_reading")[0]["summation"], 1234)

    def test_polling_for_the_association_response(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        out = lab.rx(data_request(GSME_EUI))
        self.assertEqual(out[:-2], assoc_response(out[2], GSME_EUI, short, 0x00))
        self.assertIsNone(lab.rx(data_request(STRANGER)))
        self.assertEqual(lab.han.rejected[han_reject.NOT_MEMBER], 1)

    def test_orphan_is_realigned_with_its_address(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        out = lab.rx(orphan(GSME_EUI), 5000)
        expected = (
            vectors.h("23cc")
            + bytes([out[2]])
            + vectors.h("ffff")
            + le(GSME_EUI)
            + vectors.h("2b1a")
            + le(HUB_EUI)
            + vectors.h("08 2b1a 0000 0b")
            + bytes([short & 0xFF, short >> 8])
        )
        self.assertEqual(out[:-2], expected)
        self.assertEqual(lab.notes("device_joined")[-1]["via"], "orphan")
        self.assertIsNone(lab.rx(orphan(STRANGER)))
        self.assertEqual(lab.han.rejected[han_reject.NOT_MEMBER], 1)

    def test_malformed_association_requests(self):
        lab = Lab()
        buf = bytearray(40)
        n = peer.build_command(buf, 1, PAN, 0x0000, PAN, 0x1234, mac.CMD_ASSOC_REQ, b"\x80")
        self.assertIsNone(lab.rx(with_fcs(buf, n)))  # short source
        n = peer.build_command(buf, 1, PAN, 0x0000, 0xFFFF, GSME_EUI, mac.CMD_ASSOC_REQ)
        self.assertIsNone(lab.rx(with_fcs(buf, n)))  # no capability octet
        self.assertIsNone(lab.rx(assoc_request(GSME_EUI, dst=0x0042)))  # another coordinator
        self.assertEqual(lab.han.rejected[han_reject.BAD_COMMAND], 3)
        self.assertEqual(len(lab.han.table), 0)


class DropTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def count(self, why):
        return self.lab.han.rejected[why]

    def test_strangers_frames(self):
        self.assertIsNone(self.lab.rx(data_request(0x4242)))
        self.assertIsNone(self.lab.rx(summation_report(0x4242, 1)))
        self.assertEqual(self.count(han_reject.NOT_MEMBER), 2)

    def test_nwk_problems_are_counted_by_reason(self):
        lab = self.lab
        m = lab.meter(GSME_EUI)
        bit = bytearray(summation_report(self.short, 1))  # the security bit, but no header
        bit[10] |= 0x02
        append_fcs(bit, len(bit) - 2)
        lab.rx(bytes(bit))
        lab.rx(summation_report(self.short, 1))  # in the clear
        lab.rx(m.secure(nwk_frame(self.short, 0x0702, b"\x18\x01\x0a", nwk_src=0x0042)))
        lab.rx(m.secure(nwk_frame(self.short, 0x0702, b"\x18\x01\x0a", profile=0x0104)))
        lab.rx(m.secure(nwk_frame(self.short, 0x0702, b"\xff\x01")))
        self.assertEqual(self.count(han_reject.SEC_NO_SOURCE), 1)
        self.assertEqual(self.count(han_reject.UNSECURED), 1)
        self.assertEqual(self.count(han_reject.BAD_NWK), 1)
        self.assertEqual(self.count(han_reject.WRONG_PROFILE), 1)
        self.assertEqual(self.count(han_reject.BAD_ZCL), 1)
        self.assertIsNone(lab.han.reading(0))

    def test_junk_after_the_mac_header_never_raises(self):
        lab = self.lab
        x = 7
        buf = bytearray(60)
        for _ in range(300):
            p = mac.write_header(buf, mac.DATA, 1, PAN, 0x0000, PAN, self.short, True)
            x = (x * 75 + 74) % 65537
            n = p + x % 40
            for i in range(p, n):
                x = (x * 75 + 74) % 65537
                buf[i] = x & 0xFF
            lab.rx(with_fcs(buf, n))
        self.assertEqual(len(lab.han.table), 1)


class NoAllocationTest(unittest.TestCase):
    # Refusing a stranger, dropping a non-member's frame and answering an empty poll allocate
    # nothing, call frames included (micropython.mem_total counts a frame put on the heap and
    # freed at return; gc.mem_alloc deltas do not).
    def measure(self, lab, psdu, mutate=None, rounds=1000):
        from tests_device.alloc import heap_bytes

        frame = vectors.load(RxFrame(), psdu)
        hub = lab.hub
        hub.on_frame(frame, 0)
        t = [0]

        def rx():
            if mutate is not None:
                mutate(frame.buf, t[0])
            t[0] += 1
            hub.on_frame(frame, t[0])

        return heap_bytes(rx, rounds)

    @unittest.skipUnless(MICROPYTHON, "micropython.mem_total is MicroPython's")
    def test_refusing_1000_random_euis(self):
        lab = Lab()
        lab.join(GSME_EUI)

        def new_eui(buf, i):
            # A different source EUI each time, written in place (offset 7: after the
            # FCF, sequence number, destination PAN and address, and source PAN).
            x = i + 1
            for j in range(8):
                x = (x * 75 + 74) % 65537
                buf[7 + j] = x & 0xFF

        # Within the strangers' budget (refused with a response) and past it (unanswered).
        self.assertEqual(self.measure(lab, assoc_request(STRANGER), new_eui), 0)
        refused = lab.han.joining.refusals[han_join.NOT_IN_LOG]
        self.assertTrue(refused >= 8, refused)
        self.assertEqual(refused + lab.han.rejected[han_reject.RATE_ASSOC], 1002)
        self.assertEqual(len(lab.han.table), 1)

    @unittest.skipUnless(MICROPYTHON, "micropython.mem_total is MicroPython's")
    def test_drop_and_poll_paths(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        report = lab.meter(GSME_EUI).secure(summation_report(short, 1))
        lab.rx(report)  # accepted, and the reading noted, before measuring: then replays
        forged = bytearray(lab.meter(GSME_EUI).secure(summation_report(short, 2)))
        forged[-3] ^= 0x01  # the MIC
        append_fcs(forged, len(forged) - 2)
        for name, psdu in (
            ("poll from a stranger's short address", data_request(0x4242)),
            ("report from a stranger's short address", summation_report(0x4242, 1)),
            ("orphan notification from a stranger", orphan(STRANGER)),
            ("poll from a stranger's EUI-64", data_request(STRANGER)),
            ("orphan notification with a member's lookup key", orphan(KEY_TWIN)),
            ("poll from an EUI-64 with a member's lookup key", data_request(KEY_TWIN)),
            ("poll to another device", data_request(0x4242, dst=0x1234)),
            ("report to another device", nwk_frame(short, 0x0702, b"", dst=0x1234)),
            ("orphan notification from a short address", orphan(0x4242)),
            ("a MAC command the HAN does not serve", data_request(0x4242, cmd=0x05)),
            ("a frame for another PAN", data_request(0x4242, pan=0x4321)),
            ("a member's empty poll", data_request(short)),
            ("a member's frame in the clear", summation_report(short, 2)),
            ("replayed", report),
            (
                "a stranger's, secured",
                Meter(STRANGER, lab.han.security.key).secure(summation_report(short, 3)),
            ),
            ("forged MIC: CCM* runs, then the budget", bytes(forged)),
        ):
            self.assertEqual(self.measure(lab, psdu), 0, name)
        rj = lab.han.rejected
        self.assertEqual(rj[han_reject.SEC_REPLAYED], 1002)
        self.assertEqual(rj[han_reject.SEC_UNKNOWN_SOURCE], 1002)
        self.assertTrue(rj[han_reject.SEC_BAD_MIC] >= 10 and rj[han_reject.SEC_BUSY] > 900)
