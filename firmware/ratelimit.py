# DoS defences for inter-PAN frames and beacon replies: rate budgets, a bounded per-source table,
# back-off after failed authentication, and a global failure alarm. docs/dos.md has the policy,
# the defaults and the reasoning; this header has the rules the code keeps.
#
# Everything here runs per received frame, so every per-frame method allocates nothing (no
# slices, no bytes, no tuples, no floats) and keeps every intermediate inside +/-2**30, the
# ESP32's small-int range. Time is `now` in ticks ms from the HAL clock, wrapping at 2**30.
# Distances are taken modulo 2**30; a distance of 2**29 or more means "now is before the
# stored time" (a caller that reused an older `now`), which never earns credit. tick() must run
# at least once every 3 days (the shell calls it every second) so that no stored time is left
# far enough behind to alias.
#
# Budgets are GCRA (one stored time and one debt per key; the same decisions as a token bucket
# of `burst` frames refilled at `rate`). Debt is in units where one frame costs 60000 and each
# millisecond repays the rate in frames per minute, so any integer rate is exact and a tightened
# rate can go as low as one frame a minute. A frame conforms when the debt left after repaying
# is at most (burst - 1) frames, so at most burst + rate * W frames pass in any window of W.
#
# SourceTable: a fixed number of slots keyed by the source EUI-64, read in place from the frame
# (8 air-order octets at an offset). A slot is found by a 30-bit tag made of the first four air
# octets (the serial-number end of the EUI-64, which varies most) and confirmed on the other
# octets; a newcomer whose tag is already held by a different source is never inserted.
#
# Eviction rule (the one that matters under spoofing): a newcomer never evicts anybody. It takes
# a free slot, or, when there is none, shares the small overflow bucket with every other
# newcomer. A slot is freed only by the sweep, once a second, when its source has sent nothing
# for hold_s, is not in back-off and is not trusted (the nginx "zero state" / hashlimit expiry
# idea). So a source that sends at least once every hold_s keeps its slot and its own budget
# whatever any number of other addresses do; an attacker rotating spoofed addresses can only
# fill the free slots and then queue for the overflow bucket.
#
# Failed authentication: each failure reported for a source in the table blocks that source for
# backoff_ms, doubling per consecutive failure up to backoff_max_s; an accepted command clears it.
# An accepted command also makes the source trusted for trust_s (at most trusted_max sources at
# once). Gate lets trusted sources bypass the global budget, limited only by their own budget,
# so a flood of strangers cannot crowd out an installer whose commands authenticate.
#
# AuthFailures counts failures from every source: `threshold` of them inside window_s start an
# episode, reported once (ALERT), during which Gate divides the global rate by `divisor`; after
# quiet_s with no failure the episode ends (CALM) and the rate is restored.

from firmware.compat import const

# Gate.allow / SourceTable.why: why a frame was refused (0: it passes).
PASS = const(0)
GLOBAL = const(1)  # the global inter-PAN budget is spent
SOURCE = const(2)  # the source's own budget is spent
OVERFLOW = const(3)  # a stranger with no slot, and the overflow bucket is spent
BACKOFF = const(4)  # the source is blocked after failed authentication
NAMES = ("pass", "rate_global", "rate_source", "rate_overflow", "auth_backoff")

# Episode signals from auth_failed / tick.
ALERT = const(1)
CALM = const(2)

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_NEG_PERIOD = const(-0x3FFFFFFF - 1)  # -2**30 is a small int on the ESP32; +2**30 is not
_COST = const(60000)  # one frame, in debt units
_MAX_SPAN = const(0x10000000)  # 2**28 ms (3.1 days): the longest stored duration
_MAX_RATE = const(10000)  # frames/s; keeps rate * 60 * elapsed small
_MAX_BURST = const(4096)
_SWEEP_MS = const(1000)
_FREE = const(-1)
_TRUSTED = const(1)
_BLOCKED = const(2)


def _later(now, ms):
    # ticks_add for 0 <= ms < 2**28 without a 2**30 intermediate.
    t = now + _NEG_PERIOD + ms
    return t - _NEG_PERIOD if t < 0 else t


def _ms(ms, name):
    if not 0 <= ms <= _MAX_SPAN:
        raise ValueError("%s is outside 0..3 days" % name)
    return int(ms)


def _check_rate(rate_per_s, burst):
    if not 0 < rate_per_s <= _MAX_RATE or not 0 < burst <= _MAX_BURST:
        raise ValueError("rate 1..%d /s and burst 1..%d" % (_MAX_RATE, _MAX_BURST))


class Gcra:
    # A single budget (the global inter-PAN one, the beacon-reply one, the overflow bucket).
    def __init__(self, rate_per_s, burst):
        _check_rate(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.tightened = False
        self._tol = (burst - 1) * _COST
        self._debt = 0
        self._last = 0
        self._set(rate_per_s * 60)

    def _set(self, per_min):
        self._r = per_min
        # Milliseconds that repay the deepest debt: past this, the budget is simply full (and
        # el * rate below never grows beyond about one burst of units).
        self._full = (self._tol + _COST + per_min - 1) // per_min

    def allow(self, now):
        el = (now - self._last) & _MASK
        self._last = now
        d = self._debt
        if el >= self._full:
            d = 0 if el < _HALF else d
        else:
            d -= el * self._r
            if d < 0:
                d = 0
        if d > self._tol:
            self._debt = d
            return False
        self._debt = d + _COST
        return True

    def tick(self, now):
        # Repay up to now without spending, so the stored time never falls far behind.
        el = (now - self._last) & _MASK
        self._last = now
        if el < _HALF:
            d = self._debt - el * self._r if el < self._full else 0
            self._debt = d if d > 0 else 0

    def tighten(self, divisor):
        # The rate divided by divisor (at least one frame a minute); the burst is kept.
        per_min = self.rate_per_s * 60 // divisor
        self._set(per_min if per_min > 0 else 1)
        self.tightened = True

    def relax(self):
        self._set(self.rate_per_s * 60)
        self.tightened = False

    def rate_per_min(self):
        return self._r


class SourceTable:
    def __init__(
        self,
        capacity=16,
        rate_per_s=2,
        burst=8,
        hold_s=30,
        overflow_rate_per_s=2,
        overflow_burst=2,
        backoff_ms=1000,
        backoff_max_s=60,
        trust_s=600,
        trusted_max=2,
    ):
        _check_rate(rate_per_s, burst)
        if not 0 < capacity <= 256:
            raise ValueError("capacity 1..256")
        n = self.capacity = capacity
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._r = rate_per_s * 60
        self._tol = (burst - 1) * _COST
        self._full = (self._tol + _COST + self._r - 1) // self._r
        self._hold = _ms(hold_s * 1000, "hold_s")
        self._trust_ms = _ms(trust_s * 1000, "trust_s")
        self._back_min = _ms(backoff_ms, "backoff_ms")
        self._back_max = _ms(backoff_max_s * 1000, "backoff_max_s")
        if self._back_max < self._back_min:
            self._back_max = self._back_min
        # Doublings until the cap, so back_min << (fails - 1) never passes 2 * cap.
        self._fails_max = 1
        b = self._back_min
        while 0 < b < self._back_max:
            b <<= 1
            self._fails_max += 1
        self.trusted_max = trusted_max
        self.overflow = Gcra(overflow_rate_per_s, overflow_burst)
        self._tag = [_FREE] * n
        self._key = bytearray(8 * n)  # air order, slot i at 8 * i
        self._debt = [0] * n
        self._last = [0] * n  # the source's last frame, and the time its debt is repaid to
        self._flags = [0] * n
        self._fails = [0] * n  # consecutive failed authentications
        self._until = [0] * n  # end of the back-off, while _BLOCKED
        self._trust_t = [0] * n  # last accepted command, while _TRUSTED
        self.used = 0
        self.trusted = 0
        self.why = PASS
        self._t = 0

    # --- per frame ---------------------------------------------------------------------------

    def find(self, buf, off):
        # The slot holding the EUI-64 at buf[off:off+8]; -1 when absent, -2 when its tag is
        # held by a different source (such a source never gets a slot).
        t = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | ((buf[off + 3] & 0x3F) << 24)
        self._t = t
        tags = self._tag
        if t not in tags:
            return -1
        i = tags.index(t)
        k = self._key
        b = i << 3
        if (
            k[b + 3] == buf[off + 3]
            and k[b + 4] == buf[off + 4]
            and k[b + 5] == buf[off + 5]
            and k[b + 6] == buf[off + 6]
            and k[b + 7] == buf[off + 7]
        ):
            return i
        return -2

    def insert(self, buf, off, now):
        # Right after find() returned -1: the source takes a free slot, or -1 when none is free.
        tags = self._tag
        if _FREE not in tags:
            return -1
        i = tags.index(_FREE)
        tags[i] = self._t
        k = self._key
        b = i << 3
        for j in range(8):
            k[b + j] = buf[off + j]
        self._debt[i] = 0
        self._last[i] = now
        self._flags[i] = 0
        self._fails[i] = 0
        self.used += 1
        return i

    def admit(self, i, now):
        # Charge slot i for one frame: PASS, SOURCE or BACKOFF.
        el = (now - self._last[i]) & _MASK
        self._last[i] = now
        d = self._debt[i]
        if el >= self._full:
            d = 0 if el < _HALF else d
        else:
            d -= el * self._r
            if d < 0:
                d = 0
        if self._flags[i] & _BLOCKED and self._blocked(i, now):
            self._debt[i] = d
            return BACKOFF
        if d > self._tol:
            self._debt[i] = d
            return SOURCE
        self._debt[i] = d + _COST
        return PASS

    def _blocked(self, i, now):
        left = (self._until[i] - now) & _MASK
        if 0 < left < _HALF:
            return True
        self._flags[i] &= ~_BLOCKED
        return False

    def refund(self, i):
        # Give back the frame admit() charged when a later check refused it.
        d = self._debt[i] - _COST
        self._debt[i] = d if d > 0 else 0

    def is_trusted(self, i):
        return self._flags[i] & _TRUSTED

    def allow(self, buf, off, now):
        # The table on its own: a known source against its budget, a newcomer into a free slot,
        # otherwise the overflow bucket. self.why says why a frame was refused.
        i = self.find(buf, off)
        if i == -1:
            i = self.insert(buf, off, now)
        if i >= 0:
            self.why = self.admit(i, now)
        else:
            self.why = PASS if self.overflow.allow(now) else OVERFLOW
        return not self.why

    # --- after the command layer has decided -------------------------------------------------

    def auth_failed(self, buf, off, now):
        # Back-off for the source; a source with no slot has no state to penalise (the global
        # AuthFailures still counts it).
        i = self.find(buf, off)
        if i < 0:
            return
        n = self._fails[i]
        if n < self._fails_max:
            n += 1
            self._fails[i] = n
        ms = self._back_min << (n - 1)
        if ms > self._back_max:
            ms = self._back_max
        if ms:
            self._until[i] = _later(now, ms)
            self._flags[i] |= _BLOCKED

    def auth_ok(self, buf, off, now):
        i = self.find(buf, off)
        if i == -1:
            i = self.insert(buf, off, now)
        if i < 0:
            return
        self._fails[i] = 0
        f = self._flags[i] & ~_BLOCKED
        if not f & _TRUSTED and self.trusted < self.trusted_max:
            f |= _TRUSTED
            self.trusted += 1
        self._flags[i] = f
        self._trust_t[i] = now

    # --- housekeeping ------------------------------------------------------------------------

    def sweep(self, now):
        # Ends back-offs and trust that ran out, frees idle slots, and forgets repaid debt so no
        # stored time is consulted once it could alias.
        tags = self._tag
        last = self._last
        flags = self._flags
        for i in range(self.capacity):
            if tags[i] == _FREE:
                continue
            idle = (now - last[i]) & _MASK
            f = flags[i]
            if f & _BLOCKED:
                self._blocked(i, now)
            if f & _TRUSTED and (now - self._trust_t[i]) & _MASK >= self._trust_ms:
                flags[i] &= ~_TRUSTED
                self.trusted -= 1
            if idle >= self._full:
                self._debt[i] = 0
            if not flags[i] and idle >= self._hold:
                tags[i] = _FREE
                self.used -= 1
        self.overflow.tick(now)

    def key(self, i):
        # Slot i's EUI-64, most significant octet first (allocates: reports only).
        b = i << 3
        return bytes(self._key[b + 7 - j] for j in range(8))


class AuthFailures:
    def __init__(self, threshold=10, window_s=60, quiet_s=300):
        if threshold < 1:
            raise ValueError("threshold >= 1")
        self.threshold = threshold
        self._window = _ms(window_s * 1000, "window_s")
        self._quiet = _ms(quiet_s * 1000, "quiet_s")
        self._ring = [0] * threshold  # times of the latest `threshold` failures
        self._pos = 0
        self._n = 0
        self._last = 0
        self.active = False
        self.episodes = 0
        self.failures = 0  # all failures, modulo 2**30
        self.episode_failures = 0

    def failure(self, now):
        # ALERT when this failure starts an episode, otherwise 0.
        self.failures = (self.failures + 1) & _MASK
        self._last = now
        if self.active:
            self.episode_failures = (self.episode_failures + 1) & _MASK
            return 0
        ring = self._ring
        p = self._pos
        ring[p] = now
        p += 1
        if p == self.threshold:
            p = 0
        self._pos = p
        if self._n < self.threshold:
            self._n += 1
            if self._n < self.threshold:
                return 0
        # ring[p] is now the oldest of the latest `threshold` failures.
        if (now - ring[p]) & _MASK >= self._window:
            return 0
        self.active = True
        self.episodes += 1
        self.episode_failures = self.threshold
        return ALERT

    def tick(self, now):
        # CALM when an episode ends after quiet_s without failures, otherwise 0. Called at least
        # every few seconds, so no stored failure time is ever old enough to alias.
        idle = (now - self._last) & _MASK
        if idle >= self._window:
            self._n = 0  # every remembered failure is outside the window
        if self.active and idle >= self._quiet:
            self.active = False
            self._n = 0  # a new episode needs `threshold` fresh failures
            return CALM
        return 0


class Gate:
    # The inter-PAN admission check, in the order docs/dos.md argues for:
    #   a source in the table is charged to its own budget first (so one loud source spends
    #   only its own budget), then, unless trusted, to the global one (refunded if refused);
    #   a stranger is charged to the global budget first, so only frames the hub can afford
    #   ever reach the table's insert or the overflow bucket.
    def __init__(self, glob, table, failures, divisor=4):
        self.glob = glob
        self.table = table
        self.failures = failures
        self.divisor = divisor
        self._swept = 0

    def allow(self, buf, off, now):
        # PASS, or the reason the frame is refused.
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        t = self.table
        i = t.find(buf, off)
        if i >= 0:
            return self._known(t, i, now)
        if not self.glob.allow(now):
            return GLOBAL
        if i == -1:
            i = t.insert(buf, off, now)
            if i >= 0:
                return t.admit(i, now)
        return PASS if t.overflow.allow(now) else OVERFLOW

    def _known(self, t, i, now):
        why = t.admit(i, now)
        if why or t.is_trusted(i):
            return why
        if self.glob.allow(now):
            return PASS
        t.refund(i)
        return GLOBAL

    def auth_failed(self, buf, off, now):
        # ALERT once per episode: the caller notes it for the head-end.
        self.table.auth_failed(buf, off, now)
        if self.failures.failure(now) == ALERT:
            self.glob.tighten(self.divisor)
            return ALERT
        return 0

    def auth_ok(self, buf, off, now):
        self.table.auth_ok(buf, off, now)

    def tick(self, now):
        # From the shell's one-second timer: CALM when an episode ended (the caller notes it).
        # Cheap when called more often; the sweep still runs at most once a second.
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        if self.failures.tick(now) == CALM:
            self.glob.relax()
            return CALM
        return 0

    def _sweep(self, now):
        # Also run from allow(), so the table keeps freeing idle slots if the shell's timer
        # stalls; the episode's end is left to tick(), whose caller reports it.
        self._swept = now
        self.glob.tick(now)
        self.table.sweep(now)

    def status(self):
        a = self.failures
        return {
            "sources": self.table.used,
            "trusted": self.table.trusted,
            "alert": a.active,
            "alerts": a.episodes,
            "auth_failures": a.failures,
            "global_rate_per_min": self.glob.rate_per_min(),
        }


def gate_from_settings(s):
    # Built from the interpan.* settings (docs/dos.md).
    return Gate(
        Gcra(s["interpan.rate_per_s"], s["interpan.burst"]),
        SourceTable(
            s["interpan.sources"],
            s["interpan.source_rate_per_s"],
            s["interpan.source_burst"],
            s["interpan.source_hold_s"],
            s["interpan.overflow_rate_per_s"],
            s["interpan.overflow_burst"],
            s["interpan.backoff_ms"],
            s["interpan.backoff_max_s"],
            s["interpan.trust_s"],
            s["interpan.trusted_max"],
        ),
        AuthFailures(
            s["interpan.auth_fail_threshold"],
            s["interpan.auth_fail_window_s"],
            s["interpan.auth_quiet_s"],
        ),
        s["interpan.tighten_divisor"],
    )


def beacon_budget_from_settings(s):
    return Gcra(s["beacon.rate_per_s"], s["beacon.burst"])
