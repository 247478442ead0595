# The inter-PAN flag: whether the hub answers inter-PAN frames (the HHT's only way in).
#
# Pure state machine: every input carries `now` (ticks ms from the HAL clock, wrapping at
# contract.ticks.PERIOD) and returns a Change for the shell to log and queue for the head-end, or
# None. The rules come from the GBCS options in the 2013 design minutes and the product brief:
#   power_up          ON, countdown of keepalive_s ("60 minutes from power on").
#   command_accepted  an authenticated, accepted inter-PAN command restarts the countdown; the
#                     only keep-alive (discovery, junk, unauthenticated or rate-limited frames
#                     never reach it). While OFF no frame is answered, so it never turns it ON.
#   tick              OFF when the countdown runs out ("timeout") or the max-open cap is reached.
#   wan_lost          ON with no timeout, whatever the flag was.
#   wan_restored      from the WAN-lost hold, the countdown restarts now (an installer mid-visit is
#                     not cut off) and then runs out as usual.
#   trusted_enable    an authenticated request from a joined ESME/GSME: ON with a fresh countdown.
#   off_command       OFF at once ("install and leave"); stays OFF until power-up, a trusted enable
#                     or a WAN loss.
#
# Off command while the WAN is lost: the installer's explicit off wins over the WAN-lost hold, so
# the flag goes OFF and stays OFF for the rest of this outage. Restore does not reopen it (there
# is no hold to convert into a countdown); a *new* loss after a restore does, as does a trusted
# enable, which cancels the off and (the WAN being lost) returns to the no-timeout hold.
#
# max_open_s (0 = no cap) bounds how long one keep-alive chain can hold the flag open, so a
# stream of valid commands cannot keep it open forever. A chain starts with the countdown at
# power-up, trusted enable or WAN restore; keep-alives never start one. The WAN-lost hold is
# exempt (the cap guards a reachable hub, and restoring starts a fresh chain).
#
# Timers: ticks_diff is exact only within PERIOD / 2 (6.2 days), so both spans are limited to
# 2**28 ms (3.1 days) and the shell must call tick() more often than the remaining 3.1 days (it
# does every second; the hub, before each inter-PAN frame, compares closes_at inline and calls
# tick() once it has passed).

from contract.ticks import ticks_add, ticks_diff

ON = "on"
OFF = "off"

POWER_UP = "power_up"
TIMEOUT = "timeout"
MAX_OPEN = "max_open"
WAN_LOST = "wan_lost"
WAN_RESTORED = "wan_restored"
TRUSTED_ENABLE = "trusted_enable"
OFF_COMMAND = "off_command"

_MAX_SPAN_MS = const(0x10000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
# closes_at's values other than a deadline (a tick, 0.._MASK)
CLOSED = const(-1)  # OFF
HELD = const(-2)  # ON with no timeout (the WAN-lost hold)


class Change:
    # One state change. seconds_left: None while ON with no timeout, 0 when OFF. prior is a
    # change that happened at the same `now` just before this one (a countdown that had run out
    # when an event came in before tick() saw it); the shell logs prior first.
    def __init__(self, state, reason, seconds_left, prior=None):
        self.state = state
        self.reason = reason
        self.seconds_left = seconds_left
        self.prior = prior

    def to_dict(self):
        # One vocabulary with discovery and status (firmware/ipan_discovery.py STATES).
        st = self.state if self.seconds_left is not None or self.state == OFF else "on_no_timeout"
        return {"state": st, "reason": self.reason, "seconds_left": self.seconds_left}

    def __repr__(self):
        return "Change(%s, %s, %r)" % (self.state, self.reason, self.seconds_left)


class InterPan:
    def __init__(self, keepalive_s=3600, max_open_s=0):
        keep_ms = int(keepalive_s * 1000)
        cap_ms = int(max_open_s * 1000)
        if not 0 < keep_ms <= _MAX_SPAN_MS or not 0 <= cap_ms <= _MAX_SPAN_MS:
            raise ValueError("interpan: keepalive_s and max_open_s must be within 3.1 days")
        self._keep_ms = keep_ms
        self._cap_ms = cap_ms
        self._on = False  # OFF until power_up()
        self._timed = False  # ON with a countdown to _deadline (False: the WAN-lost hold)
        self._deadline = 0
        self._cap_end = 0
        self._capped = False  # _deadline is the cap, not keepalive after the last use
        self._wan_lost = False
        self._suppressed = False  # an off command beat the current WAN-lost hold
        self.reason = None
        # What a receiver needs per frame, in one attribute: CLOSED, HELD or the deadline (the
        # hub reads it inline and calls tick() only once the deadline has passed).
        self.closes_at = CLOSED

    def is_on(self):
        return self._on

    def seconds_left(self, now):
        if not self._on:
            return 0
        if not self._timed:
            return None
        ms = ticks_diff(self._deadline, now)
        return (ms + 999) // 1000 if ms > 0 else 0

    def power_up(self, now):
        self._wan_lost = False
        self._suppressed = False
        return self._start(now, POWER_UP, None)

    def tick(self, now):
        # Before every inter-PAN frame: the deadline test inline (ticks_diff(now, deadline) >= 0).
        if self._timed and (now - self._deadline) & _MASK < _HALF:
            self._on = False
            self._timed = False
            self.closes_at = CLOSED
            return self._change(now, MAX_OPEN if self._capped else TIMEOUT, None)
        return None

    def command_accepted(self, now):
        # tick(), then the countdown restarted; tick's deadline test inline (a call fewer on
        # every accepted command).
        if not self._timed:
            return None
        if (now - self._deadline) & _MASK < _HALF:
            return self.tick(now)
        if self._cap_ms:
            self._extend(now)
            return None
        # Without a cap, _extend is the deadline alone (_capped is never set): inline.
        d = now - _HALF - _HALF + self._keep_ms
        self._deadline = d + _HALF + _HALF if d < 0 else d
        self.closes_at = self._deadline
        return None

    def wan_lost(self, now):
        expired = self.tick(now)
        if self._wan_lost:
            return expired  # a level, not an edge: a repeat must not undo an off command
        self._wan_lost = True
        self._suppressed = False
        self._on = True
        self._timed = False
        self.closes_at = HELD
        return self._change(now, WAN_LOST, expired)

    def wan_restored(self, now):
        expired = self.tick(now)
        if not self._wan_lost:
            return expired
        self._wan_lost = False
        if self._suppressed:
            self._suppressed = False
            return expired
        return self._start(now, WAN_RESTORED, expired)

    def trusted_enable(self, now):
        expired = self.tick(now)
        self._suppressed = False
        if self._wan_lost:
            self._on = True
            self._timed = False
            self.closes_at = HELD
            return self._change(now, TRUSTED_ENABLE, expired)
        return self._start(now, TRUSTED_ENABLE, expired)

    def off_command(self, now):
        expired = self.tick(now)
        if not self._on:
            return expired
        self._on = False
        self._timed = False
        self.closes_at = CLOSED
        self._suppressed = self._wan_lost
        return self._change(now, OFF_COMMAND, None)

    def _start(self, now, reason, prior):
        self._on = True
        self._timed = True
        if self._cap_ms:
            self._cap_end = ticks_add(now, self._cap_ms)
        self._extend(now)
        return self._change(now, reason, prior)

    def _extend(self, now):
        # ticks_add(now, keep_ms) inline (keep_ms is 1..2**28): every accepted command runs this.
        d = now - _HALF - _HALF + self._keep_ms
        self._deadline = d + _HALF + _HALF if d < 0 else d
        self._capped = False
        if self._cap_ms and ticks_diff(self._deadline, self._cap_end) > 0:
            self._deadline = self._cap_end
            self._capped = True
        self.closes_at = self._deadline

    def _change(self, now, reason, prior):
        self.reason = reason
        return Change(ON if self._on else OFF, reason, self.seconds_left(now), prior)
