"""The simulated lab that `make run` starts: the ZEP medium (writing a pcap Wireshark opens),
the head-end simulator, and the hub on the MicroPython unix port, with their output in the
terminal and in lab/*.log. Ctrl-C stops everything.

    python tools/lab.py [--dir lab] [--port 17754] [--headend 17760] [--speed 1] [--set k=v ...]
"""

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import procs  # noqa: E402

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
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hub setting override (docs/settings.md), repeatable",
    )
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    py = sys.executable
    running = []

    def stop(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one orderly shutdown, however many ^C
        procs.stop_all(list(reversed(running)))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        medium = procs.Proc(
            "medium",
            [
                py,
                "tools/medium.py",
                "--port",
                str(args.port),
                "--pcap",
                os.path.join(args.dir, "capture.pcap"),
            ],
            os.path.join(args.dir, "medium.log"),
        )
        running.append(medium)
        if medium.wait_for('"started"') is None:
            sys.exit("the medium did not start (is UDP port %d in use?)" % args.port)
        hub = procs.Proc(
            "hub",
            procs.hub_command(
                args.port, os.path.join(args.dir, "hub-state"), args.set, speed=args.speed
            ),
            os.path.join(args.dir, "hub.log"),
            env=procs.micropython_env(),
        )
        running.append(hub)
        started = hub.wait_for('"started"')
        if started is None:
            stop()
        guid = json.loads(hub.lines[started])["guid"]
        print(NEXT_STEPS.format(dir=args.dir, guid=guid))
        # The head-end may go (a lab engineer kills it to take the WAN away); the lab carries on.
        essential = [medium, hub]
        while all(p.p.poll() is None for p in essential):
            time.sleep(0.2)
        print("a lab process exited; stopping the lab")
    except KeyboardInterrupt:
        pass
    stop()


if __name__ == "__main__":
    main()
