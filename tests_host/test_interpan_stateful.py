"""Stateful property tests of the inter-PAN flag and the outbox against independent models.

InterPan: the model keeps absolute, never-wrapping time and only remembers when each rule last
applied; the flag must be ON exactly when one of them still holds it ON. The machine under test
sees ticks that start anywhere (often just before the 2**30 wrap) and wrap as time advances.

Outbox: a list model of what must be queued, plus the policy's invariants checked on every put
(bounds, HIGH dropped only when no LOW is left, oldest first, nothing dropped needlessly, order
kept), persistence across reboots, failed writes and corrupted records.
"""

import json

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contract.ticks import PERIOD, ticks_add
from firmware.ipan_rules import CLOSED, HELD, MAX_OPEN, OFF, ON, TIMEOUT, InterPan
from firmware.wan_outbox import HIGH, LOW, Outbox
from hal.fake.storage import MemoryStorage

DAY_MS = 24 * 3600 * 1000


class InterPanMachine(RuleBasedStateMachine):
    @initialize(
        start=st.one_of(
            st.integers(PERIOD - 30000, PERIOD - 1), st.integers(0, PERIOD - 1), st.just(0)
        ),
        keep_s=st.sampled_from([1, 60, 3600]),
        cap_s=st.sampled_from([0, 0, 1, 90, 3600, 7200]),
    )
    def power_up(self, start, keep_s, cap_s):
        self.start = start
        self.keep = keep_s * 1000
        self.cap = cap_s * 1000
        self.ip = InterPan(keep_s, cap_s)
        self.t = 0
        self.was_on = False
        self.model_power_up()
        self.apply(self.ip.power_up(self.now()))

    # -- the model: when did each rule last apply? ------------------------------------------

    def model_power_up(self):
        self.timer = self.t  # last (re)start of the countdown; None after an off command
        self.chain = self.t  # start of the keep-alive chain the cap measures
        self.lost = False
        self.off_in_outage = False

    def model_end(self):
        end = self.timer + self.keep
        if self.cap:
            end = min(end, self.chain + self.cap)
        return end

    def held_by_wan(self):
        return self.lost and not self.off_in_outage

    def held_by_countdown(self):
        return self.timer is not None and self.t < self.model_end()

    def model_on(self):
        return self.held_by_wan() or self.held_by_countdown()

    # -- driving the machine under test ------------------------------------------------------

    def now(self):
        return ticks_add(self.start, self.t)

    def apply(self, change):
        on = self.ip.is_on()
        changes = []
        while change is not None:
            changes.insert(0, change)
            change = change.prior
        if changes:
            assert changes[-1].state == (ON if on else OFF)
            for c in changes:
                assert json.loads(json.dumps(c.to_dict())) == c.to_dict()
        if on != self.was_on:
            assert changes, "a state change must be reported"
        self.was_on = on
        return changes

    @rule(
        dt=st.one_of(
            st.integers(0, 2000),
            st.integers(0, 120000),
            st.integers(0, 8000000),
            st.integers(0, DAY_MS),
        )
    )
    def advance(self, dt):
        expect = None
        if self.model_on() and not self.held_by_wan():
            # The reason is known before time moves: did the cap cut a chain short?
            capped = self.cap and self.chain + self.cap < self.timer + self.keep
            expect = MAX_OPEN if capped else TIMEOUT
        self.t += dt
        changes = self.apply(self.ip.tick(self.now()))
        if changes:
            assert [(c.state, c.reason) for c in changes] == [(OFF, expect)]

    @rule()
    def command_accepted(self):
        if self.model_on():
            self.timer = self.t
        self.apply(self.ip.command_accepted(self.now()))

    @rule()
    def wan_lost(self):
        if not self.lost:
            self.lost = True
            self.off_in_outage = False
        self.apply(self.ip.wan_lost(self.now()))

    @rule()
    def wan_restored(self):
        if self.lost:
            if not self.off_in_outage:
                self.timer = self.chain = self.t
            self.lost = False
            self.off_in_outage = False
        self.apply(self.ip.wan_restored(self.now()))

    @rule()
    def trusted_enable(self):
        self.timer = self.chain = self.t
        self.off_in_outage = False
        changes = self.apply(self.ip.trusted_enable(self.now()))
        assert changes and changes[-1].reason == "trusted_enable"

    @rule()
    def off_command(self):
        self.timer = None
        self.off_in_outage = self.lost
        self.apply(self.ip.off_command(self.now()))

    @rule()
    def power_cycle(self):
        self.model_power_up()
        self.apply(self.ip.power_up(self.now()))

    @invariant()
    def off_exactly_when_no_rule_holds_it_on(self):
        assert self.ip.is_on() == self.model_on()

    @invariant()
    def seconds_left_matches(self):
        left = self.ip.seconds_left(self.now())
        if self.held_by_wan():
            assert left is None
        elif self.model_on():
            assert left == (self.model_end() - self.t + 999) // 1000
            assert 1 <= left <= self.keep // 1000
        else:
            assert left == 0

    @invariant()
    def closes_at_matches(self):
        # The per-frame test the hub makes inline: CLOSED while OFF, HELD while the WAN holds it
        # ON, else the exact tick the countdown runs out at.
        if not self.model_on():
            assert self.ip.closes_at == CLOSED
        elif self.held_by_wan():
            assert self.ip.closes_at == HELD
        else:
            assert self.ip.closes_at == ticks_add(self.start, self.model_end())


TestInterPan = InterPanMachine.TestCase
TestInterPan.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)


class OutboxMachine(RuleBasedStateMachine):
    @initialize(max_items=st.integers(2, 8), max_bytes=st.integers(96, 236))
    def boot(self, max_items, max_bytes):
        self.bounds = {"max_items": max_items, "max_bytes": max_bytes}
        self.cap_items = max_items - 1
        self.cap_bytes = max_bytes - 80
        self.storage = MemoryStorage()
        self.ob = Outbox(self.storage, **self.bounds)
        self.model = []  # (priority, data), or "R" where the overflow report sits
        self.report_count = 0
        self.dropped = 0
        self.seq = 0
        self.saved = ([], 0, 0)
        self.save()

    def save(self):
        if not self.ob.dirty:
            self.bad_record = False
            self.saved = (list(self.model), self.report_count, self.dropped)

    def restore(self, saved):
        self.model, self.report_count, self.dropped = list(saved[0]), saved[1], saved[2]

    def expected(self):
        body = b'{"msg":"event","event":"queue_overflow","dropped":%d}' % self.report_count
        rep = (HIGH, (len(body) + 1).to_bytes(4, "big") + b"\x01" + body)  # framed as sent
        return [rep if e == "R" else e for e in self.model]

    def ordinary(self):
        return [e for e in self.model if e != "R"]

    @rule(priority=st.sampled_from([LOW, HIGH]), size=st.integers(0, 60))
    def put(self, priority, size):
        tag = b"%d:" % self.seq
        self.seq += 1
        data = tag + b"." * max(0, min(size, self.cap_bytes) - len(tag))
        old = self.ordinary()
        candidates = old + [(priority, data)]
        n = self.ob.put(priority, data)
        survivors = [e for e in self.ob.items() if b"queue_overflow" not in e[1]]
        removed = [e for e in candidates if e not in survivors]

        assert len(removed) == n
        assert survivors == [e for e in candidates if e not in removed]  # order kept
        assert len(survivors) <= self.cap_items
        assert sum(len(d) for _, d in survivors) <= self.cap_bytes
        if any(p == HIGH for p, _ in removed):
            assert all(p == HIGH for p, _ in survivors)
        for pr in (LOW, HIGH):
            gone = [candidates.index(e) for e in removed if e[0] == pr]
            kept = [candidates.index(e) for e in survivors if e[0] == pr]
            if gone and kept:
                assert max(gone) < min(kept)  # oldest first
        if removed:  # and no more than needed: the last one removed did not fit
            highs = [e for e in removed if e[0] == HIGH]
            last = highs[-1] if highs else removed[-1]
            rest = [e for e in survivors if e != (priority, data)] + [last]
            if (priority, data) in survivors:
                rest.append((priority, data))
            assert len(rest) > self.cap_items or sum(len(d) for _, d in rest) > self.cap_bytes

        if n:
            self.dropped += n
            self.report_count += n
            if "R" not in self.model:
                self.model.append("R")
        self.model = [e for e in self.model if e == "R" or e in survivors]
        if (priority, data) in survivors:
            self.model.append((priority, data))
        self.save()

    @rule()
    def pop(self):
        head = self.ob.peek()
        got = self.ob.pop()
        assert got == head
        if not self.model:
            assert got is None
            return
        assert got == self.expected()[0]
        if self.model.pop(0) == "R":
            self.report_count = 0
        self.save()

    @rule()
    def fail_next_write(self):
        self.storage.fail_next_write = True

    @rule()
    def flush(self):
        if self.ob.flush():
            self.save()

    @rule()
    def reboot(self):
        self.ob = Outbox(self.storage, **self.bounds)
        self.restore(self.saved)
        assert self.ob.corrupt == (1 if self.bad_record else 0)
        self.save()

    @precondition(lambda self: "outbox" in self.storage.records and not self.bad_record)
    @rule(data=st.data())
    def corrupt_and_reboot(self, data):
        rec = bytearray(self.storage.records["outbox"])
        i = data.draw(st.integers(0, len(rec) - 1))
        rec[i] ^= data.draw(st.integers(1, 255))
        self.storage.records["outbox"] = bytes(rec)
        self.ob = Outbox(self.storage, **self.bounds)
        assert self.ob.corrupt == 1
        self.restore(([], 0, 0))
        self.saved = ([], 0, 0)  # written back, or still corrupt: both load empty
        self.bad_record = self.ob.dirty  # the write-back failed: the next boot sees it again

    @invariant()
    def matches_the_model(self):
        assert self.ob.items() == self.expected()
        assert self.ob.dropped == self.dropped

    @invariant()
    def within_bounds(self):
        assert len(self.ob) <= self.bounds["max_items"]
        assert self.ob.nbytes() <= self.bounds["max_bytes"]
        assert sum(1 for _, d in self.ob.items() if b"queue_overflow" in d) <= 1


TestOutbox = OutboxMachine.TestCase
TestOutbox.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
