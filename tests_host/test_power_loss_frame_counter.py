"""The NWK frame counters on the real file storage, with the power cut at every step of their
writes (hal/file_storage.py STEPS): the outgoing counter never repeats a value across a
restart, whatever the instant, and the incoming table comes back as last saved, never torn."""

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import eui64
from firmware.frame_counter import IncomingCounters, OutgoingCounter
from hal.file_storage import STEPS, FileStorage

A = eui64.parse("00-23-7E-00-00-00-00-01")
B = eui64.parse("00-23-7E-00-00-00-00-02")


class PowerCut(Exception):
    pass


class Cutter:
    # Cuts the power at the n-th write of a record whose name starts with prefix, at step.
    def __init__(self, prefix, n, step):
        self.prefix, self.n, self.step = prefix, n, step
        self.seen = 0

    def __call__(self, step, name):
        if not name.startswith(self.prefix):
            return
        if step == STEPS[0]:
            self.seen += 1
        if self.seen == self.n and step == self.step:
            raise PowerCut()


def run_until_cut(directory, cutter, step, limit=1000):
    # Frames sent until the power goes: the counters they used.
    c = OutgoingCounter(FileStorage(directory, cutter), step=step)
    used = []
    with pytest.raises(PowerCut):
        for _ in range(limit):
            v = c.next()
            assert v >= 0
            used.append(v)
    return used


@pytest.mark.parametrize("n", (1, 2, 3))
@pytest.mark.parametrize("cut", STEPS)
def test_outgoing_never_repeats_across_a_cut(tmp_path, n, cut):
    d = str(tmp_path / "state")
    used = run_until_cut(d, Cutter("nwk_counter", n, cut), step=4)
    assert len(used) == 4 * (n - 1)  # the cut came at the n-th commit, before its frame
    again = OutgoingCounter(FileStorage(d), step=4)
    first = again.next()
    assert first >= 0 and (not used or first > max(used))
    assert (again.corrupt, again.lost) == (0, False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.sampled_from(STEPS)), min_size=1, max_size=6),
    st.integers(1, 6),
)
def test_outgoing_is_unique_over_many_boots(boots, step):
    # Boot after boot, each ending in a power cut at some write and step: every counter used is
    # new, and they only grow.
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "state")
        used = []
        for n, cut in boots:
            used += run_until_cut(d, Cutter("nwk_counter", n, cut), step=step)
            assert used == sorted(set(used))  # strictly increasing: no counter used twice
        last = OutgoingCounter(FileStorage(d), step=step).next()
        assert not used or last > used[-1]


@pytest.mark.parametrize("cut", STEPS)
def test_incoming_save_cut_at_every_step(tmp_path, cut):
    d = str(tmp_path / "state")
    t = IncomingCounters(4, FileStorage(d))
    t.assign(0, A)
    t.accept(0, bytes((9, 0, 0, 0)), 0)
    t.save()  # committed: A's next acceptable counter is 10
    t = IncomingCounters(4, FileStorage(d, Cutter("nwk_incoming", 1, cut)))
    t.assign(0, A)
    t.assign(1, B)
    t.accept(0, bytes((99, 0, 0, 0)), 0)
    with pytest.raises(PowerCut):
        t.save()
    again = IncomingCounters(4, FileStorage(d))
    assert again.corrupt == 0
    if cut == "renamed":
        assert (again.lowest(0), again.fresh(1, bytes(4), 0)) == (100, True)
    else:
        assert (again.lowest(0), again.fresh(1, bytes(4), 0)) == (10, False)
