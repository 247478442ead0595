"""The HHT tool driven as an installer would (subprocesses, real arguments) against the lab as
`make run` starts it: scan, discover, a service request interrupted by killing the HHT's link
and resumed with no command executed twice, and `decode` redacting what is sensitive."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, events_of, hht, start_lab

GUID = "00-23-7E-00-00-12-D6-87"
SR = os.path.join(ROOT, "tools", "demo", "service_request.json")


@pytest.fixture
def lab(tmp_path):
    p, zep, _ = start_lab(tmp_path)
    yield p, zep, tmp_path
    p.stop(timeout=30)


def test_installer_visit(lab):
    p, zep, tmp = lab
    for cmd in ("scan", "discover", "send", "run", "set-time", "interpan-off", "decode"):
        h = hht(zep, cmd, "--help")
        assert h.returncode == 0 and "usage:" in h.stdout, cmd
    scan = hht(zep, "scan", "--channels", "11")
    assert scan.returncode == 0 and GUID in scan.stdout and "1 hub(s) found" in scan.stdout
    disc = json.loads(hht(zep, "discover", GUID, "--json").stdout)
    assert disc["interpan_state"] == "on" and disc["devices_total"] == 2  # the lab's meters

    # The service request; the HHT's link dies (the process is killed) after two commands.
    run = subprocess.Popen(
        [sys.executable, "tools/hht.py", "--medium", "127.0.0.1:%d" % zep, "run", SR],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = []
    for line in run.stdout:
        first.append(line)
        if line.startswith("[2/5]"):
            run.send_signal(signal.SIGKILL)
            break
    run.wait()
    assert run.returncode == -signal.SIGKILL
    again = hht(zep, "run", SR)
    assert again.returncode == 0, again.stdout
    out = again.stdout.splitlines()
    assert out[1] == "[1/5] read_hub_status #3001: already executed, skipped"
    assert out[2] == "[2/5] device_log_add #3002: already executed, skipped"
    assert out[-2].startswith("[5/5] read_hub_status #3005: ")
    assert out[-1] == "service request complete"

    # The sensitive command an installer carries: a top-up for the ESME.
    hht(
        zep,
        "send",
        GUID,
        "prepay_topup",
        "00001388",
        "--as",
        "supplier",
        "--to",
        "00-23-7E-00-00-00-00-01",
    )
    assert hht(zep, "set-time", GUID).returncode == 0
    assert hht(zep, "interpan-off", GUID).returncode == 0
    assert hht(zep, "discover", GUID).returncode == 5  # closed: no answer at all (it beacons)
    p.stop(timeout=30)

    ran = [(e["counter"], e["status"]) for e in events_of(p.lines) if e["event"] == "command"]
    for c in range(3001, 3006):
        assert ran.count((c, "ok")) == 1, (c, ran)  # each executed exactly once
        assert (c, "duplicate") not in ran  # and never even re-sent

    pcap = os.path.join(str(tmp), "capture.pcap")
    dec = hht(zep, "decode", "--pcap", pcap, "--json")
    frames = [json.loads(x) for x in dec.stdout.splitlines()]
    topups = [f["gbcs"] for f in frames if f.get("gbcs", {}).get("message") == "prepay_topup"]
    assert [g["content"] for g in topups if g["cra"] == "command"] == [["<redacted>"]]
    assert all(f["gbcs"]["tag"] == "<redacted>" for f in frames if "gbcs" in f)
    assert "00001388" not in dec.stdout
    clear = hht(zep, "decode", "--pcap", pcap, "--json", "--show-sensitive").stdout
    assert "00001388" in clear
    assert any(f.get("zigbee_beacon", {}).get("epid") == GUID for f in frames)  # the scan
    text = hht(zep, "decode", "--pcap", pcap).stdout
    assert "inter-PAN GBCS command set_hub_clock" in text
