"""The ZEP medium (tools/medium.py) as a real process and in-process, its pcap output, and
independent decoders (scapy, tshark when installed) over what it carries and records."""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from scapy.layers.dot15d4 import Dot15d4Cmd, Dot15d4FCS
from scapy.layers.inet import IP, UDP
from scapy.layers.zigbee import ZEP2
from scapy.utils import wrpcap

from contract.frame import RxFrame
from hal.sim import zep
from hal.sim.radio_zep import ZepRadio
from tools.medium import Medium
from tools.pcap import PcapWriter, read_pcap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEACON_REQ = bytes.fromhex("030806ffffffff07c231")  # MAC beacon request, FCS 0x31c2


def datagram(psdu=BEACON_REQ, channel=11, device=0x4242, seq=7, lqi=255):
    b = bytearray(zep.HEADER_LEN + len(psdu))
    zep.write_header(b, channel, device, lqi, seq, len(psdu), 0xE8000000, 0x80000000)
    b[zep.HEADER_LEN :] = psdu
    return bytes(b)


def hello(device):
    b = bytearray(zep.HEADER_LEN)
    return bytes(b[: zep.write_hello(b, device)])


class Proc:
    """A subprocess whose stdout lines are collected by a thread, waitable with a timeout."""

    def __init__(self, args):
        self.p = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line)

    def event(self, name, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r event; saw %r" % (name, self.seen))
            try:
                ev = json.loads(self.lines.get(timeout=left))
            except queue.Empty:
                continue
            self.seen.append(ev)
            if ev["event"] == name:
                return ev

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    return s


def nothing_arrives(s, seconds=0.3):
    s.settimeout(seconds)
    try:
        s.recv(2048)
    except socket.timeout:
        return True
    finally:
        s.settimeout(2.0)
    return False


@pytest.fixture
def medium_proc(tmp_path):
    pcap = tmp_path / "air.pcap"
    proc = Proc(
        [
            sys.executable,
            "tools/medium.py",
            "--port",
            "0",
            "--pcap",
            str(pcap),
            "--stats-interval",
            "0",
        ]
    )
    try:
        started = proc.event("started")
        yield proc, started["port"], pcap
    finally:
        proc.stop()


def test_relays_to_others_records_and_exits_cleanly(medium_proc):
    proc, port, pcap = medium_proc
    assert port > 0
    a, b = client(), client()
    try:
        addr = ("127.0.0.1", port)
        a.sendto(hello(1), addr)
        assert proc.event("node_joined")["addr"] == "127.0.0.1:%d" % a.getsockname()[1]
        b.sendto(hello(2), addr)
        assert proc.event("node_joined")["addr"] == "127.0.0.1:%d" % b.getsockname()[1]

        sent = datagram()
        t0 = time.time()
        a.sendto(sent, addr)
        got, src = b.recvfrom(2048)
        assert got == sent  # unchanged, header included
        assert src == addr
        assert nothing_arrives(a)  # never back to the sender

        a.sendto(b"not a zep datagram at all", addr)
        a.sendto(b"EX\x02\x02\x00\x00\x00\x07", addr)  # a ZEP ack: not carried
        b.sendto(hello(2), addr)  # hellos are never relayed
        assert nothing_arrives(b)
        assert nothing_arrives(a)
    finally:
        a.close()
        b.close()

    proc.p.send_signal(signal.SIGINT)
    assert proc.p.wait(timeout=5) == 0
    stopped = proc.event("stopped")
    assert stopped["frames"] == 1
    assert stopped["delivered"] == 1
    assert stopped["hello"] == 3
    assert stopped["junk"] == 2
    assert stopped["junk_reasons"] == {"bad_preamble": 1, "bad_type": 1}
    assert stopped["nodes"] == 2

    linktype, records = read_pcap(str(pcap))
    assert linktype == 195
    assert len(records) == 1
    ts, raw = records[0]
    assert raw == BEACON_REQ
    assert abs(ts - t0) < 5

    pkt = Dot15d4FCS(raw)
    assert pkt.fcs == 0x31C2
    assert pkt.compute_fcs(raw[:-2]) == raw[-2:]
    assert pkt.fcf_frametype == 3  # MAC command
    assert pkt.seqnum == 6
    assert pkt[Dot15d4Cmd].cmd_id == 7  # beacon request
    assert pkt[Dot15d4Cmd].dest_panid == 0xFFFF

    tshark = shutil.which("tshark")
    if not tshark:
        pytest.skip("tshark not installed: scapy checks passed, tshark dissection not run")
    out = _tshark(tshark, pcap, pcap.parent)
    assert "IEEE 802.15.4" in out
    assert "Beacon Request" in out
    assert "Malformed" not in out
    assert _tshark(tshark, pcap, pcap.parent, "-T", "fields", "-e", "wpan.fcs_ok").split() == ["1"]


def _tshark(tshark, path, home, *args):
    env = dict(os.environ, HOME=str(home))  # default dissectors, whatever the user profile
    cmd = [tshark, "-n", "-r", str(path)] + (list(args) or ["-V"])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout


def test_scapy_decodes_our_zep_header():
    d = datagram(channel=15, device=0x4242, seq=0x01020304, lqi=200)
    z = ZEP2(d)
    assert z.ver == 2
    assert z.type == 1
    assert z.channel == 15
    assert z.device == 0x4242
    assert z.lqi_mode == 1
    assert z.lqi_val == 200
    assert z.seq == 0x01020304
    assert z.length == len(BEACON_REQ)
    # scapy reads the NTP seconds/fraction pair as one timestamp since 1900.
    assert abs(float(z.timestamp) - (0xE8000000 + 0.5)) < 1e-3
    # scapy hands lqi_mode=1 to Dot15d4 without FCS (reference 5.1); the octets are ours.
    assert bytes(z.payload) == BEACON_REQ
    # Over UDP 17754, as Wireshark and scapy see it on the loopback interface.
    u = UDP(bytes(UDP(sport=17754, dport=17754) / d))
    assert u.haslayer(ZEP2) and u[ZEP2].seq == 0x01020304


def test_tshark_dissects_zep_over_udp(tmp_path):
    tshark = shutil.which("tshark")
    if not tshark:
        pytest.skip("tshark not installed")
    path = tmp_path / "zep.pcap"
    udp = UDP(sport=40000, dport=17754) / datagram(seq=99)
    wrpcap(str(path), [IP(src="127.0.0.1", dst="127.0.0.1") / udp])
    out = _tshark(tshark, path, tmp_path)
    assert "ZigBee Encapsulation Protocol" in out
    assert "Beacon Request" in out
    assert "Malformed" not in out
    names = ["zep.version", "zep.channel_id", "zep.seqno", "zep.length", "wpan.fcs_ok"]
    args = ["-T", "fields", "-E", "separator=|"]
    for n in names:
        args += ["-e", n]
    fields = _tshark(tshark, path, tmp_path, *args)
    assert fields.strip() == "2|11|99|10|1"


# In-process: the same dispatcher class, driven directly.


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make_medium(**kw):
    events = []
    kw.setdefault("clock", FakeClock())
    m = Medium(port=0, emit=events.append, **kw)
    return m, events


def test_handle_learns_relays_and_forgets():
    m, events = make_medium(node_timeout=60)
    clock = m._clock
    try:
        A, B, C = ("127.0.0.1", 5001), ("127.0.0.1", 5002), ("127.0.0.1", 5003)
        assert m.handle(hello(1), A) == []
        assert m.handle(datagram(), B) == [A]  # B learnt from its first data frame
        assert m.handle(hello(3), C) == []
        assert sorted(m.handle(datagram(), A)) == [B, C]
        assert m.handle(b"junk", C) == []
        assert [e["addr"] for e in events if e["event"] == "node_joined"] == [
            "127.0.0.1:5001",
            "127.0.0.1:5002",
            "127.0.0.1:5003",
        ]
        clock.t += 30
        m.handle(hello(3), C)  # C keeps saying hello; A and B fall silent
        clock.t += 31
        m.handle(hello(3), C)
        left = [e["addr"] for e in events if e["event"] == "node_left"]
        assert sorted(left) == ["127.0.0.1:5001", "127.0.0.1:5002"]
        assert m.handle(datagram(), C) == []
        assert m.stats["frames"] == 3 and m.stats["junk"] == 1 and m.stats["hello"] == 4
    finally:
        m.close()


def test_drop_probability_is_seeded():
    def run(seed):
        m, _ = make_medium(drop_prob=0.5, seed=seed)
        try:
            nodes = [("127.0.0.1", 6000 + i) for i in range(4)]
            for n in nodes:
                m.handle(hello(1), n)
            return [tuple(m.handle(datagram(), nodes[0])) for _ in range(50)], m.stats["dropped"]
        finally:
            m.close()

    first, dropped = run(7)
    assert run(7) == (first, dropped)
    assert 30 < dropped < 120  # 150 deliveries at p = 0.5
    with pytest.raises(ValueError):
        Medium(port=0, drop_prob=1.5)


def test_zep_radios_through_in_process_medium(tmp_path):
    m, events = make_medium(pcap=str(tmp_path / "air.pcap"), clock=time.monotonic)
    a = ZepRadio(medium_port=m.port)
    b = ZepRadio(medium_port=m.port)
    try:
        for r in (a, b):
            r.configure(11, 0x1234, 0xFFFF, bytes(8))
            assert r.hello()
        m.poll(1.0)
        assert len(m.nodes) == 2
        assert a.send(BEACON_REQ, 8)
        m.poll(1.0)
        f = RxFrame(ZepRadio.HEADROOM)
        deadline = time.monotonic() + 2
        while not b.recv(f):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert bytes(f.buf[f.off : f.off + f.n]) == BEACON_REQ
        assert f.crc_ok
        assert not a.recv(f)
    finally:
        a.close()
        b.close()
        m.close()
    assert read_pcap(str(tmp_path / "air.pcap"))[1][0][1] == BEACON_REQ


def test_pcap_round_trip_and_growing_file(tmp_path):
    path = str(tmp_path / "x.pcap")
    w = PcapWriter(path)
    w.write(BEACON_REQ, ts=1700000000.25)
    # Flushed per record: readable while the writer is still open.
    assert read_pcap(path) == (195, [(1700000000.25, BEACON_REQ)])
    w.write(b"\x02\x00\x07\x00\x00", ts=1700000001.0)
    w.close()
    with open(path, "rb") as f:
        head = f.read(24)
    assert head.hex() == "d4c3b2a1020004000000000000000000ffff0000c3000000"
    lt, recs = read_pcap(path)
    assert lt == 195 and [r for _, r in recs] == [BEACON_REQ, b"\x02\x00\x07\x00\x00"]
    with open(path, "ab") as f:
        f.write(b"\x00" * 5)
    with pytest.raises(ValueError):
        read_pcap(path)
