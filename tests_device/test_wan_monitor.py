import unittest

from contract.ticks import PERIOD, ticks_add
from firmware.wan_monitor import LOST, RESTORED, WanMonitor

S = 1000


def monitor(**kw):
    args = {
        "loss_after_s": 60,
        "restore_after_s": 30,
        "heartbeat_s": 10,
        "backoff_min_s": 1,
        "backoff_max_s": 60,
    }
    args.update(kw)
    return WanMonitor(**args)


class Sim:
    # Drives a monitor second by second from t0, collecting (ms since t0, event).
    def __init__(self, mon, t0):
        self.mon = mon
        self.t0 = t0
        self.ms = 0
        self.events = []

    def now(self):
        return ticks_add(self.t0, self.ms)

    def note(self, ev):
        if ev is not None:
            self.events.append((self.ms, ev))

    def run(self, seconds, up, hear_every_s=0):
        # Link state `up` for `seconds`; a message heard every hear_every_s while up (0: none).
        if up != self.mon.is_connected():
            self.note(self.mon.link_up(self.now()) if up else self.mon.link_down(self.now()))
        for i in range(seconds):
            if up and hear_every_s and i % hear_every_s == 0:
                self.note(self.mon.heard(self.now()))
            self.note(self.mon.tick(self.now()))
            self.ms += S


class LossRestoreTest(unittest.TestCase):
    def check_flapping_never_declares_lost(self, t0):
        sim = Sim(monitor(), t0)
        sim.run(5, True, hear_every_s=10)
        for _ in range(40):  # 40 cycles of 30 s up / 30 s down = 40 minutes
            sim.run(30, False)
            sim.run(30, True, hear_every_s=10)
        self.assertEqual(sim.events, [])
        self.assertFalse(sim.mon.lost)

    def test_flapping_link_never_declares_lost(self):
        self.check_flapping_never_declares_lost(0)

    def test_flapping_across_the_wrap(self):
        self.check_flapping_never_declares_lost(PERIOD - 600 * S)

    def test_starts_present_and_declares_loss_after_the_threshold(self):
        m = monitor()
        self.assertFalse(m.lost)
        self.assertIsNone(m.tick(1000))  # starts the silence clock
        self.assertIsNone(m.tick(1000 + 60 * S - 1))
        self.assertFalse(m.lost)
        self.assertEqual(m.tick(1000 + 60 * S), LOST)
        self.assertTrue(m.lost)
        self.assertIsNone(m.tick(1000 + 61 * S))  # declared once

    def test_loss_counts_from_the_last_message(self):
        m = monitor()
        m.link_up(0)
        m.heard(5 * S)
        self.assertIsNone(m.link_down(20 * S))
        self.assertIsNone(m.tick(65 * S - 1))
        self.assertEqual(m.tick(65 * S), LOST)

    def test_connected_but_silent_is_lost(self):
        m = monitor()
        m.link_up(0)
        m.heard(0)
        for s in range(1, 60):
            self.assertIsNone(m.tick(s * S))
        self.assertEqual(m.tick(60 * S), LOST)
        self.assertTrue(m.is_connected())

    def lose(self, m, t0):
        m.link_up(t0)
        m.heard(t0)
        m.link_down(ticks_add(t0, S))
        self.assertEqual(m.tick(ticks_add(t0, 60 * S)), LOST)
        return ticks_add(t0, 60 * S)

    def test_restore_after_its_threshold(self):
        m = monitor()
        t = self.lose(m, 0)
        up = t + 100 * S
        self.assertIsNone(m.link_up(up))
        self.assertIsNone(m.tick(up + 5 * S))  # connected but nothing heard: no run yet
        first = up + 5 * S
        for s in range(0, 30, 10):
            self.assertIsNone(m.heard(first + s * S))
        self.assertIsNone(m.tick(first + 30 * S - 1))
        self.assertTrue(m.lost)
        self.assertEqual(m.tick(first + 30 * S), RESTORED)
        self.assertFalse(m.lost)

    def test_restore_can_come_from_heard(self):
        m = monitor()
        t = self.lose(m, 0)
        m.link_up(t)
        m.heard(t)
        self.assertEqual(m.heard(t + 30 * S), RESTORED)

    def test_short_up_periods_never_restore(self):
        sim = Sim(monitor(), 0)
        sim.run(70, False)
        self.assertEqual(sim.events, [(60 * S, LOST)])
        for _ in range(20):
            sim.run(25, True, hear_every_s=5)
            sim.run(5, False)
        self.assertEqual(len(sim.events), 1)
        self.assertTrue(sim.mon.lost)
        sim.run(31, True, hear_every_s=5)
        self.assertEqual(sim.events[-1][1], RESTORED)

    def test_never_restored_while_disconnected(self):
        sim = Sim(monitor(), 0)
        sim.run(60, False)
        sim.run(25, True, hear_every_s=5)
        sim.run(20, False)  # the run that began 25 s ago would reach 30 s in here
        self.assertEqual(sim.events, [(60 * S, LOST)])
        self.assertTrue(sim.mon.lost)

    def test_a_message_without_a_connection_starts_no_run(self):
        m = monitor()
        t = self.lose(m, 0)
        for s in range(0, 40, 5):
            self.assertIsNone(m.heard(t + s * S))
        self.assertTrue(m.lost)

    def test_silence_breaks_a_restore_run(self):
        m = monitor(loss_after_s=20, restore_after_s=30)
        m.link_up(0)
        self.assertEqual(m.tick(20 * S), LOST)
        m.heard(21 * S)
        self.assertIsNone(m.tick(41 * S))  # 20 s of silence: the run from 21 s is void
        for s in (45, 55, 65):
            self.assertIsNone(m.heard(s * S))
        self.assertIsNone(m.tick(75 * S - 1))
        self.assertEqual(m.tick(75 * S), RESTORED)

    def test_restore_and_loss_across_the_wrap(self):
        t0 = PERIOD - 45 * S
        m = monitor()
        t = self.lose(m, t0)  # lost 15 s after the wrap
        self.assertTrue(t < t0)
        m.link_up(t)
        m.heard(t)
        self.assertIsNone(m.tick(ticks_add(t, 30 * S - 1)))
        self.assertEqual(m.tick(ticks_add(t, 30 * S)), RESTORED)

    def test_settings_are_validated(self):
        self.assertRaises(ValueError, monitor, loss_after_s=0)
        self.assertRaises(ValueError, monitor, restore_after_s=0)
        self.assertRaises(ValueError, monitor, backoff_min_s=10, backoff_max_s=5)


class HeartbeatTest(unittest.TestCase):
    def test_no_heartbeat_while_disconnected(self):
        m = monitor()
        self.assertFalse(m.heartbeat_due(0))

    def test_greets_at_connect_then_every_interval(self):
        t0 = PERIOD - 15 * S  # the second interval spans the wrap
        m = monitor()
        m.link_up(t0)
        self.assertTrue(m.heartbeat_due(t0))
        m.heartbeat_sent(t0)
        self.assertFalse(m.heartbeat_due(ticks_add(t0, 10 * S - 1)))
        self.assertTrue(m.heartbeat_due(ticks_add(t0, 10 * S)))
        m.heartbeat_sent(ticks_add(t0, 10 * S))
        self.assertFalse(m.heartbeat_due(ticks_add(t0, 20 * S - 1)))
        self.assertTrue(m.heartbeat_due(ticks_add(t0, 20 * S)))

    def test_reconnect_greets_again(self):
        m = monitor()
        m.link_up(0)
        m.heartbeat_sent(0)
        m.link_down(S)
        self.assertFalse(m.heartbeat_due(2 * S))
        m.link_up(3 * S)
        self.assertTrue(m.heartbeat_due(3 * S))


class BackoffTest(unittest.TestCase):
    def test_doubles_caps_and_resets(self):
        m = monitor(backoff_min_s=1, backoff_max_s=20)
        got = [m.next_connect_delay_ms() for _ in range(8)]
        self.assertEqual(got, [1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000])
        m.link_up(0)
        self.assertEqual(m.next_connect_delay_ms(), 1000)
        self.assertEqual(m.next_connect_delay_ms(), 2000)

    def test_failed_connects_do_not_reset(self):
        m = monitor(backoff_min_s=2, backoff_max_s=60)
        m.next_connect_delay_ms()
        m.link_down(0)
        self.assertEqual(m.next_connect_delay_ms(), 4000)

    def test_jitter_stays_within_half_to_full(self):
        calls = []

        def rand(n):
            calls.append(n)
            return n - 1 if len(calls) % 2 else 0

        m = monitor(backoff_min_s=1, backoff_max_s=4, rand=rand)
        got = [m.next_connect_delay_ms() for _ in range(4)]
        self.assertEqual(got, [1000, 1000, 4000, 2000])
        self.assertEqual(calls, [501, 1001, 2001, 2001])
