"""Stateful property tests of the DoS defences (firmware/dos_limits.py) against independent models.

Time: the models keep absolute milliseconds that never wrap; the code under test sees ticks that
start anywhere (often just before the 2**30 wrap) and wrap as time advances.

Gcra: every decision equals a token bucket kept in exact fractions (GCRA and the token bucket
make the same decisions), refunds included, and no window of W ms ever holds more than
burst + W / interval passes.

TrustedSources: a source is trusted exactly when the model says so (an accepted command, a free
slot at the time, and less than trust_s since its last one, as of the last sweep); never more
than `capacity`; nothing else changes the set.

Gate: what untrusted frames pass, together, never exceeds the shared budget in any window,
whatever the arrival pattern, failures and sweeps; a trusted source that keeps within its own
budget is never refused, whatever other addresses send or fail; and however many frames and
failures an attacker sends with a source's address, that source is never refused when a stranger
would have been let through at the same instant (no address is penalised).
"""

import copy
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contract.ticks import PERIOD
from firmware import dos_limits as rl

OFF = 5
VICTIM = 0x00237EFFFE0012D6
DAY = 24 * 3600 * 1000
STARTS = st.one_of(st.integers(PERIOD - 20000, PERIOD - 1), st.integers(0, PERIOD - 1))


def frame(eui):
    buf = bytearray(OFF + 8 + 2)
    for i in range(8):
        buf[OFF + i] = (eui >> (8 * i)) & 0xFF
    return buf


def tag(eui):
    return eui & 0x3FFFFFFF


def interval(rate):
    return -(-1000 // rate)


class Bucket:
    """The model: a token bucket of `burst` frames refilled one per interval, in fractions."""

    def __init__(self, rate, burst):
        self.step = interval(rate)
        self.burst = burst
        self.tokens = Fraction(burst)
        self.t = None

    def advance(self, t):
        if self.t is not None:
            self.tokens = min(Fraction(self.burst), self.tokens + Fraction(t - self.t, self.step))
        self.t = t

    def conforms(self, t):
        self.advance(t)
        return self.tokens >= 1

    def take(self, t):
        assert self.conforms(t)
        self.tokens -= 1
        self.full_at = t + int((self.burst - self.tokens) * self.step)  # a whole number of ms


def check_window(times, burst, step):
    # The newest pass against every earlier one: (passes in [ti, tj]) <= burst + (tj - ti) / step.
    j = len(times) - 1
    for i in range(j):
        n = j - i + 1
        assert (n - burst) * step <= times[j] - times[i], (n, burst, step, times[i], times[j])


DT = st.one_of(
    st.integers(0, 3),
    st.integers(0, 400),
    st.integers(0, 5000),
    st.integers(0, 120000),
    st.integers(0, 2 * DAY),
)


class GcraMachine(RuleBasedStateMachine):
    @initialize(
        rate=st.sampled_from([1, 2, 3, 7, 10, 33, 1000]),
        burst=st.sampled_from([1, 2, 5, 20]),
        start=STARTS,
    )
    def boot(self, rate, burst, start):
        self.g = rl.Gcra(rate, burst)
        self.model = Bucket(rate, burst)
        self.start = start
        self.t = 0
        self.passes = []
        self.g.tick(self.now())

    def now(self):
        return (self.start + self.t) % PERIOD

    @rule(dt=DT)
    def advance(self, dt):
        # The shell ticks at least every 3 days; a 2-day step is the longest gap between ticks.
        self.t += dt
        self.g.tick(self.now())

    @rule(dt=st.integers(0, 300))
    def advance_without_tick(self, dt):
        self.t += dt

    @rule(k=st.integers(1, 30), refund=st.booleans())
    def frames(self, k, refund):
        for _ in range(k):
            # The refusal a caller tests inline (Hub.on_frame's beacon budget) is allow()'s.
            refused = (self.g.open_at - 1 - self.now()) & 0x3FFFFFFF < self.g.wait
            got = self.g.allow(self.now())
            want = self.model.conforms(self.t)
            assert got == want
            assert refused == (not got)
            if not want:
                continue
            if refund:  # a later check refused it: as if it never came
                self.g.refund()
                continue
            self.model.take(self.t)
            self.passes.append(self.t)
            check_window(self.passes, self.g.burst, self.model.step)


class TrustedMachine(RuleBasedStateMachine):
    @initialize(
        capacity=st.sampled_from([0, 1, 2, 3]), trust_s=st.sampled_from([1, 5]), start=STARTS
    )
    def boot(self, capacity, trust_s, start):
        self.tab = rl.TrustedSources(capacity, 4, 16, trust_s)
        self.capacity = capacity
        self.trust = trust_s * 1000
        self.start = start
        self.t = 0
        self.model = {}  # eui -> time of its last accepted command

    def now(self):
        return (self.start + self.t) % PERIOD

    @rule(dt=st.one_of(st.integers(0, 50), st.integers(0, 3000), st.integers(0, DAY)))
    def advance(self, dt):
        self.t += dt
        self.sweep()

    def sweep(self):
        self.tab.sweep(self.now())
        for eui in [e for e, last in self.model.items() if self.t - last >= self.trust]:
            del self.model[eui]

    @rule(eui=st.one_of(st.integers(0, 5).map(lambda k: VICTIM + k), st.integers(0, 2**64 - 1)))
    def accepted(self, eui):
        got = self.tab.accepted(frame(eui), OFF, self.now())
        want = eui in self.model or len(self.model) < self.capacity
        assert got == want
        if want:
            self.model[eui] = self.t

    @rule(
        eui=st.one_of(st.integers(0, 5).map(lambda k: VICTIM + k), st.integers(0, 2**64 - 1)),
        k=st.integers(1, 20),
    )
    def frames(self, eui, k):
        # What anybody sends with an address: found or not, charged, never a change of the set.
        f = frame(eui)
        for _ in range(k):
            i = self.tab.find(f, OFF)
            if i >= 0:
                self.tab.admit(i, self.now())

    @invariant()
    def trusted_exactly_as_the_model_says(self):
        assert self.tab.used == len(self.model) <= self.capacity
        for eui in self.model:
            assert self.tab.find(frame(eui), OFF) >= 0
        for k in range(6):
            if VICTIM + k not in self.model:
                assert self.tab.find(frame(VICTIM + k), OFF) == -1


class GateMachine(RuleBasedStateMachine):
    @initialize(
        rate=st.sampled_from([1, 3, 10]),
        burst=st.sampled_from([1, 4, 20]),
        start=STARTS,
    )
    def boot(self, rate, burst, start):
        self.gate = rl.Gate(
            rl.Gcra(rate, burst), rl.TrustedSources(1, 2, 3, 600), rl.AuthFailures(4, 10, 3)
        )
        self.burst = burst
        self.step = interval(rate)
        self.start = start
        self.t = 0
        self.victim = frame(VICTIM)
        self.model = Bucket(2, 3)  # the victim's own budget
        self.passes = []  # times of passes charged to the shared budget
        g = self.gate
        assert g.allow(self.victim, OFF, self.now()) == rl.PASS  # its first command: shared
        self.passes.append(self.t)
        g.auth_ok(self.victim, OFF, self.now())  # an installer's accepted command: trusted

    def now(self):
        return (self.start + self.t) % PERIOD

    @rule(dt=st.one_of(st.integers(0, 5), st.integers(0, 1000), st.integers(0, 5000)))
    def advance(self, dt):
        # The victim keeps working (trust lasts 600 s; it sends at least every few seconds).
        self.t += dt

    @rule()
    def tick(self):
        self.gate.tick(self.now())

    @precondition(lambda self: self.model.conforms(self.t))
    @rule()
    def victim_sends(self):
        got = self.gate.allow(self.victim, OFF, self.now())
        assert got == rl.PASS, rl.NAMES[got]
        self.model.take(self.t)
        self.gate.auth_ok(self.victim, OFF, self.now())

    @rule(
        euis=st.lists(
            st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 20).map(lambda k: VICTIM + k)),
            min_size=1,
            max_size=50,
        ),
        spacing=st.sampled_from([0, 1, 3, 50]),
        fail=st.booleans(),
    )
    def flood(self, euis, spacing, fail):
        for eui in euis:
            if eui == VICTIM:
                continue  # spoofing the trusted victim is the next rule's
            self.t += spacing
            f = frame(eui)
            if self.gate.allow(f, OFF, self.now()) == rl.PASS:
                self.passes.append(self.t)
                check_window(self.passes, self.burst, self.step)
            if fail:
                self.gate.failures.failure(self.now())

    @rule(k=st.integers(1, 30), spacing=st.sampled_from([0, 1, 20]), fail=st.booleans())
    def spoof_victim_then_victim(self, k, spacing, fail):
        # An attacker sends with the victim's address (spending its own budget), then the victim
        # sends: it must pass whenever a stranger at that instant would.
        for _ in range(k):
            self.t += spacing
            self.gate.allow(self.victim, OFF, self.now())
            if fail:
                self.gate.failures.failure(self.now())
        probe = copy.deepcopy(self.gate)
        stranger = probe.allow(frame(VICTIM ^ (1 << 63)), OFF, self.now())
        got = self.gate.allow(self.victim, OFF, self.now())
        assert got <= stranger, (rl.NAMES[got], rl.NAMES[stranger])
        self.model = Bucket(2, 3)  # its own budget is the attacker's to spend now: re-sync
        self.model.tokens = 0
        self.model.t = self.t
        self.passes = []  # and its frames may have been charged to the shared budget

    @invariant()
    def bounded(self):
        assert self.gate.trusted.used <= 1
        assert self.gate.trusted.find(self.victim, OFF) == 0


def reference_allow(g, buf, off, now):
    # Gate.allow spelled with the trusted table's and the budget's own methods and the lottery
    # as docs/dos.md states it: the inlined code must decide exactly as this does.
    if (now - g._swept) % PERIOD >= 1000:
        g._sweep(now)
    t = g.trusted
    i = t.find(buf, off)
    if i >= 0 and t.admit(i, now):
        return rl.PASS
    s = g.shared
    debt = (s._tat - now) % PERIOD
    debt = 0 if debt > s._max else debt  # a TAT in the past: a full budget
    if s._calm < debt <= s._tol:  # less than half the burst left: a draw
        g._rand = g._rand * 75 % 65537
        room, half = s._max - debt, s._max - s._calm
        if g._rand % half >= room:
            return rl.SHARED
    return rl.PASS if s.allow(now) else rl.SHARED


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["frame", "frame", "frame", "failed", "ok", "tick", "refund"]),
        st.one_of(
            st.integers(0, 7).map(lambda k: VICTIM + k),
            st.integers(0, 7).map(lambda k: (k << 40) | tag(VICTIM)),
            st.integers(0, 2**64 - 1),
        ),
        st.sampled_from([0, 0, 1, 5, 60, 400, 1500, 40000]),
    ),
    max_size=300,
)


@settings(max_examples=400, deadline=None)
@given(
    events=EVENTS,
    start=STARTS,
    rates=st.sampled_from([(5, 3, 2, 2), (5, 3, 20, 1), (1, 1, 50, 2)]),
)
def test_gate_fast_path_decides_as_the_reference(events, start, rates):
    # rates: the shared budget's rate and burst, the trusted lanes' (faster than the shared
    # budget in two of them, so a lane has room before it does).
    def make():
        r, b, tr, tb = rates
        return rl.Gate(rl.Gcra(r, b), rl.TrustedSources(2, tr, tb, 3), rl.AuthFailures(3, 5, 2))

    a, b = make(), make()
    t = 0
    passed = False  # a frame passed and nothing since: a later check may refund it
    for kind, eui, dt in events:
        t += dt
        now = (start + t) % PERIOD
        f = frame(eui)
        if kind == "frame":
            want = reference_allow(b, f, OFF, now)
            # The refusal the hub tests inline (Gate.open_at and wait), which then does not
            # call allow(): never when the reference passes, and a's state stays the reference's.
            if (a.open_at - 1 - now) % PERIOD < a.wait:
                assert want == rl.SHARED
                got = rl.SHARED
            else:
                got = a.allow(f, OFF, now)
            assert got == want
            passed = got == rl.PASS
            continue
        if kind == "refund":
            if passed:  # a check after the last frame refused it (the reference keeps no lane)
                if a._lane >= 0:
                    b.trusted.refund(a._lane)
                else:
                    b.shared.refund()
                a.refund()
        elif kind == "failed":
            assert a.failures.failure(now) == b.failures.failure(now)
        elif kind == "ok":
            a.auth_ok(f, OFF, now)
            b.auth_ok(f, OFF, now)
        else:
            assert a.tick(now) == b.tick(now)
        passed = False
        assert a.trusted._tat == b.trusted._tat and a.shared._tat == b.shared._tat
        assert a.trusted._keys == b.trusted._keys and a.trusted._last == b.trusted._last
        assert a._rand == b._rand


TestGcra = GcraMachine.TestCase
TestGcra.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestTrusted = TrustedMachine.TestCase
TestTrusted.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestGate = GateMachine.TestCase
TestGate.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
