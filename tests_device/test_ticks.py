import unittest

from contract.ticks import PERIOD, expired, ticks_add, ticks_diff
from hal.fake.clock import ManualClock
from hal.sim.clock import FastClock


class TicksTest(unittest.TestCase):
    def test_period_is_the_esp32s(self):
        self.assertEqual(PERIOD, 1 << 30)

    def test_add_wraps(self):
        self.assertEqual(ticks_add(PERIOD - 1, 1), 0)
        self.assertEqual(ticks_add(PERIOD - 10000, 10000 + 5), 5)
        self.assertEqual(ticks_add(5, -10), PERIOD - 5)

    def test_diff_across_wrap(self):
        self.assertEqual(ticks_diff(5, PERIOD - 5), 10)
        self.assertEqual(ticks_diff(PERIOD - 5, 5), -10)
        self.assertEqual(ticks_diff(0, 0), 0)

    def test_diff_limits(self):
        # Distances up to +/- PERIOD/2 are exact; beyond that they alias (documented).
        self.assertEqual(ticks_diff(PERIOD // 2 - 1, 0), PERIOD // 2 - 1)
        self.assertEqual(ticks_diff(0, PERIOD // 2), -(PERIOD // 2))

    def test_deadline_across_wrap(self):
        start = PERIOD - 10000  # 10 s before the wrap
        deadline = ticks_add(start, 60 * 60 * 1000)
        self.assertTrue(deadline < start)  # the raw values wrapped
        self.assertFalse(expired(ticks_add(start, 3599999), deadline))
        self.assertTrue(expired(ticks_add(start, 3600000), deadline))


class ClockTest(unittest.TestCase):
    def test_manual_clock_uptime_survives_wraps(self):
        c = ManualClock(PERIOD - 1000)
        c.uptime_ms()
        for _ in range(5):  # 5 x 6 days = 2.4 wraps
            c.advance(6 * 24 * 3600 * 1000)
            c.uptime_ms()
        self.assertEqual(c.uptime_ms(), 5 * 6 * 24 * 3600 * 1000)
        self.assertTrue(c.ticks_ms() < PERIOD)

    def test_wall_time_set_and_kept(self):
        c = ManualClock(PERIOD - 500)
        self.assertEqual(c.time(), 0)
        self.assertFalse(c.time_is_set())
        c.set_time(1795000000)
        c.advance(1500)
        self.assertEqual(c.time(), 1795000001)
        self.assertTrue(c.time_is_set())

    def test_fast_clock_starts_where_asked_and_runs_fast(self):
        c = FastClock(speed=1000, start_ticks=PERIOD - 10)
        t0 = c.ticks_ms()
        self.assertTrue(0 <= t0 < PERIOD)
        self.assertTrue(ticks_diff(t0, PERIOD - 10) >= 0)
        # Busy-wait a few real ms: at 1000x the ticks must have wrapped past zero.
        t = t0
        for _ in range(2000000):
            t = c.ticks_ms()
            if ticks_diff(t, t0) > 100:
                break
        self.assertTrue(ticks_diff(t, t0) > 100)
        self.assertTrue(t < t0)  # wrapped

    def test_fast_clock_rejects_bad_speed(self):
        self.assertRaises(ValueError, FastClock, 0)


class SmallIntRangeTest(unittest.TestCase):
    def test_exhaustive_edges_match_the_reference_formula(self):
        edges = (0, 1, 2, PERIOD // 2 - 1, PERIOD // 2, PERIOD // 2 + 1, PERIOD - 2, PERIOD - 1)
        for a in edges:
            for b in edges:
                self.assertEqual(ticks_diff(a, b), ((a - b + PERIOD // 2) % PERIOD) - PERIOD // 2)
            for d in (0, 1, -1, PERIOD // 2 - 1, -(PERIOD // 2), 12345, -12345):
                self.assertEqual(ticks_add(a, d), (a + d) % PERIOD)
