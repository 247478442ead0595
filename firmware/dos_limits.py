# DoS defences for inter-PAN frames and for replies to broadcast queries (beacon requests, hub
# discovery): rate budgets, a lane of its own for a source that has authenticated, and a
# failure alarm. docs/dos.md argues the policy and the defaults; this header has the rules the
# code keeps.
#
# These run for every received frame, so the per-frame methods (Gcra.allow, TrustedSources.find
# / admit, AuthFailures.failure, Gate.allow) allocate nothing and keep every
# intermediate inside +/-2**30, the ESP32's small-int range. They are also kept small: a
# bytecode function with more than 11 words of locals and stack gets its frame from the GC heap
# on every call (tests_device/alloc.py measures it).
#
# Time is `now` in ticks ms from the HAL clock, wrapping at 2**30. Stored times are compared
# modulo 2**30 and never left more than 3 days behind, which needs tick() (or frames) at least
# that often; the shell calls Gate.tick every second.
#
# Budgets are GCRA: one stored time per budget, the theoretical arrival time (TAT). A frame
# passes while TAT - now is at most (burst - 1) intervals, and moves TAT one interval on; the
# interval is 1000 // rate ms rounded up, so a budget is never more generous than its rate. In any
# window of W seconds at most burst + rate * W frames pass.
#
# What a spoofer cannot use: the source address of an inter-PAN frame is not authenticated, so
# nothing here penalises an address. A per-address penalty (a back-off, a budget of its own that
# refuses) lets an attacker who sends with a real HHT's address shut that HHT out, and one who
# rotates addresses escapes it; so there is none. Instead:
#   - every untrusted frame is charged to one shared budget, by lottery once it is contended
#     (Gate): no frame is treated worse than any other, whoever sends it and whenever;
#   - a source earns a lane of its own with an authenticated, accepted command
#     (TrustedSources: at most `capacity` of them, for trust_s after their last one). Its frames
#     are charged to its own budget and bypass the shared one; when its own budget is spent
#     (an attacker sending with its address spends it too) they fall back to the shared budget,
#     so being trusted never makes a source worse off than a stranger;
#   - failed authentications are counted globally (AuthFailures): an episode is reported once.
# Frames reach this gate only once the hub's octet checks have passed them (a command addressed
# to this hub; one whose originator is not a provisioned party is refunded): junk never spends
# a budget.


# Gate.allow's result; PASS is 0 so `if why:` reads naturally.
PASS = const(0)
SHARED = const(1)  # the shared budget is spent
NAMES = ("pass", "rate_global")

# Episode signals from AuthFailures.failure and Gate.tick / AuthFailures.tick.
ALERT = const(1)
CALM = const(2)

_MASK = const(0x3FFFFFFF)
_NEG_PERIOD = const(-0x3FFFFFFF - 1)  # -2**30 is a small int on the ESP32; +2**30 is not
_MAX_SPAN = const(0x0F000000)  # about 2.9 days: the longest configurable duration
_MAX_BURST = const(4096)
_MAX_TRUSTED = const(8)
_SWEEP_MS = const(1000)
_LOTTERY_MOD = const(65537)  # a prime: x -> 75 x mod p visits every 1..65536 (ZX81's generator)


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
        self._step = (1000 + rate_per_s - 1) // rate_per_s  # ms per frame, never too fast
        self._tol = (burst - 1) * self._step
        # TAT is never further ahead than this, so anything further ahead can only be a TAT left
        # in the past (or unset) that aliases: it means a full budget.
        self._max = self._tol + self._step
        self._calm = self._max // 2  # debt (ms) below which Gate's lottery does not draw
        self._tat = -1  # unset: the first tick() or pass sets it
        # allow()'s refusal as two public numbers, for a caller that tests it inline (a call
        # fewer on a flood path): allow(now) refuses exactly when
        # (open_at - 1 - now) & 0x3FFFFFFF < wait, i.e. when now is within the wait ms before
        # open_at, the first tick the next frame passes at. wait is 0 while the TAT is unset.
        # (Kept by allow, refund and tick: code that moves _tat itself must keep them too.)
        self.open_at = 0
        self.wait = 0

    def allow(self, now):
        tat = self._tat
        if tat < 0:
            tat = now  # unset: a full budget (-1 would alias to a TAT ahead just before the wrap)
        d = (tat - now) & _MASK
        if d > self._max:
            d = 0
        elif d > self._tol:
            return False
        d = now + _NEG_PERIOD + d + self._step
        self._tat = d - _NEG_PERIOD if d < 0 else d
        self.open_at = (self._tat - self._tol) & _MASK
        self.wait = self._step
        return True

    def refund(self):
        # Takes back the frame allow() last passed.
        d = self._tat - self._step
        self._tat = d - _NEG_PERIOD if d < 0 else d
        self.open_at = (self._tat - self._tol) & _MASK

    def tick(self, now):
        # A TAT in the past means a full budget whatever its value: bring it up to now, so it is
        # never old enough to alias (and an unset one is set).
        if self._tat < 0 or (self._tat - now) & _MASK > self._max:
            self._tat = now
            self.open_at = (now - self._tol) & _MASK
            self.wait = self._step

    def rate_per_min(self):
        return 60000 // self._step


class TrustedSources:
    # Sources (EUI-64s in air order) whose last authenticated, accepted command is less than
    # trust_s old, each with a budget of its own. A slot is taken only by such a command and
    # freed only when trust runs out, so nothing a spoofer sends adds, removes or moves one.
    def __init__(self, capacity=2, rate_per_s=4, burst=16, trust_s=600):
        _check(rate_per_s, burst, 1000)
        if not 0 <= capacity <= _MAX_TRUSTED:
            raise ValueError("trusted sources must be 0..%d" % _MAX_TRUSTED)
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._step = (1000 + rate_per_s - 1) // rate_per_s
        self._tol = (burst - 1) * self._step
        self._trust_ms = _ms(trust_s * 1000, "trust_s")
        self._keys = [b""] * capacity  # b"" = free (startswith(b"") is true: checked first)
        self._tat = [0] * capacity
        self._last = [0] * capacity  # the last accepted command
        self.used = 0

    def find(self, buf, off):
        # The slot of the source whose EUI-64 is at buf[off:off+8], or -1. A C compare per slot.
        k = self._keys
        for i in range(self.capacity):
            if k[i] and buf.startswith(k[i], off):
                return i
        return -1

    def admit(self, i, now):
        # Charges slot i one frame against its own budget: True when it had room.
        d = (self._tat[i] - now) & _MASK
        if d > self._tol + self._step:
            d = 0  # in the past: a full budget
        elif d > self._tol:
            return False
        d = now + _NEG_PERIOD + d + self._step
        self._tat[i] = d - _NEG_PERIOD if d < 0 else d
        return True

    def refund(self, i):
        d = self._tat[i] - self._step
        self._tat[i] = d - _NEG_PERIOD if d < 0 else d

    def accepted(self, buf, off, now):
        # An authenticated, accepted command from this source: trusted (again) from now, if it
        # is already or a slot is free. Allocates the slot's key once, off the drop paths.
        i = self.find(buf, off)
        if i < 0:
            if self.used >= self.capacity:
                return False
            i = self._keys.index(b"")
            self._keys[i] = bytes(buf[off : off + 8])
            self._tat[i] = now
            self.used += 1
        self._last[i] = now
        return True

    def sweep(self, now):
        # Frees slots whose trust ran out and keeps every stored time within 3 days of now.
        for i in range(self.capacity):
            if not self._keys[i]:
                continue
            if (now - self._last[i]) & _MASK >= self._trust_ms:
                self._keys[i] = b""
                self.used -= 1
            elif (self._tat[i] - now) & _MASK > self._tol + self._step:
                self._tat[i] = now

    def key(self, i):
        # Slot i's EUI-64, most significant octet first (allocates: for reports only).
        k = self._keys[i]
        return bytes(k[7 - j] for j in range(8)) if k else None


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
    # Inter-PAN admission for the frames the hub's octet checks passed: a trusted source's own
    # budget first (bypassing the shared one), else the shared budget by lottery.
    #
    # The lottery: first come, first served would hand each token to the first frame after it
    # appears, and a flood sent back to back (or timed to the refills) is always first. So once
    # less than half of the shared burst is left, a frame passes only with probability
    # (room left) / (half the burst), drawn per frame: under contention every frame has the same
    # chance, about rate / (frames per second), whoever sends it and whenever. With half the
    # burst or more left (no contention) every frame passes, as before.
    def __init__(self, shared, trusted, failures, seed=1):
        self.shared = shared
        self.trusted = trusted
        self.failures = failures
        self._swept = -1  # the first frame sweeps, which also sets the budgets' clocks
        self._lane = -1  # what the last PASS charged: a trusted slot i, or the shared budget (< 0)
        self._rand = 1 + seed % _LOTTERY_MOD  # 1..65536, never 0
        # A window in which allow() refuses every frame, whatever its source: while
        # (open_at - 1 - now) & 0x3FFFFFFF < wait, i.e. the wait ms before open_at. Set when
        # allow() refuses a frame on the shared budget (_shut) and only while every trusted lane
        # is spent too, ending when the first of them has room again or the next sweep is due
        # (no frame passes inside it, so nothing else moves the budgets then); cleared when a
        # source becomes trusted (a new lane has room) and at each sweep. A flood then costs
        # one test per frame, here and in the hub, which tests it inline (a call fewer).
        self.open_at = 0
        self.wait = 0

    def allow(self, buf, off, now):
        # PASS, or SHARED when the frame is refused. Decided inline (TrustedSources.admit,
        # Gcra.allow with its charge, and the lottery, which the tests hold equal to a reference
        # spelled with the methods).
        if (self.open_at - 1 - now) & _MASK < self.wait:
            return SHARED  # inside the window _shut set: every budget is spent
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        s = self.trusted
        if s.used:
            i = s.find(buf, off)
            if i >= 0:  # s.admit(i, now) inline
                r = (s._tat[i] - now) & _MASK
                if r > s._tol + s._step:
                    r = 0  # in the past: a full budget
                if r <= s._tol:
                    r = now + _NEG_PERIOD + r + s._step
                    s._tat[i] = r - _NEG_PERIOD if r < 0 else r
                    self._lane = i
                    return PASS
            off = -2 - i  # (reused) a PASS below is the shared lane's, from slot i's source
        else:
            off = -1
        s = self.shared
        i = (s._tat - now) & _MASK  # the shared budget's debt, ms
        if i > s._max:
            i = 0
        elif i > s._tol:
            i -= s._tol  # (reused: ms until it has room; the call's stack within 11 words)
            self._shut(now, i)
            return SHARED
        if i > s._calm:
            # Lehmer's generator mod the prime 65537: every intermediate a small int.
            r = self._rand = (self._rand * 75) % _LOTTERY_MOD
            if r % (s._max - s._calm) >= s._max - i:
                return SHARED
        i = now + _NEG_PERIOD + i + s._step  # s.allow(now) inline: the debt is known
        s._tat = i - _NEG_PERIOD if i < 0 else i
        s.open_at = (s._tat - s._tol) & _MASK  # Gcra's own invariant, kept as its allow() does
        self._lane = off
        return PASS

    def refund(self):
        # Takes back the frame the last PASS charged, when a check after it refused the frame.
        # (_lane: a trusted slot whose budget charged it; else the shared budget did, -1 for a
        # stranger, -2 - i for the source of slot i.)
        if self._lane < 0:
            self.shared.refund()
        else:
            self.trusted.refund(self._lane)

    def auth_ok(self, buf, off, now):
        # A frame from a trusted source renews its slot, found by allow(): one compare, not a
        # search, also when its own budget was spent and the shared one passed it.
        i = self._lane
        if i < -1:
            i = -2 - i
        k = self.trusted._keys
        if i >= 0 and k[i] and buf.startswith(k[i], off):  # (a freed slot's key is b"")
            self.trusted._last[i] = now
        else:
            self.trusted.accepted(buf, off, now)
            self.wait = 0  # a new lane has room

    def tick(self, now):
        # From the shell's one-second timer: CALM when an episode ended (the caller notes it).
        # Cheap when called more often: the sweep runs at most once a second.
        if (now - self._swept) & _MASK >= _SWEEP_MS:
            self._sweep(now)
        return self.failures.tick(now)

    def _sweep(self, now):
        # Also run from allow(), so trust keeps expiring if the shell's timer stalls.
        self._swept = now
        self.shared.tick(now)
        self.trusted.sweep(now)
        self.wait = 0  # (a window never outlasts the sweep: this clears one the clock skipped)

    def _shut(self, now, w):
        # allow() has just refused a frame on the shared budget, which has room again in w ms:
        # every frame is refused until then, unless a trusted lane has room earlier, or the
        # sweep is due earlier (allow() must be called then, to sweep when the reference would).
        # Not on the pass paths: a flood pays for it once per window. (A while loop: a for
        # over range() would put this frame over 11 words.)
        d = _SWEEP_MS - ((now - self._swept) & _MASK)
        if d < w:
            w = d
        t = self.trusted
        i = t.capacity if t.used else 0
        while i:
            i -= 1
            if t._keys[i]:
                d = ((t._tat[i] - now) & _MASK) - t._tol  # ms until its lane has room
                if d > t._step:
                    return  # a budget in the past: full
                if d < w:
                    w = d
        if w > 0:
            self.open_at = (now + w) & _MASK
            self.wait = w

    def status(self):
        a = self.failures
        return {
            "trusted": self.trusted.used,
            "alert": a.active,
            "alerts": a.episodes,
            "auth_failures": a.failures,
            "shared_rate_per_min": self.shared.rate_per_min(),
        }


def seed():
    # The limiter's lottery should not start where an attacker could guess it.
    try:
        from os import urandom

        r = urandom(2)
        return (r[0] << 8) | r[1]
    except (ImportError, OSError, AttributeError):
        return 1


def gate_from_settings(s, seed=1):
    # From the interpan.* settings (docs/dos.md lists them with their defaults); seed: the
    # lottery's start (any int; the hub takes one from os.urandom where it can).
    return Gate(
        Gcra(s["dos.interpan_rate_per_s"], s["dos.interpan_burst"]),
        TrustedSources(
            s["dos.trusted_max"],
            s["dos.source_rate_per_s"],
            s["dos.source_burst"],
            s["dos.trust_s"],
        ),
        AuthFailures(
            s["dos.auth_fail_threshold"],
            s["dos.auth_fail_window_s"],
            s["dos.auth_quiet_s"],
        ),
        seed,
    )


def beacon_budget_from_settings(s):
    return Gcra(s["dos.beacon_rate_per_s"], s["dos.beacon_burst"])


def discovery_budget_from_settings(s):
    return Gcra(s["discovery.rate_per_s"], s["discovery.burst"])
