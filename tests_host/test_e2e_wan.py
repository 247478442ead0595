"""End to end with real processes on loopback: the hub on the MicroPython unix port, the
head-end simulator and the ZEP medium. The head-end is killed: after the loss hysteresis the
hub holds inter-PAN open with no timeout; it comes back: the countdown restarts from the
restore and runs out. Short settings stand in for the 60-minute defaults."""

import json
import subprocess
import sys
import time

from conftest import ROOT, free_tcp_pair, free_udp_port

from tools import procs

GUID = "00-23-7E-00-00-12-D6-87"
SETTINGS = [
    "interpan.keepalive_s=3",
    "wan.heartbeat_s=1",
    "wan.loss_after_s=3",
    "wan.restore_after_s=2",
    "wan.backoff_min_s=1",
    "wan.backoff_max_s=2",
    "log.counters_interval_s=1",
]


def events(proc, start=0):
    out = []
    for line in proc.lines[start:]:
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def discover(port):
    r = subprocess.run(
        [
            sys.executable,
            "tools/hht.py",
            "--medium",
            "127.0.0.1:%d" % port,
            "discover",
            GUID,
            "--json",
            "--wait",
            "0.5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_event(proc, pred, timeout, start=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(proc, start):
            if pred(e):
                return e
        time.sleep(0.05)
    raise AssertionError("no such event in %s" % "\n".join(proc.lines[start:]))


def interpan(reason, state):
    return lambda e: e["event"] == "interpan" and e["reason"] == reason and e["state"] == state


def test_wan_loss_holds_interpan_open_and_restore_restarts_the_countdown(tmp_path):
    zep = free_udp_port()
    he_port = free_tcp_pair()
    medium = procs.Proc("medium", procs.medium_command(zep), echo=False)
    headend = procs.Proc("headend", procs.headend_command(he_port, he_port + 1, 1), echo=False)
    assert medium.wait_for('"started"') is not None
    assert headend.wait_for('"started"') is not None
    hub = procs.Proc(
        "hub",
        procs.hub_command(zep, str(tmp_path / "hub"), SETTINGS, headend_port=he_port),
        echo=False,
        env=procs.micropython_env(),
    )
    headend2 = None
    try:
        wait_event(hub, interpan("power_up", "on"), 10)
        assert headend.wait_for('"hello"', timeout=10) is not None
        # Nobody uses inter-PAN: it closes after the keep-alive, and then answers nothing.
        wait_event(hub, interpan("timeout", "off"), 10)
        assert discover(zep) is None

        # The WAN goes: after wan.loss_after_s the flag is ON with no timeout.
        t_kill = time.monotonic()
        headend.stop()
        lost = wait_event(hub, interpan("wan_lost", "on_no_timeout"), 15)
        assert lost["seconds_left"] is None
        # Hysteresis: loss counts from the last message heard (at most one 1 s heartbeat before
        # the kill), so it comes no sooner than loss_after_s - heartbeat_s = 2 s after it.
        assert time.monotonic() - t_kill >= 1.8
        d = discover(zep)
        assert d["interpan_state"] == "on_no_timeout" and d["wan_present"] is False
        time.sleep(4)  # longer than the keep-alive: still open
        assert discover(zep)["seconds_left"] is None

        # The WAN returns: the countdown restarts from the restore, then runs out.
        mark = len(hub.lines)
        headend2 = procs.Proc(
            "headend", procs.headend_command(he_port, he_port + 1, 1), echo=False
        )
        restored = wait_event(hub, interpan("wan_restored", "on"), 20, mark)
        assert restored["seconds_left"] == 3
        wait_event(hub, interpan("timeout", "off"), 10, mark)
        assert discover(zep) is None

        # What happened while the WAN was down reached the head-end, in order, once it was back.
        got = [
            e["msg"]
            for e in events(headend2)
            if e["event"] == "rx" and e.get("type") == "json" and e["msg"].get("msg") == "event"
        ]
        kinds = [(m["event"], m.get("state"), m.get("reason")) for m in got]
        i = kinds.index(("wan", "lost", None))
        assert kinds[i + 1] == ("interpan", "on_no_timeout", "wan_lost")
        assert ("wan", "present", None) in kinds[i + 2 :]
    finally:
        hub.stop()
        for p in (headend2, medium):
            if p is not None:
                p.stop()
    assert hub.p.returncode == 0, "\n".join(hub.lines[-20:])
