"""The simulated lab that `make run` starts: the ZEP medium (writing a pcap Wireshark opens),
the head-end simulator, the hub on the MicroPython unix port, and an ESME and a GSME simulator
that join it, with their output in the terminal and in DIR/*.log (the previous run's logs are
kept as *.log.prev). Ctrl-C stops everything.

    python tools/lab.py [--dir lab] [--port 17754] [--headend 17760] [--speed 1]
                        [--set KEY=VALUE ...] [--fresh] [--no-meters]

Controls, from another terminal, act on the lab running in --dir (default lab/):

    python tools/lab.py wan down|up      the head-end drops the hub's link and refuses it / again
    python tools/lab.py radio loss P     the medium loses each delivery with probability P
    python tools/lab.py reset            power-cycle the hub (killed as by a power cut, restarted)
    python tools/lab.py status           the lab's processes and the controls in force

Each control is marked in the hub's log (a "lab_control" line) next to the hub's own reaction
(wan_link, wan, interpan, started). --fresh starts from a clean state: the hub's and meters'
persisted state, the counters, the capture and the logs of this lab directory are removed.
--speed N runs every process's timers N times faster: the hub's clock, the head-end's
heartbeat and the meters' reports and polls.

A child that dies is reported: the head-end and the meters are restarted (3 times a minute at
most), a dead medium or hub stops the lab with the reason. The lab reconnects the hub's WAN
within wan.backoff_max_s (5 s in the lab unless --set) after `wan up`.
"""

import argparse
import fcntl
import json
import os
import queue
import shutil
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from firmware.settings import Settings  # noqa: E402
from hal.file_storage import FileStorage  # noqa: E402
from tools import cli, labdir, procs, provisioning  # noqa: E402
from tools import headend as headend_tool  # noqa: E402

CONTROLS = ("wan", "radio", "reset", "status")
VALUED = ("--dir", "--port", "--headend", "--speed", "--provisioning", "--set")
LAB_DEFAULTS = ("wan.backoff_max_s=5",)  # `wan up` is seen within seconds, not minutes
RESTARTS_PER_MIN = 3


def next_steps(args, guid):
    """The banner: commands to paste, with this lab's own directory and ports."""
    lab = "" if args.dir == labdir.DEFAULT else " --lab %s" % args.dir
    he = "" if args.headend == 17760 else " --control %d" % (args.headend + 1)
    ctl = "" if args.dir == labdir.DEFAULT else " --dir %s" % args.dir
    py = ".venv/bin/python"
    rows = [
        ("%s tools/hht.py%s scan" % (py, lab), "active scan: lists hubs by GUID"),
        ("%s tools/hht.py%s discover %s" % (py, lab, guid), "inter-PAN details of one hub"),
        ("%s tools/hht.py%s watch %s" % (py, lab, guid), "live view of the hub"),
    ]
    if args.headend:
        rows.append(
            ('%s tools/headend.py send%s \'{"op": "status"}\'' % (py, he), "from the WAN side")
        )
        rows.append(("%s tools/lab.py%s wan down" % (py, ctl), "take the WAN away (wan up)"))
    rows += [
        ("%s tools/lab.py%s reset" % (py, ctl), "power-cycle the hub"),
        ("tshark -r %s/capture.pcap" % args.dir, "or open it in Wireshark"),
        ("tail -f %s/hub.log | jq -c ." % args.dir, "the hub's events"),
        ("%s tools/timeline.py %s/hub.log" % (py, args.dir), "the hub's timeline as a PNG"),
    ]
    width = max(len(c) for c, _ in rows)
    body = "\n".join("  %-*s  # %s" % (width, c, w) for c, w in rows)
    return "\nThe lab is up. In another terminal, try:\n%s\nCtrl-C here stops the lab.\n" % body


# --- checks before anything starts ----------------------------------------------------------


def check_port(kind, port, what):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        if kind == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    except OSError:
        raise cli.Fail(
            cli.BUSY,
            "%s port %d (%s) is in use: another lab? (give other ports)"
            % (kind.upper(), port, what),
        ) from None
    finally:
        s.close()


def hub_settings(args, state):
    """The hub's settings as it will run (its persisted ones and --set), or Fail(USAGE)."""
    try:
        return Settings(FileStorage(state) if state and os.path.isdir(state) else None, args.set)
    except ValueError as e:
        raise cli.Fail(cli.USAGE, "--set: %s" % e) from None


def lock_dir(path):
    """Hold the lab directory for this run, or Fail(BUSY) naming the lab that holds it."""
    os.makedirs(path, exist_ok=True)
    f = open(os.path.join(path, ".lock"), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        info = labdir.read(path) or {}
        raise cli.Fail(
            cli.BUSY,
            "a lab already runs in %s/ (pid %s): stop it (Ctrl-C in its terminal) or use --dir"
            % (path, info.get("pid", "?")),
        ) from None
    return f


FRESH = ("hub-state", "esme-state", "gsme-state", "counters.json", "capture.pcap")


def clean(path):
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if name in FRESH or name.endswith((".log", ".log.prev")):
            shutil.rmtree(full) if os.path.isdir(full) else os.remove(full)


def rotate_logs(path):
    for name in os.listdir(path):
        if name.endswith(".log"):
            os.replace(os.path.join(path, name), os.path.join(path, name + ".prev"))


# --- the running lab ------------------------------------------------------------------------


class Lab:
    def __init__(self, args):
        self.args = args
        self.running = {}  # name -> Proc
        self.restarts = {}  # name -> [times]
        self.lock = threading.Lock()
        self.wan = "up"
        self.loss = 0.0
        self.stopping = False
        self.guid = None
        self.requests = queue.Queue()

    def log(self, name):
        return os.path.join(self.args.dir, name + ".log")

    def start(self, name, cmd, what, env=None, stdin=False):
        p = procs.Proc(name, cmd, self.log(name), env=env, stdin=stdin)
        self.running[name] = p
        if p.wait_for('"started"', timeout=30) is None:
            last = " / ".join(p.tail(2)) or "no output"
            raise cli.Fail(cli.DIED, "the %s did not start (%s): %s" % (name, what, last))
        return p

    def mark(self, control, **fields):
        # A lab control in the hub's log, beside the hub's own reaction to it.
        rec = {"event": "lab_control", "control": control, "t": round(time.time(), 3)}
        rec.update(fields)
        hub = self.running.get("hub")
        if hub is not None:
            hub.note(json.dumps(rec), prefix="lab")

    # the children's command lines, so a restart is the same process again
    def medium_cmd(self):
        return procs.medium_command(self.args.port, os.path.join(self.args.dir, "capture.pcap"))

    def headend_cmd(self):
        a = self.args
        return procs.headend_command(a.headend, a.headend + 1, self.heartbeat_s, a.dir)

    def hub_cmd(self):
        a = self.args
        return procs.hub_command(
            a.port, self.state, self.overrides, speed=a.speed, headend_port=a.headend
        )

    def meter_cmd(self, d):
        a = self.args
        cmd = [sys.executable, "tools/meter.py", "--kind", d["kind"], "--eui", d["guid"]]
        cmd += ["--medium", "127.0.0.1:%d" % a.port, "--hub", self.guid]
        cmd += ["--state", os.path.join(a.dir, d["kind"] + "-state")]
        if a.provisioning:  # the meters' install codes come from the same file
            cmd += ["--provisioning", a.provisioning]
        # The meters' timers run at the lab's speed too (their defaults: 7.5, 30, 60 s).
        for opt, s in (("--poll-s", 7.5), ("--report-s", 30.0), ("--battery-s", 60.0)):
            cmd += [opt, "%g" % (s / a.speed)]
        return cmd

    def up(self):
        a = self.args
        self.state = os.path.join(a.dir, "hub-state")
        given = {kv.partition("=")[0] for kv in a.set}
        self.overrides = [kv for kv in LAB_DEFAULTS if kv.partition("=")[0] not in given]
        self.overrides += a.set
        s = hub_settings(a, self.state)
        # The head-end beats often enough that the hub never declares a live WAN lost, at any
        # speed and whatever wan.loss_after_s says (docs/lab.md).
        self.heartbeat_s = min(s["wan.heartbeat_s"], s["wan.loss_after_s"] / 4.0) / a.speed
        self.start("medium", self.medium_cmd(), "UDP port %d" % a.port, stdin=True)
        if a.headend:
            self.start(
                "headend", self.headend_cmd(), "TCP ports %d-%d" % (a.headend, a.headend + 1)
            )
        hub = self.start(
            "hub", self.hub_cmd(), "see %s" % self.log("hub"), procs.micropython_env()
        )
        self.guid = json.loads(hub.lines[hub.wait_for('"started"')])["guid"]
        if a.headend and self.running["headend"].wait_for('"hello"', timeout=10) is not None:
            for d in self.conf["device_log"]:  # the WAN manages the device log, as GB's does
                headend_tool.request(a.headend + 1, dict(op="device_log_add", **d))
        if not a.no_meters:
            for d in self.conf["device_log"]:
                self.start(d["kind"], self.meter_cmd(d), "see %s" % self.log(d["kind"]))

    def restart(self, name):
        p = self.running[name]
        if name == "hub":
            return self.start(
                "hub", self.hub_cmd(), "see %s" % self.log("hub"), procs.micropython_env()
            )
        if name == "headend":
            p = self.start("headend", self.headend_cmd(), "TCP port %d" % self.args.headend)
            if self.wan == "down":
                headend_tool.request(self.args.headend + 1, {"op": "wan", "state": "down"})
            return p
        d = [d for d in self.conf["device_log"] if d["kind"] == name][0]
        return self.start(name, self.meter_cmd(d), "see %s" % self.log(name))

    def check_children(self):
        """Restart a dead head-end or meter; a dead medium or hub stops the lab (Fail)."""
        for name, p in list(self.running.items()):
            if p.alive():
                continue
            with self.lock:
                if self.running.get(name) is not p or self.stopping:
                    continue  # replaced by a control meanwhile, or we are stopping
                code = p.p.returncode
                last = " / ".join(p.tail(2)) or "no output"
                what = "the %s exited (code %s): %s" % (name, code, last)
                if name in ("medium", "hub"):
                    raise cli.Fail(
                        cli.DIED, "%s; stopping the lab (see %s)" % (what, self.log(name))
                    )
                now = time.monotonic()
                times = [t for t in self.restarts.get(name, []) if now - t < 60] + [now]
                self.restarts[name] = times
                if len(times) > RESTARTS_PER_MIN:
                    raise cli.Fail(
                        cli.DIED,
                        "%s; it keeps dying, stopping the lab (see %s)" % (what, self.log(name)),
                    )
                print("lab: %s; restarting it" % what, flush=True)
                self.restart(name)

    # --- controls (from `lab.py wan down` and friends, over the control socket) -------------

    def control(self, req):
        op = req.get("op")
        with self.lock:
            if op == "wan":
                st = req.get("state")
                if st not in ("up", "down"):
                    return {"ok": False, "error": "wan: say up or down"}
                if not self.args.headend:
                    return {"ok": False, "error": "this lab has no WAN (--headend 0)"}
                r = headend_tool.request(self.args.headend + 1, {"op": "wan", "state": st})
                if not r.get("ok"):
                    return r
                self.wan = st
                self.mark("wan", state=st)
                return {"ok": True, "wan": st}
            if op == "radio_loss":
                try:
                    p = float(req.get("p"))
                except (TypeError, ValueError):
                    p = -1.0
                if not 0.0 <= p <= 1.0:
                    return {"ok": False, "error": "radio loss: a probability within 0..1"}
                if not self.running["medium"].send_line(json.dumps({"op": "loss", "p": p})):
                    return {"ok": False, "error": "the medium is not running"}
                self.loss = p
                self.mark("radio_loss", p=p)
                return {"ok": True, "loss": p}
            if op == "reset":
                self.mark("reset")
                self.running["hub"].kill()  # a power cut: no goodbye
                self.start(
                    "hub", self.hub_cmd(), "see %s" % self.log("hub"), procs.micropython_env()
                )
                return {"ok": True, "reset": self.guid}
            if op == "status":
                return {
                    "ok": True,
                    "guid": self.guid,
                    "wan": self.wan,
                    "radio_loss": self.loss,
                    "processes": {
                        n: p.p.pid if p.alive() else None for n, p in self.running.items()
                    },
                }
        return {"ok": False, "error": "unknown control %r" % op}

    def serve_controls(self, sock):
        # Each request is carried out by the main thread (run_controls): a child started from
        # a short-lived thread would get SIGTERM when that thread ends (PR_SET_PDEATHSIG).
        def handle(conn):
            with conn:
                try:
                    conn.settimeout(60)
                    req = json.loads(conn.makefile().readline())
                except (ValueError, OSError) as e:
                    req = e
                if isinstance(req, dict):
                    done = queue.Queue()
                    self.requests.put((req, done))
                    reply = done.get()
                else:
                    reply = {"ok": False, "error": "send one JSON object per line"}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass

        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def run_controls(self):
        while True:
            try:
                req, done = self.requests.get_nowait()
            except queue.Empty:
                return
            try:
                done.put(self.control(req))
            except cli.Fail as e:  # e.g. the head-end is gone: the lab notices that apart
                done.put({"ok": False, "error": e.message})

    def stop(self):
        self.stopping = True
        with self.lock:
            order = [n for n in self.running if n not in ("medium", "headend", "hub")]
            order += ["hub", "headend", "medium"]
            procs.stop_all([self.running[n] for n in order if n in self.running])


def serve(args):
    if args.speed <= 0:
        raise cli.Fail(cli.USAGE, "--speed must be positive")
    hub_settings(args, None)  # a mistyped --set is told first, whatever else is in the way
    lock = lock_dir(args.dir)  # before anything writes into the directory
    check_port("udp", args.port, "the medium")
    if args.headend:
        check_port("tcp", args.headend, "the head-end")
        check_port("tcp", args.headend + 1, "the head-end's control")
    if args.fresh:
        clean(args.dir)
    rotate_logs(args.dir)
    lab = Lab(args)
    lab.conf = provisioning.load(args.provisioning)
    state = os.path.join(args.dir, "hub-state")
    hub_settings(args, state)  # a bad --set fails here, before anything starts
    provisioning.install_parties(lab.conf, state)
    ctl = socket.socket()
    ctl.bind(("127.0.0.1", 0))
    ctl.listen(8)

    def on_signal(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        lab.up()
        labdir.write(
            args.dir,
            {
                "pid": os.getpid(),
                "guid": lab.guid,
                "medium": args.port,
                "headend": args.headend,
                "headend_control": args.headend + 1 if args.headend else 0,
                "control": ctl.getsockname()[1],
                "speed": args.speed,
            },
        )
        threading.Thread(target=lab.serve_controls, args=(ctl,), daemon=True).start()
        print(next_steps(args, lab.guid), flush=True)
        while True:
            lab.check_children()
            lab.run_controls()
            time.sleep(0.1)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one orderly shutdown, however many ^C
        return cli.OK
    finally:
        ctl.close()
        labdir.remove(args.dir)
        lab.stop()
        lock.close()


def control(argv):
    codes = cli.epilog(cli.FAILED, cli.USAGE, cli.NO_LAB)
    ap = argparse.ArgumentParser(
        prog="lab.py",
        description="Controls for the lab running in --dir.",
        epilog=codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=argparse.SUPPRESS, help="the running lab's directory")
    common.add_argument("--json", action="store_true", help="the reply as JSON")
    ap.add_argument("--dir", default=labdir.DEFAULT, help="the running lab's directory")
    sub = ap.add_subparsers(dest="control", required=True)

    def add(name, text):
        return sub.add_parser(
            name,
            parents=[common],
            help=text,
            description=text,
            epilog=codes,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("wan", "take the WAN down (the head-end refuses the hub) or up")
    p.add_argument("state", choices=("down", "up"))
    p = add("radio", "radio loss P: each delivery lost with probability P")
    p.add_argument("what", choices=("loss",))
    p.add_argument("p", type=float, help="0..1 (0: no loss)")
    add("reset", "power-cycle the hub")
    add("status", "the lab's processes and controls")
    a = ap.parse_args(argv)
    info = labdir.read(a.dir)
    if info is None:
        raise cli.Fail(cli.NO_LAB, "no lab runs in %s/ (start one: make run)" % a.dir)
    if a.control == "wan":
        req = {"op": "wan", "state": a.state}
    elif a.control == "radio":
        req = {"op": "radio_loss", "p": a.p}
    else:
        req = {"op": a.control}
    reply = ask(info["control"], req)
    if a.json:
        print(json.dumps(reply))
    elif reply.get("ok"):
        reply.pop("ok")
        print(" ".join("%s %s" % (k, v) for k, v in reply.items()))
    if not reply.get("ok", True):
        raise cli.Fail(cli.FAILED, reply.get("error", "refused"))
    return cli.OK


def ask(port, req, timeout=60):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall((json.dumps(req) + "\n").encode())
            return json.loads(s.makefile().readline())
    except (OSError, ValueError) as e:
        raise cli.Fail(
            cli.NO_LAB, "the lab did not answer (%s): is it still running?" % e
        ) from None


def parser():
    ap = argparse.ArgumentParser(
        prog="lab.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=cli.epilog(cli.USAGE, cli.BUSY, cli.DIED, cli.INTERRUPTED),
    )
    ap.add_argument("--dir", default=labdir.DEFAULT, help="logs, capture and state (default lab/)")
    ap.add_argument("--port", type=int, default=17754, help="UDP port of the ZEP medium")
    ap.add_argument(
        "--headend",
        type=int,
        default=17760,
        help="TCP port of the head-end (its control port is the next one); 0: no WAN",
    )
    ap.add_argument("--speed", type=float, default=1, help="every timer this many times faster")
    ap.add_argument("--provisioning", help="parties, keys, device log (tools/demo/lab.json)")
    ap.add_argument("--no-meters", action="store_true", help="start no ESME/GSME simulators")
    ap.add_argument("--fresh", action="store_true", help="start from a clean state (see above)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hub setting override (docs/settings.md), repeatable",
    )
    return ap


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for i, a in enumerate(argv):
        if a in CONTROLS and (i == 0 or argv[i - 1] not in VALUED):
            return control(argv)
    return serve(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(cli.main("lab", main))
