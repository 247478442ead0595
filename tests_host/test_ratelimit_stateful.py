"""Stateful property tests of the DoS defences (firmware/ratelimit.py) against independent models.

Time: the models keep absolute milliseconds that never wrap; the code under test sees ticks that
start anywhere (often just before the 2**30 wrap) and wrap as time advances.

Gcra: every decision equals a token bucket kept in exact fractions (GCRA and the token bucket
make the same decisions), and, with tighten/relax thrown in, no window of W ms ever holds more
than burst + W / interval passes.

SourceTable: the table never holds more than `capacity` sources and its indexes stay consistent;
a behaving source (one that sends only within its own budget and at least once per hold_s) that
is in the table stays in it and is never refused, whatever other addresses send, fail or sweep.
"Other" means another EUI-64, or, unless exact=True, another 30-bit tag (the documented limit:
two addresses sharing a tag are one source, and picking such an address is no harder than
spoofing the victim's own).

Gate: strangers and untrusted sources together never pass more than the global budget allows in
any window, whatever the arrival pattern, failures, alerts and sweeps; a trusted behaving source
is never refused.
"""

from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contract.ticks import PERIOD
from firmware import ratelimit as rl

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
        self.shaped = False  # tighten/relax used: only the window bound is compared
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

    @rule(k=st.integers(1, 30))
    def frames(self, k):
        for _ in range(k):
            got = self.g.allow(self.now())
            if not self.shaped:
                want = self.model.conforms(self.t)
                assert got == want
                if want:
                    self.model.take(self.t)
            if got:
                self.passes.append(self.t)
                check_window(self.passes, self.g.burst, self.model.step)

    @rule(divisor=st.integers(2, 8))
    def tighten(self, divisor):
        self.shaped = True
        self.g.tighten(divisor, self.now())

    @rule()
    def relax(self):
        self.g.relax(self.now())

    @invariant()
    def rate_is_base_or_tightened(self):
        assert self.g.rate_per_min() <= 60000 // self.model.step


class TableMachine(RuleBasedStateMachine):
    @initialize(
        capacity=st.sampled_from([1, 2, 3, 8]),
        rate=st.sampled_from([1, 2, 5, 50]),
        burst=st.sampled_from([1, 3, 8]),
        hold_s=st.sampled_from([1, 2, 30]),
        trusted_max=st.sampled_from([0, 1, 2]),
        exact=st.booleans(),
        start=STARTS,
    )
    def boot(self, capacity, rate, burst, hold_s, trusted_max, exact, start):
        self.tab = rl.SourceTable(
            capacity,
            rate,
            burst,
            hold_s,
            overflow_rate_per_s=3,
            overflow_burst=2,
            backoff_ms=500,
            backoff_max_s=8,
            trust_s=5,
            trusted_max=trusted_max,
            exact=exact,
        )
        self.exact = exact
        self.hold = hold_s * 1000
        self.start = start
        self.t = 0
        self.victim = frame(VICTIM)
        self.model = Bucket(rate, burst)
        self.sent_at = 0
        assert self.tab.allow(self.victim, OFF, self.now())  # the table is empty: it gets a slot
        self.model.take(self.t)

    def now(self):
        return (self.start + self.t) % PERIOD

    def deadline(self):
        # The victim behaves: it sends again before its budget has been full for hold_s.
        return self.model.full_at + self.hold - 1

    @rule(dt=DT)
    def advance(self, dt):
        dt = min(dt, self.deadline() - self.t)
        assume(dt >= 0)
        self.t += dt

    @rule()
    def sweep(self):
        self.tab.sweep(self.now())

    @precondition(lambda self: self.model.conforms(self.t))
    @rule()
    def victim_sends(self):
        assert self.tab.allow(self.victim, OFF, self.now()), self.tab.why
        self.model.take(self.t)

    def attacker(self, eui):
        if eui == VICTIM or (not self.exact and tag(eui) == tag(VICTIM)):
            eui ^= 1 << 40  # a different address (and, unless exact, a different tag)
            if not self.exact:
                eui ^= 1
        return frame(eui)

    @rule(
        eui=st.one_of(
            st.integers(0, 2**64 - 1),
            st.integers(0, 40).map(lambda k: 0x00237EAA00000000 + k),
            st.integers(0, 40).map(lambda k: (k << 48) | tag(VICTIM)),  # the victim's tag
        ),
        k=st.integers(1, 40),
        spacing=st.sampled_from([0, 1, 7, 100]),
        fail=st.booleans(),
        ok=st.booleans(),
    )
    def attack(self, eui, k, spacing, fail, ok):
        f = self.attacker(eui)
        for _ in range(k):
            if self.t + spacing > self.deadline():
                break
            self.t += spacing
            self.tab.allow(f, OFF, self.now())
            if fail:
                self.tab.auth_failed(f, OFF, self.now())
            elif ok:
                self.tab.auth_ok(f, OFF, self.now())

    @invariant()
    def bounded_and_consistent(self):
        tab = self.tab
        live = [i for i, t in enumerate(tab._tag) if t != -1]
        assert tab.used == len(live) <= tab.capacity
        assert len(tab._slot) == tab.used
        for i in live:
            assert tab._slot[tab._tag[i]] == i
        flagged = sum(1 for i in live if tab._flags[i] & 1)
        assert tab.trusted == flagged <= tab.trusted_max

    @invariant()
    def victim_keeps_its_slot(self):
        assert self.tab.find(self.victim, OFF) >= 0


class GateMachine(RuleBasedStateMachine):
    @initialize(
        rate=st.sampled_from([1, 3, 10]),
        burst=st.sampled_from([1, 4, 20]),
        capacity=st.sampled_from([1, 2, 4]),
        exact=st.booleans(),
        start=STARTS,
    )
    def boot(self, rate, burst, capacity, exact, start):
        self.gate = rl.Gate(
            rl.Gcra(rate, burst),
            rl.SourceTable(capacity, 2, 3, 2, 5, 3, 300, 4, 600, 1, exact),
            rl.AuthFailures(4, 10, 3),
            divisor=4,
        )
        self.exact = exact
        self.burst = burst
        self.step = interval(rate)
        self.start = start
        self.t = 0
        self.victim = frame(VICTIM)
        self.model = Bucket(2, 3)  # the victim's own budget
        self.passes = []  # times of passes charged to the global budget
        g = self.gate
        assert g.allow(self.victim, OFF, self.now()) == rl.PASS  # first: an empty table
        self.passes.append(self.t)
        self.model.take(self.t)
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
            st.one_of(
                st.integers(0, 2**64 - 1),
                st.integers(0, 20).map(lambda k: 0x00237EAA00000000 + k),
                st.integers(1, 20).map(lambda k: (k << 48) | tag(VICTIM)),
            ),
            min_size=1,
            max_size=50,
        ),
        spacing=st.sampled_from([0, 1, 3, 50]),
        fail=st.booleans(),
    )
    def flood(self, euis, spacing, fail):
        for eui in euis:
            if eui == VICTIM or (not self.exact and tag(eui) == tag(VICTIM)):
                continue
            self.t += spacing
            f = frame(eui)
            if self.gate.allow(f, OFF, self.now()) == rl.PASS:
                self.passes.append(self.t)
                check_window(self.passes, self.burst, self.step)
                if fail:
                    self.gate.auth_failed(f, OFF, self.now())

    @invariant()
    def bounded(self):
        tab = self.gate.table
        assert tab.used <= tab.capacity
        assert tab.find(self.victim, OFF) >= 0


def reference_allow(g, buf, off, now):
    # Gate.allow spelled with the table's and the budgets' own methods: its inlined fast paths
    # must decide exactly as these do.
    if (now - g._swept) % PERIOD >= 1000:
        g._sweep(now)
    t = g.table
    i = t.find(buf, off)
    if i >= 0:
        why = t.admit(i, now)
        if why:
            return max(why, rl.PASS)
        if g.glob.allow(now):
            return rl.PASS
        t.refund(i)
        return rl.GLOBAL
    if not g.glob.allow(now):
        return rl.GLOBAL
    if i == -1:
        i = t.insert(buf, off, now)
        if i >= 0:
            t.admit(i, now)
            return rl.PASS
    return rl.PASS if t.overflow.allow(now) else rl.OVERFLOW


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["frame", "frame", "frame", "failed", "ok", "tick"]),
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
@given(events=EVENTS, exact=st.booleans(), start=STARTS)
def test_gate_fast_paths_decide_as_the_reference(events, exact, start):
    def make():
        return rl.Gate(
            rl.Gcra(5, 3),
            rl.SourceTable(3, 2, 2, 1, 2, 1, 300, 4, 3, 1, exact),
            rl.AuthFailures(3, 5, 2),
        )

    a, b = make(), make()
    t = 0
    for kind, eui, dt in events:
        t += dt
        now = (start + t) % PERIOD
        f = frame(eui)
        if kind == "frame":
            assert a.allow(f, OFF, now) == reference_allow(b, f, OFF, now)
        elif kind == "failed":
            assert a.auth_failed(f, OFF, now) == b.auth_failed(f, OFF, now)
        elif kind == "ok":
            a.auth_ok(f, OFF, now)
            b.auth_ok(f, OFF, now)
        else:
            assert a.tick(now) == b.tick(now)
        assert a.table._tat == b.table._tat and a.glob._tat == b.glob._tat


TestGcra = GcraMachine.TestCase
TestGcra.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestTable = TableMachine.TestCase
TestTable.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestGate = GateMachine.TestCase
TestGate.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
