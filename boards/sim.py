# The simulated board: the hub on the MicroPython unix port (or CPython), with a ZEP v2 radio
# on UDP, file storage in a state directory, a clock that may run fast or start near the ticks
# wraparound, and indicators and events as JSON lines on stdout.
#
#   micropython -m boards.sim [--zep-port 17755] [--medium 127.0.0.1:17754] [--state DIR]
#                             [--headend 127.0.0.1:17760] [--speed 1] [--start-ticks N]
#                             [--set key=value ...]

import asyncio
import sys

from firmware.app import App
from firmware.events import Events
from hal.file_storage import FileStorage
from hal.sim.board_io import EventIndicators, SimWatchdog
from hal.sim.clock import FastClock
from hal.sim.radio_zep import ZepRadio
from hal.tcp_wan import TcpWan

USAGE = """usage: micropython -m boards.sim [options]
  --zep-port N        local UDP port of this node's ZEP radio (default 0: any free port)
  --medium HOST:PORT  the ZEP medium (tools/medium.py) to send frames to (127.0.0.1:17754)
  --headend HOST:PORT the head-end (tools/headend.py) for the WAN link; none: no WAN
  --state DIR         state directory for persisted records (default state)
  --speed X           clock speed relative to real time (default 1)
  --start-ticks N     initial ticks_ms, e.g. 1073731824 = 10 s before the 2**30 wrap
  --set KEY=VALUE     override a setting for this run (repeatable; docs/settings.md)
"""


def parse_args(argv):
    opts = {
        "zep-port": "0",
        "medium": "127.0.0.1:17754",
        "headend": "",
        "state": "state",
        "speed": "1",
        "start-ticks": "0",
        "set": [],
    }
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if not a.startswith("--") or a[2:] not in opts or i + 1 >= len(argv):
            raise ValueError("bad argument %r\n%s" % (a, USAGE))
        if a == "--set":
            opts["set"].append(argv[i + 1])
        else:
            opts[a[2:]] = argv[i + 1]
        i += 2
    return opts


def _write(line):
    sys.stdout.write(line)
    flush = getattr(sys.stdout, "flush", None)
    if flush:
        flush()


class SimBoard:
    name = "sim"

    def __init__(self, opts):
        self.clock = FastClock(float(opts["speed"]), int(opts["start-ticks"]))
        self.events = Events(_write, self.clock)
        host, _, port = opts["medium"].rpartition(":")
        self.radio = ZepRadio(
            medium_port=int(port), local_port=int(opts["zep-port"]), medium_host=host
        )
        self.storage = FileStorage(opts["state"])
        self.wan = None
        if opts["headend"]:
            host, _, port = opts["headend"].rpartition(":")
            self.wan = TcpWan(host, int(port))
        self.watchdog = SimWatchdog(
            self.clock, lambda late: self.events.emit("watchdog_reset", late_ms=late)
        )
        self.indicators = EventIndicators(self.events.emit)


def main(argv):
    try:
        opts = parse_args(argv)
    except ValueError as e:
        sys.stderr.write(str(e) + "\n")
        sys.exit(2)
    board = SimBoard(opts)
    try:
        app = App(board, opts["set"])
    except ValueError as e:
        sys.stderr.write("settings: %s\n" % e)
        sys.exit(2)
    try:
        asyncio.run(app.main())
    except KeyboardInterrupt:
        board.events.emit("stopped", reason="interrupt")
    finally:
        board.radio.close()


if __name__ == "__main__":
    main(sys.argv[1:])
