"""Every persisted record, cut at every step of its write (hal/file_storage.py STEPS) on the
real file storage: after a restart the record holds the last committed state, never a torn or
mixed one, and nothing is reported corrupt. The injection points are counted at the end."""

import pytest
from flash import Flash, PowerCut

from firmware.cmd_store import CommandStore
from firmware.han_device_log import ESME, GSME, DeviceLog
from firmware.han_device_table import DeviceTable
from firmware.settings import Settings
from firmware.wan_outbox import HIGH, LOW, Outbox
from hal.file_storage import STEPS, FileStorage

A = bytes.fromhex("00237E0000000001")
B = bytes.fromhex("00237E0000000002")


# Each record: (make(storage), change(obj), state(obj), expected before, expected after)
RECORDS = {
    "settings": (
        lambda st: Settings(st),
        lambda o: o.set("radio.channel", 20),
        lambda o: (o["radio.channel"], o.load_errors),
        (11, 0),
        (20, 0),
    ),
    "device_log": (
        lambda st: DeviceLog(st),
        lambda o: o.add(B, ESME),
        lambda o: (o.entries(), o.corrupt),
        ([(A, ESME)], 0),
        ([(A, ESME), (B, ESME)], 0),
    ),
    "outbox": (
        lambda st: Outbox(st),
        lambda o: o.put(LOW, b"second"),
        lambda o: (o.items(), o.corrupt),
        ([(HIGH, b"first")], 0),
        ([(HIGH, b"first"), (LOW, b"second")], 0),
    ),
    "device_table": (
        lambda st: DeviceTable(st),
        lambda o: o.join(B, GSME, 0),
        lambda o: ([(o.eui(i), o.short(i)) for i in o.slots()], o.corrupt),
        None,  # filled in by seed(): the committed table
        None,
    ),
    "commands": (
        lambda st: CommandStore(st),
        lambda o: (o.replay.accept(A, 8), o.log.add(A, 8, 1), o.save()),
        lambda o: (o.replay.check(A, 8), len(o.log), o.corrupt),
        (0, 1, 0),  # counter 8 is new; one entry (counter 7)
        (1, 2, 0),  # counter 8 is a duplicate now; two entries
    ),
}


def seed(name, st):
    # The committed state before the write under test.
    if name == "device_table":
        DeviceTable(st).join(A, ESME, 0)
    elif name == "device_log":
        DeviceLog(st).add(A, ESME)
    elif name == "outbox":
        Outbox(st).put(HIGH, b"first")
    elif name == "commands":
        o = CommandStore(st)
        o.replay.accept(A, 7)
        o.log.add(A, 7, 1)
        o.save()


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_power_cut_at_every_step_of_every_record(tmp_path, name, step):
    make, change, state, before, after = RECORDS[name]
    d = str(tmp_path / "state")
    seed(name, FileStorage(d))
    if before is None:  # the expected states come from the code's own view of them
        before = state(make(FileStorage(d)))
        seed(name, FileStorage(str(tmp_path / "probe")))
        probe = make(FileStorage(str(tmp_path / "probe")))
        change(probe)
        after = state(probe)
        assert before != after and before[1] == 0
    flash = Flash(d)
    obj = make(FileStorage(d, flash))
    flash.arm(name, flash.writes.get(name, 0) + 1, step)
    with pytest.raises(PowerCut):
        change(obj)
    flash.restore()  # what was not synced is lost
    again = make(FileStorage(d))  # the restart: stale .tmp files are cleared, records read
    assert state(again) == (after if step == "synced" else before)


def test_injection_points():
    # 5 steps x 5 records here; test_power_cut.py cuts the command layer's writes.
    assert len(STEPS) * len(RECORDS) == 25
