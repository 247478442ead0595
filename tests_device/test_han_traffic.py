# The HAN layer's traffic with its members: indirect delivery to the sleepy meter, the gas
# proxy's copy, forwarding to meters, and the battery budget.
import sys
import unittest

from contract.frame import RxFrame
from contract.ticks import PERIOD, ticks_add
from firmware import cmd_catalogue as cat
from firmware import han_battery as battery
from firmware import han_send, mac
from firmware import hub_reject as reject
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zclmod
from tests_device import vectors
from tests_device.han_frames import (
    CAP_ESME,
    ESME_EUI,
    GSME_EUI,
    PAN,
    READ_SUMMATION,
    STRANGER,
    SUPPLIER,
    data_request,
    nwk_frame,
    summation_report,
)
from tests_device.han_lab import Lab

MICROPYTHON = sys.implementation.name == "micropython"


class IndirectTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def send(self, zcl=b"\x00\x01\x00\x01\x00", origin="wan", now=0):
        return self.lab.han.send_to_device(GSME_EUI, zclmod.METERING, zcl, origin, now)

    def test_frame_waits_for_the_poll(self):
        self.assertEqual(self.send(), han_send.QUEUED)
        self.assertIsNone(
            self.lab.rx_from(GSME_EUI, summation_report(self.short, 1), 100)
        )  # not a poll
        out = self.lab.meter(GSME_EUI).open(self.lab.rx(data_request(self.short), 200))
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
        first = self.lab.meter(GSME_EUI).open(self.lab.rx(data_request(self.short), 10))
        mac.parse(first, 0, len(first), f)
        self.assertTrue(f.pending())
        self.assertEqual(first[f.payload_end - 4], 0x01)
        second = self.lab.meter(GSME_EUI).open(self.lab.rx(data_request(self.short), 20))
        mac.parse(second, 0, len(second), f)
        self.assertFalse(f.pending())
        self.assertEqual(second[f.payload_end - 4], 0x02)

    def test_queue_bound(self):
        for _ in range(4):
            self.assertEqual(self.send(), han_send.QUEUED)
        self.assertEqual(self.send(), han_send.QUEUE_FULL)
        self.assertEqual(self.lab.han.budget.used(0, battery.WAN, 0)[0], 4)  # the 5th: free

    def test_expiry_across_the_ticks_wrap(self):
        lab = Lab(indirect_expiry_s=5)
        short = lab.join(GSME_EUI)
        t0 = PERIOD - 2000
        lab.han.send_to_device(GSME_EUI, zclmod.METERING, b"\x00\x01\x00\x01\x00", "wan", t0)
        self.assertEqual(lab.han.indirect.pending(0, ticks_add(t0, 4999)), 1)
        self.assertIsNone(lab.rx(data_request(short), ticks_add(t0, 5000)))
        self.assertEqual(lab.han.indirect.expired, 1)

    def test_mains_meter_gets_frames_directly(self):
        esme = self.lab.join(ESME_EUI, CAP_ESME)
        han = self.lab.han
        self.assertEqual(self.lab.out.radio.pop(), 0)
        for i in range(4):
            zcl = bytes([0x00, i, 0x00, 0x00, 0x00])
            self.assertEqual(han.send_to_device(ESME_EUI, 0x0702, zcl, "wan", 0), han_send.SENT)
        self.assertEqual(han.send_to_device(ESME_EUI, 0x0702, zcl, "wan", 0), han_send.BUSY)
        for i in range(4):
            out = self.lab.meter(ESME_EUI).open(self.lab.radio())
            f = mac.MacFrame()
            self.assertEqual(mac.parse(out, 0, len(out), f), reject.OK)
            self.assertEqual(f.dst_short, esme)
            self.assertEqual(out[f.payload_end - 4], i)
        self.assertEqual(self.lab.out.radio.pop(), 0)

    def test_refusals(self):
        han = self.lab.han
        self.assertEqual(han.send_to_device(STRANGER, 0x0702, b"\x00\x01\x00", "wan", 0), 3)
        self.assertEqual(han.send_to_device(GSME_EUI, 0x0702, bytes(83), "wan", 0), 6)
        self.assertEqual(han.send_to_device(GSME_EUI, 0x0702, bytes(82), "wan", 0), 1)  # 127
        self.assertRaises(ValueError, han.send_to_device, GSME_EUI, 0x0702, b"", "radio", 0)
        self.assertEqual(han_send.STATUS[han_send.NOT_JOINED], "not_joined")


class GasProxyTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)

    def test_reads_are_answered_from_the_last_report(self):
        lab = self.lab
        self.assertIsNone(lab.rx_from(GSME_EUI, summation_report(self.short, 0x123456789A), 1000))
        self.assertEqual(lab.notes("meter_reading")[0]["summation"], 0x123456789A)
        st = lab.han.send_to_device(GSME_EUI, zclmod.METERING, READ_SUMMATION, "interpan", 5000)
        self.assertEqual(st, han_send.CACHED)
        self.assertEqual(lab.han.sender.reply, vectors.h("18 2a 01 0000 00 25 9a78563412 00"))
        self.assertEqual(lab.han.indirect.used, 0)  # the meter sleeps on
        self.assertEqual(lab.han.budget.used(0, battery.INTERPAN, 5000), (0, 0))
        self.assertEqual(lab.han.reading(0), (0x123456789A, 4))

    def test_read_attributes_responses_are_cached_too(self):
        zcl = vectors.h("18 05 01 0000 00 25 010000000000")
        self.lab.rx_from(GSME_EUI, nwk_frame(self.short, zclmod.METERING, zcl))
        self.assertEqual(self.lab.han.reading(0)[0], 1)

    def test_reports_among_other_attributes(self):
        # uint8 0x0300 (unit of measure), char string, then the summation.
        zcl = vectors.h("18 05 0a 0003 20 00  0103 42 03 414243  0000 25 070000000000")
        self.lab.rx_from(GSME_EUI, nwk_frame(self.short, zclmod.METERING, zcl))
        self.assertEqual(self.lab.han.reading(0)[0], 7)

    def test_reads_go_to_the_meter_until_it_has_reported(self):
        han = self.lab.han
        self.assertEqual(
            han.send_to_device(GSME_EUI, zclmod.METERING, READ_SUMMATION, "wan", 0), 1
        )
        self.lab.rx_from(GSME_EUI, summation_report(self.short, 5))
        other = b"\x00\x2b\x00\x00\x02"  # another attribute: the meter has to answer it
        self.assertEqual(han.send_to_device(GSME_EUI, zclmod.METERING, other, "wan", 0), 1)

    def test_last_heard_and_lqi(self):
        lab = self.lab
        f = mac.MacFrame()
        frame = vectors.load(
            RxFrame(), lab.meter(GSME_EUI).secure(summation_report(self.short, 1))
        )
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
        self.lab.rx_from(GSME_EUI, summation_report(self.gsme, 0x0102030405), 1000)
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
        out = self.lab.meter(ESME_EUI).open(self.lab.radio())
        a = nwk.ApsHeader()
        self.assertEqual(nwk.parse(out, 9, len(out) - 2, nwk.NwkHeader(), a), nwk.OK)
        self.assertEqual(a.cluster, zclmod.METERING)
        self.assertEqual(out[a.payload_off + 2 : -2], b"\x00\x00\x00")  # read attribute 0

    def test_topup_is_tunnelled(self):
        st = self.forward(ESME_EUI, cat.PREPAY_TOPUP, (b"\xab\xcd", b"\x01"), "wan")
        self.assertEqual(st, (cat.ST_FORWARDED, b""))
        out = self.lab.meter(ESME_EUI).open(self.lab.radio())
        a = nwk.ApsHeader()
        self.assertEqual(nwk.parse(out, 9, len(out) - 2, nwk.NwkHeader(), a), nwk.OK)
        self.assertEqual(a.cluster, zclmod.TUNNELING)
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
        self.lab.rx_from(ESME_EUI, nwk_frame(self.esme, zclmod.TUNNELING, zcl))
        note = self.lab.notes("meter_response")[0]
        self.assertEqual((note["cluster"], note["command"], note["data"]), ("0x0704", 11, "0200"))
        seen = []
        self.lab.han.on_response = lambda eui, a, z, buf, end, now: seen.append(a.cluster)
        self.lab.rx_from(ESME_EUI, nwk_frame(self.esme, zclmod.TUNNELING, zcl))
        self.assertEqual(seen, [zclmod.TUNNELING])
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
        self.assertEqual(got.count(han_send.QUEUED), 12)
        self.assertEqual(got.count(han_send.OVER_BUDGET), 188)
        self.assertEqual(delivered, 12)
        alerts = lab.notes("battery_budget")
        self.assertEqual(len(alerts), 1)
        self.assertEqual((alerts[0]["origin"], alerts[0]["frames"]), ("interpan", 12))
        self.assertEqual(alerts[0]["refused"], 1)
        # The WAN's share is untouched.
        st = lab.han.send_to_device(GSME_EUI, 0x0702, b"\x01\x00\x00\x00\x00", "wan", 200000)
        self.assertEqual(st, han_send.QUEUED)

    def test_settings_shape_the_budget(self):
        lab = Lab(frames_h=(2, 1), airtime_ms_h=(1, 1))
        lab.join(GSME_EUI)
        send = lab.han.send_to_device
        # 1 ms is 31 octet times: one 5-octet ZCL frame, secured (25 + 5 + 18 + 2 + 6 = 56), is
        # already over.
        self.assertEqual(send(GSME_EUI, 0x0702, b"\x01\x00\x00\x00\x00", "interpan", 0), 5)
        self.assertEqual(lab.han.budget.rejected, [1, 0])
