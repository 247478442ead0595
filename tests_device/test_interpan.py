import unittest

from contract.ticks import PERIOD, ticks_add
from firmware.ipan_rules import (
    MAX_OPEN,
    OFF,
    OFF_COMMAND,
    ON,
    POWER_UP,
    TIMEOUT,
    TRUSTED_ENABLE,
    WAN_LOST,
    WAN_RESTORED,
    InterPan,
)

S = 1000
MIN = 60 * S
HOUR = 60 * MIN
DAY = 24 * HOUR


def at(base, ms):
    return ticks_add(base, ms)


class CountdownTest(unittest.TestCase):
    def setUp(self):
        self.t0 = 12345
        self.ip = InterPan()

    def test_off_until_power_up(self):
        self.assertFalse(self.ip.is_on())
        self.assertIsNone(self.ip.reason)
        self.assertEqual(self.ip.seconds_left(self.t0), 0)

    def test_power_up_turns_on_with_a_60_minute_countdown(self):
        ch = self.ip.power_up(self.t0)
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, POWER_UP, 3600))
        self.assertIsNone(ch.prior)
        self.assertTrue(self.ip.is_on())
        self.assertEqual(self.ip.reason, POWER_UP)
        self.assertEqual(self.ip.seconds_left(at(self.t0, 1)), 3600)  # rounds up
        self.assertEqual(self.ip.seconds_left(at(self.t0, 1000)), 3599)

    def test_expires_exactly_at_the_boundary(self):
        ip = self.ip
        ip.power_up(self.t0)
        self.assertIsNone(ip.tick(at(self.t0, 3599999)))
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.seconds_left(at(self.t0, 3599999)), 1)
        ch = ip.tick(at(self.t0, 3600000))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (OFF, TIMEOUT, 0))
        self.assertFalse(ip.is_on())
        self.assertEqual(ip.reason, TIMEOUT)
        self.assertIsNone(ip.tick(at(self.t0, 3600001)))
        self.assertFalse(ip.is_on())

    def test_full_hour_ticked_every_second_without_use(self):
        # tick() alone (what discovery and junk frames amount to) never extends the countdown.
        ip = self.ip
        ip.power_up(self.t0)
        for s in range(1, 3600):
            self.assertIsNone(ip.tick(at(self.t0, s * S)))
            self.assertEqual(ip.seconds_left(at(self.t0, s * S)), 3600 - s)
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.tick(at(self.t0, HOUR)).reason, TIMEOUT)
        self.assertFalse(ip.is_on())

    def test_accepted_command_restarts_the_countdown(self):
        ip = self.ip
        ip.power_up(self.t0)
        self.assertIsNone(ip.command_accepted(at(self.t0, 50 * MIN)))
        self.assertIsNone(ip.tick(at(self.t0, HOUR)))
        self.assertEqual(ip.seconds_left(at(self.t0, HOUR)), 50 * 60)
        self.assertIsNone(ip.command_accepted(at(self.t0, 100 * MIN)))
        self.assertIsNone(ip.tick(at(self.t0, 160 * MIN - 1)))
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.tick(at(self.t0, 160 * MIN)).reason, TIMEOUT)

    def test_command_when_off_does_not_turn_on(self):
        ip = self.ip
        ip.power_up(self.t0)
        ip.tick(at(self.t0, HOUR))
        self.assertIsNone(ip.command_accepted(at(self.t0, HOUR + S)))
        self.assertFalse(ip.is_on())
        self.assertIsNone(ip.tick(at(self.t0, 2 * HOUR)))
        self.assertFalse(ip.is_on())

    def test_command_after_deadline_before_tick_does_not_extend(self):
        ip = self.ip
        ip.power_up(self.t0)
        ch = ip.command_accepted(at(self.t0, HOUR))
        self.assertEqual((ch.state, ch.reason), (OFF, TIMEOUT))
        self.assertFalse(ip.is_on())

    def test_power_up_again_reopens(self):
        ip = self.ip
        ip.power_up(self.t0)
        ip.tick(at(self.t0, HOUR))
        ch = ip.power_up(at(self.t0, 2 * HOUR))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, POWER_UP, 3600))

    def test_to_dict_is_the_json_event(self):
        ch = self.ip.power_up(self.t0)
        self.assertEqual(ch.to_dict(), {"state": "on", "reason": "power_up", "seconds_left": 3600})

    def test_settings_are_validated(self):
        self.assertRaises(ValueError, InterPan, 0)
        self.assertRaises(ValueError, InterPan, 4 * 24 * 3600)
        self.assertRaises(ValueError, InterPan, 3600, -1)
        self.assertEqual(InterPan(3).power_up(0).seconds_left, 3)


class WanTest(unittest.TestCase):
    def setUp(self):
        self.t0 = 777
        self.ip = InterPan()
        self.ip.power_up(self.t0)

    def test_wan_lost_forces_on_with_no_timeout_for_days(self):
        ip = self.ip
        ch = ip.wan_lost(at(self.t0, 10 * MIN))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, WAN_LOST, None))
        now = at(self.t0, 10 * MIN)
        for step in (DAY, DAY - 1, 7 * HOUR, DAY, DAY, DAY, DAY, DAY, DAY, DAY, DAY, 1):
            now = at(now, step)
            self.assertIsNone(ip.tick(now))
            self.assertTrue(ip.is_on())
            self.assertIsNone(ip.seconds_left(now))
            self.assertIsNone(ip.command_accepted(now))  # keeps the hold, no countdown
            self.assertIsNone(ip.seconds_left(now))

    def test_wan_lost_turns_an_expired_flag_back_on(self):
        ip = self.ip
        ip.tick(at(self.t0, HOUR))
        self.assertFalse(ip.is_on())
        ch = ip.wan_lost(at(self.t0, 2 * HOUR))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, WAN_LOST, None))
        self.assertIsNone(ch.prior)
        self.assertTrue(ip.is_on())

    def test_expiry_missed_by_tick_is_reported_as_prior(self):
        ch = self.ip.wan_lost(at(self.t0, HOUR))
        self.assertEqual((ch.state, ch.reason), (ON, WAN_LOST))
        self.assertEqual((ch.prior.state, ch.prior.reason), (OFF, TIMEOUT))

    def test_repeated_wan_lost_is_not_a_change(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, MIN))
        self.assertIsNone(ip.wan_lost(at(self.t0, 2 * MIN)))
        self.assertTrue(ip.is_on())

    def test_wan_restored_restarts_the_countdown_then_times_out(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, 10 * MIN))
        back = at(self.t0, 3 * DAY)
        ip.tick(at(self.t0, DAY))
        ip.tick(at(self.t0, 2 * DAY))
        ch = ip.wan_restored(back)
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, WAN_RESTORED, 3600))
        self.assertIsNone(ip.tick(at(back, HOUR - 1)))
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.tick(at(back, HOUR)).reason, TIMEOUT)
        self.assertFalse(ip.is_on())

    def test_wan_restored_without_a_loss_changes_nothing(self):
        ip = self.ip
        self.assertIsNone(ip.wan_restored(at(self.t0, 30 * MIN)))
        self.assertEqual(ip.seconds_left(at(self.t0, 30 * MIN)), 1800)
        self.assertEqual(ip.tick(at(self.t0, HOUR)).reason, TIMEOUT)

    def test_keepalive_after_restore(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, MIN))
        ip.wan_restored(at(self.t0, 2 * MIN))
        ip.command_accepted(at(self.t0, 50 * MIN))
        self.assertIsNone(ip.tick(at(self.t0, 110 * MIN - 1)))
        self.assertEqual(ip.tick(at(self.t0, 110 * MIN)).reason, TIMEOUT)


class TrustedAndOffTest(unittest.TestCase):
    def setUp(self):
        self.t0 = 0
        self.ip = InterPan()
        self.ip.power_up(self.t0)

    def test_trusted_enable_turns_on_with_a_fresh_countdown(self):
        ip = self.ip
        ip.tick(at(self.t0, HOUR))
        self.assertFalse(ip.is_on())
        t = at(self.t0, 5 * HOUR)
        ch = ip.trusted_enable(t)
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, TRUSTED_ENABLE, 3600))
        self.assertIsNone(ip.tick(at(t, HOUR - 1)))
        self.assertEqual(ip.tick(at(t, HOUR)).reason, TIMEOUT)

    def test_trusted_enable_while_on_is_reported_and_resets(self):
        ip = self.ip
        ch = ip.trusted_enable(at(self.t0, 59 * MIN))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, TRUSTED_ENABLE, 3600))
        self.assertIsNone(ip.tick(at(self.t0, 119 * MIN - 1)))
        self.assertTrue(ip.is_on())

    def test_off_command_turns_off_at_once_and_stays_off(self):
        ip = self.ip
        ch = ip.off_command(at(self.t0, 5 * MIN))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (OFF, OFF_COMMAND, 0))
        self.assertFalse(ip.is_on())
        self.assertEqual(ip.reason, OFF_COMMAND)
        for d in range(1, 4):
            self.assertIsNone(ip.tick(at(self.t0, d * DAY)))
            self.assertIsNone(ip.command_accepted(at(self.t0, d * DAY)))
            self.assertIsNone(ip.wan_restored(at(self.t0, d * DAY)))
            self.assertFalse(ip.is_on())
        self.assertIsNone(ip.off_command(at(self.t0, 4 * DAY)))  # already off: not a change

    def test_off_is_undone_by_trusted_enable(self):
        ip = self.ip
        ip.off_command(at(self.t0, MIN))
        self.assertEqual(ip.trusted_enable(at(self.t0, 2 * MIN)).state, ON)
        self.assertTrue(ip.is_on())

    def test_off_is_undone_by_wan_loss(self):
        ip = self.ip
        ip.off_command(at(self.t0, MIN))
        self.assertEqual(ip.wan_lost(at(self.t0, 2 * MIN)).state, ON)
        self.assertTrue(ip.is_on())

    def test_off_is_undone_by_power_up(self):
        ip = self.ip
        ip.off_command(at(self.t0, MIN))
        self.assertEqual(ip.power_up(at(self.t0, 2 * MIN)).state, ON)

    def test_off_while_wan_lost_lasts_the_outage(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, MIN))
        ch = ip.off_command(at(self.t0, 2 * MIN))
        self.assertEqual((ch.state, ch.reason), (OFF, OFF_COMMAND))
        self.assertIsNone(ip.tick(at(self.t0, DAY)))
        self.assertIsNone(ip.wan_lost(at(self.t0, DAY)))  # same outage
        self.assertFalse(ip.is_on())
        self.assertIsNone(ip.wan_restored(at(self.t0, 2 * DAY)))  # nothing to reopen
        self.assertFalse(ip.is_on())
        ch = ip.wan_lost(at(self.t0, 3 * DAY))  # a new outage
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, WAN_LOST, None))

    def test_trusted_enable_after_off_during_outage_returns_to_the_hold(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, MIN))
        ip.off_command(at(self.t0, 2 * MIN))
        ch = ip.trusted_enable(at(self.t0, 3 * MIN))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (ON, TRUSTED_ENABLE, None))
        self.assertIsNone(ip.tick(at(self.t0, 2 * DAY)))
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.wan_restored(at(self.t0, 2 * DAY)).seconds_left, 3600)


class MaxOpenTest(unittest.TestCase):
    def setUp(self):
        self.t0 = 5
        self.ip = InterPan(keepalive_s=3600, max_open_s=7200)
        self.ip.power_up(self.t0)

    def keep_alive_every_30_min(self, start, until):
        t = start
        while t < until:
            self.ip.command_accepted(at(self.t0, t))
            t += 30 * MIN

    def test_cap_ends_a_keepalive_chain(self):
        ip = self.ip
        self.keep_alive_every_30_min(30 * MIN, 2 * HOUR)
        self.assertEqual(ip.seconds_left(at(self.t0, 90 * MIN)), 1800)  # the cap, not 3600
        self.assertIsNone(ip.tick(at(self.t0, 2 * HOUR - 1)))
        self.assertTrue(ip.is_on())
        ch = ip.tick(at(self.t0, 2 * HOUR))
        self.assertEqual((ch.state, ch.reason, ch.seconds_left), (OFF, MAX_OPEN, 0))
        self.assertEqual(ip.reason, MAX_OPEN)

    def test_without_keepalive_it_is_a_plain_timeout(self):
        self.assertEqual(self.ip.tick(at(self.t0, HOUR)).reason, TIMEOUT)

    def test_reason_says_whether_use_was_cut_short(self):
        # With the cap equal to keepalive, both end at the same instant; only a keep-alive
        # that the cap overrode makes it "max_open".
        for used, reason in ((False, TIMEOUT), (True, MAX_OPEN)):
            ip = InterPan(3600, 3600)
            ip.power_up(0)
            if used:
                ip.command_accepted(10 * MIN)
            self.assertIsNone(ip.tick(HOUR - 1))
            self.assertEqual(ip.tick(HOUR).reason, reason)

    def test_trusted_enable_starts_a_fresh_chain(self):
        ip = self.ip
        ip.trusted_enable(at(self.t0, 90 * MIN))
        self.keep_alive_every_30_min(120 * MIN, 210 * MIN)
        self.assertIsNone(ip.tick(at(self.t0, 210 * MIN - 1)))
        self.assertEqual(ip.tick(at(self.t0, 210 * MIN)).reason, MAX_OPEN)

    def test_wan_hold_is_exempt_and_restore_starts_a_fresh_chain(self):
        ip = self.ip
        ip.wan_lost(at(self.t0, HOUR))
        self.assertIsNone(ip.tick(at(self.t0, 5 * HOUR)))
        self.assertTrue(ip.is_on())
        ip.wan_restored(at(self.t0, 5 * HOUR))
        self.keep_alive_every_30_min(5 * HOUR + 30 * MIN, 7 * HOUR)
        self.assertIsNone(ip.tick(at(self.t0, 7 * HOUR - 1)))
        self.assertEqual(ip.tick(at(self.t0, 7 * HOUR)).reason, MAX_OPEN)


class WrapTest(unittest.TestCase):
    def setUp(self):
        self.t0 = PERIOD - 10000  # 10 s before the ticks wrap
        self.ip = InterPan()
        self.ip.power_up(self.t0)

    def test_countdown_across_the_wrap(self):
        ip = self.ip
        self.assertIsNone(ip.tick(PERIOD - 1))
        self.assertIsNone(ip.tick(0))
        self.assertEqual(ip.seconds_left(0), 3590)
        late = at(self.t0, 3599999)
        self.assertTrue(late < self.t0)
        self.assertIsNone(ip.tick(late))
        self.assertTrue(ip.is_on())
        self.assertEqual(ip.tick(at(self.t0, 3600000)).reason, TIMEOUT)

    def test_keepalive_across_the_wrap(self):
        ip = self.ip
        ip.command_accepted(at(self.t0, 9 * S))  # just before the wrap
        self.assertIsNone(ip.tick(at(self.t0, HOUR)))
        self.assertIsNone(ip.tick(at(self.t0, HOUR + 9 * S - 1)))
        self.assertEqual(ip.tick(at(self.t0, HOUR + 9 * S)).reason, TIMEOUT)

    def test_max_open_across_the_wrap(self):
        ip = InterPan(60, 100)
        ip.power_up(self.t0)
        for s in range(30, 100, 30):
            ip.command_accepted(at(self.t0, s * S))
        self.assertEqual(ip.seconds_left(at(self.t0, 90 * S)), 10)
        self.assertIsNone(ip.tick(at(self.t0, 100 * S - 1)))
        self.assertEqual(ip.tick(at(self.t0, 100 * S)).reason, MAX_OPEN)


class HeapTest(unittest.TestCase):
    def test_per_frame_checks_do_not_allocate(self):
        try:
            import micropython
        except ImportError:
            raise unittest.SkipTest("MicroPython only") from None
        ip = InterPan()
        ip.power_up(100)
        micropython.heap_lock()
        try:
            on = ip.is_on()
            ch = ip.tick(200)
        finally:
            micropython.heap_unlock()
        self.assertTrue(on)
        self.assertIsNone(ch)
