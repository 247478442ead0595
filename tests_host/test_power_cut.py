"""Power cuts at every step of every storage write a command makes, on the real file storage
with a fault model that loses whatever was not synced (tests_host/flash.py): after a restart no
command has executed twice, no executed command is forgotten, and none has lost the WAN copy of
its response or the report that its outcome is unknown."""

import itertools

import pytest
from flash import Flash, PowerCut

from boards.fake import FakeBoard
from contract import wan_msg
from firmware import cmd_catalogue as cat
from firmware import cmd_execlog as execlog
from firmware import cmd_gbcs as gbcs
from firmware.app import App
from firmware.cmd_pipeline import INTERPAN, WAN, Commands
from firmware.cmd_store import CommandStore
from firmware.core import Core
from firmware.eui64 import to_guid
from firmware.han_device_log import ESME
from firmware.settings import Settings
from hal.fake.clock import ManualClock
from hal.file_storage import STEPS, FileStorage
from tests_device.test_commands import KEYS, SUPPLIER, command, parties, status_of
from tools import provisioning

RUNS = []


class Spy(Commands):
    # Counts executions across restarts (the test's own memory survives the "power cut").
    def _execute(self, channel, who, orig, recip, code, fields, now):
        RUNS.append(code)
        return Commands._execute(self, channel, who, orig, recip, code, fields, now)


class Rig:
    # A hub with its command layer on real files, as the sim board has it.
    def __init__(self, directory, fault=None):
        self.storage = FileStorage(directory, fault)
        self.clock = ManualClock()
        s = Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",))
        store = CommandStore(self.storage, originators=4)
        core = Core(s, self.storage, parties(), store, self.clock, commands=Spy)
        self.cmds = core.commands
        self.hub = core.hub
        self.hub.power_up(0)

    def send(self, msg, channel=WAN):
        return self.cmds.process(channel, msg, 0, len(msg), 0)


POINTS = list(itertools.product((1, 2), STEPS))  # the accept write, the outcome write


@pytest.mark.parametrize("n,step", POINTS)
def test_power_cut_at_every_write_step(tmp_path, n, step):
    RUNS.clear()
    d = str(tmp_path / "state")
    msg = command(SUPPLIER, 500, cat.READ_HUB_STATUS)
    rig = Rig(d)
    rig.send(command(SUPPLIER, 499, cat.READ_HUB_STATUS))  # an earlier command, committed
    flash = Flash(d)
    rig.storage.fault = flash
    flash.arm("commands", n, step)
    with pytest.raises(PowerCut):
        rig.send(msg)
    flash.restore()
    ran_before = len(RUNS) - 1
    rig = Rig(d)  # power back: everything in RAM is gone
    # The earlier command is never forgotten.
    q = command(
        SUPPLIER, 501, cat.EXECUTED_QUERY, [SUPPLIER] + [c.to_bytes(8, "big") for c in (499, 500)]
    )
    ok, rsp = rig.send(q)
    answers = list(status_of(rsp)[1].data)
    assert answers[0] == cat.Q_EXECUTED
    committed = n == 2 or step == "synced"  # the accept record reached storage
    if committed:
        assert answers[1] in (cat.Q_ACCEPTED, cat.Q_EXECUTED)
    else:
        assert answers[1] == cat.Q_NOT_EXECUTED
        assert ran_before == 0  # nothing runs before its acceptance is on storage
    ok, rsp = rig.send(msg, WAN)  # the installer retries
    status = status_of(rsp)[0]
    assert status == ("duplicate" if committed else "ok")
    assert RUNS.count(cat.READ_HUB_STATUS) <= 2  # 499 and 500, at most once each


def test_every_injection_point_was_reached(tmp_path):
    # Guards the test above: each (write, step) pair is a real instant of a real write.
    seen = []
    rig = Rig(str(tmp_path / "s"), lambda step, name: seen.append((name, step)))
    rig.send(command(SUPPLIER, 1, cat.READ_HUB_STATUS))
    assert seen == [("commands", s) for s in STEPS] * 2
    assert len(POINTS) == 10


# --- the command store and the outbox together, through the shell ---------------------------

NEW_DEVICE = bytes.fromhex("00237E0000000777")


def boot(d, fault=None):
    board = FakeBoard()
    board.storage = FileStorage(d, fault)
    app = App(board, ("hub.eui64=00-23-7E-00-00-12-D6-87",))
    app.recover_commands()
    app.drain()
    return app


def hht_command(app, msg):
    # An inter-PAN command as the shell handles it: the command layer, then the drain.
    app.commands.process(INTERPAN, msg, 0, len(msg), app.clock.ticks_ms())
    app.drain()


def outbox_answers(app, counter):
    # What the outbox holds for the head-end about the supplier's command `counter`.
    found = []
    for _, m in app.outbox.items():
        if m[4] in (wan_msg.GBCS, wan_msg.GBCS_COPY):
            h = gbcs.GbcsHeader()
            if gbcs.parse(m, 5, len(m), h) == gbcs.OK and h.counter == counter:
                found.append("response")
        else:
            obj = wan_msg.decode_json(m[4:])
            if obj and obj.get("counter") == counter:
                found.append(obj.get("event"))
    return found


def pair_points(tmp_path):
    # Every (record, nth write, step) that one inter-PAN device_log_add makes, from a dry run.
    d = str(tmp_path / "dry")
    provisioning.install_parties(_conf(), d)
    flash = Flash(d)
    app = boot(d, flash)
    hht_command(app, command(SUPPLIER, 499, cat.READ_HUB_STATUS))
    flash.writes.clear()
    flash.seen.clear()
    hht_command(app, command(SUPPLIER, 500, cat.DEVICE_LOG_ADD, [NEW_DEVICE, bytes((ESME,))]))
    counts = {}
    points = []
    for name, step in flash.seen:
        if step == STEPS[0]:
            counts[name] = counts.get(name, 0) + 1
        points.append((name, counts[name], step))
    return points


def _conf():
    return {
        "parties": [
            {
                "name": "supplier",
                "guid": to_guid(SUPPLIER),
                "role": "supplier",
                "key": KEYS[SUPPLIER].hex(),
            },
        ]
    }


def test_a_cut_anywhere_in_the_pair_loses_no_response_copy(tmp_path, monkeypatch):
    monkeypatch.setattr("firmware.core.Commands", Spy)
    points = pair_points(tmp_path)
    names = {p[0] for p in points}
    # The accept and outcome writes, the device log's own, and the outbox's.
    assert {"commands", "device_log", "outbox"} <= names, names
    outcomes = set()
    for i, (record, nth, step) in enumerate(points):
        RUNS.clear()
        d = str(tmp_path / ("cut%d" % i))
        provisioning.install_parties(_conf(), d)
        flash = Flash(d)
        app = boot(d, flash)
        hht_command(app, command(SUPPLIER, 499, cat.READ_HUB_STATUS))
        flash.writes.clear()
        flash.arm(record, nth, step)
        with pytest.raises(PowerCut):
            hht_command(
                app, command(SUPPLIER, 500, cat.DEVICE_LOG_ADD, [NEW_DEVICE, bytes((ESME,))])
            )
        flash.restore()
        app = boot(d)  # the power is back; recovery runs at boot
        e = app.commands.store.log.find(SUPPLIER, 500)
        told = outbox_answers(app, 500)
        where = (record, nth, step)
        if e is None:
            assert RUNS.count(cat.DEVICE_LOG_ADD) == 0, where
            assert told == [], where  # nothing ran: nothing to tell
            outcomes.add("not accepted")
        elif e[3] == execlog.DONE:
            assert "response" in told, where  # the head-end gets the response's copy
            outcomes.add("done")
        else:
            assert e[3] == execlog.UNKNOWN, where
            assert "command_outcome_unknown" in told, where  # or is told it may have run
            outcomes.add("unknown")
        # A second boot neither re-runs nor re-queues what the first one recovered.
        before = len(app.outbox)
        app = boot(d)
        assert len(app.outbox) == before, where
        # The HHT retries: never run twice.
        hht_command(app, command(SUPPLIER, 500, cat.DEVICE_LOG_ADD, [NEW_DEVICE, bytes((ESME,))]))
        assert RUNS.count(cat.DEVICE_LOG_ADD) <= 1, where
    assert outcomes == {"not accepted", "done", "unknown"}, outcomes
