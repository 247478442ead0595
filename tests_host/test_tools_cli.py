"""The host tools as a person meets them: every mistake answered with one line on stderr and
a documented non-zero exit code, never a traceback; the states a silent hub can be in told
apart; the head-end never dies on a request; lab.py refuses to start on a busy port, a busy
directory or a bad --set, and notices a child that died. Plus the tools' own logic in-process:
the counter store, the hub-log fold behind `watch` and the timeline, the decoded answers."""

import asyncio
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, free_tcp_pair, free_udp_port, start_lab

from tools import cli, describe, headend, hublog, procs
from tools.counters import Counters
from tools.pcap import PcapWriter

G = "00-23-7E-00-00-12-D6-87"


def run(*cmd, timeout=60):
    return subprocess.run(
        [sys.executable] + list(cmd), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def one_line(r, code, *words):
    """The failure a person sees: exit code, one line on stderr naming the problem."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def medium():
    # A medium with no hub on it: the radio works, nobody answers.
    port = free_udp_port()
    p = procs.Proc("medium", procs.medium_command(port), echo=False)
    assert p.wait_for('"started"') is not None
    yield port
    p.stop()


def test_every_help_lists_the_exit_codes():
    for cmd in (
        ["tools/hht.py", "--help"],
        ["tools/hht.py", "send", "--help"],
        ["tools/hht.py", "run", "--help"],
        ["tools/hht.py", "watch", "--help"],
        ["tools/headend.py", "--help"],
        ["tools/headend.py", "send", "--help"],
        ["tools/lab.py", "--help"],
        ["tools/lab.py", "wan", "--help"],
        ["tools/timeline.py", "--help"],
    ):
        r = run(*cmd)
        assert r.returncode == 0 and "exit codes:" in r.stdout, cmd
        assert "  0    done" in r.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path, medium):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    not_sr = tmp_path / "sr.json"
    not_sr.write_text('{"hub": "zz"}')
    hht = ["tools/hht.py", "--lab", str(tmp_path), "--medium", "127.0.0.1:%d" % medium]
    one_line(run(*hht, "run", str(tmp_path / "missing.json")), 2, "no such file")
    one_line(run(*hht, "run", str(bad_json)), 2, "not valid JSON")
    one_line(run(*hht, "run", str(not_sr)), 2, "GUID")
    one_line(run(*hht, "send", G, "device_log_add", "zz", "--as", "supplier"), 2, "'zz'", "hex")
    one_line(run(*hht, "send", G, "read_hub_stat"), 2, "unknown message")
    one_line(run(*hht, "send", G, "read_hub_status", "--as", "nobody"), 2, "no party")
    one_line(run(*hht, "discover", "00-23-7E"), 2, "not a GUID")
    one_line(run(*hht, "decode", "--pcap", str(tmp_path / "none.pcap")), 2, "no such file")
    one_line(run(*hht, "decode", "--pcap", str(bad_json)), 2, "not a pcap")
    pcap = str(tmp_path / "empty.pcap")
    PcapWriter(pcap).close()
    one_line(run(*hht, "decode", "--pcap", pcap, "--key", "0102"), 2, "--key", "32 hex")
    one_line(run(*hht, "decode", "--pcap", pcap, "--keys", str(bad_json)), 2, "bad.json")
    bad_code = tmp_path / "code.json"
    bad_code.write_text('{"parties": [], "device_log": [{"guid": "x", "install_code": "0011"}]}')
    one_line(run(*hht, "decode", "--pcap", pcap, "--keys", str(bad_code)), 2, "install code")
    one_line(run("tools/meter.py", "--kind", "esme", "--eui", G, "--install-code", "00" * 18), 2)
    one_line(run(*hht, "scan", "--channels", "abc"), 2, "--channels")
    one_line(run("tools/headend.py", "send", "not json"), 2, "not JSON")
    one_line(run("tools/timeline.py", str(tmp_path / "none.log")), 2, "no such file")
    one_line(run("tools/timeline.py", str(bad_json)), 2, "no hub events")
    one_line(run("tools/lab.py", "--dir", str(tmp_path), "--set", "nope=1"), 2, "'nope'")
    # The mistake is named even with the medium's port taken (another lab running).
    busy = ["tools/lab.py", "--dir", str(tmp_path), "--port", str(medium), "--set", "nope=1"]
    one_line(run(*busy), 2, "'nope'")
    line = one_line(
        run("tools/lab.py", "--dir", str(tmp_path), "--set", "interpan.keepalive_s=abc"), 2
    )
    assert "interpan.keepalive_s" in line and "abc" in line


def test_nothing_there_is_told_apart(tmp_path, medium):
    hht = ["tools/hht.py", "--lab", str(tmp_path)]
    nowhere = "127.0.0.1:%d" % free_udp_port()
    one_line(run(*hht, "--medium", nowhere, "discover", G), 3, "no medium")
    one_line(run(*hht, "--medium", nowhere, "scan", "--channels", "11"), 3, "no medium")
    on = ["--medium", "127.0.0.1:%d" % medium]
    one_line(run(*hht, *on, "discover", G, "--wait", "0.3"), 4, "no hub on channel 11")
    one_line(run(*hht, *on, "scan", "--channels", "11-12"), 4, "no hub answered")
    one_line(run(*hht, *on, "send", G, "read_hub_status", "--wait", "0.3"), 4, "no hub")
    port = free_tcp_pair()
    one_line(
        run("tools/headend.py", "send", "--control", str(port), '{"op": "status"}'),
        3,
        "no head-end",
    )
    one_line(run("tools/lab.py", "--dir", str(tmp_path), "status"), 3, "no lab runs")


def test_scan_shows_progress_on_a_terminal(tmp_path, medium):
    import pty
    import select

    master, slave = pty.openpty()
    r = subprocess.run(
        [sys.executable, "tools/hht.py", "--lab", str(tmp_path)]
        + ["--medium", "127.0.0.1:%d" % medium, "scan", "--channels", "11-13", "--wait", "0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=slave,
        timeout=30,
    )
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert r.returncode == 4
    for ch in (11, 12, 13):
        assert b"scanning channel %d (%d of 3)" % (ch, ch - 10) in seen
    assert b"scanned 3 channel(s): 0 hub(s)" in seen


def test_ctrl_c_is_a_line_and_130_and_run_says_how_to_resume(tmp_path, medium):
    sr = tmp_path / "sr.json"
    sr.write_text(json.dumps({"hub": G, "commands": [{"counter": 1, "message": "read_meter"}]}))
    base = [sys.executable, "tools/hht.py", "--lab", str(tmp_path)]
    base += ["--medium", "127.0.0.1:%d" % medium]
    for args, words in (
        (["scan", "--wait", "5"], ["interrupted"]),
        (["run", str(sr), "--wait", "5"], ["interrupted", "run the same file again"]),
    ):
        p = subprocess.Popen(
            base + args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        r = subprocess.CompletedProcess(args, p.returncode, out, err.splitlines()[-1] + "\n")
        one_line(r, 130, *words)
        assert "Traceback" not in err


def test_lab_refuses_a_busy_port_and_a_busy_directory(tmp_path):
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        r = run("tools/lab.py", "--dir", str(tmp_path / "a"), "--port", str(port))
        one_line(r, 7, "UDP port %d" % port, "in use")
    finally:
        busy.close()
    # A lab holds its directory; a second lab there says so, and writes nothing into it.
    held = tmp_path / "b"
    held.mkdir()
    with open(held / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = run("tools/lab.py", "--dir", str(held), "--port", str(free_udp_port()))
        one_line(r, 7, "a lab already runs in")
    assert sorted(os.listdir(held)) == [".lock"]


def test_head_end_answers_bad_requests_and_goes_on(tmp_path):
    lab, zep, he = start_lab(tmp_path, "--no-meters", "--set", "log.counters_interval_s=1")
    ctl = str(he + 1)
    send = ["tools/headend.py", "send", "--control", ctl]
    try:
        # A clean 20-command service request: the HHT paces itself under its hub's per-source
        # limit, so nothing of it is dropped as a flood and nothing is retried.
        sr = tmp_path / "sr20.json"
        cmds = [{"counter": 100 + i, "message": "read_hub_status"} for i in range(20)]
        sr.write_text(json.dumps({"hub": G, "as": "supplier", "commands": cmds}))
        r = run("tools/hht.py", "--lab", str(tmp_path), "run", str(sr), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        out = [json.loads(x) for x in r.stdout.splitlines()]
        assert [o["event"] for o in out] == ["start"] + ["command"] * 20 + ["complete"]
        assert all(o["status"] == "ok" for o in out if o["event"] == "command")
        time.sleep(1.5)  # the hub's next counters report
        assert not [x for x in lab.lines if "frame_rejected" in x and "rate_" in x]
        for req, words in (
            ({"op": "gbcs", "as": "supplier", "message": "read_hub_stat"}, ["unknown message"]),
            ({"op": "gbcs", "as": "nobody", "message": "read_hub_status"}, ["no party"]),
            ({"op": "gbcs", "counter": "x"}, ["counter must be a whole number"]),
            ({"op": "gbcs", "fields": ["zz"]}, ["hex strings"]),
            ({"op": "nonsense"}, ["unknown op"]),
        ):
            r = run(*send, json.dumps(req))
            one_line(r, 1, *words)
            assert json.loads(r.stdout)["ok"] is False
        one_line(run(*send, "[1, 2]"), 2, "JSON object")  # refused before it is sent
        status = run(*send, '{"op": "status"}')
        assert status.returncode == 0 and json.loads(status.stdout)["ok"] is True
        # The README's order: HHT commands, then the head-end, both as the supplier, no
        # counters given: the shared store keeps them apart, nothing is stale.
        hht = ["tools/hht.py", "--lab", str(tmp_path)]
        sent = run(*hht, "send", G, "read_hub_status", "--as", "supplier")
        assert sent.returncode == 0, sent.stderr
        assert "interpan" in sent.stdout and "wan          present" in sent.stdout
        r = run(*send, '{"op": "gbcs", "as": "supplier", "message": "read_hub_status"}')
        assert r.returncode == 0, r.stdout
        assert json.loads(r.stdout)["fields"]["wan"] == "present"
        # An explicit counter far below the highest accepted: stale, explained in one line.
        r = run(*hht, "send", G, "read_hub_status", "--as", "supplier", "--counter", "5")
        line = one_line(r, 1, "below the hub's window for supplier")
        assert "replay" in line or "--fresh" in line
        # The head-end dies: the lab says so and starts it again; the WAN comes back.
        pid = json.loads(run("tools/lab.py", "--dir", str(tmp_path), "status", "--json").stdout)
        os.kill(pid["processes"]["headend"], signal.SIGKILL)
        assert lab.wait_for("the headend exited", timeout=10) is not None
        assert lab.wait_for("restarting it", timeout=5) is not None
        deadline = time.monotonic() + 30
        while run(*send, '{"op": "status"}').returncode != 0:
            assert time.monotonic() < deadline, "\n".join(lab.lines[-20:])
            time.sleep(1)
    finally:
        assert lab.stop(timeout=30) == 0


def test_head_end_answer_never_raises():
    he = headend.HeadEnd(30, {"parties": []})
    he.hubs = {"peer": None}  # "connected": requests get as far as their own checks

    async def go():
        out = []
        for line in (
            b"",
            b"\xff\xfe",
            b"not json",
            b"[1]",
            b'{"op": "gbcs", "as": "supplier"}',
            b'{"op": "gbcs", "counter": 1e400}',
            b'{"op": "wan", "state": "sideways"}',
        ):
            out.append(await he.answer(line))
        return out

    for reply in asyncio.run(go()):
        assert reply["ok"] is False and reply["error"]


def test_counters_are_shared_unique_and_learn_from_stale_answers(tmp_path):
    store = Counters(str(tmp_path))
    got = []

    def take():
        for _ in range(50):
            got.append(Counters(str(tmp_path)).next("supplier"))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 200  # concurrent tools never share a counter
    ms = time.time_ns() // 1000000
    assert ms - 60000 < min(got)  # above anything an earlier run counted in milliseconds
    high = max(got) + 10**6
    assert store.learn("supplier", high) == high + 1  # a counter given by hand
    assert store.next("supplier") == high + 1
    assert store.learn("supplier", 10) == high + 2  # never backwards
    (tmp_path / "counters.json").write_text("garbage")
    assert store.next("installer") >= ms  # an unreadable store starts again, still above


def status_response(state, secs, wan, devices, t):
    from firmware import cmd_ber as ber
    from firmware import cmd_gbcs as gbcs
    from firmware.cmd_pipeline import signed

    data = bytes((state,)) + secs.to_bytes(4, "big") + bytes((wan, devices)) + t.to_bytes(4, "big")
    msg = signed(gbcs.RESPONSE, 7, bytes(8), bytes(8), 0x0F01, ber.response(0, data), bytes(32))
    return describe.gbcs_message(msg)


def test_decoded_answers_use_the_one_vocabulary():
    d = status_response(2, 0xFFFFFFFF, 0, 2, 1800000000)
    f = describe.response_fields(d)
    assert f == {
        "interpan": "on_no_timeout",
        "seconds_left": None,
        "wan": "lost",
        "device_log": 2,
        "hub_time": 1800000000,
    }
    rows = dict(describe.field_lines(d, f))
    assert rows["interpan"] == "on_no_timeout" and rows["device log"] == "2 device(s)"
    assert rows["hub time"].startswith("2027-01-15")
    f = describe.response_fields(status_response(1, 42, 1, 0, 3))
    assert f["interpan"] == "on" and f["seconds_left"] == 42
    assert dict(describe.field_lines({}, f))["interpan"] == "on (42 s left)"


LOG = [
    {"event": "started", "up": 0, "t": 0},
    {"event": "han", "devices": [{"guid": "A", "kind": "esme"}], "up": 0},
    {"event": "interpan", "state": "on", "reason": "power_up", "seconds_left": 60, "up": 0},
    {"event": "wan_link", "state": "up", "up": 0},
    {"event": "stats", "up": 5},
    {"event": "command", "channel": "interpan", "status": "ok", "up": 8},
    {"event": "stats", "up": 10},
    {"event": "frame_rejected", "reason": "rate_global", "count": 30, "total": 30, "up": 10},
    {"event": "lab_control", "control": "wan", "state": "down", "t": 1},
    {"event": "wan_link", "state": "down", "up": 12},
    {"event": "wan", "state": "lost", "up": 20},
    {"event": "interpan", "state": "on_no_timeout", "reason": "wan_lost", "up": 20},
    {"event": "device_joined", "guid": "B", "kind": "gsme", "up": 25},
    {"event": "started", "up": 0, "t": 0},
    {"event": "interpan", "state": "on", "reason": "power_up", "seconds_left": 60, "up": 0},
    {"event": "stats", "up": 5},
]


def test_the_hub_log_fold_behind_watch_and_the_timeline(tmp_path):
    lines = [json.dumps(e) for e in LOG[:13]] + ["not an event", "{broken"]
    log = tmp_path / "hub.log"
    log.write_text("\n".join(lines) + "\n")
    follow = hublog.Follower(str(log))
    st = follow.poll()
    assert st.interpan == "on_no_timeout" and st.wan == "lost" and st.wan_link == "down"
    assert st.members == {"A": "esme", "B": "gsme"} and st.drops == {"rate_global": 30}
    assert st.commands == {("interpan", "ok"): 1}
    view = hublog.view(None, st, G)  # the hub does not answer: the log says what it can
    assert view["interpan"] == "on_no_timeout" and view["answering"] is False
    text = hublog.render(view)
    assert "no inter-PAN answer" in text and "rate_global 30" in text and "B gsme" in text
    with open(log, "a") as f:  # the log grows: a power-up
        f.write("\n".join(json.dumps(e) for e in LOG[13:]) + "\n")
    st = follow.poll()
    assert st.boots == 2 and st.members == {} and st.seconds_left() == 55
    h = hublog.history(json.dumps(e) for e in LOG)
    assert h.boots == [0, 25] and h.end == 30
    assert [(x, s) for x, s, _ in h.interpan] == [(0, "on"), (20, "on_no_timeout"), (25, "on")]
    assert h.spans(h.interpan) == [(0, 20, "on"), (20, 25, "on_no_timeout"), (25, 30, "on")]
    assert h.controls == [(10, "wan down")] and h.drops == [(10, 30, "rate_global")]
    assert h.report_interval() == 5 and h.commands == [(8, "interpan", "ok")]


def test_timeline_draws_a_png(tmp_path):
    log = tmp_path / "hub.log"
    log.write_text("\n".join(json.dumps(e) for e in LOG) + "\n")
    r = run("tools/timeline.py", str(log), "-o", str(tmp_path / "t.png"))
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "t.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert cli.MEANING[cli.USAGE]  # every code a tool uses has a meaning to print
