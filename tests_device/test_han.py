import gc
import sys
import unittest

from contract.crc16 import append_fcs
from contract.frame import RxFrame
from contract.ticks import PERIOD, ticks_add
from firmware import battery, decision, mac, nwk, reject
from firmware import catalogue as cat
from firmware import han as hanmod
from firmware.core import Core
from firmware.device_log import ESME, GSME
from firmware.settings import Settings
from hal.fake.storage import MemoryStorage
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

MICROPYTHON = sys.implementation.name == "micropython"


_HAN_SETTINGS = {
    "table_max": ("han.device_table_max",),
    "join_auto": ("join.auto",),
    "join_permit": ("join.permit",),
    "indirect_slots": ("han.indirect_slots",),
    "indirect_per_device": ("han.indirect_per_device",),
    "indirect_expiry_s": ("han.indirect_expiry_s",),
    "frames_h": ("battery.interpan_frames_h", "battery.wan_frames_h"),
    "airtime_ms_h": ("battery.interpan_airtime_ms_h", "battery.wan_airtime_ms_h"),
}


def han_settings(**kw):
    # The settings overrides that configure the HAN layer as the keywords say.
    out = []
    for name, value in kw.items():
        keys = _HAN_SETTINGS[name]
        values = value if len(keys) > 1 else (value,)
        for k, v in zip(keys, values):
            out.append("%s=%s" % (k, v))
    return tuple(out)


class Lab:
    # A hub with the HAN wired in as the shell wires it (firmware.core), on a storage that
    # survives "reboots" (a new Lab on the same storage).
    def __init__(self, storage=None, overrides=(), log=((ESME_EUI, ESME), (GSME_EUI, GSME)), **kw):
        self.st = storage if storage is not None else MemoryStorage()
        base = ("hub.eui64=" + HUB_GUID, "radio.pan_id=0x1A2B")
        s = Settings(None, base + tuple(overrides) + han_settings(**kw))
        core = Core(s, self.st, han=True)
        self.hub = core.hub
        self.out = core.out
        for eui, kind in log:
            self.hub.device_log.add(eui, kind)
        self.han = core.han
        self.han.start(0)
        self.frame = RxFrame()

    def rx(self, psdu, now=0):
        # The hub's decision for a received PSDU; the transmitted PSDU (with FCS) or None.
        self.out.tx_len = 0
        r = self.hub.on_frame(vectors.load(self.frame, psdu), now)
        if r == decision.TRANSMIT:
            return with_fcs(self.out.tx_buf, self.out.tx_len)
        return None

    def join(self, eui, cap=CAP_GSME, now=0):
        out = self.rx(assoc_request(eui, cap), now)
        return out[22] | out[23] << 8

    def notes(self, event):
        return [f for e, f in self.hub.notes if e == event]

    def beacon_permit(self):
        out = self.rx(vectors.BEACON_REQUEST)
        f = mac.MacFrame()
        mac.parse(out, 0, len(out), f)
        return bool(mac.beacon_superframe(out, f) & mac.SF_PERMIT)


def assoc_response(seq, device, short, status):
    return (
        vectors.h("63cc")
        + bytes([seq])
        + vectors.h("2b1a")
        + le(device)
        + le(HUB_EUI)
        + bytes([0x02, short & 0xFF, short >> 8, status])
    )


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
        self.assertEqual(lab.out.tx_kind, hanmod.TX_HAN)
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
        self.assertEqual(lab.han.refusals[hanmod.NOT_IN_LOG], 1)
        note = lab.notes("join_refused")[0]
        self.assertEqual(note["guid"], "00-23-7E-00-00-00-00-FF")
        self.assertEqual((note["status"], note["reason"]), ("access_denied", "not_in_device_log"))

    def test_the_mains_meter_joins_as_rx_on_when_idle(self):
        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)
        s = lab.han.table.find(ESME_EUI)
        self.assertFalse(lab.han.sleepy(s))
        self.assertFalse(lab.han.budget.enabled(s))
        lab.join(GSME_EUI, 0x8C)  # a GSME claiming rx-on-when-idle is still battery powered
        self.assertTrue(lab.han.sleepy(lab.han.table.find(GSME_EUI)))

    def test_joining_closed(self):
        lab = Lab(join_auto=False)
        self.assertFalse(lab.beacon_permit())
        out = lab.rx(assoc_request(ESME_EUI, CAP_ESME))
        self.assertEqual(out[24], hanmod.ASSOC_DENIED)
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
        lab.han.send_to_device(GSME_EUI, hanmod.METERING, READ_SUMMATION, "wan", 0)
        lab.hub.device_log.remove(GSME_EUI)
        lab.han.tick(1000)
        self.assertEqual(lab.han.table.find(GSME_EUI), -1)
        self.assertEqual(lab.notes("device_removed")[0]["guid"], "00-23-7E-00-00-00-00-02")
        self.assertEqual(lab.han.indirect.used, 0)
        self.assertIsNone(lab.rx(data_request(short), 2000))
        self.assertEqual(lab.han.rejected[hanmod.R_NOT_MEMBER], 1)

    def test_table_full_answers_pan_at_capacity(self):
        lab = Lab(table_max=1)
        lab.join(ESME_EUI, CAP_ESME)
        self.assertFalse(lab.beacon_permit())
        out = lab.rx(assoc_request(GSME_EUI))
        self.assertEqual((out[22], out[23], out[24]), (0xFF, 0xFF, hanmod.ASSOC_AT_CAPACITY))
        self.assertEqual(lab.notes("join_refused")[0]["reason"], "table_full")
        self.assertEqual(lab.han.table.find(ESME_EUI), 0)

    def test_storage_failure_refuses_rather_than_forgets(self):
        lab = Lab()
        lab.st.fail_next_write = True
        out = lab.rx(assoc_request(GSME_EUI))
        self.assertEqual(out[24], hanmod.ASSOC_AT_CAPACITY)
        self.assertEqual(lab.han.refusals[hanmod.STORAGE], 1)
        self.assertEqual(lab.rx(assoc_request(GSME_EUI))[24], 0x00)  # storage back: admitted

    def test_flood_of_random_euis_is_bounded_and_evicts_nobody(self):
        lab = Lab(table_max=4)
        esme = lab.join(ESME_EUI, CAP_ESME)
        gsme = lab.join(GSME_EUI)
        writes = lab.st.writes
        x = 1
        eui = bytearray(8)
        for i in range(1000):
            for j in range(8):
                x = (x * 75 + 74) % 65537
                eui[j] = x & 0xFF
            out = lab.rx(assoc_request(eui), i * 7)  # 7 s of flood at 1000 / 7 s
            self.assertEqual((out[22], out[23], out[24]), (0xFF, 0xFF, hanmod.ASSOC_DENIED))
        self.assertEqual(len(lab.han.table), 2)
        self.assertEqual(lab.han.table.short(lab.han.table.find(ESME_EUI)), esme)
        self.assertEqual(lab.han.table.short(lab.han.table.find(GSME_EUI)), gsme)
        self.assertEqual(lab.st.writes, writes)
        self.assertEqual(lab.han.refusals[hanmod.NOT_IN_LOG], 1000)
        # Refusals are noted in aggregate: one note, then one per 10 s with the count.
        refused = lab.notes("join_refused")
        self.assertEqual(len(refused), 1)
        lab.han.tick(10000)
        refused = lab.notes("join_refused")
        self.assertEqual(len(refused), 2)
        self.assertEqual(refused[0]["count"] + refused[1]["count"], 1000)
        self.assertTrue(len(lab.hub.notes) <= 32)

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
        again.rx(summation_report(gsme, 1234), 500)
        self.assertEqual(again.notes("meter_reading")[0]["summation"], 1234)

    def test_polling_for_the_association_response(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        out = lab.rx(data_request(GSME_EUI))
        self.assertEqual(out[:-2], assoc_response(out[2], GSME_EUI, short, 0x00))
        self.assertIsNone(lab.rx(data_request(STRANGER)))
        self.assertEqual(lab.han.rejected[hanmod.R_NOT_MEMBER], 1)

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
        self.assertEqual(lab.han.rejected[hanmod.R_NOT_MEMBER], 1)

    def test_malformed_association_requests(self):
        lab = Lab()
        buf = bytearray(40)
        n = mac.build_command(buf, 1, PAN, 0x0000, PAN, 0x1234, mac.CMD_ASSOC_REQ, b"\x80")
        self.assertIsNone(lab.rx(with_fcs(buf, n)))  # short source
        n = mac.build_command(buf, 1, PAN, 0x0000, 0xFFFF, GSME_EUI, mac.CMD_ASSOC_REQ)
        self.assertIsNone(lab.rx(with_fcs(buf, n)))  # no capability octet
        self.assertIsNone(lab.rx(assoc_request(GSME_EUI, dst=0x0042)))  # another coordinator
        self.assertEqual(lab.han.rejected[hanmod.R_BAD_COMMAND], 3)
        self.assertEqual(len(lab.han.table), 0)


class IndirectTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def send(self, zcl=b"\x00\x01\x00\x01\x00", origin="wan", now=0):
        return self.lab.han.send_to_device(GSME_EUI, hanmod.METERING, zcl, origin, now)

    def test_frame_waits_for_the_poll(self):
        self.assertEqual(self.send(), hanmod.QUEUED)
        self.assertIsNone(self.lab.rx(summation_report(self.short, 1), 100))  # not a poll
        out = self.lab.rx(data_request(self.short), 200)
        f = mac.MacFrame()
        self.assertEqual(mac.parse(out, 0, len(out), f), reject.OK)
        self.assertEqual((f.ftype, f.dst_short, f.src_short, f.dst_pan), (1, self.short, 0, PAN))
        self.assertFalse(f.pending())
        h = nwk.NwkHeader()
        a = nwk.ApsHeader()
        self.assertEqual(nwk.parse(out, f.payload_off, f.payload_end, h, a), nwk.OK)
        self.assertEqual((h.dst, h.src, a.cluster, a.profile), (self.short, 0, 0x0702, 0x0109))
        self.assertEqual(out[a.payload_off : f.payload_end], b"\x00\x01\x00\x01\x00")
        self.assertIsNone(self.lab.rx(data_request(self.short), 300))  # nothing more

    def test_frame_pending_while_more_wait(self):
        self.send(b"\x00\x01\x00\x01\x00")
        self.send(b"\x00\x02\x00\x01\x00")
        f = mac.MacFrame()
        first = self.lab.rx(data_request(self.short), 10)
        mac.parse(first, 0, len(first), f)
        self.assertTrue(f.pending())
        self.assertEqual(first[f.payload_end - 4], 0x01)
        second = self.lab.rx(data_request(self.short), 20)
        mac.parse(second, 0, len(second), f)
        self.assertFalse(f.pending())
        self.assertEqual(second[f.payload_end - 4], 0x02)

    def test_queue_bound(self):
        for _ in range(4):
            self.assertEqual(self.send(), hanmod.QUEUED)
        self.assertEqual(self.send(), hanmod.QUEUE_FULL)
        self.assertEqual(self.lab.han.budget.used(0, battery.WAN, 0)[0], 4)  # the 5th: free

    def test_expiry_across_the_ticks_wrap(self):
        lab = Lab(indirect_expiry_s=5)
        short = lab.join(GSME_EUI)
        t0 = PERIOD - 2000
        lab.han.send_to_device(GSME_EUI, hanmod.METERING, b"\x00\x01\x00\x01\x00", "wan", t0)
        self.assertEqual(lab.han.indirect.pending(0, ticks_add(t0, 4999)), 1)
        self.assertIsNone(lab.rx(data_request(short), ticks_add(t0, 5000)))
        self.assertEqual(lab.han.indirect.expired, 1)

    def test_mains_meter_gets_frames_directly(self):
        esme = self.lab.join(ESME_EUI, CAP_ESME)
        han = self.lab.han
        self.assertEqual(self.lab.out.radio_next(), 0)
        for i in range(4):
            zcl = bytes([0x00, i, 0x00, 0x00, 0x00])
            self.assertEqual(han.send_to_device(ESME_EUI, 0x0702, zcl, "wan", 0), hanmod.SENT)
        self.assertEqual(han.send_to_device(ESME_EUI, 0x0702, zcl, "wan", 0), hanmod.BUSY)
        for i in range(4):
            n = self.lab.out.radio_next()
            out = with_fcs(self.lab.out.radio_buf, n)
            f = mac.MacFrame()
            self.assertEqual(mac.parse(out, 0, len(out), f), reject.OK)
            self.assertEqual(f.dst_short, esme)
            self.assertEqual(out[f.payload_end - 4], i)
        self.assertEqual(self.lab.out.radio_next(), 0)

    def test_refusals(self):
        han = self.lab.han
        self.assertEqual(han.send_to_device(STRANGER, 0x0702, b"\x00\x01\x00", "wan", 0), 3)
        self.assertEqual(han.send_to_device(GSME_EUI, 0x0702, bytes(101), "wan", 0), 6)
        self.assertRaises(ValueError, han.send_to_device, GSME_EUI, 0x0702, b"", "radio", 0)
        self.assertEqual(hanmod.STATUS[hanmod.NOT_JOINED], "not_joined")


class GasProxyTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def test_reads_are_answered_from_the_last_report(self):
        lab = self.lab
        self.assertIsNone(lab.rx(summation_report(self.short, 0x123456789A), 1000))
        self.assertEqual(lab.notes("meter_reading")[0]["summation"], 0x123456789A)
        st = lab.han.send_to_device(GSME_EUI, hanmod.METERING, READ_SUMMATION, "interpan", 5000)
        self.assertEqual(st, hanmod.CACHED)
        self.assertEqual(lab.han.reply, vectors.h("18 2a 01 0000 00 25 9a78563412 00"))
        self.assertEqual(lab.han.indirect.used, 0)  # the meter sleeps on
        self.assertEqual(lab.han.budget.used(0, battery.INTERPAN, 5000), (0, 0))
        self.assertEqual(lab.han.reading(0), (0x123456789A, 4))

    def test_read_attributes_responses_are_cached_too(self):
        zcl = vectors.h("18 05 01 0000 00 25 010000000000")
        self.lab.rx(nwk_frame(self.short, hanmod.METERING, zcl))
        self.assertEqual(self.lab.han.reading(0)[0], 1)

    def test_reports_among_other_attributes(self):
        # uint8 0x0300 (unit of measure), char string, then the summation.
        zcl = vectors.h("18 05 0a 0003 20 00  0103 42 03 414243  0000 25 070000000000")
        self.lab.rx(nwk_frame(self.short, hanmod.METERING, zcl))
        self.assertEqual(self.lab.han.reading(0)[0], 7)

    def test_reads_go_to_the_meter_until_it_has_reported(self):
        han = self.lab.han
        self.assertEqual(
            han.send_to_device(GSME_EUI, hanmod.METERING, READ_SUMMATION, "wan", 0), 1
        )
        self.lab.rx(summation_report(self.short, 5))
        other = b"\x00\x2b\x00\x00\x02"  # another attribute: the meter has to answer it
        self.assertEqual(han.send_to_device(GSME_EUI, hanmod.METERING, other, "wan", 0), 1)

    def test_last_heard_and_lqi(self):
        lab = self.lab
        f = mac.MacFrame()
        frame = vectors.load(RxFrame(), summation_report(self.short, 1))
        mac.parse(frame.buf, 0, frame.n, f)
        lab.han.on_frame(frame.buf, f, 42000, 77)
        t = lab.han.table
        self.assertEqual((t.heard[0], t.lqi[0]), (42, 77))
        self.assertEqual(lab.han.status(43000)["members"][0]["last_heard_s"], 1)


class ForwardTest(unittest.TestCase):
    # The command layer's interface: is_member() and forward() -> (catalogue status, data).
    def setUp(self):
        self.lab = Lab()
        self.gsme = self.lab.join(GSME_EUI)
        self.esme = self.lab.join(ESME_EUI, CAP_ESME)

    def forward(self, recip, code, fields=(), channel="interpan", now=0):
        han = self.lab.han
        return han.forward(channel, SUPPLIER, recip, code, list(fields), now)

    def test_membership(self):
        self.assertTrue(self.lab.han.is_member(GSME_EUI))
        self.assertTrue(self.lab.han.is_member(ESME_EUI))
        self.assertFalse(self.lab.han.is_member(STRANGER))
        self.assertEqual(self.forward(STRANGER, cat.READ_METER), (cat.ST_UNKNOWN_DEVICE, b""))

    def test_read_gas_is_answered_from_the_copy(self):
        self.lab.rx(summation_report(self.gsme, 0x0102030405), 1000)
        got = self.forward(GSME_EUI, cat.READ_GAS, now=3000)
        self.assertEqual(got, (cat.ST_OK, vectors.h("000102030405 00000002")))
        self.assertEqual(self.lab.han.indirect.used, 0)

    def test_read_gas_before_any_report_goes_to_the_meter(self):
        self.assertEqual(self.forward(GSME_EUI, cat.READ_GAS), (cat.ST_FORWARDED, b""))
        self.assertEqual(self.lab.han.indirect.pending(0, 0), 1)
        note = self.lab.notes("forwarded")[0]
        self.assertEqual((note["code"], note["delivery"]), ("0x0074", "queued"))

    def test_read_meter_goes_to_the_esme_directly(self):
        self.assertEqual(self.forward(ESME_EUI, cat.READ_METER, channel="wan")[0], 9)
        n = self.lab.out.radio_next()
        out = with_fcs(self.lab.out.radio_buf, n)
        a = nwk.ApsHeader()
        self.assertEqual(nwk.parse(out, 9, len(out) - 2, nwk.NwkHeader(), a), nwk.OK)
        self.assertEqual(a.cluster, hanmod.METERING)
        self.assertEqual(out[a.payload_off + 2 : -2], b"\x00\x00\x00")  # read attribute 0

    def test_topup_is_tunnelled(self):
        st = self.forward(ESME_EUI, cat.PREPAY_TOPUP, (b"\xab\xcd", b"\x01"), "wan")
        self.assertEqual(st, (cat.ST_FORWARDED, b""))
        n = self.lab.out.radio_next()
        out = with_fcs(self.lab.out.radio_buf, n)
        a = nwk.ApsHeader()
        self.assertEqual(nwk.parse(out, 9, len(out) - 2, nwk.NwkHeader(), a), nwk.OK)
        self.assertEqual(a.cluster, hanmod.TUNNELING)
        zcl = out[a.payload_off : -2]
        self.assertEqual(zcl[0], 0x01)  # cluster-specific, client to server
        self.assertEqual(zcl[2:], vectors.h("02 0100 0007") + SUPPLIER + vectors.h("02abcd 0101"))
        self.assertEqual(self.forward(ESME_EUI, cat.PREPAY_TOPUP, (bytes(256),))[0], 5)

    def test_battery_budget_by_channel(self):
        got = []
        for i in range(14):
            got.append(self.forward(GSME_EUI, cat.TARIFF_UPDATE, (b"\x01",), "interpan", i))
            while self.lab.rx(data_request(self.gsme), i) is not None:
                pass
        self.assertEqual(got.count((cat.ST_FORWARDED, b"")), 12)
        self.assertEqual(got[-1], (cat.ST_OVER_BUDGET, b""))
        self.assertEqual(self.forward(GSME_EUI, cat.TARIFF_UPDATE, (b"\x01",), "wan")[0], 9)
        self.assertEqual(self.forward(GSME_EUI, cat.TARIFF_UPDATE, (b"\x01",), "han")[0], 8)

    def test_meter_responses_are_noted_without_a_hook(self):
        zcl = vectors.h("18 05 0b 02 00")  # Default Response to TransferData: SUCCESS
        self.lab.rx(nwk_frame(self.esme, hanmod.TUNNELING, zcl))
        note = self.lab.notes("meter_response")[0]
        self.assertEqual((note["cluster"], note["command"], note["data"]), ("0x0704", 11, "0200"))
        seen = []
        self.lab.han.on_response = lambda eui, a, z, buf, end, now: seen.append(a.cluster)
        self.lab.rx(nwk_frame(self.esme, hanmod.TUNNELING, zcl))
        self.assertEqual(seen, [hanmod.TUNNELING])
        self.assertEqual(len(self.lab.notes("meter_response")), 1)


class BatteryTest(unittest.TestCase):
    def test_interpan_flood_stays_within_the_budget(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        got = []
        delivered = 0
        for i in range(200):
            now = i * 1000
            zcl = bytes([0x01, i & 0xFF, 0x00, 0x00, 0x00])
            got.append(lab.han.send_to_device(GSME_EUI, 0x0702, zcl, "interpan", now))
            while lab.rx(data_request(short), now) is not None:
                delivered += 1
        self.assertEqual(got.count(hanmod.QUEUED), 12)
        self.assertEqual(got.count(hanmod.OVER_BUDGET), 188)
        self.assertEqual(delivered, 12)
        alerts = lab.notes("battery_budget")
        self.assertEqual(len(alerts), 1)
        self.assertEqual((alerts[0]["origin"], alerts[0]["frames"]), ("interpan", 12))
        self.assertEqual(alerts[0]["refused"], 1)
        # The WAN's share is untouched.
        st = lab.han.send_to_device(GSME_EUI, 0x0702, b"\x01\x00\x00\x00\x00", "wan", 200000)
        self.assertEqual(st, hanmod.QUEUED)

    def test_settings_shape_the_budget(self):
        lab = Lab(frames_h=(2, 1), airtime_ms_h=(1, 1))
        lab.join(GSME_EUI)
        send = lab.han.send_to_device
        # 1 ms is 31 octet times: one 5-octet ZCL frame (25 + 5 + 2 + 6 = 38) is already over.
        self.assertEqual(send(GSME_EUI, 0x0702, b"\x01\x00\x00\x00\x00", "interpan", 0), 5)
        self.assertEqual(lab.han.budget.rejected, [1, 0])


class DropTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def count(self, why):
        return self.lab.han.rejected[why]

    def test_strangers_frames(self):
        self.assertIsNone(self.lab.rx(data_request(0x4242)))
        self.assertIsNone(self.lab.rx(summation_report(0x4242, 1)))
        self.assertEqual(self.count(hanmod.R_NOT_MEMBER), 2)

    def test_nwk_problems_are_counted_by_reason(self):
        lab = self.lab
        secured = bytearray(summation_report(self.short, 1))
        secured[10] |= 0x02
        append_fcs(secured, len(secured) - 2)
        lab.rx(bytes(secured))
        lab.rx(nwk_frame(self.short, 0x0702, b"\x18\x01\x0a", nwk_src=0x0042))
        lab.rx(nwk_frame(self.short, 0x0702, b"\x18\x01\x0a", profile=0x0104))
        lab.rx(nwk_frame(self.short, 0x0702, b"\xff\x01"))
        self.assertEqual(self.count(hanmod.R_NWK_SECURED), 1)
        self.assertEqual(self.count(hanmod.R_BAD_NWK), 1)
        self.assertEqual(self.count(hanmod.R_WRONG_PROFILE), 1)
        self.assertEqual(self.count(hanmod.R_BAD_ZCL), 1)
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
    # nothing (MicroPython; the collector is disabled while measuring).
    def measure(self, lab, psdu, mutate=None, rounds=1000):
        frame = vectors.load(RxFrame(), psdu)
        hub = lab.hub
        hub.on_frame(frame, 0)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for i in range(rounds):
                if mutate is not None:
                    mutate(frame.buf, i)
                hub.on_frame(frame, i)
            return gc.mem_alloc() - before
        finally:
            gc.enable()

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
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

        self.assertEqual(self.measure(lab, assoc_request(STRANGER), new_eui), 0)
        self.assertEqual(lab.han.refusals[hanmod.NOT_IN_LOG], 1001)
        self.assertEqual(len(lab.han.table), 1)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_drop_and_poll_paths(self):
        lab = Lab()
        short = lab.join(GSME_EUI)
        lab.rx(summation_report(short, 1))  # the reading note is made before measuring
        for psdu in (
            data_request(0x4242),
            summation_report(0x4242, 1),
            orphan(STRANGER),
            data_request(STRANGER),
            data_request(short),
            summation_report(short, 2),
        ):
            self.assertEqual(self.measure(lab, psdu), 0)
