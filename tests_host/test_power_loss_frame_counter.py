"""The NWK frame counters on the real file storage, with the power cut at every step of their
writes (hal/file_storage.py STEPS) and the fault model that loses whatever was not synced
(tests_host/flash.py): the outgoing counter never repeats a value across a restart, whatever the
instant, and the incoming table comes back as last synced, never torn."""

import os
import tempfile

import pytest
from flash import Flash, PowerCut
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import eui64
from firmware.sec_counters import IncomingCounters, OutgoingCounter
from hal.file_storage import STEPS, FileStorage
from tests_device.test_frame_counter import fresh

A = eui64.parse("00-23-7E-00-00-00-00-01")
B = eui64.parse("00-23-7E-00-00-00-00-02")
RECORDS = ("nwk_counter.0", "nwk_counter.1")  # the two records the bound alternates between


def run_until_cut(directory, record, n, cut, step, limit=1000):
    # Frames sent until the power goes at the n-th write of `record`, at `cut`: the counters
    # they used. Then the power comes back with only what was synced.
    flash = Flash(directory)
    flash.arm(record, n, cut)
    c = OutgoingCounter(FileStorage(directory, flash), step=step)
    used = []
    with pytest.raises(PowerCut):
        for _ in range(limit):
            v = c.next()
            assert v >= 0
            used.append(v)
    flash.restore()
    return used


@pytest.mark.parametrize("n", (1, 2))
@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("cut", STEPS)
def test_outgoing_never_repeats_across_a_cut(tmp_path, n, record, cut):
    d = str(tmp_path / "state")
    os.mkdir(d)
    used = run_until_cut(d, record, n, cut, step=4)
    # writes alternate .0, .1, .0, ...: the cut came before the frame that needed that write
    assert len(used) == 4 * (2 * (n - 1) + RECORDS.index(record))
    again = OutgoingCounter(FileStorage(d), step=4)
    first = again.next()
    assert first >= 0 and (not used or first > max(used))
    assert (again.corrupt, again.lost) == (0, False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(RECORDS), st.integers(1, 3), st.sampled_from(STEPS)),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 6),
)
def test_outgoing_is_unique_over_many_boots(boots, step):
    # Boot after boot, each ending in a power cut at some write and step: every counter used is
    # new, and they only grow.
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "state")
        os.mkdir(d)
        used = []
        for record, n, cut in boots:
            used += run_until_cut(d, record, n, cut, step=step)
            assert used == sorted(set(used))  # strictly increasing: no counter used twice
        last = OutgoingCounter(FileStorage(d), step=step).next()
        assert not used or last > used[-1]


def le(v):
    return bytes(((v >> (8 * i)) & 0xFF for i in range(4)))


@pytest.mark.parametrize("n", (1, 2, 3))
@pytest.mark.parametrize("cut", STEPS)
def test_incoming_accepts_no_counter_twice_across_a_cut(tmp_path, n, cut):
    # A member's frames are accepted until the power goes at the n-th write of the incoming
    # record, at `cut`. After the restart none of them is fresh again (a replay of any of them
    # is refused), and the member loses at most `step` counters.
    d = str(tmp_path / "state")
    os.mkdir(d)
    flash = Flash(d)
    flash.arm("nwk_incoming", n, cut)
    t = IncomingCounters(4, FileStorage(d, flash), step=4)
    t.assign(0, A)
    t.assign(1, B)
    accepted = []
    with pytest.raises(PowerCut):
        for c in range(100):
            slot = c & 1  # both members, interleaved
            if fresh(t, slot, le(c), 0):
                t.accept(slot, le(c), 0)
                accepted.append((slot, c))
    attempted = c
    flash.restore()
    again = IncomingCounters(4, FileStorage(d), step=4)
    assert again.corrupt == 0
    for slot, eui in ((0, A), (1, B)):
        again.assign(slot, eui)  # the device table reloaded at boot
    assert not [(s, c) for s, c in accepted if fresh(again, s, le(c), 0)]
    for slot in (0, 1):
        assert fresh(again, slot, le(attempted + 1 + 4), 0)


def test_incoming_key_switch_is_persisted_before_it_is_accepted(tmp_path):
    # The first frame under a newer key writes its key sequence number first: a cut then
    # never lets an old-key frame back in after the member has switched.
    d = str(tmp_path / "state")
    t = IncomingCounters(4, FileStorage(d), step=64)
    t.assign(0, A)
    t.accept(0, le(5), 0, 0)
    t.accept(0, le(0), 0, 1)  # switched: counting restarts
    again = IncomingCounters(4, FileStorage(d), step=64)
    again.assign(0, A)
    assert again.key_seq(0) == 1
    assert not fresh(again, 0, le(1000), 0, 0)
    assert not fresh(again, 0, le(0), 0, 1)
    assert fresh(again, 0, le(64), 0, 1)
