"""Property: whatever the interleaving of WAN and HHT copies of a set of commands, with forged
copies and reboots mixed in, each command executes exactly once, every other copy is answered
"duplicate", and nothing unauthenticated ever moves a window."""

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import cmd_catalogue as cat
from firmware.cmd_pipeline import INTERPAN, WAN
from tests_device.test_commands import SUPPLIER, Rig, command, status_of

CHANNELS = (WAN, INTERPAN)

step = st.one_of(
    st.tuples(st.just("copy"), st.integers(0, 7), st.sampled_from(CHANNELS)),
    st.tuples(st.just("forged"), st.integers(0, 7), st.sampled_from(CHANNELS)),
    st.tuples(st.just("reboot"), st.just(0), st.just(WAN)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_each_command_executes_exactly_once(steps):
    r = Rig()
    executed = {}
    answers = {}
    for kind, i, channel in steps:
        counter = 1000 + i
        if kind == "reboot":
            r.boot()
            continue
        if kind == "forged":
            msg = command(
                SUPPLIER, counter, cat.READ_HUB_STATUS, key=b"forged-key-forged-key-forged-ke"
            )
            assert r.send(msg, channel) == (False, None)
            continue
        ok, rsp = r.send(command(SUPPLIER, counter, cat.READ_HUB_STATUS), channel)
        status = status_of(rsp)[0]
        answers.setdefault(counter, []).append(status)
        if ok:
            executed[counter] = executed.get(counter, 0) + 1
    for counter, got in answers.items():
        assert executed.get(counter) == 1
        assert got[0] == "ok" and all(s == "duplicate" for s in got[1:])
    window = r.cmds.store.replay
    seen = set(answers)
    for counter in range(1000, 1008):
        assert (window.check(SUPPLIER, counter) == 1) == (counter in seen)
