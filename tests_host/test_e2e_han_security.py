"""End to end, with real processes (the lab as `make run` starts it: the ZEP medium writing its
capture, the head-end, the hub on the MicroPython unix port, the ESME and GSME simulators): the
HAN's security as an outsider sees it.

- tshark, given only the meters' link keys (from the install codes in tools/demo/lab.json) as
  Wireshark's ZigBee preferences take them, decrypts every HAN frame of the capture, a key
  update included: it learns each network key from a Transport-Key, as Wireshark does.
  `hht.py decode --keys` shows the same frames decrypted, and says so when given no keys.
- An impostor that associates with the ESME's EUI-64 (allow-listed, printed on the meter) but
  without its install code learns nothing and gets nothing accepted."""

import json
import os
import sys
import time

from conftest import ROOT, events_of, hht, start_lab
from dissect import tshark_fields, zigbee_keys

from firmware import sec_install_code as install_code
from tools import headend, procs
from tools.pcap import read_pcap

GUID = "00-23-7E-00-00-12-D6-87"
ESME = "00-23-7E-00-00-00-00-01"
LAB = os.path.join(ROOT, "tools", "demo", "lab.json")
SPEED = "10"  # the lab's timers 10 times faster: a report every 3 s, a GSME poll every 0.75 s


def lab_links():
    # The meters' link keys, from their install codes in the lab's provisioning file.
    with open(LAB) as f:
        conf = json.load(f)
    out = []
    for d in conf["device_log"]:
        code = install_code.parse(d["install_code"])
        out.append((install_code.link_key(code).hex().upper(), d["kind"] + " install code"))
    return out


def wait_count(lab, needle, n, timeout=60, name="hub"):
    # Until the lab's output has n lines of `name` containing needle.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [x for x in lab.lines if x.startswith(name) and needle in x]
        if len(lines) >= n:
            return True
        time.sleep(0.2)
    return False


def test_the_capture_decrypts_with_the_install_codes_across_a_key_update(tmp_path):
    lab, zep, he = start_lab(tmp_path, "--speed", SPEED)
    try:
        assert wait_count(lab, '"device_joined"', 2, 60), "\n".join(lab.lines[-30:])
        assert wait_count(lab, '"meter_reading"', 2, 60)
        r = headend.request(
            he + 1,
            {"op": "gbcs", "as": "supplier", "message": "read_meter", "to": ESME},
        )
        assert r["response"]["status"] == "ok", r  # hub -> ESME -> hub, secured both ways
        # The network operator updates the HAN key: both meters switch, and go on reporting.
        u = headend.request(
            he + 1, {"op": "gbcs", "as": "network_operator", "message": "nwk_key_update"}
        )
        assert u["response"]["status"] == "ok", u
        for kind in ("esme", "gsme"):
            assert wait_count(lab, '"switched"', 1, 30, kind), "\n".join(lab.lines[-30:])
        assert wait_count(lab, '"old_key_dropped"', 1, 60), "\n".join(lab.lines[-30:])
        n = len([x for x in lab.lines if '"meter_reading"' in x])
        assert wait_count(lab, '"meter_reading"', n + 2, 60)  # accepted under the new key
    finally:
        assert lab.stop(timeout=30) == 0
    hub = events_of(lab.lines)
    assert not [e for e in hub if e["event"] == "frame_rejected" and "sec" in e["reason"]]

    pcap = os.path.join(str(tmp_path), "capture.pcap")
    _, records = read_pcap(pcap)
    zigbee_keys(tmp_path, *lab_links())
    got = tshark_fields(
        [raw for _, raw in records],
        tmp_path,
        [
            "wpan.frame_type",
            "zbee_nwk.src",
            "zbee.sec.decryption_key",
            "zbee_aps.cmd.id",
            "zbee.sec.key.origin",
        ],
    )
    assert got is not None, "tshark is needed (apt-get install tshark)"
    rows, verbose = got
    assert "Malformed" not in verbose and "Expert Info (Error" not in verbose
    assert "Encrypted Payload" not in verbose  # every secured frame decrypted, its MIC good
    han = [r for r in rows if r[0] == "0x0001" and r[1]]  # ZigBee NWK data frames
    assert len(han) > 10
    # each names the key that decrypted it: a link key, or the frame it learned the key from
    assert all(r[2] or r[4] for r in han)
    learned = {int(r[4]) for r in han if r[4]}
    assert len(learned) >= 2  # the network key at the joins, and the new one at the update
    key_frames = [r for r in han if r[3] == "0x05"]  # Transport-Key: 2 joins, 2 for the update
    assert len(key_frames) >= 4
    assert {r[2] for r in key_frames} == {"esme install code", "gsme install code"}

    # hht decode: encrypted, and saying so, without keys; decrypted with the lab's file.
    plain = hht(zep, "decode", "--pcap", pcap)
    assert plain.returncode == 0
    assert "secured, encrypted (no keys given)" in plain.stdout
    assert "give --keys" in plain.stderr
    keyed = hht(zep, "decode", "--pcap", pcap, "--keys", LAB, "--json")
    frames = [json.loads(x) for x in keyed.stdout.splitlines()]
    secured = [d for d in frames if "nwk_security" in d]
    assert secured and all(d["nwk_security"]["decrypted"] for d in secured)
    assert {d["nwk_security"]["key_seq"] for d in secured} == {0, 1}
    keys = [
        d["aps_command"]
        for d in frames
        if d.get("aps_command", {}).get("command") == "transport_key"
    ]
    assert keys and all(k["decrypted"] and k["key"] == "<redacted>" for k in keys)
    assert any(d.get("zcl", {}).get("command") == 0x0A for d in secured)  # reports, readable


def test_an_impostor_with_a_meters_eui_gets_nothing_accepted(tmp_path):
    lab, zep, he = start_lab(tmp_path, "--speed", SPEED)
    impostor = None
    try:
        assert wait_count(lab, '"device_joined"', 2, 60), "\n".join(lab.lines[-30:])
        assert wait_count(lab, '"meter_reading"', 2, 60)
        # The ESME's EUI-64 is printed on it; its install code is not: the impostor has a code
        # of its own (a valid CRC, the wrong key), and reports in the clear when it learns no key.
        code = bytes(range(16))
        c = install_code.crc(code, 16)
        wrong = (code + bytes((c & 0xFF, c >> 8))).hex()
        cmd = [
            sys.executable, "tools/meter.py", "--kind", "esme", "--eui", ESME,
            "--medium", "127.0.0.1:%d" % zep, "--hub", GUID, "--channels", "11",
            "--install-code", wrong, "--impostor", "--report-s", "0.3", "--reading", "999000",
            "--state", str(tmp_path / "impostor"),
        ]  # fmt: skip
        impostor = procs.Proc("impostor", cmd, echo=False)
        assert impostor.wait_for('"joined"', timeout=30) is not None, impostor.lines
        # No network key: none sent so soon after the ESME's own (spaced out), or one it
        # cannot open.
        key = [json.loads(x) for x in impostor.lines if '"key"' in x]
        assert key and key[0]["result"] in ("none_received", "bad_mic"), impostor.lines
        assert impostor.wait_for('"report_tx"', timeout=10) is not None
        time.sleep(3)
        r = headend.request(he + 1, {"op": "status"})
        n = len([x for x in lab.lines if '"meter_reading"' in x])
        assert wait_count(lab, '"meter_reading"', n + 1, 60)  # the real meters still get in
    finally:
        if impostor is not None:
            impostor.stop()
        assert lab.stop(timeout=30) == 0
    hub = events_of(lab.lines)
    readings = [e["summation"] for e in hub if e["event"] == "meter_reading"]
    assert readings and not [v for v in readings if v >= 999000]
    rejected = {e["reason"]: e["total"] for e in hub if e["event"] == "frame_rejected"}
    sent = len([x for x in impostor.lines if '"report_tx"' in x])
    assert rejected.get("han_unsecured", 0) >= sent - 2  # (the last may be still in flight)
    rejoins = [e for e in hub if e["event"] == "device_joined" and e.get("rejoin")]
    assert rejoins and rejoins[0]["guid"] == ESME  # it associated: the device log allows it
    members = {m["guid"]: m for m in r["han"]["members"]}
    assert members[ESME]["key_seq"] == 0  # the real ESME, heard under the network key
