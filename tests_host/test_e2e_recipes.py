"""The recipes of docs/lab.md, run as written (the lab in a temporary directory on free ports,
so the tools get --lab/--dir): the inter-PAN flag open at power-up, kept alive only by
authenticated use, closing on its timeout; held open with no timeout while the WAN is lost (the
lab's `wan down`); its countdown running again once the WAN is restored (`wan up`); and at
--speed the WAN does not flap. Each recipe is under a minute of real time."""

import json
import subprocess
import sys
import time

from conftest import ROOT, start_lab

G = "00-23-7E-00-00-12-D6-87"


def tool(lab_dir, name, *args):
    opt = "--dir" if name == "lab" else "--lab"
    cmd = [sys.executable, "tools/%s.py" % name, opt, str(lab_dir)] + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def discover(lab_dir):
    r = tool(lab_dir, "hht", "discover", G, "--json")
    return json.loads(r.stdout) if r.returncode == 0 else r.returncode


def hub_events(lab, name="interpan"):
    out = []
    for line in lab.lines:
        if line.startswith("hub") and "| {" in line:
            ev = json.loads(line.split("| ", 1)[1])
            if ev["event"] == name:
                out.append(ev)
    return out


def wait_interpan(lab, reason, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in hub_events(lab):
            if ev["reason"] == reason:
                return ev
        time.sleep(0.2)
    raise AssertionError("no interpan %s in:\n%s" % (reason, "\n".join(lab.lines[-30:])))


def test_open_at_power_up_kept_alive_by_authenticated_use_then_closing(tmp_path):
    lab, _, _ = start_lab(tmp_path, "--fresh", "--set", "interpan.keepalive_s=20")
    try:
        d = discover(tmp_path)
        assert d["interpan_state"] == "on" and 10 < d["seconds_left"] <= 20
        time.sleep(10)
        before = discover(tmp_path)["seconds_left"]
        assert before <= 12
        ok = tool(tmp_path, "hht", "send", G, "read_hub_status")
        assert ok.returncode == 0 and "read_hub_status #" in ok.stdout, ok.stderr
        assert discover(tmp_path)["seconds_left"] >= 18  # the countdown restarted
        forged = tool(
            tmp_path,
            "hht",
            "send",
            G,
            "read_hub_status",
            "--provisioning",
            "tests_host/forged_keys.json",
        )
        assert forged.returncode == 6, forged.stderr  # answered by nobody: discovery still is
        assert "answers discovery but not the command" in forged.stderr
        t_ok = time.monotonic()
        time.sleep(3)
        assert discover(tmp_path)["seconds_left"] <= 18  # a forged command never keeps alive
        off = wait_interpan(lab, "timeout", 30)
        assert off["state"] == "off"
        assert time.monotonic() - t_ok >= 15  # 20 s after the authenticated command, not sooner
        closed = tool(tmp_path, "hht", "discover", G)
        assert closed.returncode == 5 and "inter-PAN is off" in closed.stderr
    finally:
        assert lab.stop(timeout=30) == 0
    rejected = hub_events(lab, "command_rejected")
    # The forged command, repeated while unanswered (hht.py): every copy refused for its tag.
    assert rejected and {e["reason"] for e in rejected} == {"bad_tag"}


def test_wan_lost_holds_open_then_restored_counts_down(tmp_path):
    lab, _, _ = start_lab(
        tmp_path,
        "--fresh",
        "--set",
        "interpan.keepalive_s=20",
        "--set",
        "wan.loss_after_s=5",
        "--set",
        "wan.restore_after_s=5",
    )
    try:
        down = tool(tmp_path, "lab", "wan", "down")
        assert down.returncode == 0 and down.stdout.strip() == "wan down", down.stderr
        lost = wait_interpan(lab, "wan_lost", 15)
        assert lost["state"] == "on_no_timeout" and lost["seconds_left"] is None
        d = discover(tmp_path)
        assert d["interpan_state"] == "on_no_timeout" and d["wan_present"] is False
        time.sleep(22)  # longer than the keep-alive
        assert discover(tmp_path)["interpan_state"] == "on_no_timeout"
        up = tool(tmp_path, "lab", "wan", "up")
        assert up.returncode == 0, up.stderr
        restored = wait_interpan(lab, "wan_restored", 20)
        assert restored["state"] == "on" and restored["seconds_left"] == 20
        assert discover(tmp_path)["interpan_state"] == "on"
        off = wait_interpan(lab, "timeout", 30)
        assert off["state"] == "off"
        assert tool(tmp_path, "hht", "discover", G).returncode == 5
    finally:
        assert lab.stop(timeout=30) == 0
    with open(tmp_path / "hub.log") as f:
        logged = [json.loads(x) for x in f if x.startswith("{")]
    kinds = [
        (e["event"], e.get("state"))
        for e in logged
        if e["event"] in ("lab_control", "wan_link", "wan")
    ]
    # Each control is in the hub's log, followed by the hub's own reaction to it.
    i = kinds.index(("lab_control", "down"))
    assert kinds[i + 1 : i + 3] == [("wan_link", "down"), ("wan", "lost")]
    j = kinds.index(("lab_control", "up"))
    assert kinds[j + 1 : j + 3] == [("wan_link", "up"), ("wan", "present")]


def test_speed_scales_the_head_end_heartbeat_too(tmp_path):
    # At 20x, 12 s of real time are 240 hub seconds: twice wan.loss_after_s (120). With the
    # head-end beating at 30 real seconds the WAN would be declared lost; it must not be.
    lab, _, _ = start_lab(tmp_path, "--fresh", "--speed", "20")
    try:
        time.sleep(12)
        d = discover(tmp_path)
        assert d["wan_present"] is True and d["interpan_state"] == "on"
        assert d["seconds_left"] <= 3600 - 200  # the hub's clock did run 20x
    finally:
        assert lab.stop(timeout=30) == 0
    assert hub_events(lab, "wan") == []  # never lost, never restored
