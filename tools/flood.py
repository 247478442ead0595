"""A flood of spoofed inter-PAN frames, and a measured run of one (the DoS defences' evidence).

    python tools/flood.py send [--medium HOST:PORT] [--count 3000] [--kind interpan|beacon]
    python tools/flood.py run  [--count 3000]        # the lab + a flood + a legitimate HHT

`send` puts forged SE Tunneling commands from rotating random EUI-64s (or beacon requests) on
the ZEP medium at the 802.15.4 line rate (each frame one air time after the last). `run` starts
the lab (medium, head-end, hub; no meters), measures an installer's signed commands (round
trip) before the flood and while it runs, and prints the hub's heap and its drops by reason.
Timing: a report (make flood), not a pass/fail test.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.frame import RxFrame  # noqa: E402
from firmware import catalogue as cat  # noqa: E402
from firmware import interpan_frame, mac, zcl  # noqa: E402
from firmware.commands import TUNNEL_TRANSFER_DATA, signed  # noqa: E402
from hal.sim.radio_zep import ZepRadio  # noqa: E402
from tools import hht, procs, provisioning  # noqa: E402

HUB = bytes.fromhex("00237E000012D687")
FORGED = signed(
    1, 5, bytes.fromhex("90B3D51F30010000"), HUB, cat.INTERPAN_OFF, b"\x30\x00", b"not the key" * 3
)


def frames(kind, count, seed=1):
    rnd = random.Random(seed)
    buf = bytearray(127)
    for i in range(count):
        if kind == "beacon":
            n = mac.build_beacon_request(buf, i)
        else:
            src = bytes(rnd.getrandbits(8) for _ in range(8))
            p = interpan_frame.write_header(buf, i, 0xFFFF, HUB, 0xFFFF, src, zcl.TUNNELING)
            p = zcl.write(buf, p, zcl.CLUSTER_SPECIFIC, i, TUNNEL_TRANSFER_DATA)
            buf[p] = buf[p + 1] = 0
            p += 2
            buf[p : p + len(FORGED)] = FORGED
            n = p + len(FORGED)
        yield buf, n


def send(medium_port, count, kind, paced=True):
    # Paced: one frame per its air time, (6 + PSDU octets) x 32 us (back to back, no CSMA: the
    # most a transmitter can put on 802.15.4, IEEE 802.15.4-2006 6.5). Unpaced, this host
    # would send far more than the air can carry, which tests the UDP buffers, not the hub.
    radio = ZepRadio(medium_port=medium_port)
    radio.hello()
    radio.configure(11, 0xFFFF, 0xFFFF, bytes(8))
    t0 = time.monotonic()
    due = t0
    for buf, n in frames(kind, count):
        if paced:
            due += (6 + n + 2) * 32e-6
            while time.monotonic() < due:
                pass
        radio.send(buf, n)
    dt = time.monotonic() - t0
    radio.close()
    return count / dt


class Installer:
    """The legitimate sender: an HHT sending signed read_hub_status commands, one at a time."""

    def __init__(self, medium_port):
        self.conf = provisioning.load()
        self.radio = ZepRadio(medium_port=medium_port)
        self.radio.hello()
        self.radio.configure(11, 0xFFFF, 0xFFFF, hht.HHT_EUI)
        self.frame = RxFrame(self.radio.HEADROOM)
        self.counter = int(time.time() * 1000)

    def rtt(self, tries, gap=0.2):
        """Round-trip times (ms) of signed commands; None for an unanswered one."""
        out = []
        for _ in range(tries):
            self.counter += 1
            msg = hht.build_command(self.conf, "installer", self.counter, HUB, "read_hub_status")
            t0 = time.monotonic()
            rsp = hht.transact(self.radio, self.frame, HUB, msg, 2.0, self.counter & 0xFF)
            out.append((time.monotonic() - t0) * 1000 if rsp else None)
            time.sleep(gap)
        return out


def summary(rtts):
    ok = sorted(r for r in rtts if r is not None)
    if not ok:
        return {"answered": 0, "of": len(rtts)}
    return {
        "answered": len(ok),
        "of": len(rtts),
        "median_ms": round(ok[len(ok) // 2], 1),
        "max_ms": round(ok[-1], 1),
    }


def run(count):
    from tests_host.conftest import free_tcp_pair, free_udp_port  # a free port pair

    zep, he = free_udp_port(), free_tcp_pair()
    with tempfile.TemporaryDirectory() as d:
        lab = procs.Proc(
            "lab",
            [
                sys.executable,
                "tools/lab.py",
                "--dir",
                d,
                "--port",
                str(zep),
                "--headend",
                str(he),
                "--no-meters",
                "--set",
                "log.counters_interval_s=1",
            ],
            echo=False,
        )
        try:
            if lab.wait_for("The lab is up", timeout=30) is None:
                sys.exit("the lab did not start:\n" + "\n".join(lab.lines))
            hht_ = Installer(zep)
            before = summary(hht_.rtt(10))
            during = []
            rate = []
            t = threading.Thread(target=lambda: rate.append(send(zep, count, "interpan")))
            t.start()
            while t.is_alive():
                during += hht_.rtt(1, gap=0.5)  # within its own budget (2/s)
            t.join()
            time.sleep(2.5)  # the hub's next counters report
        finally:
            lab.stop(timeout=30)
    events = [
        json.loads(x.split("| ", 1)[1]) for x in lab.lines if x.startswith("hub") and "| {" in x
    ]
    drops = {}
    for e in events:
        if e["event"] == "frame_rejected":
            drops[e["reason"]] = e["total"]
    heaps = [e["heap_used"] for e in events if e["event"] == "stats"]
    rx = max([e["rx_frames"] for e in events if e["event"] == "stats"] or [0])
    return {
        "flood_frames": count,
        "flood_rate_per_s": round(rate[0]) if rate else None,
        "hub_frames_seen": rx,
        "drops_by_reason": drops,
        "heap_used_bytes_min_max": [min(heaps), max(heaps)] if heaps else None,
        "installer_command_rtt_before_flood": before,
        "installer_command_rtt_during_flood": summary(during),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="flood", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("send", help="flood the medium")
    p.add_argument("--medium", default="127.0.0.1:17754")
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--kind", choices=("interpan", "beacon"), default="interpan")
    p = sub.add_parser("run", help="a measured flood run against the lab")
    p.add_argument("--count", type=int, default=20000)
    args = ap.parse_args(argv)
    if args.command == "send":
        rate = send(int(args.medium.rpartition(":")[2]), args.count, args.kind)
        print(json.dumps({"sent": args.count, "rate_per_s": round(rate)}))
    else:
        print(json.dumps(run(args.count), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
