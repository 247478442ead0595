"""The MAC parser and the hub's receive path never raise on junk and stay in bounds."""

from hypothesis import given, settings
from hypothesis import strategies as st

from contract.frame import RxFrame
from firmware import decision, mac
from firmware import hub_reject as reject
from firmware.core import Core
from firmware.settings import Settings
from tests_device import vectors

HUB = Core(Settings()).hub


@settings(max_examples=3000, deadline=None)
@given(st.binary(min_size=0, max_size=127))
def test_parse_never_raises_and_offsets_stay_inside(psdu):
    f = mac.MacFrame()
    r = mac.parse(psdu, 0, len(psdu), f)
    assert 0 <= r < reject.COUNT
    if r == reject.OK:
        assert 3 <= f.payload_off <= f.payload_end == len(psdu) - 2
        for off in (f.dst_ext_off, f.src_ext_off):
            assert off == -1 or 3 <= off <= f.payload_off - 8


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(
        [vectors.BEACON_REQUEST, vectors.COORD_REALIGN, vectors.INTERPAN_UNICAST, vectors.BEACON]
    ),
    st.lists(st.tuples(st.integers(0, 126), st.integers(0, 255)), max_size=6),
    st.integers(0, 127),
    st.booleans(),
)
def test_hub_survives_mutated_frames(base, flips, cut, crc_ok):
    psdu = bytearray(base[: max(cut, 0)] if cut < len(base) else base)
    for i, v in flips:
        if i < len(psdu):
            psdu[i] = v
    frame = vectors.load(RxFrame(), bytes(psdu), crc_ok=crc_ok)
    before = sum(HUB.rejected)
    act = HUB.on_frame(frame, 0)
    assert act in (decision.NOTHING, decision.TRANSMIT)
    assert sum(HUB.rejected) == before + (act == decision.NOTHING)
