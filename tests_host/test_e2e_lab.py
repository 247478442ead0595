"""End to end with real processes: the lab as `make run` starts it (ZEP medium + the hub on the
MicroPython unix port), an HHT scan from a separate process, and the capture dissected."""

import json
import os
import sys

import pytest
from conftest import free_tcp_pair, free_udp_port, hht
from dissect import tshark_fields
from scapy.layers.dot15d4 import Dot15d4Beacon, Dot15d4FCS
from scapy.layers.zigbee import ZigBeeBeacon

from tools import procs
from tools.pcap import read_pcap

GUID = "00-23-7E-00-00-12-D6-87"


@pytest.fixture
def lab(tmp_path):
    port = free_udp_port()
    p = procs.Proc(
        "lab",
        [
            sys.executable,
            "tools/lab.py",
            "--dir",
            str(tmp_path),
            "--port",
            str(port),
            "--headend",
            str(free_tcp_pair()),
            "--no-meters",  # their own active scans would add beacons to the capture
            "--set",
            "join.permit=1",
            "--set",
            "log.counters_interval_s=1",
        ],
        echo=False,
    )
    assert p.wait_for("The lab is up", timeout=20) is not None, "\n".join(p.lines)
    yield p, port, tmp_path
    assert p.stop(timeout=30) == 0


def hub_events(lines):
    out = []
    for line in lines:
        if line.startswith("hub") and "| {" in line:
            out.append(json.loads(line.split("| ", 1)[1]))
    return out


def test_hht_scan_finds_the_hub_and_the_capture_dissects(lab):
    p, port, tmp = lab
    r = hht(port, "scan", "--channels", "11-12", "--json")
    assert r.returncode == 0, r.stderr
    hubs = [json.loads(line) for line in r.stdout.splitlines()]
    assert hubs == [
        {
            "guid": GUID,
            "pan_id": "0x1A2B",
            "channel": 11,
            "lqi": 255,
            "permit_join": True,
            "stack_profile": 2,
        }
    ]
    assert p.wait_for('"beacon_tx"', timeout=5) is not None
    # A junk datagram's frame is counted and reported in aggregate by reason.
    from hal.sim.radio_zep import ZepRadio

    radio = ZepRadio(medium_port=port)
    radio.configure(11, 0xFFFF, 0xFFFF, bytes(8))
    radio.send(bytearray(b"\x05\x00\x01"), 3)  # reserved frame type
    assert p.wait_for('"reserved_frame_type"', timeout=5) is not None
    radio.close()
    assert p.stop(timeout=30) == 0
    events = hub_events(p.lines)
    started = [e for e in events if e["event"] == "started"][0]
    assert started["guid"] == GUID and started["permit_join"] is True
    assert [e for e in events if e["event"] == "frame_rejected"][0]["count"] == 1

    linktype, records = read_pcap(os.path.join(str(tmp), "capture.pcap"))
    assert linktype == 195
    beacons = [Dot15d4FCS(raw) for _, raw in records if Dot15d4FCS(raw).fcf_frametype == 0]
    assert len(beacons) == 1  # one request on channel 11 answered; channel 12 was silent
    b = beacons[0]
    assert b[Dot15d4Beacon].sf_assocpermit == 1
    assert b[ZigBeeBeacon].extended_pan_id == 0x00237E000012D687
    assert Dot15d4FCS(bytes(b)).fcs == b.fcs
    got = tshark_fields([raw for _, raw in records], tmp, ["wpan.frame_type", "wpan.fcs_ok"])
    if got is not None:
        rows, verbose = got
        assert "Malformed" not in verbose
        assert all(r[1] == "1" for r in rows) and len(rows) == len(records)


def test_hub_runs_across_the_ticks_wraparound(tmp_path):
    port = free_udp_port()
    medium = procs.Proc(
        "medium", [sys.executable, "tools/medium.py", "--port", str(port)], echo=False
    )
    assert medium.wait_for('"started"') is not None
    # Start 1 s before the 2**30 ms wrap at 20x: the wrap passes within a fraction of a second.
    hub = procs.Proc(
        "hub",
        procs.hub_command(
            port,
            str(tmp_path / "st"),
            speed=20,
            start_ticks=(1 << 30) - 1000,
            settings=["log.counters_interval_s=1"],
        ),
        echo=False,
        env=procs.micropython_env(),
    )
    try:
        assert hub.wait_for('"started"', timeout=10) is not None
        ticks0 = json.loads(hub.lines[hub.wait_for('"started"')])["ticks"]
        assert ticks0 >= (1 << 30) - 1000
        import time

        time.sleep(1.0)
        r = hht(port, "scan", "--channels", "11", "--json")
        assert r.returncode == 0 and GUID in r.stdout
        assert hub.wait_for('"beacon_tx"', timeout=5) is not None
    finally:
        hub.stop()
        medium.stop()
    ev = [json.loads(line) for line in hub.lines if line.startswith("{")]
    assert ev[-1]["event"] == "stopped"
    assert ev[-1]["up"] >= 10  # 20x clock: >= 0.5 s of real time is >= 10 s of hub time
