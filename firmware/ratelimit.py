# DoS defences for inter-PAN frames and beacon replies: rate budgets, a bounded per-source table,
# back-off after failed authentication and a global failure alarm. docs/dos.md has the policy,
# the defaults and the reasoning; this header has the rules the code keeps.
#
# These run for every received frame, so the per-frame methods (Gcra.allow, SourceTable.find /
# admit / allow / auth_failed / auth_ok, AuthFailures.failure, Gate.allow / auth_failed /
# auth_ok) allocate nothing and keep every intermediate inside +/-2**30, the ESP32's small-int
# range. They are also kept small: a bytecode function with more than 11 words of locals and
# stack gets its frame from the GC heap on every call (MicroPython py/objfun.c,
# VM_MAX_STATE_ON_STACK).
#
# Time is `now` in ticks ms from the HAL clock, wrapping at 2**30. Stored times are compared
# modulo 2**30 and never left more than 3 days behind, which needs tick() (or frames) at least
# that often; the shell calls Gate.tick every second.
#
# Budgets are GCRA: one stored time per budget, the theoretical arrival time (TAT). A frame
# passes while TAT - now is at most (burst - 1) intervals, and moves TAT one interval on; the
# interval is 1000 // rate ms rounded up, so a budget is never more generous than its rate. In any
# window of W seconds at most burst + rate * W frames pass. Gcra is one such budget (the global
# inter-PAN one, beacon replies, the overflow bucket); SourceTable holds one per source.
#
# SourceTable: per-source budgets for a fixed number of sources. A source is known by a 30-bit
# tag of the first four air-order octets of its EUI-64 (the serial-number end, which varies most),
# found through a dict whose size never changes. The tag alone decides unless exact=True, when
# the other octets are compared too and a source whose tag is held by a different EUI-64 never
# gets a slot. (Source addresses are not authenticated: an attacker who can pick a colliding tag
# can as easily send the victim's whole address, so exact matching only guards against two real
# devices colliding on 30 bits; it costs about 3k instructions per frame. docs/dos.md.)
#
# Eviction, the rule spoofing cannot beat: a newcomer never evicts anybody. It takes a free slot,
# or, when none is free, shares the small overflow bucket with all other newcomers. The sweep
# (once a second) frees a slot only when its budget has been full for hold_s (TAT at least hold_s
# in the past: nginx's "zero state" plus a hold, like hashlimit's expiry) and it is neither in
# back-off nor trusted. So a source that sends within its budget and at least once per hold_s
# keeps its slot, and its whole budget, whatever any number of other addresses send.
#
# Failed authentication: the source's TAT is pushed out so it is refused for backoff_ms,
# doubling per consecutive failure up to backoff_max_s; an accepted command resets the count and
# makes the source trusted for trust_s (at most trusted_max at once). Gate lets trusted sources
# past the global budget, so a flood of strangers cannot crowd out an installer whose commands
# authenticate; they still have their own budget.
#
# AuthFailures counts failures from all sources: `threshold` of them inside window_s start an
# episode, reported once (ALERT); Gate then divides the global rate by `divisor`. quiet_s without
# a failure ends it (CALM) and the rate is restored.

from contract.compat import const

# Refusal reasons (Gate.allow's result, SourceTable.why); PASS is 0 so `if why:` reads naturally.
PASS = const(0)
GLOBAL = const(1)  # the global inter-PAN budget is spent
SOURCE = const(2)  # the source's own budget is spent
OVERFLOW = const(3)  # a newcomer with no free slot, and the overflow bucket is spent
BACKOFF = const(4)  # the source is refused after failed authentication
NAMES = ("pass", "rate_global", "rate_source", "rate_overflow", "auth_backoff")

# Episode signals from Gate.auth_failed / AuthFailures.failure and Gate.tick / AuthFailures.tick.
ALERT = const(1)
CALM = const(2)

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_NEG_PERIOD = const(-0x3FFFFFFF - 1)  # -2**30 is a small int on the ESP32; +2**30 is not
_MAX_SPAN = const(0x0F000000)  # about 2.9 days: the longest configurable duration
_MAX_BURST = const(4096)
_SWEEP_MS = const(1000)
_FREE = const(-1)
_TRUSTED = const(1)
_BLOCKED = const(2)
_TRUSTED_PASS = const(-1)  # admit(): passes, and the source is trusted


def _later(now, ms):
    # ticks_add for 0 <= ms < 2**29 without a 2**30 intermediate.
    t = now + _NEG_PERIOD + ms
    return t - _NEG_PERIOD if t < 0 else t


def _tag(buf, off):
    # 30 bits of the four least significant octets (first on air): a small int on the ESP32.
    t = buf[off + 3] & 0x3F
    t = (t << 8) | buf[off + 2]
    t = (t << 8) | buf[off + 1]
    return (t << 8) | buf[off]


def _copy8(k, b, buf, off):
    k[b] = buf[off]
    k[b + 1] = buf[off + 1]
    k[b + 2] = buf[off + 2]
    k[b + 3] = buf[off + 3]
    k[b + 4] = buf[off + 4]
    k[b + 5] = buf[off + 5]
    k[b + 6] = buf[off + 6]
    k[b + 7] = buf[off + 7]


def _ms(ms, name):
    if not 0 <= ms <= _MAX_SPAN:
        raise ValueError("%s is outside 0..2.9 days" % name)
    return int(ms)


def _check(rate_per_s, burst, max_rate):
    if not 0 < rate_per_s <= max_rate or not 0 < burst <= _MAX_BURST:
        raise ValueError("rate must be 1..%d /s and burst 1..%d" % (max_rate, _MAX_BURST))


class Gcra:
    def __init__(self, rate_per_s, burst):
        _check(rate_per_s, burst, 1000)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.factor = 1  # > 1 while tightened
        self._base = (1000 + rate_per_s - 1) // rate_per_s  # ms per frame, never too fast
        self._tat = -1  # unset: the first tick() or pass sets it
        self._set(self._base)

    def _set(self, step):
        self._step = step
        self._tol = (self.burst - 1) * step
        # TAT is never further ahead than this, so anything further ahead can only be a TAT left
        # in the past (or unset) that aliases: it means a full budget.
        self._max = self._tol + step

    def allow(self, now):
        d = (self._tat - now) & _MASK
        if d > self._max:
            d = 0
        elif d > self._tol:
            return False
        d = now + _NEG_PERIOD + d + self._step
        self._tat = d - _NEG_PERIOD if d < 0 else d
        return True

    def tick(self, now):
        # A TAT in the past means a full budget whatever its value: bring it up to now, so it is
        # never old enough to alias (and an unset one is set).
        if self._tat < 0 or (self._tat - now) & _MASK > self._max:
            self._tat = now

    def tighten(self, divisor, now):
        # divisor (2..64) times fewer frames per second, same burst. The debt is scaled with the
        # interval, so tightening never hands out a fresh burst and relaxing never forgives one.
        if self.factor == 1 and 1 < divisor <= 64:
            self._scale(divisor, 1, now)
            self.factor = divisor

    def relax(self, now):
        if self.factor > 1:
            self._scale(1, self.factor, now)
            self.factor = 1

    def _scale(self, mul, div, now):
        d = (self._tat - now) & _MASK
        if d <= self._max:
            self._tat = _later(now, (d * mul + div - 1) // div)  # relaxing rounds debt up
        self._set(self._base * mul)

    def rate_per_min(self):
        return 60000 // self._step


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
        exact=False,
    ):
        _check(rate_per_s, burst, 1000)
        if not 0 < capacity <= 1024:
            raise ValueError("capacity must be 1..1024")
        n = self.capacity = capacity
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.exact = exact
        self.trusted_max = trusted_max
        self._step = (1000 + rate_per_s - 1) // rate_per_s  # never faster than the rate
        self._tol = (burst - 1) * self._step
        self._hold = _ms(hold_s * 1000, "hold_s")
        self._trust_ms = _ms(trust_s * 1000, "trust_s")
        self._back_min = _ms(backoff_ms, "backoff_ms")
        self._back_max = max(_ms(backoff_max_s * 1000, "backoff_max_s"), self._back_min)
        # Consecutive failures that reach the cap: back_min << (fails - 1) stays under 2 * cap.
        self._fails_max = 1
        b = self._back_min
        while 0 < b < self._back_max:
            b <<= 1
            self._fails_max += 1
        self.overflow = Gcra(overflow_rate_per_s, overflow_burst)
        self._tag = [_FREE] * n
        self._key = bytearray(8 * n)  # air order, slot i at 8 * i (reports, exact matching)
        self._tat = [0] * n
        self._flags = [0] * n
        self._fails = [0] * n  # consecutive failed authentications
        self._trust_t = [0] * n  # last accepted command, while _TRUSTED
        # tag -> slot. Grown once here: later inserts reuse the slots deletes leave, so the
        # dict never reallocates on the frame path (MicroPython's map keeps deleted slots).
        self._slot = {}
        for k in range(2 * n + 2):
            self._slot[-2 - k] = 0
        for k in range(2 * n + 2):
            del self._slot[-2 - k]
        self.used = 0
        self.trusted = 0
        self.why = PASS

    # --- per frame ---------------------------------------------------------------------------

    def find(self, buf, off):
        # The slot of the source whose EUI-64 is at buf[off:off+8] (air order); -1 when absent,
        # -2 (exact only) when its tag is held by a different EUI-64.
        t = self._slot.get(_tag(buf, off), -1)
        if t < 0 or not self.exact or self._same(t, buf, off):
            return t
        return -2

    def _same(self, i, buf, off):
        k = self._key
        i = (i << 3) - off
        return (
            k[i + off + 3] == buf[off + 3]
            and k[i + off + 4] == buf[off + 4]
            and k[i + off + 5] == buf[off + 5]
            and k[i + off + 6] == buf[off + 6]
            and k[i + off + 7] == buf[off + 7]
        )

    def insert(self, buf, off, now):
        # Right after find() returned -1: a free slot for the source, or -1 when none is free.
        if self.used >= self.capacity:
            return -1
        i = self._tag.index(_FREE)
        self._tat[i] = now
        now = _tag(buf, off)  # reused: few locals keep the frame off the heap
        self._tag[i] = now
        self._slot[now] = i
        self._flags[i] = 0
        self._fails[i] = 0
        _copy8(self._key, i << 3, buf, off)
        self.used += 1
        return i

    def admit(self, i, now):
        # Charges slot i one frame: PASS, or _TRUSTED_PASS, or refused with SOURCE or BACKOFF.
        d = (self._tat[i] - now) & _MASK
        if d >= _HALF:  # TAT is in the past: the budget is full
            d = 0
        elif d > self._tol:
            return BACKOFF if self._flags[i] & _BLOCKED else SOURCE
        d = now + _NEG_PERIOD + d + self._step
        self._tat[i] = d - _NEG_PERIOD if d < 0 else d
        d = self._flags[i]
        if d & _BLOCKED:
            self._flags[i] = d = d & _TRUSTED  # the back-off is over
        return _TRUSTED_PASS if d else PASS

    def refund(self, i):
        # Takes back the frame admit() just charged, when a later check refused it.
        d = self._tat[i] - self._step
        self._tat[i] = d - _NEG_PERIOD if d < 0 else d

    def allow(self, buf, off, now):
        # The table alone: a known source against its budget, a newcomer into a free slot,
        # otherwise the overflow bucket. self.why says why a frame was refused.
        i = self.find(buf, off)
        if i == -1:
            i = self.insert(buf, off, now)
        if i >= 0:
            i = self.admit(i, now)
            self.why = i if i > 0 else PASS
        else:
            self.why = PASS if self.overflow.allow(now) else OVERFLOW
        return not self.why

    # --- after the command layer has decided -------------------------------------------------

    def auth_failed(self, buf, off, now):
        # Back-off for the source. One with no slot has no state to penalise (AuthFailures still
        # counts it, and it is already held to the overflow bucket).
        i = self.find(buf, off)
        if i < 0:
            return
        n = self._fails[i]
        if n < self._fails_max:
            n += 1
            self._fails[i] = n
        n = self._back_min << (n - 1)
        if n > self._back_max:
            n = self._back_max
        if not n:
            return
        n += self._tol  # refused until TAT - tol, i.e. for n ms from now
        d = (self._tat[i] - now) & _MASK
        if d >= _HALF or d < n:
            self._tat[i] = _later(now, n)
        self._flags[i] |= _BLOCKED

    def auth_ok(self, buf, off, now):
        i = self.find(buf, off)
        if i == -1:
            i = self.insert(buf, off, now)
        if i < 0:
            return
        self._fails[i] = 0
        f = self._flags[i] & _TRUSTED
        if not f and self.trusted < self.trusted_max:
            f = _TRUSTED
            self.trusted += 1
        self._flags[i] = f
        self._trust_t[i] = now

    def is_trusted(self, i):
        return bool(self._flags[i] & _TRUSTED)

    # --- housekeeping ------------------------------------------------------------------------

    def sweep(self, now):
        # Ends back-offs and trust that ran out and frees slots idle for hold_s; this also keeps
        # every stored time within 3 days of now, so none can alias.
        tags = self._tag
        tat = self._tat
        flags = self._flags
        for i in range(self.capacity):
            t = tags[i]
            if t == _FREE:
                continue
            f = flags[i]
            ahead = (tat[i] - now) & _MASK
            if ahead >= _HALF or ahead <= self._tol:
                f &= _TRUSTED  # within its budget again: any back-off is over
            if f & _TRUSTED and (now - self._trust_t[i]) & _MASK >= self._trust_ms:
                f &= _BLOCKED
                self.trusted -= 1
            flags[i] = f
            if not f and ahead >= _HALF and (now - tat[i]) & _MASK >= self._hold:
                tags[i] = _FREE
                del self._slot[t]
                self.used -= 1
        self.overflow.tick(now)

    def key(self, i):
        # Slot i's EUI-64, most significant octet first (allocates: for reports only).
        b = i << 3
        return bytes(self._key[b + 7 - j] for j in range(8))


class AuthFailures:
    def __init__(self, threshold=10, window_s=60, quiet_s=300):
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self._window = _ms(window_s * 1000, "window_s")
        self._quiet = _ms(quiet_s * 1000, "quiet_s")
        self._ring = [0] * threshold  # times of the latest failures, oldest at _pos once full
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
        p = self._pos
        self._ring[p] = now
        p += 1
        self._pos = p if p < self.threshold else 0
        if self._n < self.threshold:
            self._n += 1
            if self._n < self.threshold:
                return 0
        if (now - self._ring[self._pos]) & _MASK >= self._window:
            return 0
        self.active = True
        self.episodes += 1
        self.episode_failures = self.threshold
        return ALERT

    def tick(self, now):
        # CALM when an episode ends (quiet_s without a failure), otherwise 0. Run often enough
        # (every second) that no remembered failure is old enough to alias.
        idle = (now - self._last) & _MASK
        if idle >= self._window:
            self._n = 0  # every remembered failure is outside the window
        if self.active and idle >= self._quiet:
            self.active = False
            self._n = 0  # a new episode needs `threshold` fresh failures
            return CALM
        return 0


class Gate:
    # Inter-PAN admission, in the order docs/dos.md argues for. A known source is charged to its
    # own budget first, so a loud source spends only its own; then, unless trusted, to the global
    # budget (refunded if that refuses). A stranger is charged to the global budget first, so the
    # work of inserting it, or of the overflow bucket, is bounded by the global rate.
    def __init__(self, glob, table, failures, divisor=4):
        self.glob = glob
        self.table = table
        self.failures = failures
        self.divisor = divisor
        self._swept = -1  # the first frame sweeps, which also sets the budgets' clocks

    def allow(self, buf, off, now):
        # PASS, or why the frame is refused. The refusals a flood produces are decided inline
        # (SourceTable.find and the refusing halves of admit and Gcra.allow, which the tests hold
        # equal): each call costs about 800 instructions. Passing frames, at most the budgets'
        # rates, take the ordinary calls.
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        # At most 6 locals: with the deepest stack here that keeps the frame under 11 words.
        s = self.table
        i = buf[off + 3] & 0x3F
        i = (i << 8) | buf[off + 2]
        i = (i << 8) | buf[off + 1]
        i = (i << 8) | buf[off]
        i = s._slot.get(i, -1)
        if i >= 0 and s.exact and not s._same(i, buf, off):
            i = -2
        if i >= 0:
            # Known: its own budget first, so a loud source spends only its own.
            if _HALF > (s._tat[i] - now) & _MASK > s._tol:
                return BACKOFF if s._flags[i] & _BLOCKED else SOURCE
            if s.admit(i, now):  # trusted: past the global budget
                return PASS
            if self.glob.allow(now):
                return PASS
            s.refund(i)
            return GLOBAL
        s = self.glob  # a stranger: the global budget first
        if s._max >= (s._tat - now) & _MASK > s._tol:
            return GLOBAL
        s.allow(now)
        s = self.table
        if i == -1:
            i = s.insert(buf, off, now)
            if i >= 0:
                s.admit(i, now)  # a fresh slot always has room
                return PASS
        return PASS if s.overflow.allow(now) else OVERFLOW

    def auth_failed(self, buf, off, now):
        # ALERT once per episode (the caller notes it for the head-end), otherwise 0.
        self.table.auth_failed(buf, off, now)
        if self.failures.failure(now) == ALERT:
            self.glob.tighten(self.divisor, now)
            return ALERT
        return 0

    def auth_ok(self, buf, off, now):
        self.table.auth_ok(buf, off, now)

    def tick(self, now):
        # From the shell's one-second timer: CALM when an episode ended (the caller notes it).
        # Cheap when called more often: the sweep runs at most once a second.
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        if self.failures.tick(now) == CALM:
            self.glob.relax(now)
            return CALM
        return 0

    def _sweep(self, now):
        # Also run from allow(), so slots keep being freed if the shell's timer stalls; the end of
        # an episode is left to tick(), whose caller reports it.
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
    # From the interpan.* settings (docs/dos.md lists them with their defaults).
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
            s["interpan.source_exact"],
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
