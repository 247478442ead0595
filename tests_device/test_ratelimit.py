# DoS defences (firmware/ratelimit.py): budgets, the bounded per-source table and its eviction
# rule, back-off, the failure alarm, the composed gate; and no allocation on any per-frame call.
import gc
import sys
import unittest

from contract.ticks import PERIOD, ticks_add
from firmware import ratelimit as rl
from firmware.settings import Settings

MICROPYTHON = sys.implementation.name == "micropython"
OFF = 3  # where the source EUI-64 sits in the test buffers, as in a frame
HHT = 0x00237EFFFE000001
DAY = 24 * 3600 * 1000


def frame(eui):
    # A buffer with the EUI-64 (an int, most significant octet first) in air order at OFF.
    buf = bytearray(16)
    for i in range(8):
        buf[OFF + i] = (eui >> (8 * i)) & 0xFF
    return buf


def spoofed(n, base=0x00237EAA00000000):
    return [frame(base + k * 7919) for k in range(n)]


class GcraTest(unittest.TestCase):
    def test_burst_then_rate(self):
        g = rl.Gcra(10, 5)
        self.assertEqual([g.allow(0) for _ in range(6)], [True] * 5 + [False])
        self.assertTrue(g.allow(100))
        self.assertFalse(g.allow(150))
        self.assertTrue(g.allow(200))

    def test_interval_rounds_up_so_the_rate_is_never_exceeded(self):
        g = rl.Gcra(3, 1)  # 334 ms, not 333
        self.assertTrue(g.allow(0))
        self.assertFalse(g.allow(333))
        self.assertTrue(g.allow(334))

    def test_idle_restores_one_burst_not_more(self):
        g = rl.Gcra(10, 3)
        for t in range(0, 10000, 7):
            g.allow(t)
        later = 10000 + 5000
        self.assertEqual(sum(1 for _ in range(10) if g.allow(later)), 3)

    def test_across_the_ticks_wrap(self):
        g = rl.Gcra(10, 2)
        start = PERIOD - 150
        g.tick(start)
        self.assertTrue(g.allow(start))
        self.assertTrue(g.allow(start))
        self.assertFalse(g.allow(ticks_add(start, 99)))
        self.assertTrue(g.allow(ticks_add(start, 100)))  # before the wrap
        self.assertFalse(g.allow(ticks_add(start, 150)))  # 0: just after it
        self.assertTrue(g.allow(ticks_add(start, 200)))

    def test_a_stale_time_is_never_mistaken_for_debt(self):
        # Twelve days without a tick: the old TAT aliases to "250 ms ahead", more than a TAT
        # can ever be ahead (burst * interval), so it reads as a full budget.
        g = rl.Gcra(10, 2)
        g.allow(0)
        g.allow(0)  # TAT 200
        now = PERIOD - 50
        self.assertEqual([g.allow(now) for _ in range(3)], [True, True, False])

    def test_tighten_gives_no_fresh_burst_and_relax_restores(self):
        g = rl.Gcra(10, 4)
        for _ in range(4):
            self.assertTrue(g.allow(0))
        g.tighten(4, 0)  # 2.5/s: 400 ms
        self.assertEqual(g.rate_per_min(), 150)
        self.assertFalse(g.allow(100))
        self.assertFalse(g.allow(399))
        passed = sum(1 for t in range(400, 10400, 10) if g.allow(t))
        self.assertTrue(passed <= 4 + 25, passed)
        g.tighten(2, 10400)  # already tightened: unchanged
        self.assertEqual(g.rate_per_min(), 150)
        g.relax(20000)
        self.assertEqual(g.rate_per_min(), 600)
        self.assertEqual(g.factor, 1)

    def test_relaxing_rounds_the_debt_up(self):
        g = rl.Gcra(10, 2)
        g.tick(0)
        g.allow(0)  # TAT 100
        g.tighten(3, 0)  # debt 100 -> 300 ms at 300 ms a frame
        g.relax(1)  # 299 ms left -> 99.67 at 100 ms a frame: kept as 100, never 99
        self.assertTrue(g.allow(1))
        self.assertFalse(g.allow(100))
        self.assertTrue(g.allow(101))

    def test_ticks_keep_a_long_quiet_period_exact(self):
        g = rl.Gcra(1, 2)
        g.allow(0)
        g.allow(0)
        t = 0
        for _ in range(20):  # ten days, ticked twice a day
            t = ticks_add(t, DAY // 2)
            g.tick(t)
        self.assertTrue(g.allow(t))
        self.assertTrue(g.allow(t))
        self.assertFalse(g.allow(t))

    def test_bad_parameters(self):
        for rate, burst in ((0, 1), (1, 0), (1001, 1), (1, 5000)):
            with self.assertRaises(ValueError):
                rl.Gcra(rate, burst)


class SourceTableTest(unittest.TestCase):
    def table(self, **kw):
        args = dict(capacity=4, rate_per_s=2, burst=3, hold_s=30)
        args.update(kw)
        return rl.SourceTable(**args)

    def test_each_source_has_its_own_budget(self):
        t = self.table()
        a, b = frame(HHT), frame(HHT + 1)
        self.assertEqual([t.allow(a, OFF, 0) for _ in range(4)], [True, True, True, False])
        self.assertEqual(t.why, rl.SOURCE)
        self.assertTrue(t.allow(b, OFF, 0))
        self.assertTrue(t.allow(a, OFF, 500))  # 2/s: one more every 500 ms
        self.assertFalse(t.allow(a, OFF, 600))

    def test_bounded_and_newcomers_share_the_overflow_bucket(self):
        t = self.table(overflow_rate_per_s=1, overflow_burst=2)
        for f in spoofed(4):
            self.assertTrue(t.allow(f, OFF, 0))
        self.assertEqual(t.used, 4)
        late = spoofed(10, base=0x1122334455000000)
        got = [t.allow(f, OFF, 10) for f in late]
        self.assertEqual(got, [True, True] + [False] * 8)
        self.assertEqual(t.why, rl.OVERFLOW)
        self.assertEqual(t.used, 4)

    def test_newcomers_never_evict_an_active_source(self):
        t = self.table(capacity=2, overflow_rate_per_s=1000, overflow_burst=4096)
        a = frame(HHT)
        t.allow(a, OFF, 0)
        flood = spoofed(64)
        now = 0
        for rnd in range(200):  # 200 s of rotating spoofed sources; a sends every 20 s
            for k in range(64):
                now += 15
                t.allow(flood[(rnd * 64 + k) & 63], OFF, now)
                if k == 0:
                    t.sweep(now)
            if rnd % 20 == 0:
                self.assertTrue(t.allow(a, OFF, now), rnd)
            self.assertTrue(t.find(a, OFF) >= 0)
        self.assertEqual(t.used, 2)

    def test_sweep_frees_a_slot_idle_for_hold_s(self):
        t = self.table(capacity=1, overflow_rate_per_s=1, overflow_burst=1)
        a, b = frame(HHT), frame(HHT + 1)
        t.allow(a, OFF, 0)  # TAT 500
        t.sweep(30499)
        self.assertEqual(t.used, 1)
        t.sweep(30500)
        self.assertEqual(t.used, 0)
        self.assertTrue(t.allow(b, OFF, 30600))
        self.assertTrue(t.find(b, OFF) >= 0)

    def test_the_tag_decides_unless_exact(self):
        a = frame(HHT)
        twin = frame(HHT ^ (0xFF << 40))  # same four low octets, different OUI end
        loose = self.table(overflow_rate_per_s=1, overflow_burst=1)
        loose.allow(a, OFF, 0)
        self.assertEqual(loose.find(twin, OFF), loose.find(a, OFF))
        exact = self.table(exact=True, overflow_rate_per_s=1, overflow_burst=1)
        exact.allow(a, OFF, 0)
        self.assertEqual(exact.find(twin, OFF), -2)
        self.assertTrue(exact.allow(twin, OFF, 0))  # the overflow bucket, never a slot
        self.assertFalse(exact.allow(twin, OFF, 0))
        self.assertEqual(exact.why, rl.OVERFLOW)
        self.assertEqual(exact.used, 1)
        self.assertEqual(exact.key(exact.find(a, OFF)), b"\x00\x23\x7e\xff\xfe\x00\x00\x01")

    def test_backoff_doubles_up_to_the_cap_and_success_resets_it(self):
        t = self.table(burst=1, backoff_ms=1000, backoff_max_s=4)
        a = frame(HHT)
        now = 0
        waits = []
        for _ in range(5):
            self.assertTrue(t.allow(a, OFF, now))
            t.auth_failed(a, OFF, now)
            self.assertFalse(t.allow(a, OFF, now + 1))
            self.assertEqual(t.why, rl.BACKOFF)
            w = 1
            while not t.allow(a, OFF, now + w):
                w += 1
            waits.append(w)
            now += w + 500  # the next frame within the budget
        self.assertEqual(waits, [1000, 2000, 4000, 4000, 4000])
        t.auth_ok(a, OFF, now)
        t.auth_failed(a, OFF, now + 1000)
        self.assertFalse(t.allow(a, OFF, now + 1999))
        self.assertTrue(t.allow(a, OFF, now + 2000))  # the count restarted: 1 s again

    def test_backoff_ends_without_frames_and_keeps_the_slot_meanwhile(self):
        t = self.table(capacity=1, burst=1, hold_s=1, backoff_ms=5000)
        a = frame(HHT)
        t.allow(a, OFF, 0)
        t.auth_failed(a, OFF, 0)
        t.sweep(3000)
        self.assertEqual(t.used, 1)  # in back-off: not freed
        t.sweep(5000)
        t.sweep(6000)
        self.assertEqual(t.used, 0)

    def test_trust_holds_the_slot_while_idle_then_expires(self):
        t = self.table(hold_s=30, trust_s=600, trusted_max=1)
        a, b = frame(HHT), frame(HHT + 1)
        t.allow(a, OFF, 0)
        t.auth_ok(a, OFF, 0)
        t.allow(b, OFF, 0)
        t.auth_ok(b, OFF, 0)  # trusted_max reached: b stays untrusted
        self.assertTrue(t.is_trusted(t.find(a, OFF)))
        self.assertFalse(t.is_trusted(t.find(b, OFF)))
        t.sweep(300000)
        self.assertEqual(t.used, 1)
        t.sweep(600000)
        self.assertEqual((t.used, t.trusted), (0, 0))

    def test_auth_ok_takes_a_slot_when_one_is_free(self):
        t = self.table(capacity=1)
        a = frame(HHT)
        t.auth_ok(a, OFF, 0)
        self.assertEqual((t.used, t.trusted), (1, 1))
        t.auth_ok(frame(HHT + 1), OFF, 0)  # full: nothing to record
        self.assertEqual((t.used, t.trusted), (1, 1))

    def test_bad_parameters(self):
        with self.assertRaises(ValueError):
            self.table(capacity=0)
        with self.assertRaises(ValueError):
            self.table(hold_s=4 * 24 * 3600)


class AuthFailuresTest(unittest.TestCase):
    def test_threshold_inside_the_window_alerts_once_per_episode(self):
        a = rl.AuthFailures(threshold=5, window_s=60, quiet_s=300)
        got = [a.failure(t * 1000) for t in range(20)]
        self.assertEqual(got, [0, 0, 0, 0, rl.ALERT] + [0] * 15)
        self.assertEqual((a.episodes, a.failures, a.episode_failures), (1, 20, 20))
        self.assertEqual(a.tick(318999), 0)
        self.assertEqual(a.tick(319000), rl.CALM)
        self.assertEqual(a.tick(320000), 0)
        self.assertEqual([a.failure(400000) for _ in range(5)], [0, 0, 0, 0, rl.ALERT])
        self.assertEqual(a.episodes, 2)

    def test_failures_spread_wider_than_the_window_never_alert(self):
        a = rl.AuthFailures(threshold=5, window_s=60, quiet_s=300)
        t = PERIOD - 100000  # and across the wrap
        for _ in range(100):
            self.assertEqual(a.failure(t), 0)
            t = ticks_add(t, 15000)
            a.tick(t)
        self.assertFalse(a.active)


class GateTest(unittest.TestCase):
    def gate(self, rate=10, burst=5, **kw):
        args = dict(capacity=4, rate_per_s=2, burst=3, overflow_rate_per_s=1, overflow_burst=1)
        args.update(kw)
        return rl.Gate(rl.Gcra(rate, burst), rl.SourceTable(**args), rl.AuthFailures(3, 60, 10))

    def test_strangers_are_held_to_the_global_budget(self):
        g = self.gate()
        flood = spoofed(64)
        passed = 0
        for i in range(2000):  # 1 per ms for 2 s
            passed += g.allow(flood[i & 63], OFF, i) == rl.PASS
        self.assertTrue(passed <= 5 + 10 * 2, passed)
        self.assertTrue(g.table.used <= 4)

    def test_a_loud_source_spends_only_its_own_budget(self):
        g = self.gate()
        loud, quiet = frame(HHT + 5), frame(HHT)
        got = [g.allow(loud, OFF, i) for i in range(1000)]
        self.assertEqual(got.count(rl.PASS), 3 + 1)  # its burst, then 2/s
        self.assertEqual(got.count(rl.SOURCE), 1000 - 4)
        self.assertEqual([g.allow(quiet, OFF, 999) for _ in range(3)], [rl.PASS] * 3)

    def test_a_trusted_source_passes_when_the_global_budget_is_spent(self):
        g = self.gate()
        hht = frame(HHT)
        self.assertEqual(g.allow(hht, OFF, 0), rl.PASS)
        g.auth_ok(hht, OFF, 0)
        flood = spoofed(64)
        refused = 0
        for i in range(1, 3001):  # strangers every ms; the HHT every 500 ms, within its budget
            refused += g.allow(flood[i & 63], OFF, i) == rl.GLOBAL
            if i % 500 == 0:
                self.assertEqual(g.allow(hht, OFF, i), rl.PASS)
        self.assertTrue(refused > 2900, refused)

    def test_an_untrusted_known_source_refused_globally_is_refunded(self):
        g = self.gate(rate=1, burst=1)
        a, b = frame(HHT), frame(HHT + 1)
        self.assertEqual(g.allow(a, OFF, 0), rl.PASS)  # takes the only global token
        self.assertEqual(g.allow(b, OFF, 0), rl.GLOBAL)
        g.table.allow(b, OFF, 0)  # b gets a slot through the table alone
        for _ in range(5):
            self.assertEqual(g.allow(b, OFF, 10), rl.GLOBAL)
        self.assertEqual(g.allow(b, OFF, 1000), rl.PASS)  # its own budget was never spent

    def test_failures_alert_once_tighten_and_calm_relaxes(self):
        g = self.gate()
        srcs = spoofed(3)
        got = [g.auth_failed(s, OFF, 10) for s in srcs]
        self.assertEqual(got, [0, 0, rl.ALERT])
        self.assertEqual(g.glob.rate_per_min(), 150)
        self.assertEqual(g.auth_failed(srcs[0], OFF, 20), 0)
        self.assertEqual(g.tick(5000), 0)
        self.assertEqual(g.tick(10020), rl.CALM)
        self.assertEqual(g.glob.rate_per_min(), 600)
        self.assertEqual(g.status()["alerts"], 1)

    def test_idle_slots_are_freed_even_if_the_shell_never_ticks(self):
        g = self.gate()
        for f in spoofed(4):
            g.allow(f, OFF, 0)
        self.assertEqual(g.table.used, 4)
        hht = frame(HHT)
        self.assertEqual(g.allow(hht, OFF, 31000), rl.PASS)
        self.assertTrue(g.table.find(hht, OFF) >= 0)

    def test_from_settings(self):
        # The keys reach the limiter (non-default values, so a dropped key shows).
        s = Settings(
            None,
            (
                "interpan.sources=12",
                "interpan.burst=24",
                "interpan.tighten_divisor=3",
                "beacon.rate_per_s=8",
            ),
        )
        g = rl.gate_from_settings(s)
        self.assertEqual((g.table.capacity, g.glob.burst, g.divisor), (12, 24, 3))
        self.assertEqual(rl.beacon_budget_from_settings(s).rate_per_min(), 480)


class NoAllocationTest(unittest.TestCase):
    # Every per-frame call, 1,000 times with the collector off: gc.mem_alloc() must not move.
    def setUp(self):
        self.hht = frame(HHT)
        self.flood = spoofed(64)

    def measure(self, fn):
        fn(0)  # first-use allocations (none expected) are not per frame
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for i in range(1, 1001):
                fn(i)
            return gc.mem_alloc() - before
        finally:
            gc.enable()

    def gate(self):
        g = rl.Gate(rl.Gcra(10, 20), rl.SourceTable(), rl.AuthFailures(5, 60, 1))
        g.allow(self.hht, OFF, 0)
        return g

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_budgets(self):
        g = rl.Gcra(10, 5)
        self.assertEqual(self.measure(lambda i: g.allow(i * 7)), 0)
        self.assertEqual(self.measure(lambda i: g.tick(i * 7)), 0)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_table(self):
        t = rl.SourceTable(capacity=8, hold_s=1)
        hht, flood = self.hht, self.flood
        t.allow(hht, OFF, 0)
        self.assertEqual(self.measure(lambda i: t.find(hht, OFF)), 0)
        self.assertEqual(self.measure(lambda i: t.admit(0, i)), 0)
        self.assertEqual(self.measure(lambda i: t.allow(hht, OFF, i)), 0)
        # newcomers: inserts, overflow, and sweeps that free slots
        self.assertEqual(self.measure(lambda i: t.allow(flood[i & 63], OFF, i * 50)), 0)
        self.assertEqual(self.measure(lambda i: t.sweep(i * 1000)), 0)
        self.assertEqual(self.measure(lambda i: t.auth_failed(flood[i & 7], OFF, i)), 0)
        self.assertEqual(self.measure(lambda i: t.auth_ok(flood[i & 7], OFF, i)), 0)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_failures(self):
        a = rl.AuthFailures(5, 60, 1)
        self.assertEqual(self.measure(lambda i: a.failure(i * 400)), 0)
        self.assertEqual(self.measure(lambda i: a.tick(i * 400)), 0)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_gate_drop_and_pass_paths(self):
        hht, flood = self.hht, self.flood
        g = self.gate()
        self.assertEqual(self.measure(lambda i: g.allow(hht, OFF, i)), 0)  # one loud source
        g = self.gate()
        self.assertEqual(self.measure(lambda i: g.allow(flood[i & 63], OFF, i)), 0)
        g = self.gate()  # slow rotation: inserts, passes, evictions
        self.assertEqual(self.measure(lambda i: g.allow(flood[i & 63], OFF, i * 300)), 0)
        g = self.gate()
        g.auth_ok(hht, OFF, 0)
        self.assertEqual(self.measure(lambda i: g.allow(hht, OFF, i * 600)), 0)  # trusted

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_gate_after_the_command_layer(self):
        hht, flood = self.hht, self.flood
        g = self.gate()
        # failures from many sources: an episode starts (ALERT, tighten), and ends (CALM)
        self.assertEqual(self.measure(lambda i: g.auth_failed(flood[i & 63], OFF, i * 30)), 0)
        self.assertEqual(self.measure(lambda i: g.tick(i * 3000)), 0)
        self.assertEqual(self.measure(lambda i: g.auth_ok(hht, OFF, i)), 0)
