"""The real-RF bridge end to end, with a pseudo-terminal for the USB cable and the register fake
in place of the chip: the lab's hub on one ZEP medium (the "air"), the bridge board's firmware
(firmware/bridge.py, the real MRF24J40 driver on the fake chip whose antenna is that air) on
the MicroPython unix port at one end of the pty, tools/bridge.py at the other end joining it to
a second medium, and tools/hht.py on that second medium scanning for and querying the hub."""

import json
import os
import subprocess
import sys
import tty

import pytest
from conftest import ROOT, free_udp_port, hht, start_lab

from tools import procs

GUID = "00-23-7E-00-00-12-D6-87"


@pytest.fixture
def board(tmp_path):
    """The lab's hub on its medium (the air), and the fake bridge board on a pty: (lab, the
    pty's path for the host end)."""
    lab, air, _ = start_lab(tmp_path)
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [procs.micropython(), "tools/fake_bridge_board.py", "--air", "127.0.0.1:%d" % air],
        cwd=ROOT,
        env=procs.micropython_env(),
        stdin=master,
        stdout=master,
        stderr=open(os.path.join(str(tmp_path), "board.err"), "w"),
        preexec_fn=procs._die_with_parent,
    )
    yield lab, os.ttyname(slave)
    proc.terminate()
    proc.wait(10)
    os.close(master)
    os.close(slave)
    lab.stop(timeout=30)


@pytest.fixture
def rig(board):
    """...and tools/bridge.py joining the pty to a second medium: (bridge, its medium port)."""
    lab, tty_path = board
    side = free_udp_port()
    medium = procs.Proc("medium", procs.medium_command(side), echo=False)
    assert medium.wait_for('"started"', timeout=20) is not None
    bridge = procs.Proc(
        "bridge",
        [
            sys.executable,
            "tools/bridge.py",
            "--serial",
            tty_path,
            "--medium",
            "127.0.0.1:%d" % side,
            "--channel",
            "11",
        ],
        echo=False,
    )
    yield bridge, side
    bridge.stop(timeout=10)
    medium.stop(timeout=10)


def events(proc):
    return [json.loads(x) for x in proc.lines if x.startswith("{")]


def test_hht_reaches_the_hub_through_the_bridge(rig):
    bridge, side = rig
    assert bridge.wait_for('"event": "board"', timeout=20) is not None, bridge.lines
    board = [e for e in events(bridge) if e["event"] == "board"][-1]
    assert (board["channel"], board["rf_state"], board["promiscuous"]) == (11, "0xA0", False)

    scan = hht(side, "scan", "--channels", "11", "--wait", "1.0")
    assert scan.returncode == 0, scan.stdout + scan.stderr
    assert GUID in scan.stdout and "1 hub(s) found" in scan.stdout

    # Inter-PAN both ways: the HHT's unicast query goes on air, the hub's answer to the HHT's
    # EUI-64 passes the bridge chip's address filter and comes back.
    disc = hht(side, "discover", GUID, "--channel", "11", "--json")
    assert disc.returncode == 0, disc.stdout + disc.stderr
    assert json.loads(disc.stdout)["interpan_state"] == "on"

    assert bridge.stop(timeout=10) == 0
    stopped = [e for e in events(bridge) if e["event"] == "stopped"][-1]
    assert stopped["to_air"] >= 2 and stopped["from_air"] >= 2, stopped
    assert stopped["tx_ok"] == stopped["to_air"] and stopped["junk_from_board"] == 0, stopped


def test_bringup_hears_the_hub_through_the_bridge(board):
    # `make bringup BRIDGE=...`'s over-the-air step: a beacon request through the bridge, and
    # the hub's beacon (its GUID) back.
    from tools import bringup

    lab, tty_path = board
    found = bringup.bridge_scan(tty_path, 11, seconds=3.0)
    assert [g for g, _, _ in found] == [GUID], found


def test_bridge_without_a_board_says_what_to_do(tmp_path):
    master, slave = os.openpty()  # a port with nothing behind it
    try:
        r = subprocess.run(
            [sys.executable, "tools/bridge.py", "--serial", os.ttyname(slave), "--seconds", "8"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 1 and "bridge mode" in r.stdout and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "tools/bridge.py", "--serial", str(tmp_path / "nope")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "cannot open" in r.stdout and "Traceback" not in r.stderr
