# DoS defences (firmware/dos_limits.py): budgets, the trusted sources' lane, the failure alarm,
# the composed gate and what a spoofer cannot do to it; no allocation on any per-frame call.
import sys
import unittest

from contract.ticks import PERIOD, ticks_add
from firmware import dos_limits as rl
from firmware.settings import Settings
from tests_device.alloc import heap_bytes

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

    def test_the_inline_refusal_is_allows_own(self):
        # open_at and wait (Hub.on_frame tests them before calling allow): never a refusal while
        # the TAT is unset, whatever the time; then exactly allow()'s answer, across the wrap.
        for start in (0, PERIOD - 150, PERIOD - 1):
            g = rl.Gcra(10, 2)
            self.assertFalse((g.open_at - 1 - start) & 0x3FFFFFFF < g.wait)
            for dt in (0, 0, 0, 50, 99, 100, 150, 199, 200, 200, 200, 5000):
                now = ticks_add(start, dt)
                refused = (g.open_at - 1 - now) & 0x3FFFFFFF < g.wait
                ok = g.allow(now)
                self.assertEqual(refused, not ok)
                if ok and dt == 100:  # a later check refused it
                    g.refund()

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

    def test_refund_takes_back_one_frame(self):
        g = rl.Gcra(10, 2)
        self.assertTrue(g.allow(0))
        self.assertTrue(g.allow(0))
        g.refund()
        self.assertTrue(g.allow(0))
        self.assertFalse(g.allow(0))

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


class TrustedSourcesTest(unittest.TestCase):
    def test_only_an_accepted_command_makes_a_source_trusted(self):
        t = rl.TrustedSources(capacity=2, rate_per_s=2, burst=3, trust_s=600)
        a, b, c = frame(HHT), frame(HHT + 1), frame(HHT + 2)
        self.assertEqual(t.find(a, OFF), -1)
        self.assertTrue(t.accepted(a, OFF, 0))
        self.assertTrue(t.accepted(b, OFF, 0))
        self.assertFalse(t.accepted(c, OFF, 0))  # full: c stays a stranger, nobody is evicted
        self.assertEqual((t.find(a, OFF), t.find(b, OFF), t.find(c, OFF)), (0, 1, -1))
        self.assertEqual(t.key(0), bytes(a[OFF + 7 - i] for i in range(8)))

    def test_the_whole_address_is_compared(self):
        t = rl.TrustedSources()
        t.accepted(frame(HHT), OFF, 0)
        for other in (HHT ^ (1 << 63), HHT ^ 1, HHT ^ (1 << 32)):
            self.assertEqual(t.find(frame(other), OFF), -1)

    def test_own_budget_burst_then_rate(self):
        t = rl.TrustedSources(capacity=1, rate_per_s=2, burst=3)
        t.accepted(frame(HHT), OFF, 0)
        self.assertEqual([t.admit(0, 0) for _ in range(4)], [True] * 3 + [False])
        self.assertFalse(t.admit(0, 499))
        self.assertTrue(t.admit(0, 500))
        t.refund(0)
        self.assertTrue(t.admit(0, 500))

    def test_trust_runs_out_trust_s_after_the_last_accepted_command(self):
        t = rl.TrustedSources(capacity=1, trust_s=600)
        a = frame(HHT)
        t.accepted(a, OFF, PERIOD - 1000)  # across the wrap
        t.accepted(a, OFF, ticks_add(PERIOD - 1000, 300000))  # renewed at 300 s
        t.sweep(ticks_add(PERIOD - 1000, 899999))
        self.assertEqual(t.find(a, OFF), 0)
        t.sweep(ticks_add(PERIOD - 1000, 900000))
        self.assertEqual((t.find(a, OFF), t.used), (-1, 0))
        self.assertTrue(t.accepted(frame(HHT + 1), OFF, ticks_add(PERIOD - 1000, 900001)))

    def test_bad_parameters(self):
        for kw in ({"capacity": 9}, {"rate_per_s": 0}, {"trust_s": 4 * 24 * 3600}):
            with self.assertRaises(ValueError):
                rl.TrustedSources(**kw)


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
    def gate(self, rate=10, burst=5, trusted=2):
        return rl.Gate(
            rl.Gcra(rate, burst), rl.TrustedSources(trusted, 2, 3), rl.AuthFailures(3, 60, 10)
        )

    def test_strangers_share_one_budget(self):
        g = self.gate()
        flood = spoofed(64)
        passed = 0
        for i in range(2000):  # 1 per ms for 2 s
            passed += g.allow(flood[i & 63], OFF, i) == rl.PASS
        self.assertTrue(15 <= passed <= 5 + 10 * 2, passed)  # the burst, then 10 a second
        self.assertEqual(g.trusted.used, 0)  # nothing a stranger sends takes a slot

    def test_no_timing_takes_the_tokens(self):
        # An attacker sends a frame every ms, each before anyone else's in that ms, so it is
        # always first when a token appears; an HHT sends at random instants. First come, first
        # served would give the HHT nothing; the lottery gives each frame the same chance.
        g = self.gate(rate=100, burst=20)
        flood, hht = spoofed(64), frame(HHT)
        seed, frames, passes, tries, won = 7, 0, 0, 0, 0
        t_hht = 3
        for t in range(60000):
            passes += g.allow(flood[t & 63], OFF, t) == rl.PASS
            frames += 1
            if t == t_hht:
                tries += 1
                won += g.allow(hht, OFF, t) == rl.PASS
                frames += 1
                seed = (seed * 75) % 65537
                t_hht += 50 + seed % 101
        chance = (passes + won) / frames
        self.assertTrue(0.08 < chance < 0.11, chance)  # 100 passes a second out of ~1,010
        self.assertTrue(won >= tries * chance / 2, (won, tries, chance))

    def test_no_address_is_penalised_for_what_is_sent_with_it(self):
        # 10,000 failed commands with the HHT's address, then its own frame: admitted exactly
        # when a stranger's would be (no back-off, no budget of its own spent for it).
        g, ref = self.gate(), self.gate()
        hht, stranger = frame(HHT), frame(HHT + 99)
        for i in range(10000):
            if g.allow(hht, OFF, i) == rl.PASS:
                g.failures.failure(i)
            ref.allow(frame(HHT + 1000 + (i & 63)), OFF, i)
        for t in range(10000, 12000, 7):
            self.assertEqual(g.allow(hht, OFF, t), ref.allow(stranger, OFF, t))

    def test_a_trusted_source_passes_when_the_shared_budget_is_spent(self):
        g = self.gate()
        hht = frame(HHT)
        self.assertEqual(g.allow(hht, OFF, 0), rl.PASS)
        g.auth_ok(hht, OFF, 0)
        flood = spoofed(64)
        refused = 0
        for i in range(1, 3001):  # strangers every ms; the HHT every 500 ms, within its budget
            refused += g.allow(flood[i & 63], OFF, i) == rl.SHARED
            if i % 500 == 0:
                self.assertEqual(g.allow(hht, OFF, i), rl.PASS)
        self.assertTrue(refused > 2900, refused)

    def test_spoofing_a_trusted_source_leaves_it_the_shared_budget(self):
        # An attacker sending with the trusted HHT's address spends its own budget; its frames
        # then compete for the shared budget like anyone's, never less.
        g = self.gate(rate=10, burst=1)
        hht = frame(HHT)
        g.allow(hht, OFF, 0)  # the shared budget's one token, until 100 ms
        g.auth_ok(hht, OFF, 0)
        got = [g.allow(hht, OFF, 1) for _ in range(20)]  # its own burst of 3, then refused
        self.assertEqual(got, [rl.PASS] * 3 + [rl.SHARED] * 17)
        for _ in range(50):
            g.failures.failure(1)
        self.assertEqual(g.allow(hht, OFF, 101), rl.PASS)  # the shared budget's next frame
        self.assertEqual(g.trusted.find(hht, OFF), 0)  # still trusted

    def test_an_accepted_command_renews_trust_whichever_budget_passed_it(self):
        # Trust for 1 s from an accepted command; the source's own budget (burst 3) spent, so its
        # next command passes on the shared budget and its acceptance must still renew the slot
        # allow() found (and renew that slot only, not take another).
        g = rl.Gate(rl.Gcra(1000, 100), rl.TrustedSources(2, 2, 3, 1), rl.AuthFailures())
        a = frame(HHT)
        g.auth_ok(a, OFF, 0)
        self.assertEqual([g.allow(a, OFF, 900) for _ in range(3)], [rl.PASS] * 3)
        self.assertEqual(g.allow(a, OFF, 900), rl.PASS)  # the shared budget's
        self.assertEqual(g._lane, -2)  # shared, from slot 0's source
        g.auth_ok(a, OFF, 900)
        self.assertEqual(g.trusted.used, 1)
        g.allow(frame(HHT + 1), OFF, 1500)  # sweeps: a's trust runs to 1900, not 1000
        self.assertEqual(g.trusted.find(a, OFF), 0)
        g.allow(frame(HHT + 1), OFF, 2500)  # the next sweep: 1.6 s since
        self.assertEqual(g.trusted.find(a, OFF), -1)

    def test_the_window_refuses_only_what_allow_refuses(self):
        # Gate.open_at and wait (allow() tests them first, Hub._interpan_in inline): set when
        # allow() refuses on the shared budget and every trusted lane is spent, until the first
        # has room (or the sweep is due); cleared by a new trusted lane and by the sweep.
        def shut(g, t):
            return (g.open_at - 1 - (T + t)) & 0x3FFFFFFF < g.wait

        def allow(g, f, t):
            return g.allow(f, OFF, T + t)

        T = 5000  # (after the gate's first sweep, which sets the budgets' clocks)
        g = rl.Gate(rl.Gcra(10, 3), rl.TrustedSources(1, 2, 3, 10), rl.AuthFailures())
        a, b = frame(HHT), frame(HHT + 1)
        self.assertEqual([allow(g, a, 0) for _ in range(4)], [rl.PASS] * 3 + [rl.SHARED])
        self.assertEqual((shut(g, 0), shut(g, 99), shut(g, 100)), (True, True, False))
        self.assertEqual(allow(g, a, 100), rl.PASS)  # the shared budget's next frame
        g.refund()  # ... refused after all: room again at once
        self.assertEqual((shut(g, 100), allow(g, b, 100)), (False, rl.PASS))
        self.assertEqual(allow(g, a, 100), rl.SHARED)
        self.assertTrue(shut(g, 100))
        g.auth_ok(b, OFF, T + 100)  # b is trusted now: its own lane has room
        self.assertEqual((shut(g, 101), allow(g, b, 101)), (False, rl.PASS))
        # b's lane spent (burst 3) and the shared budget too: the window is until the first of
        # them has room, the shared budget at 200.
        self.assertEqual([allow(g, b, 101) for _ in range(3)], [rl.PASS] * 2 + [rl.SHARED])
        self.assertEqual((shut(g, 101), shut(g, 199), shut(g, 200)), (True, True, False))
        self.assertEqual([allow(g, b, 200) for _ in range(2)], [rl.PASS, rl.SHARED])
        self.assertEqual((shut(g, 200), shut(g, 299), shut(g, 300)), (True, True, False))
        # A trusted lane with room sooner ends the window sooner; one with room now, or a full
        # one, leaves none.
        g = rl.Gate(rl.Gcra(1, 1), rl.TrustedSources(1, 100, 1, 10), rl.AuthFailures())
        g.tick(T)
        g.auth_ok(b, OFF, T)
        got = [allow(g, b, 0), allow(g, a, 0), allow(g, a, 0)]
        self.assertEqual(got, [rl.PASS, rl.PASS, rl.SHARED])
        self.assertEqual((shut(g, 9), shut(g, 10), allow(g, b, 10)), (True, False, rl.PASS))
        g = rl.Gate(rl.Gcra(1, 1), rl.TrustedSources(1, 100, 1, 10), rl.AuthFailures())
        g.tick(T)
        g.auth_ok(b, OFF, T)
        self.assertEqual([allow(g, a, 500), allow(g, a, 500)], [rl.PASS, rl.SHARED])
        self.assertEqual((shut(g, 500), allow(g, b, 500)), (False, rl.PASS))
        # The window never outlasts the next sweep (due 1 s after the last, at 5000 + 1000).
        g = rl.Gate(rl.Gcra(1, 1), rl.TrustedSources(1, 2, 3, 10), rl.AuthFailures())
        g.tick(T)
        self.assertEqual([allow(g, a, 900) for _ in range(2)], [rl.PASS, rl.SHARED])
        self.assertEqual((shut(g, 999), shut(g, 1000)), (True, False))  # (room at 1900)
        self.assertEqual(allow(g, a, 1000), rl.SHARED)  # sweeps, and shuts again
        self.assertEqual((shut(g, 1899), shut(g, 1900)), (True, False))
        g.tick(T + 2000)  # a sweep clears it: the same tick 2**30 ms on is not inside it
        self.assertFalse(shut(g, 1899 + 0x40000000))
        # Under a flood the window decides almost every frame, and never lets one through.
        g = rl.Gate(rl.Gcra(10, 3), rl.TrustedSources(1, 2, 3, 10), rl.AuthFailures())
        g.auth_ok(b, OFF, T)
        flood = spoofed(8) + [b]
        inline = passed = 0
        for t in range(0, 3000):
            f = flood[t % 9]
            if shut(g, t):
                inline += 1
                self.assertEqual(allow(g, f, t), rl.SHARED)
            else:
                passed += allow(g, f, t) == rl.PASS
        self.assertTrue(inline > 2800, inline)
        self.assertTrue(passed <= 3 + 30 + 3 + 6, passed)  # both bursts, 3 s of both rates

    def test_refund_after_a_shared_or_an_own_pass(self):
        g = self.gate(rate=1, burst=1)
        a = frame(HHT)
        self.assertEqual(g.allow(a, OFF, 0), rl.PASS)
        g.refund()
        self.assertEqual(g.allow(frame(HHT + 1), OFF, 0), rl.PASS)
        g.auth_ok(a, OFF, 0)
        for _ in range(3):
            self.assertEqual(g.allow(a, OFF, 0), rl.PASS)
            g.refund()
        self.assertEqual([g.allow(a, OFF, 0) for _ in range(4)], [rl.PASS] * 3 + [rl.SHARED])

    def test_failures_alert_once_and_calm_ends_the_episode(self):
        g = self.gate()
        got = [g.failures.failure(10) for _ in range(3)]  # from any sources: none is named
        self.assertEqual(got, [0, 0, rl.ALERT])
        self.assertEqual(g.shared.rate_per_min(), 600)  # never tightened: see docs/dos.md
        self.assertEqual(g.failures.failure(20), 0)
        self.assertEqual(g.tick(5000), 0)
        self.assertEqual(g.tick(10020), rl.CALM)
        self.assertEqual(g.status()["alerts"], 1)

    def test_trust_expires_even_if_the_shell_never_ticks(self):
        g = rl.Gate(rl.Gcra(10, 5), rl.TrustedSources(1, 2, 3, 1), rl.AuthFailures())
        a, b = frame(HHT), frame(HHT + 1)
        g.auth_ok(a, OFF, 0)
        g.auth_ok(b, OFF, 0)  # the only slot is a's
        self.assertEqual(g.trusted.find(b, OFF), -1)
        g.allow(b, OFF, 1500)  # sweeps: a's trust ran out after 1 s
        g.auth_ok(b, OFF, 1500)
        self.assertEqual(g.trusted.find(b, OFF), 0)

    def test_from_settings(self):
        # The keys reach the limiter (non-default values, so a dropped key shows).
        s = Settings(
            None,
            (
                "dos.interpan_burst=24",
                "dos.trusted_max=3",
                "dos.source_rate_per_s=5",
                "dos.beacon_rate_per_s=8",
                "discovery.rate_per_s=4",
            ),
        )
        g = rl.gate_from_settings(s)
        self.assertEqual((g.trusted.capacity, g.trusted.rate_per_s, g.shared.burst), (3, 5, 24))
        self.assertEqual(rl.beacon_budget_from_settings(s).rate_per_min(), 480)
        self.assertEqual(rl.discovery_budget_from_settings(s).rate_per_min(), 240)


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class NoAllocationTest(unittest.TestCase):
    # Every per-frame call allocates nothing, call frames included (micropython.mem_total
    # counts a frame the VM puts on the heap and frees on return; gc.mem_alloc never sees it).
    def setUp(self):
        self.hht = frame(HHT)
        self.flood = spoofed(64)
        self.i = 0

    def measure(self, fn):
        def step():
            self.i += 1
            fn(self.i)

        return heap_bytes(step, 1000)

    def gate(self):
        g = rl.Gate(rl.Gcra(10, 20), rl.TrustedSources(), rl.AuthFailures(5, 60, 1))
        g.allow(self.hht, OFF, 0)
        return g

    def test_budgets(self):
        g = rl.Gcra(10, 5)
        self.assertEqual(self.measure(lambda i: g.allow(i * 7)), 0)
        self.assertEqual(self.measure(lambda i: g.tick(i * 7)), 0)

    def test_trusted_sources(self):
        t = rl.TrustedSources(capacity=8, trust_s=1)
        hht, flood = self.hht, self.flood
        t.accepted(hht, OFF, 0)
        self.assertEqual(self.measure(lambda i: t.find(hht, OFF)), 0)
        self.assertEqual(self.measure(lambda i: t.find(flood[i & 63], OFF)), 0)
        self.assertEqual(self.measure(lambda i: t.admit(0, i)), 0)
        self.assertEqual(self.measure(lambda i: t.sweep(i * 1000)), 0)

    def test_failures(self):
        a = rl.AuthFailures(5, 60, 1)
        self.assertEqual(self.measure(lambda i: a.failure(i * 400)), 0)
        self.assertEqual(self.measure(lambda i: a.tick(i * 400)), 0)

    def test_gate_drop_and_pass_paths(self):
        hht, flood = self.hht, self.flood
        g = self.gate()
        self.assertEqual(self.measure(lambda i: g.allow(hht, OFF, i)), 0)  # one loud source
        g = self.gate()
        self.assertEqual(self.measure(lambda i: g.allow(flood[i & 63], OFF, i)), 0)
        g = self.gate()  # slow: passes and refunds
        self.assertEqual(self.measure(lambda i: g.allow(flood[i & 63], OFF, i * 300)), 0)
        self.assertEqual(self.measure(lambda i: g.refund()), 0)
        g = self.gate()
        g.auth_ok(hht, OFF, 0)
        self.assertEqual(self.measure(lambda i: g.allow(hht, OFF, i)), 0)  # trusted, spoofed
        self.assertEqual(self.measure(lambda i: g.allow(flood[i & 63], OFF, i)), 0)

    def test_gate_after_the_command_layer(self):
        hht = self.hht
        g = self.gate()
        # failures from many sources: an episode starts (ALERT) and ends (CALM)
        self.assertEqual(self.measure(lambda i: g.failures.failure(i * 30)), 0)
        self.assertEqual(self.measure(lambda i: g.tick(i * 3000)), 0)
        g.auth_ok(hht, OFF, 0)
        self.assertEqual(self.measure(lambda i: g.auth_ok(hht, OFF, i)), 0)  # already trusted


class UnsetBudgetTest(unittest.TestCase):
    def test_a_new_budget_is_full_even_just_before_the_ticks_wrap(self):
        # An unset TAT must not alias to "ahead of now" when the first frame comes within a
        # burst's worth of ms before the 2**30 wrap (found by the stateful HAN test).
        for now in (PERIOD - 2000, PERIOD - 1, 0, 5):
            g = rl.Gcra(4, 8)
            self.assertEqual([g.allow(now) for _ in range(9)], [True] * 8 + [False], now)
