# The inter-PAN rules at the hub's frame level: silent while OFF, discovery answered while ON
# and never a keep-alive, only authenticated accepted commands keep the flag alive.
import gc
import sys
import unittest

from contract.frame import RxFrame
from contract.ticks import PERIOD, ticks_add
from firmware import decision, mac
from firmware import hub_reject as reject
from firmware import ipan_discovery as discovery
from firmware import zb_interpan as interpan_frame
from firmware import zb_zcl as zcl
from firmware.core import Core
from firmware.settings import Settings
from tests_device import interpan_frames as ipf
from tests_device import vectors
from tests_device.alloc import heap_bytes

MICROPYTHON = sys.implementation.name == "micropython"
HOUR = 3600 * 1000


class Commands:
    # Test double of the command layer: accepts when told to, records what it saw.
    def __init__(self, accept):
        self.accept = accept
        self.seen = 0

    def on_interpan(self, buf, f, zh, now):
        self.seen += 1
        return decision.CMD_ACCEPTED if self.accept else decision.CMD_REJECTED


def make_hub(accept=False, *overrides):
    s = Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",) + overrides)
    return Core(s, commands=Commands(accept)).hub


def rx(h, psdu, now):
    return h.on_frame(vectors.load(RxFrame(), psdu), now)


def notes(h):
    out = [(e, f.get("state"), f.get("reason")) for e, f in h.notes]
    del h.notes[:]
    return out


class InterPanHubTest(unittest.TestCase):
    def test_power_up_opens_and_is_noted(self):
        h = make_hub()
        self.assertFalse(h.interpan.is_on())
        h.power_up(0)
        self.assertEqual(notes(h), [("interpan", "on", "power_up")])

    def test_off_means_no_answer_at_all(self):
        h = make_hub(True)
        for psdu in (ipf.get_details(), ipf.command(), ipf.get_details(dst=b"\x01" * 8)):
            self.assertEqual(rx(h, psdu, 0), decision.NOTHING)
        self.assertEqual(h.rejected[reject.INTERPAN_OFF], 3)
        self.assertEqual(h.commands.seen, 0)  # not even looked at

    def test_discovery_is_answered_but_never_a_keepalive(self):
        h = make_hub()
        h.power_up(0)
        t = 0
        for _ in range(59):
            t += 60 * 1000
            self.assertEqual(rx(h, ipf.get_details(), t), decision.TRANSMIT)
            self.assertEqual(h.out.tx_kind, decision.TX_DISCOVERY)
        self.assertEqual(rx(h, ipf.get_details(), HOUR), decision.NOTHING)
        self.assertEqual(notes(h)[-1], ("interpan", "off", "timeout"))
        self.assertEqual(h.rejected[reject.INTERPAN_OFF], 1)

    def test_countdown_ends_at_its_exact_tick_per_frame(self):
        # The hub reads the countdown inline per frame (no tick() from the shell here): a frame
        # one ms before the deadline is answered, the frame at the deadline ends the countdown,
        # noted once; across the ticks' wrap too.
        for start in (0, PERIOD - 1000, PERIOD - HOUR):
            h = make_hub()
            h.power_up(start)
            last = ticks_add(start, HOUR - 1)
            self.assertEqual(rx(h, ipf.get_details(), last), decision.TRANSMIT)
            self.assertEqual(rx(h, ipf.get_details(), ticks_add(start, HOUR)), decision.NOTHING)
            self.assertEqual(notes(h)[-1], ("interpan", "off", "timeout"))
            self.assertEqual(rx(h, ipf.get_details(), ticks_add(start, HOUR)), decision.NOTHING)
            self.assertEqual(notes(h), [])
            self.assertEqual(h.rejected[reject.INTERPAN_OFF], 2)

    def test_discovery_reply_bytes(self):
        h = make_hub(False, "radio.pan_id=0x1A2B", "radio.channel=15")
        h.device_log.add(b"\x00\x23\x7e\x00\x00\x00\x00\x05", 2)
        h.power_up(0)
        rx(h, ipf.get_details(seq=7), 1500)
        buf = h.out.tx_buf
        f = mac.MacFrame()
        self.assertEqual(mac.parse(buf, 0, h.out.tx_len + 2, f), reject.OK)  # +2: room for the FCS
        self.assertTrue(interpan_frame.is_interpan(buf, f))
        self.assertFalse(f.ack_req())  # broadcast: every HHT listening hears it, none acks
        self.assertEqual((f.dst_pan, f.dst_short, f.src_pan), (0xFFFF, 0xFFFF, 0x1A2B))
        ih = interpan_frame.InterPanHeader()
        self.assertEqual(interpan_frame.parse(buf, f, ih), interpan_frame.OK)
        self.assertEqual((ih.delivery, ih.cluster, ih.profile), (0x0B, discovery.CLUSTER, 0x0109))
        zh = zcl.ZclHeader()
        zcl.parse(buf, ih.zcl_off, h.out.tx_len, zh)
        self.assertEqual((zh.seq, zh.command), (7, discovery.CMD_DETAILS))
        self.assertTrue(zh.fc & zcl.SERVER_TO_CLIENT)
        d = discovery.parse_details(buf, zh.payload_off, h.out.tx_len)
        self.assertEqual(d["guid"], ipf.HUB)
        self.assertEqual((d["pan_id"], d["channel"]), (0x1A2B, 15))
        self.assertEqual((d["interpan_state"], d["seconds_left"]), ("on", 3599))
        self.assertEqual(d["devices"], [b"\x00\x23\x7e\x00\x00\x00\x00\x05"])

    def test_the_broadcast_header_is_the_general_one(self):
        r = interpan_frame.Replier(0x1A2B, ipf.HUB, 127)
        a, b = bytearray(127), bytearray(127)
        n = r.header(a, mac.BROADCAST, mac.BROADCAST, discovery.CLUSTER)
        self.assertEqual(r.broadcast_header(b, discovery.CLUSTER), n)
        self.assertEqual(b[2], (a[2] + 1) & 0xFF)  # the replier's next sequence number
        b[2] = a[2]
        self.assertEqual(a[:n], b[:n])

    def test_unauthenticated_commands_never_extend(self):
        h = make_hub(False)
        h.power_up(0)
        for t in range(0, HOUR, 60 * 1000):
            self.assertEqual(rx(h, ipf.command(), t), decision.NOTHING)
        self.assertEqual(h.rejected[reject.UNAUTHENTICATED], 60)
        h.tick(HOUR)
        self.assertFalse(h.interpan.is_on())

    def test_accepted_commands_keep_it_alive(self):
        h = make_hub(True)
        h.power_up(0)
        t = 0
        for _ in range(5):  # a use every 50 minutes keeps it open for over four hours
            t += 50 * 60 * 1000
            rx(h, ipf.command(), t)
            h.tick(t)
            self.assertTrue(h.interpan.is_on())
        h.tick(t + HOUR - 1)
        self.assertTrue(h.interpan.is_on())
        h.tick(t + HOUR)
        self.assertFalse(h.interpan.is_on())

    def test_malformed_and_misdirected_frames_are_counted_not_answered(self):
        h = make_hub(True)
        h.power_up(0)
        cases = (
            (ipf.frame(discovery.CLUSTER, 0, profile=0x0104), reject.WRONG_PROFILE),
            (ipf.get_details(dst=b"\x01" * 8), reject.NOT_FOR_US),
            (ipf.get_details(dst_pan=0x4444), reject.NOT_FOR_US),
            # Decided from octets before any budget: neither a discovery request nor a command.
            (ipf.frame(0x0006, 0x01), reject.NOT_A_COMMAND),
            (ipf.frame(discovery.CLUSTER, 0, fc=zcl.SERVER_TO_CLIENT | 1), reject.NOT_A_COMMAND),
            (ipf.tunnel(), reject.NOT_A_COMMAND),  # Tunneling, but not TransferData
            (ipf.command(ipf.UNSIGNED[:40]), reject.NOT_A_COMMAND),  # too short to be one
            (ipf.frame(discovery.CLUSTER, 0, fc=0xE1), reject.BAD_ZCL),
        )
        for psdu, why in cases:
            before = h.rejected[why]
            self.assertEqual(rx(h, psdu, 10), decision.NOTHING)
            self.assertEqual(h.rejected[why], before + 1, reject.NAMES[why])
        self.assertEqual(h.commands.seen, 0)
        self.assertEqual(h.interpan.seconds_left(10), 3600)

    def test_wan_lost_forces_on_and_restore_restarts_the_countdown(self):
        h = make_hub()
        h.power_up(0)
        h.tick(HOUR)
        h.wan_lost(HOUR + 5)
        self.assertEqual(notes(h)[-1], ("interpan", "on_no_timeout", "wan_lost"))
        t = HOUR + 5
        for _ in range(10):
            t += 24 * HOUR
            h.tick(t)
        self.assertTrue(h.interpan.is_on())
        self.assertIsNone(h.interpan.seconds_left(t))
        self.assertEqual(rx(h, ipf.get_details(), t), decision.TRANSMIT)
        h.wan_restored(t)
        self.assertEqual(h.interpan.seconds_left(t), 3600)
        h.tick(t + HOUR)
        self.assertFalse(h.interpan.is_on())

    def test_off_command_and_trusted_enable(self):
        h = make_hub()
        h.power_up(0)
        h.interpan.off(1000)
        self.assertFalse(h.interpan.is_on())
        self.assertEqual(rx(h, ipf.get_details(), 2000), decision.NOTHING)
        h.interpan.trusted_enable(3000)
        self.assertEqual(h.interpan.seconds_left(3000), 3600)
        self.assertEqual([n[2] for n in notes(h)], ["power_up", "off_command", "trusted_enable"])

    def test_countdown_across_the_ticks_wrap(self):
        h = make_hub(True)
        start = PERIOD - 10000
        h.power_up(start)
        rx(h, ipf.command(), ticks_add(start, 20000))  # after the wrap
        h.tick(ticks_add(start, 20000 + HOUR - 1))
        self.assertTrue(h.interpan.is_on())
        h.tick(ticks_add(start, 20000 + HOUR))
        self.assertFalse(h.interpan.is_on())

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_off_drop_allocates_nothing(self):
        h = make_hub(True)
        frame = vectors.load(RxFrame(), ipf.command())
        h.on_frame(frame, 0)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for i in range(1000):
                h.on_frame(frame, i)
            self.assertEqual(gc.mem_alloc() - before, 0)
        finally:
            gc.enable()
        self.assertEqual(h.rejected[reject.INTERPAN_OFF], 1001)


class AuthFailureTest(unittest.TestCase):
    def test_failed_commands_raise_one_alert_per_episode(self):
        # The limiter's failure counter (dos.auth_fail_threshold in dos.auth_fail_window_s): its
        # episode is noted once for the head-end, with the limiter's status.
        h = make_hub(False, "dos.interpan_rate_per_s=1000", "dos.interpan_burst=4096")
        h.power_up(0)
        del h.notes[:]
        frame = vectors.load(RxFrame(), ipf.command())
        for _ in range(30):
            h.on_frame(frame, 0)
        self.assertEqual(h.rejected[reject.UNAUTHENTICATED], 30)
        alerts = [f for e, f in h.notes if e == "dos_alert"]
        self.assertEqual(len(alerts), 1)
        self.assertEqual((alerts[0]["state"], alerts[0]["auth_failures"]), ("start", 10))


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class NoAllocationTest(unittest.TestCase):
    # A command that reaches the command layer, accepted or refused there, allocates nothing in
    # the hub, call frames included (the command layer here is the test double: what the real
    # one allocates to verify a tag is its own). The budgets are opened so that every frame
    # reaches it.
    OPEN = ("dos.interpan_rate_per_s=1000", "dos.interpan_burst=4096", "dos.source_burst=4096")

    def per_frame(self, h, why):
        frame = vectors.load(RxFrame(), ipf.command())
        for _ in range(20):  # the first: a trusted lane taken; the tenth failure: an alert noted
            h.on_frame(frame, 0)
        del h.notes[:]
        before = sum(h.rejected)
        self.assertEqual(heap_bytes(lambda: h.on_frame(frame, 1), 100), 0)
        self.assertEqual(sum(h.rejected) - before, why)

    def test_an_accepted_command(self):
        h = make_hub(True, *self.OPEN)
        h.power_up(0)
        self.per_frame(h, 0)
        self.assertEqual(h.commands.seen, 121)
        self.assertEqual(h.interpan_gate.trusted.used, 1)  # by its own lane

    def test_a_refused_command(self):
        h = make_hub(False, *self.OPEN)
        h.power_up(0)
        self.per_frame(h, 101)
        self.assertEqual(h.rejected[reject.UNAUTHENTICATED], 121)
        self.assertEqual(h.interpan_gate.failures.episodes, 1)
