# Battery protection for sleepy devices (the GSME): how many frames, and how much airtime, the
# hub will send to one device in any rolling hour, with one budget for traffic that inter-PAN
# requests cause and a separate one for WAN-originated traffic, so an HHT (or an attacker using
# inter-PAN) can never spend the share the back office needs. Every frame the hub sends to a
# sleepy device keeps it awake for a data request, the frame and the turnarounds: without a cap,
# a stream of requests turns every poll into "frame pending" and the meter never sleeps (denial
# of sleep). Default figures and why: docs/han.md.
#
# The window is exact, not approximated: for each (device, origin) a ring holds the send time
# and airtime of the last `frames` admitted sends, so a request is admitted only if the sends in
# the past hour, plus it, stay within both limits. Rings exist only for devices enabled as
# sleepy (a few GSMEs), sized by the frame budget. Times are ticks compared with ticks_diff;
# entries older than the window are pruned on every admit and by prune(), which the shell's
# housekeeping calls, so no entry lives long enough to be misread across the 2**30 ms wrap.
#
# Airtime is kept in octet times (32 us, one octet at 250 kbit/s): a frame of n PSDU octets
# occupies (6 + n) of them with its preamble, SFD and length (IEEE 802.15.4-2006 6.5).

from contract.ticks import ticks_diff

INTERPAN = const(0)
WAN = const(1)
ORIGINS = ("interpan", "wan")

OK = const(0)
OVER_FRAMES = const(1)
OVER_AIRTIME = const(2)
NAMES = ("ok", "over_frame_budget", "over_airtime_budget")

_HOUR_MS = const(3600000)
_OCTET_US = const(32)


def airtime_octets(psdu_len):
    return 6 + psdu_len


def airtime_us(psdu_len):
    return (6 + psdu_len) * _OCTET_US


class _Ring:
    def __init__(self, size):
        self.t = [0] * size
        self.air = bytearray(size)  # octet times; a PSDU is at most 127 octets, so <= 133
        self.head = 0
        self.n = 0
        self.air_sum = 0
        self.alerted = False  # an alert was raised in this window (alert_at: when)
        self.alert_at = 0
        self.suppressed = 0  # rejections since the last alert


class BatteryBudget:
    def __init__(self, devices, frames=(12, 48), airtime_ms=(40, 160), window_ms=_HOUR_MS):
        # frames, airtime_ms: per origin (INTERPAN, WAN), per window.
        self.frames = tuple(frames)
        self.airtime = tuple(ms * 1000 // _OCTET_US for ms in airtime_ms)
        self.window_ms = window_ms
        self._rings = [None] * (2 * devices)  # per device and origin, while it is enabled
        self.rejected = [0, 0]  # per origin, all devices
        self.admitted = [0, 0]
        self.alert = False  # set by admit(): this rejection is the window's first alert

    def enable(self, dev):
        # dev is a sleepy device: its sends are budgeted from now on.
        for origin in (INTERPAN, WAN):
            k = 2 * dev + origin
            if self._rings[k] is None:
                self._rings[k] = _Ring(self.frames[origin])

    def disable(self, dev):
        for origin in (INTERPAN, WAN):
            self._rings[2 * dev + origin] = None

    def enabled(self, dev):
        return self._rings[2 * dev] is not None

    def _prune(self, r, now):
        size = len(r.t)
        while r.n and ticks_diff(now, r.t[r.head]) >= self.window_ms:
            r.air_sum -= r.air[r.head]
            r.head = r.head + 1 if r.head + 1 < size else 0
            r.n -= 1

    def prune(self, now):
        for r in self._rings:
            if r is not None:
                self._prune(r, now)

    def admit(self, dev, origin, psdu_len, now):
        # OK (and the send is recorded), or OVER_FRAMES / OVER_AIRTIME. Devices that are not
        # enabled (mains powered) are not budgeted here. self.alert tells the caller whether
        # this rejection should raise an alert: the first per device and origin per window.
        self.alert = False
        r = self._rings[2 * dev + origin]
        if r is None:
            return OK
        self._prune(r, now)
        a = airtime_octets(psdu_len)
        why = OK
        if r.n >= self.frames[origin]:
            why = OVER_FRAMES
        elif r.air_sum + a > self.airtime[origin]:
            why = OVER_AIRTIME
        if why != OK:
            self.rejected[origin] += 1
            r.suppressed += 1
            if not r.alerted or ticks_diff(now, r.alert_at) >= self.window_ms:
                r.alerted = True
                r.alert_at = now
                self.alert = True
            return why
        size = len(r.t)
        i = r.head + r.n
        if i >= size:
            i -= size
        r.t[i] = now
        r.air[i] = a
        r.n += 1
        r.air_sum += a
        self.admitted[origin] += 1
        return OK

    def take_suppressed(self, dev, origin):
        # Rejections counted since the last alert (for the alert's fields); resets the count.
        r = self._rings[2 * dev + origin]
        if r is None:
            return 0
        n = r.suppressed
        r.suppressed = 0
        return n

    def used(self, dev, origin, now):
        # (frames, airtime in us) sent to dev for origin within the window, or None.
        r = self._rings[2 * dev + origin]
        if r is None:
            return None
        self._prune(r, now)
        return r.n, r.air_sum * _OCTET_US

    def limits(self, origin):
        return self.frames[origin], self.airtime[origin] * _OCTET_US
