"""ZEP v2 medium: the simulated 802.15.4 air between hub, meters and HHT processes.

    python tools/medium.py [--port 17754] [--host 127.0.0.1] [--pcap FILE]
                           [--drop-prob P --seed S] [--node-timeout 60] [--stats-interval 10]

Every node (a ZepRadio, or a RIOT native binary with socket_zep) sends ZEP datagrams to this
port. The medium learns each sender's UDP address from its data frames and HELLOs, relays
every ZEP data datagram unchanged to every other node it has heard from within the node
timeout (never back to the sender), and records each frame it carried in a pcap (link type
195, FCS included) that Wireshark can open while it grows. Datagrams that are not ZEP data or
HELLO are counted, never relayed. Channels are not filtered here: each radio listens on its
own, as real receivers do. With --drop-prob, each delivery is lost with that probability,
independently per receiver.

Events go to stdout as one JSON object per line: started, node_joined, node_left, stats
(every --stats-interval seconds), loss (a control changed --drop-prob) and stopped (on
SIGINT/SIGTERM, after the pcap is closed). Standard input, when it is not a terminal, takes
control requests, one JSON object per line: {"op": "loss", "p": 0.2} (tools/lab.py radio loss).
"""

import argparse
import json
import os
import random
import select
import signal
import socket
import sys
import time

if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hal.sim import zep  # noqa: E402
from tools.pcap import PcapWriter  # noqa: E402


def _emit_json(event):
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


def _fmt(addr):
    return "%s:%d" % (addr[0], addr[1])


class Medium:
    """The dispatcher; usable in-process (poll()) as well as from main()."""

    def __init__(
        self,
        host="127.0.0.1",
        port=zep.PORT,
        pcap=None,
        drop_prob=0.0,
        seed=None,
        node_timeout=60.0,
        emit=_emit_json,
        clock=time.monotonic,
    ):
        if not 0.0 <= drop_prob <= 1.0:
            raise ValueError("drop_prob must be within 0..1")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.host, self.port = self.sock.getsockname()[:2]
        self.pcap = PcapWriter(pcap) if pcap else None
        self.drop_prob = drop_prob
        self.node_timeout = node_timeout
        self.nodes = {}  # (host, port) -> clock() when last heard
        self.stats = {
            "rx": 0,  # datagrams received
            "frames": 0,  # ZEP data frames carried (and recorded)
            "delivered": 0,
            "dropped": 0,  # lost to --drop-prob
            "hello": 0,
            "junk": 0,
            "send_errors": 0,
        }
        self.junk_reasons = {}
        self._rng = random.Random(seed)
        self._emit = emit
        self._clock = clock

    def stats_event(self, name="stats"):
        ev = {"event": name, "nodes": len(self.nodes)}
        ev.update(self.stats)
        if self.junk_reasons:
            ev["junk_reasons"] = dict(self.junk_reasons)
        return ev

    def handle(self, data, addr, now=None):
        """Classifies one datagram, updates the node table and the capture.

        Returns the addresses it must be relayed to (the drop lottery already applied).
        """
        if now is None:
            now = self._clock()
        self.stats["rx"] += 1
        self.expire(now)
        r = zep.parse(data, 0, len(data))
        if r != zep.OK and r != zep.HELLO:
            self.stats["junk"] += 1
            name = zep.REASONS[r]
            self.junk_reasons[name] = self.junk_reasons.get(name, 0) + 1
            return []
        if addr not in self.nodes:
            self._emit({"event": "node_joined", "addr": _fmt(addr), "via": zep.REASONS[r]})
        self.nodes[addr] = now
        if r == zep.HELLO:
            self.stats["hello"] += 1
            return []
        self.stats["frames"] += 1
        if self.pcap is not None:
            self.pcap.write(data[zep.HEADER_LEN :])
        out = []
        for dst in self.nodes:
            if dst == addr:
                continue
            if self.drop_prob and self._rng.random() < self.drop_prob:
                self.stats["dropped"] += 1
                continue
            out.append(dst)
        return out

    def expire(self, now=None):
        if now is None:
            now = self._clock()
        for addr, seen in list(self.nodes.items()):
            if now - seen > self.node_timeout:
                del self.nodes[addr]
                self._emit({"event": "node_left", "addr": _fmt(addr), "reason": "timeout"})

    def poll(self, timeout=0.0):
        """Handles every pending datagram, waiting up to timeout for the first one."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            self.expire()
            return 0
        count = 0
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return count
            except ConnectionRefusedError:
                continue  # Linux reports an earlier relay's ICMP error here; not ours to act on
            count += 1
            for dst in self.handle(data, addr):
                try:
                    self.sock.sendto(data, dst)
                    self.stats["delivered"] += 1
                except OSError:
                    self.stats["send_errors"] += 1

    def run(self, should_stop, stats_interval=10.0, control=None):
        # control: a text stream of JSON requests, one per line (the lab's `radio loss P`
        # arrives on standard input); watched until it ends.
        next_stats = self._clock() + stats_interval if stats_interval > 0 else None
        while not should_stop():
            if control is not None:
                ready, _, _ = select.select([self.sock, control], [], [], 0.2)
                if control in ready:
                    line = control.readline()
                    if line:
                        self.control(line)
                    else:
                        control = None  # closed: no more requests
                self.poll(0.0)
            else:
                self.poll(0.2)
            if next_stats is not None and self._clock() >= next_stats:
                self._emit(self.stats_event())
                next_stats += stats_interval

    def control(self, line):
        """One control request: {"op": "loss", "p": 0.2} sets the per-delivery loss. Anything
        else is answered with an error event; the medium goes on."""
        try:
            req = json.loads(line)
            p = float(req["p"]) if req.get("op") == "loss" else -1.0
        except (ValueError, TypeError, KeyError, AttributeError):
            p = -1.0
        if not 0.0 <= p <= 1.0:
            self._emit({"event": "control_error", "request": line.strip()[:200]})
            return
        self.drop_prob = p
        self._emit({"event": "loss", "drop_prob": p})

    def close(self):
        if self.pcap is not None:
            self.pcap.close()
        self.sock.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ap.add_argument("--port", type=int, default=zep.PORT, help="UDP port (0: any free one)")
    ap.add_argument("--pcap", help="record every carried frame here (link type 195)")
    ap.add_argument("--drop-prob", type=float, default=0.0, help="per-delivery loss, 0..1")
    ap.add_argument("--seed", type=int, help="seed for the loss lottery (reproducible runs)")
    ap.add_argument("--node-timeout", type=float, default=60.0, help="forget silent nodes, s")
    ap.add_argument("--stats-interval", type=float, default=10.0, help="0 disables")
    args = ap.parse_args(argv)
    if not 0.0 <= args.drop_prob <= 1.0:
        ap.error("--drop-prob must be within 0..1")

    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        medium = Medium(
            args.host,
            args.port,
            pcap=args.pcap,
            drop_prob=args.drop_prob,
            seed=args.seed,
            node_timeout=args.node_timeout,
        )
    except OSError as e:
        _emit_json({"event": "error", "error": str(e), "port": args.port})
        return 1
    _emit_json(
        {
            "event": "started",
            "host": medium.host,
            "port": medium.port,
            "pcap": args.pcap,
            "drop_prob": args.drop_prob,
            "seed": args.seed,
        }
    )
    try:
        control = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin
        medium.run(lambda: stop, args.stats_interval, control)
    finally:
        medium.close()
        _emit_json(medium.stats_event("stopped"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
