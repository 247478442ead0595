import unittest

from contract.ticks import PERIOD, ticks_add
from firmware import han_battery as battery
from firmware.han_battery import INTERPAN, OK, OVER_AIRTIME, OVER_FRAMES, WAN, BatteryBudget

GSME = 0
ESME = 1
MIN = 60000
HOUR = 60 * MIN


class AirtimeTest(unittest.TestCase):
    def test_on_air_time_of_a_psdu(self):
        # Preamble 4 + SFD 1 + PHR 1 + PSDU, 32 us per octet (IEEE 802.15.4-2006 6.5).
        self.assertEqual(battery.airtime_us(10), 512)
        self.assertEqual(battery.airtime_us(127), 4256)


class BudgetTest(unittest.TestCase):
    def setUp(self):
        self.b = BatteryBudget(devices=2, frames=(3, 5), airtime_ms=(50, 200))
        self.b.enable(GSME)

    def fill(self, origin, n, now, psdu=40):
        return [self.b.admit(GSME, origin, psdu, now) for _ in range(n)]

    def test_frame_budget_per_rolling_hour(self):
        self.assertEqual(self.fill(INTERPAN, 3, 0), [OK, OK, OK])
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, 10 * MIN), OVER_FRAMES)
        self.assertEqual(self.b.used(GSME, INTERPAN, 10 * MIN), (3, 3 * battery.airtime_us(40)))

    def test_rolling_not_fixed_window(self):
        self.b.admit(GSME, INTERPAN, 40, 0)
        self.b.admit(GSME, INTERPAN, 40, 20 * MIN)
        self.b.admit(GSME, INTERPAN, 40, 40 * MIN)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, HOUR - 1), OVER_FRAMES)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, HOUR), OK)  # the first one aged out
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, HOUR + 1), OVER_FRAMES)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, 80 * MIN), OK)

    def test_airtime_budget(self):
        b = BatteryBudget(devices=1, frames=(100, 100), airtime_ms=(10, 10))
        b.enable(0)
        # 10 ms = 312 octet times: two 127-octet frames (133 each) fit, a third does not.
        self.assertEqual(b.admit(0, INTERPAN, 127, 0), OK)
        self.assertEqual(b.admit(0, INTERPAN, 127, 0), OK)
        self.assertEqual(b.admit(0, INTERPAN, 127, 0), OVER_AIRTIME)
        self.assertEqual(b.admit(0, INTERPAN, 40, 0), OK)  # 46 more octet times still fit
        self.assertEqual(b.limits(INTERPAN), (100, 312 * 32))

    def test_wan_keeps_its_own_share(self):
        self.fill(INTERPAN, 3, 0)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, 0), OVER_FRAMES)
        self.assertEqual(self.fill(WAN, 5, 0), [OK] * 5)
        self.assertEqual(self.b.admit(GSME, WAN, 40, 0), OVER_FRAMES)
        self.assertEqual(self.b.rejected, [1, 1])
        self.assertEqual(self.b.admitted, [3, 5])

    def test_alert_once_per_device_per_window(self):
        self.fill(INTERPAN, 3, 0)
        alerts = []
        for i in range(50):
            self.b.admit(GSME, INTERPAN, 40, i * MIN // 50)
            alerts.append(self.b.alert)
        self.assertEqual(alerts.count(True), 1)
        self.assertTrue(alerts[0])
        self.assertEqual(self.b.take_suppressed(GSME, INTERPAN), 50)
        self.assertEqual(self.b.take_suppressed(GSME, INTERPAN), 0)
        # An hour after the alert, an over-budget request raises a new one.
        self.fill(INTERPAN, 3, HOUR)
        self.b.admit(GSME, INTERPAN, 40, HOUR + 1)
        self.assertTrue(self.b.alert)

    def test_mains_devices_are_not_budgeted(self):
        self.assertFalse(self.b.enabled(ESME))
        got = [self.b.admit(ESME, INTERPAN, 127, 0) for _ in range(100)]
        self.assertEqual(got, [OK] * 100)
        self.assertIsNone(self.b.used(ESME, INTERPAN, 0))

    def test_disable_forgets(self):
        self.fill(INTERPAN, 3, 0)
        self.b.disable(GSME)
        self.b.enable(GSME)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, 0), OK)

    def test_zero_budget_refuses_everything(self):
        b = BatteryBudget(devices=1, frames=(0, 1), airtime_ms=(0, 10))
        b.enable(0)
        self.assertEqual(b.admit(0, INTERPAN, 10, 0), OVER_FRAMES)
        self.assertEqual(b.admit(0, WAN, 10, 0), OK)

    def test_across_the_ticks_wrap(self):
        t0 = PERIOD - 30 * MIN
        self.fill(INTERPAN, 3, t0)
        later = ticks_add(t0, 59 * MIN)  # past the 2**30 wrap, still inside the hour
        self.assertTrue(later < t0)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, later), OVER_FRAMES)
        self.assertEqual(self.b.admit(GSME, INTERPAN, 40, ticks_add(t0, HOUR)), OK)

    def test_prune_keeps_ring_entries_young(self):
        self.fill(INTERPAN, 3, 0)
        self.b.prune(HOUR)
        self.assertEqual(self.b.used(GSME, INTERPAN, HOUR), (0, 0))
