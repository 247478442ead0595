"""End to end: the same GBCS command sent by the head-end over the WAN and by an HHT over
inter-PAN. Whichever arrives first executes; the other is answered "duplicate" on its own
channel; both are in the hub's JSON event log. Every frame in the capture dissects cleanly."""

import json
import os
import subprocess
import sys

from conftest import ROOT, events_of, start_lab
from dissect import tshark_fields

from tools import headend
from tools.pcap import read_pcap

GUID = "00-23-7E-00-00-12-D6-87"


def hht_send(port, *args):
    r = subprocess.run(
        [sys.executable, "tools/hht.py", "--medium", "127.0.0.1:%d" % port, "send", GUID]
        + list(args)
        + ["--json", "--wait", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def test_first_wins_across_wan_and_interpan(tmp_path):
    lab, zep, he = start_lab(tmp_path)
    try:
        # HHT first, then the head-end: the WAN copy is the duplicate.
        a = hht_send(zep, "interpan_off", "--as", "supplier", "--counter", "41")
        assert a is None or a.get("status") == "ok"  # (off: its own answer still goes out)
        b = headend.request(
            he + 1, {"op": "gbcs", "as": "supplier", "counter": 41, "message": "interpan_off"}
        )
        assert b["response"]["status"] == "duplicate"
        # Head-end first, then the HHT: the inter-PAN copy is the duplicate. (Inter-PAN is
        # off now, so re-open it from the WAN side first: a trusted path would do the same.)
        c = headend.request(
            he + 1, {"op": "gbcs", "as": "supplier", "counter": 42, "message": "read_hub_status"}
        )
        assert c["response"]["status"] == "ok"
    finally:
        assert lab.stop(timeout=30) == 0
    events = events_of(lab.lines)
    cmds = [(e["counter"], e["channel"], e["status"]) for e in events if e["event"] == "command"]
    assert (41, "interpan", "ok") in cmds and (41, "wan", "duplicate") in cmds
    assert cmds.index((41, "interpan", "ok")) < cmds.index((41, "wan", "duplicate"))
    off = [e for e in events if e["event"] == "interpan" and e["reason"] == "off_command"]
    assert len(off) == 1  # executed exactly once

    _, records = read_pcap(os.path.join(str(tmp_path), "capture.pcap"))
    got = tshark_fields(
        [r for _, r in records], tmp_path, ["gbcs_message.grouping_header.cra_flag"]
    )
    if got is not None:
        rows, verbose = got
        assert "Malformed" not in verbose
        assert [r[0] for r in rows if r[0]] == ["0x01", "0x02"]  # the HHT's command, its answer


def test_duplicate_over_interpan_after_wan(tmp_path):
    lab, zep, he = start_lab(tmp_path)
    try:
        w = headend.request(
            he + 1, {"op": "gbcs", "as": "supplier", "counter": 77, "message": "read_hub_status"}
        )
        assert w["response"]["status"] == "ok"
        h = hht_send(zep, "read_hub_status", "--as", "supplier", "--counter", "77")
        assert h["status"] == "duplicate" and h["counter"] == 77
        # A forged copy (unknown key) is never answered and never executed.
        bad = hht_send(
            zep,
            "read_hub_status",
            "--as",
            "supplier",
            "--counter",
            "78",
            "--provisioning",
            os.path.join(ROOT, "tests_host", "forged_keys.json"),
        )
        assert bad is None
    finally:
        assert lab.stop(timeout=30) == 0
    events = events_of(lab.lines)
    rejected = [e for e in events if e["event"] == "command_rejected"]
    assert rejected and {e["reason"] for e in rejected} == {"bad_tag"}  # each repeat
    assert not [e for e in events if e["event"] == "command" and e["counter"] == 78]


def test_meter_commands_route_back_to_their_channel(tmp_path):
    lab, zep, he = start_lab(tmp_path)
    try:
        assert lab.wait_for('"device_joined"', timeout=30) is not None
        i = lab.wait_for('"device_joined"', timeout=30)
        assert lab.wait_for('"device_joined"', timeout=30, start=i + 1) is not None
        # Over the WAN: forwarded to the ESME, whose own answer reaches the head-end.
        w = headend.request(
            he + 1,
            {
                "op": "gbcs",
                "as": "supplier",
                "counter": 900,
                "message": "read_meter",
                "to": "00-23-7E-00-00-00-00-01",
            },
        )
        assert w["response"]["status"] == "ok", w
        assert w["response"]["originator"] == "00-23-7E-00-00-00-00-01"  # the meter answered
        # Over inter-PAN: the same path, the answer back to the HHT.
        h = hht_send(
            zep,
            "read_meter",
            "--as",
            "supplier",
            "--counter",
            "901",
            "--to",
            "00-23-7E-00-00-00-00-01",
        )
        assert h["status"] == "ok" and h["originator"] == "00-23-7E-00-00-00-00-01"
        # A prepayment top-up the ESME executes: its credit moves, exactly once.
        t = headend.request(
            he + 1,
            {
                "op": "gbcs",
                "as": "supplier",
                "counter": 903,
                "message": "prepay_topup",
                "fields": ["00001388"],
                "to": "00-23-7E-00-00-00-00-01",
            },
        )
        assert t["response"]["status"] == "ok", t
        again = hht_send(
            zep,
            "prepay_topup",
            "00001388",
            "--as",
            "supplier",
            "--counter",
            "903",
            "--to",
            "00-23-7E-00-00-00-00-01",
        )
        assert again["status"] == "duplicate"
        # Gas reads come from the hub's copy: answered at once, the GSME not woken.
        g = hht_send(
            zep,
            "read_gas",
            "--as",
            "supplier",
            "--counter",
            "902",
            "--to",
            "00-23-7E-00-00-00-00-02",
        )
        assert g["status"] == "ok" and g["originator"] == "00-23-7E-00-00-00-00-02"
    finally:
        assert lab.stop(timeout=30) == 0
    events = events_of(lab.lines)
    routed = [(e["counter"], e["channel"]) for e in events if e["event"] == "command_response"]
    assert routed == [(900, "wan"), (901, "interpan"), (903, "wan")]
    forwarded = [e["guid"] for e in events if e["event"] == "forwarded"]
    assert forwarded == ["00-23-7E-00-00-00-00-01"] * 3  # never the gas meter
    esme = events_of(lab.lines, "esme")
    assert [e["credit"] for e in esme if e["event"] == "topup_applied"] == [5000]


def test_meter_pin_menu_reopens_interpan_over_the_han(tmp_path):
    # "Install and leave" closes inter-PAN; a joined ESME's installer-PIN menu (SIGUSR1 to the
    # simulator) sends a signed interpan_enable over the HAN and the hub opens it again.
    import signal
    import time

    lab, zep, he = start_lab(tmp_path)
    try:
        i = lab.wait_for('"device_joined"', timeout=30)
        assert lab.wait_for('"device_joined"', timeout=30, start=i + 1) is not None
        off = hht_send(zep, "interpan_off", "--as", "installer")
        assert off is None or off["status"] == "ok"
        assert lab.wait_for('"off_command"', timeout=10) is not None
        esme = subprocess.run(
            ["pgrep", "-f", "meter.py --kind esme .*%s" % tmp_path], capture_output=True, text=True
        ).stdout.split()
        assert len(esme) == 1, esme
        os.kill(int(esme[0]), signal.SIGUSR1)
        assert lab.wait_for('"trusted_enable"', timeout=20) is not None, "\n".join(lab.lines)
        time.sleep(0.5)
        d = subprocess.run(
            [
                sys.executable,
                "tools/hht.py",
                "--medium",
                "127.0.0.1:%d" % zep,
                "discover",
                GUID,
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert json.loads(d.stdout)["interpan_state"] == "on"
    finally:
        assert lab.stop(timeout=30) == 0
    events = events_of(lab.lines)
    enable = [e for e in events if e["event"] == "command" and e["message"] == "interpan_enable"]
    assert [(e["channel"], e["status"]) for e in enable] == [("han", "ok")]
