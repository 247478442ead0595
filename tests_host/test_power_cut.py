"""Power cuts at every step of every storage write a command makes, on the real file storage:
after a restart no command has executed twice and no executed command is forgotten."""

import itertools

import pytest

from firmware import catalogue as cat
from firmware import hub as hubmod
from firmware.command_store import CommandStore
from firmware.commands import WAN, Commands
from firmware.settings import Settings
from hal.fake.clock import ManualClock
from hal.file_storage import STEPS, FileStorage
from tests_device.test_commands import SUPPLIER, command, parties, status_of


class PowerCut(Exception):
    pass


class Cutter:
    # Cuts the power at the n-th write to `record`, at `step`.
    def __init__(self, record, n, step):
        self.record, self.n, self.step = record, n, step
        self.seen = 0

    def __call__(self, step, name):
        if name != self.record:
            return
        if step == STEPS[0]:
            self.seen += 1
        if self.seen == self.n and step == self.step:
            raise PowerCut()


class Spy(Commands):
    # Counts executions across restarts (the test's own memory survives the "power cut").
    runs = []

    def _execute(self, hub, channel, who, orig, recip, code, content, now):
        Spy.runs.append(int(bytes(content[-8:]).hex(), 16) if content else 0)
        return Commands._execute(self, hub, channel, who, orig, recip, code, content, now)


class Rig:
    # A hub with its command layer on real files, as the sim board has it.
    def __init__(self, directory, fault=None):
        self.storage = FileStorage(directory, fault)
        self.clock = ManualClock()
        s = Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",))
        self.cmds = Spy(parties(), CommandStore(self.storage, originators=4), self.clock)
        self.hub = hubmod.Hub(s, self.storage, commands=self.cmds)
        self.hub.power_up(0)

    def send(self, msg, channel=WAN):
        return self.cmds.process(self.hub, channel, msg, 0, len(msg), 0)


def boot(directory, fault=None):
    return Rig(directory, fault)


POINTS = list(itertools.product((1, 2), STEPS))  # the accept write, the outcome write


@pytest.mark.parametrize("n,step", POINTS)
def test_power_cut_at_every_write_step(tmp_path, n, step):
    Spy.runs = []
    d = str(tmp_path / "state")
    msg = command(SUPPLIER, 500, cat.READ_HUB_STATUS)
    rig = boot(d)
    rig.send(command(SUPPLIER, 499, cat.READ_HUB_STATUS))  # an earlier command, committed
    rig.storage.fault = Cutter("commands", n, step)
    with pytest.raises(PowerCut):
        rig.send(msg)
    ran_before = len(Spy.runs) - 1
    rig = boot(d)  # power back: everything in RAM is gone
    # The earlier command is never forgotten.
    q = command(
        SUPPLIER, 501, cat.EXECUTED_QUERY, [SUPPLIER] + [c.to_bytes(8, "big") for c in (499, 500)]
    )
    ok, rsp = rig.send(q)
    answers = list(status_of(rsp)[1].data)
    assert answers[0] == cat.Q_EXECUTED
    committed = n == 2 or step == "renamed"  # the accept record reached storage
    if committed:
        assert answers[1] in (cat.Q_ACCEPTED, cat.Q_EXECUTED)
    else:
        assert answers[1] == cat.Q_NOT_EXECUTED
        assert ran_before == 0  # nothing runs before its acceptance is on storage
    ok, rsp = rig.send(msg, WAN)  # the installer retries
    status = status_of(rsp)[0]
    assert status == ("duplicate" if committed else "ok")
    assert len([r for r in Spy.runs if r == 0]) <= 2  # 499 and 500, at most once each


def test_every_injection_point_was_reached(tmp_path):
    # Guards the test above: each (write, step) pair is a real instant of a real write.
    seen = []
    rig = boot(str(tmp_path / "s"), lambda step, name: seen.append((name, step)))
    rig.send(command(SUPPLIER, 1, cat.READ_HUB_STATUS))
    assert seen == [("commands", s) for s in STEPS] * 2
    assert len(POINTS) == 8
