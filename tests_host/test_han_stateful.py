"""Stateful property tests of the HAN (firmware.han with its device table, indirect queue and
battery budget) against an independent model, through real frames into firmware.hub.Hub.

The model keeps absolute, never-wrapping time; the hub sees ticks that start anywhere (often
just before the 2**30 wrap) and wrap as time advances. It knows which EUIs the device log
allows, which have joined and with what address, each sleepy member's queue of held frames
with their deadlines, and every send each budget admitted. Invariants: the table holds only
devices from the log, at most `capacity`, each with a unique address in 0x0001..0xFFF7 that
never changes while it is a member (and after a reboot); strangers never get a slot; no member
is ever evicted; queues are bounded, FIFO and expire on time; the budget admits exactly what
a rolling hour allows.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contract.frame import RxFrame
from contract.ticks import PERIOD, ticks_add
from firmware import han_join, han_send, mac
from firmware.core import Core
from firmware.decision import TRANSMIT
from firmware.han_device_log import ESME, GSME, DeviceLog
from firmware.settings import Settings
from hal.fake.storage import MemoryStorage
from tests_device import vectors
from tests_device.han_frames import (
    CAP_ESME,
    CAP_GSME,
    assoc_request,
    data_request,
    with_fcs,
)
from tests_device.han_lab import han_settings
from tests_device.han_meter import Meter

LOG = [
    (bytes.fromhex("00237E0000000001"), ESME),
    (bytes.fromhex("00237E0000000002"), GSME),
    (bytes.fromhex("00237E0000000003"), GSME),
    (bytes.fromhex("00237E0000000004"), GSME),
]
CAPACITY = 3
SLOTS = 5
PER_DEVICE = 3
EXPIRY_MS = 20000
FRAMES = (4, 6)
AIRTIME_MS = (4, 200)  # 4 ms = 125 octet times: two secured 50-octet frames (56 each), not 3
HOUR = 3600000
# The association budgets (dos.assoc_*, one for strangers, one for the device log's entries), as
# GCRA: a request passes while its budget's TAT is at most (burst - 1) steps ahead of now.
ASSOC_STEP = 1000 // 4
ASSOC_TOL = (8 - 1) * ASSOC_STEP
ZCL_LEN = 5
PSDU = 9 + 16 + ZCL_LEN + 18 + 2  # MAC, NWK + APS, ZCL, NWK security, FCS
AIR = 6 + PSDU


class HanMachine(RuleBasedStateMachine):
    @initialize(
        start=st.one_of(st.integers(PERIOD - 60000, PERIOD - 1), st.integers(0, PERIOD - 1))
    )
    def boot(self, start):
        self.start = start
        self.t = 0
        self.storage = MemoryStorage()
        log = DeviceLog(self.storage, capacity=8)
        for eui, kind in LOG[:3]:
            log.add(eui, kind)
        self.allowed = {eui: kind for eui, kind in LOG[:3]}
        self.members = {}  # eui -> short address
        self.queues = {}  # eui -> [(deadline, id)]
        self.admitted = {}  # (eui, origin) -> [abs time]
        self.next_id = 0
        self.out = 0  # frames waiting in the direct-send ring
        self.meters = {}  # eui -> Meter: each member's end of NWK security
        self.tat = {}  # association budget -> its theoretical arrival time (model time)
        self.power_up()

    def power_up(self):
        s = Settings(
            None,
            ("hub.eui64=00-23-7E-00-00-12-D6-87",)
            + han_settings(
                table_max=CAPACITY,
                indirect_slots=SLOTS,
                indirect_per_device=PER_DEVICE,
                indirect_expiry_s=EXPIRY_MS // 1000,
                frames_h=FRAMES,
                airtime_ms_h=AIRTIME_MS,
            ),
        )
        core = Core(s, self.storage, han=True)
        self.hub = core.hub
        self.outputs = core.out
        self.han = core.han
        self.han.start(self.now())
        self.frame = RxFrame()

    def now(self):
        return ticks_add(self.start, self.t % PERIOD)

    def rx(self, psdu):
        r = self.hub.on_frame(vectors.load(self.frame, psdu), self.now())
        if r == TRANSMIT:
            return with_fcs(self.outputs.tx_buf, self.outputs.tx_len)
        return None

    # -- model helpers -----------------------------------------------------------------------

    def sleepy(self, eui):
        return self.allowed[eui] == GSME

    def expire(self):
        for eui, q in self.queues.items():
            self.queues[eui] = [(d, i) for d, i in q if self.t < d]

    def held(self):
        return sum(len(q) for q in self.queues.values())

    def assoc_budget(self, listed):
        # Whether the association budget (the log's, or the strangers') answers now.
        tat = self.tat.get(listed, self.t)
        if tat - self.t > ASSOC_TOL:
            return False
        self.tat[listed] = max(tat, self.t) + ASSOC_STEP
        return True

    # -- rules -------------------------------------------------------------------------------

    @rule(i=st.integers(0, len(LOG) - 1))
    def associate(self, i):
        eui = LOG[i][0]
        out = self.rx(assoc_request(eui, CAP_GSME if LOG[i][1] == GSME else CAP_ESME))
        if not self.assoc_budget(eui in self.allowed):
            assert out is None  # over its budget: unanswered
            return
        short, status = out[22] | out[23] << 8, out[24]
        if eui not in self.allowed:
            assert (short, status) == (0xFFFF, han_join.ASSOC_DENIED)
        elif eui in self.members:
            assert (short, status) == (self.members[eui], 0)
        elif len(self.members) >= CAPACITY:
            assert (short, status) == (0xFFFF, han_join.ASSOC_AT_CAPACITY)
        else:
            assert status == 0 and 0x0001 <= short <= 0xFFF7
            self.members[eui] = short
            self.queues[eui] = []

    @rule(eui=st.binary(min_size=8, max_size=8))
    def stranger(self, eui):
        if eui in [e for e, _ in LOG]:
            return
        out = self.rx(assoc_request(eui))
        if not self.assoc_budget(False):
            assert out is None
            return
        assert (out[22], out[23], out[24]) == (0xFF, 0xFF, han_join.ASSOC_DENIED)

    @rule(i=st.integers(0, len(LOG) - 1))
    def allow(self, i):
        eui, kind = LOG[i]
        self.hub.device_log.add(eui, kind)
        self.allowed[eui] = kind
        self.han.sync(self.now())

    @rule(i=st.integers(0, len(LOG) - 1))
    def disallow(self, i):
        eui = LOG[i][0]
        self.hub.device_log.remove(eui)
        self.allowed.pop(eui, None)
        self.members.pop(eui, None)
        self.queues.pop(eui, None)
        for o in (0, 1):
            self.admitted.pop((eui, o), None)
        self.han.sync(self.now())

    @rule(ms=st.one_of(st.integers(0, 5000), st.integers(0, 2 * HOUR)))
    def advance(self, ms):
        self.t += ms
        self.han.tick(self.now())  # the shell's housekeeping
        self.expire()

    @rule(data=st.data(), early=st.sampled_from([0, 1]))
    def at_an_edge(self, data, early):
        # Exactly at (or 1 ms before) a held frame's deadline, then a poll; or at the end of a
        # budgeted send's hour, then a send on that budget: where an off-by-one would show.
        edges = [(d, eui, None) for eui, q in self.queues.items() for d, _ in q]
        for (eui, o), sent in self.admitted.items():
            edges += [(x + HOUR, eui, o) for x in sent]
        edges = sorted(
            (e for e in edges if e[0] - early > self.t and e[1] in self.members),
            key=lambda e: (e[0], e[1], -1 if e[2] is None else e[2]),
        )
        if not edges:
            return
        at, eui, o = data.draw(st.sampled_from(edges))
        self.advance(at - early - self.t)
        if o is None:
            self.poll_member(eui)
        else:
            self.send_member(eui, o)

    @rule()
    def reboot(self):
        self.power_up()
        # Held frames and budgets live in RAM: a reboot forgets them (membership it keeps).
        self.queues = {eui: [] for eui in self.members}
        self.admitted = {}
        self.tat = {}
        self.out = 0

    @precondition(lambda self: self.members)
    @rule(data=st.data(), origin=st.sampled_from([0, 1]))
    def send(self, data, origin):
        self.send_member(data.draw(st.sampled_from(sorted(self.members))), origin)

    def send_member(self, eui, o):
        origin = ("interpan", "wan")[o]
        ident = self.next_id & 0xFF
        self.next_id += 1
        zcl = bytes([0x00, ident, 0x00, 0x00, 0x01])  # Read Attributes of 0x0100: not cached
        got = self.han.send_to_device(eui, 0x0702, zcl, origin, self.now())
        if not self.sleepy(eui):
            if self.out < 4:
                assert got == han_send.SENT
                self.out += 1
            else:
                assert got == han_send.BUSY
            return
        self.expire()
        q = self.queues[eui]
        sent = [x for x in self.admitted.get((eui, o), []) if self.t - x < HOUR]
        self.admitted[(eui, o)] = sent
        if len(q) >= PER_DEVICE or self.held() >= SLOTS:
            assert got == han_send.QUEUE_FULL
        elif len(sent) >= FRAMES[o] or (len(sent) + 1) * AIR > AIRTIME_MS[o] * 1000 // 32:
            assert got == han_send.OVER_BUDGET
        else:
            assert got == han_send.QUEUED
            q.append((self.t + EXPIRY_MS, ident))
            sent.append(self.t)

    @precondition(lambda self: self.members)
    @rule(data=st.data())
    def poll(self, data):
        self.poll_member(data.draw(st.sampled_from(sorted(self.members))))

    def poll_member(self, eui):
        out = self.rx(data_request(self.members[eui]))
        self.expire()
        q = self.queues[eui]
        if not q:
            assert out is None
            return
        assert out is not None
        _, ident = q.pop(0)
        f = mac.MacFrame()
        assert mac.parse(out, 0, len(out), f) == 0
        assert f.dst_short == self.members[eui]
        assert f.pending() == bool(q)
        sec = self.han.security
        if eui not in self.meters:
            self.meters[eui] = Meter(eui, sec.key, sec.seq)
        plain = self.meters[eui].open(out)  # secured for the member, counters going up
        assert plain is not None and plain[-2 - 4] == ident  # FIFO

    @rule()
    def drain(self):
        while self.outputs.radio.pop():
            self.out -= 1
        assert self.out == 0

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def table_matches_the_model(self):
        t = self.han.table
        got = {t.eui(s): t.short(s) for s in t.slots()}
        assert got == self.members
        assert len(got) <= CAPACITY
        assert len(set(got.values())) == len(got)
        assert all(0x0001 <= a <= 0xFFF7 for a in got.values())
        assert set(got) <= set(self.allowed)

    @invariant()
    def queues_are_bounded_and_consistent(self):
        ind = self.han.indirect
        assert ind.used + ind.free_slots() == SLOTS
        assert sum(ind.count) == ind.used <= SLOTS
        assert all(c <= PER_DEVICE for c in ind.count)

    @invariant()
    def permit_bit_is_truthful(self):
        unjoined = [e for e in self.allowed if e not in self.members]
        assert self.hub.joining.permit_join == bool(unjoined and len(self.members) < CAPACITY)


HanMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
TestHan = HanMachine.TestCase
