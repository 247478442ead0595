"""The simulated lab that `make run` starts: the ZEP medium (writing a pcap Wireshark opens),
the head-end simulator, the hub on the MicroPython unix port, and an ESME and a GSME simulator
that join it, with their output in the terminal and in lab/*.log. Ctrl-C stops everything.

    python tools/lab.py [--dir lab] [--port 17754] [--headend 17760] [--speed 1] [--set k=v ...]
"""

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import headend as headend_tool  # noqa: E402
from tools import procs, provisioning  # noqa: E402

NEXT_STEPS = """
The lab is up. In another terminal, try:
  .venv/bin/python tools/hht.py scan                  # active scan: lists hubs by GUID
  .venv/bin/python tools/hht.py discover {guid}   # inter-PAN details of one hub
  .venv/bin/python tools/headend.py send '{{"op": "status"}}'   # ask from the WAN side
  tshark -r {dir}/capture.pcap                        # or open it in Wireshark
  tail -f {dir}/hub.log | jq -c .                     # the hub's events
Ctrl-C here stops the lab.
"""


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--dir", default="lab", help="logs, capture and hub state (default lab/)")
    ap.add_argument("--port", type=int, default=17754, help="UDP port of the ZEP medium")
    ap.add_argument(
        "--headend",
        type=int,
        default=17760,
        help="TCP port of the head-end (its control port is the next one); 0: no WAN",
    )
    ap.add_argument("--speed", type=float, default=1, help="hub clock speed vs real time")
    ap.add_argument("--provisioning", help="parties, keys, device log (tools/demo/lab.json)")
    ap.add_argument("--no-meters", action="store_true", help="start no ESME/GSME simulators")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hub setting override (docs/settings.md), repeatable",
    )
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    conf = provisioning.load(args.provisioning)
    state = os.path.join(args.dir, "hub-state")
    provisioning.install_parties(conf, state)
    running = []

    def stop(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one orderly shutdown, however many ^C
        procs.stop_all(list(reversed(running)))
        sys.exit(0)

    def start(name, cmd, what, env=None):
        p = procs.Proc(name, cmd, os.path.join(args.dir, name + ".log"), env=env)
        running.append(p)
        if p.wait_for('"started"', timeout=20) is None:
            print("the %s did not start (%s)" % (name, what))
            stop()
        return p

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    medium = start(
        "medium",
        procs.medium_command(args.port, os.path.join(args.dir, "capture.pcap")),
        "is UDP port %d in use?" % args.port,
    )
    headend = None
    if args.headend:
        headend = start(
            "headend",
            procs.headend_command(args.headend, args.headend + 1),
            "are TCP ports %d-%d in use?" % (args.headend, args.headend + 1),
        )
    hub = start(
        "hub",
        procs.hub_command(args.port, state, args.set, speed=args.speed, headend_port=args.headend),
        "see %s/hub.log" % args.dir,
        env=procs.micropython_env(),
    )
    guid = json.loads(hub.lines[hub.wait_for('"started"')])["guid"]
    if headend is not None and headend.wait_for('"hello"', timeout=10) is not None:
        for d in conf["device_log"]:  # the WAN manages the device log, as GB's does
            headend_tool.request(args.headend + 1, dict(op="device_log_add", **d))
    if not args.no_meters:
        for d in conf["device_log"]:  # the meters the device log lists join the hub
            start(
                d["kind"],
                [
                    sys.executable,
                    "tools/meter.py",
                    "--kind",
                    d["kind"],
                    "--eui",
                    d["guid"],
                    "--medium",
                    "127.0.0.1:%d" % args.port,
                    "--hub",
                    guid,
                    "--state",
                    os.path.join(args.dir, d["kind"] + "-state"),
                ],
                "see %s/%s.log" % (args.dir, d["kind"]),
            )
    print(NEXT_STEPS.format(dir=args.dir, guid=guid))
    # The head-end may go (a lab engineer kills it to take the WAN away); the lab carries on.
    while medium.p.poll() is None and hub.p.poll() is None:
        time.sleep(0.2)
    print("a lab process exited; stopping the lab")
    stop()


if __name__ == "__main__":
    main()
