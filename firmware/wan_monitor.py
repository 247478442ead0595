# WAN link monitor: declares the WAN lost or restored, schedules heartbeats, paces reconnects.
#
# Pure: the shell reports link_up / link_down / heard (any message from the head-end, heartbeats
# included) and calls tick() about once a second, each with `now` in ticks ms; the calls return
# LOST, RESTORED or None, which the shell passes on to InterPan.wan_lost / wan_restored.
#
# One measure drives loss: time since the head-end was last heard. A dropped connection is just a
# link on which nothing can be heard, and a connection that stays up but silent (a dead peer, a
# half-open TCP socket) is as good as down. LOST is declared after loss_after_s of it.
# RESTORED needs a run of restore_after_s during which the link stayed connected and was never
# silent for loss_after_s, beginning with a message heard after the connect (a bare TCP connect is
# not proof the head-end is alive). The two thresholds are the hysteresis: a link that flaps but
# is heard in each up period is never declared lost, and once lost, up periods shorter than
# restore_after_s never restore it.
#
# Power-up: declared PRESENT, with the silence clock started by the first call, so after a reboot
# the inter-PAN flag follows its normal countdown and the WAN is declared lost only after
# loss_after_s without hearing the head-end. Starting "lost" would open inter-PAN with no timeout
# on every reboot until the first connect.
#
# Keep the thresholds within 3.1 days and tick at least daily: ticks_diff is exact only within
# PERIOD / 2.

from contract.ticks import ticks_diff

LOST = "wan_lost"
RESTORED = "wan_restored"

_MAX_SPAN_MS = const(0x10000000)


class WanMonitor:
    def __init__(
        self, loss_after_s, restore_after_s, heartbeat_s, backoff_min_s, backoff_max_s, rand=None
    ):
        # rand(n) -> int in [0, n) adds jitter to reconnect delays (random.randrange fits);
        # without it the delays are deterministic.
        self._loss_ms = int(loss_after_s * 1000)
        self._restore_ms = int(restore_after_s * 1000)
        self._hb_ms = int(heartbeat_s * 1000)
        self._bo_min = int(backoff_min_s * 1000)
        self._bo_max = int(backoff_max_s * 1000)
        for v in (self._loss_ms, self._restore_ms, self._hb_ms, self._bo_min):
            if not 0 < v <= _MAX_SPAN_MS:
                raise ValueError("wan: times must be positive and within 3.1 days")
        if self._bo_max < self._bo_min:
            raise ValueError("wan: backoff_max_s < backoff_min_s")
        self._rand = rand
        self.lost = False
        self._started = False
        self._connected = False
        self._last_heard = 0
        self._recent = False  # heard within loss_ms; once False, _last_heard is stale
        self._run = False  # a restore run is under way since _run_start
        self._run_start = 0
        self._hb_sent = False  # a heartbeat went out since the connect, at _last_sent
        self._last_sent = 0
        self._backoff = self._bo_min

    def is_connected(self):
        return self._connected

    def tick(self, now):
        return self._update(now)

    def link_up(self, now):
        ev = self._update(now)
        self._connected = True
        self._run = False
        self._hb_sent = False  # greet at once, so the head-end hears us without waiting
        self._backoff = self._bo_min
        return ev

    def link_down(self, now):
        ev = self._update(now)
        self._connected = False
        self._run = False
        return ev

    def heard(self, now):
        ev = self._update(now)
        if self._connected and not self._run:
            self._run = True
            self._run_start = now
        self._last_heard = now
        self._recent = True
        return ev or self._update(now)

    def heartbeat_due(self, now):
        return self._connected and (
            not self._hb_sent or ticks_diff(now, self._last_sent) >= self._hb_ms
        )

    def heartbeat_sent(self, now):
        # Any message sent counts: the head-end hears us either way.
        self._hb_sent = True
        self._last_sent = now

    def next_connect_delay_ms(self):
        # Called after each failed connect (or a drop): min, 2*min, 4*min, ... capped at max;
        # link_up resets it. With jitter, a delay d is drawn from [d/2, d].
        d = self._backoff
        self._backoff = min(d * 2, self._bo_max)
        if self._rand is not None:
            half = d // 2
            d = half + self._rand(d - half + 1)
        return d

    def _update(self, now):
        if not self._started:
            self._started = True
            self._last_heard = now
            self._recent = True
        if self._recent and ticks_diff(now, self._last_heard) >= self._loss_ms:
            self._recent = False
            self._run = False
        if not self.lost:
            if not self._recent:
                self.lost = True
                return LOST
        elif self._run and ticks_diff(now, self._run_start) >= self._restore_ms:
            self.lost = False
            return RESTORED
        return None
