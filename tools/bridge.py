"""Join a bridge board's serial line to the ZEP medium, so the host tools reach real air.

    python tools/bridge.py --serial /dev/ttyUSB1 [--medium 127.0.0.1:17754] [--channel 11]
                           [--eui 00-23-7E-FF-FE-00-00-01 | --promiscuous] [--pan 0xFFFF]
                           [--baud 115200] [--seconds N]

The board is a second ESP32 + MRF24J40 running the firmware in bridge mode (docs/esp32.md:
`mpremote connect PORT fs touch :bridge + reset`). This program is one more node on the medium
(tools/medium.py): every frame the board hears on --channel is put on the medium with the
board's LQI, and every frame a node sends on the medium on --channel goes on air. So
`tools/hht.py --medium ...`, the meter simulators and a Wireshark capture of the medium talk
to a hub on the desk with the same commands as to the simulated one.

The board's chip acknowledges in hardware only frames addressed to the identity configured
here (--eui, by default the HHT's), as the HHT's own radio would; use that identity on the host
side. --promiscuous hears every frame on the channel and acknowledges none (a sniffer).

Events go to stdout as JSON lines: started, board (the board's configuration), board_text
(anything the board printed outside the link, e.g. a traceback), stats and stopped.
"""

import argparse
import json
import os
import selectors
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.frame import RxFrame  # noqa: E402
from firmware import bridge_link as link  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from firmware.eui64 import to_guid  # noqa: E402
from hal.sim import zep  # noqa: E402
from hal.sim.radio_zep import ZepRadio  # noqa: E402

HHT_EUI = "00-23-7E-FF-FE-00-00-01"  # tools/hht.py's radio
HELLO_S = 5.0
STATS_S = 10.0
READY_S = 5.0
TX_NAMES = {0: "tx_ok", 1: "tx_no_ack", 2: "tx_cca_fail", 5: "tx_lost", link.REFUSED: "refused"}
_COUNTERS = (
    "from_air",
    "to_air",
    "tx_ok",
    "tx_no_ack",
    "tx_cca_fail",
    "tx_lost",
    "refused",
    "other_status",
    "bad_fcs_from_medium",
    "junk_from_board",
)


def emit(event, **fields):
    fields = dict(event=event, **fields)
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class HostBridge:
    def __init__(self, ser, radio, channel, pan, eui, flags):
        self.ser = ser
        self.radio = radio  # the ZEP side: a ZepRadio on the medium, tuned to channel
        self.channel = channel
        self.dec = link.Decoder(4096)  # room for a traceback between frames
        self.body = bytearray(link.BODY_MAX)
        self.wire = bytearray(link.wire_size())
        self.frame = RxFrame(radio.HEADROOM)
        self.config = (channel, pan, eui, flags)
        self.info = None
        self.counts = dict.fromkeys(_COUNTERS, 0)
        radio.configure(channel, pan, 0xFFFF, eui)

    def _write(self, n):
        k = link.encode(self.body, n, self.wire)
        self.ser.write(bytes(self.wire[:k]))

    def send_config(self):
        ch, pan, eui, flags = self.config
        self._write(link.put_config(self.body, ch, pan, 0xFFFF, eui, flags))

    def from_board(self, data):
        dec = self.dec
        for b in data:
            n = dec.feed(b)
            if n:
                self._board_frame(dec.buf, n)
            elif b == link.FLAG and dec.last_bad:
                self._junk(bytes(dec.buf[: dec.last_bad]))
                dec.last_bad = 0

    def _junk(self, raw):
        self.counts["junk_from_board"] += 1
        text = raw.decode("utf-8", "replace").strip()
        if text and sum(c.isprintable() or c.isspace() for c in text) > 0.9 * len(text):
            emit("board_text", text=text)

    def _board_frame(self, d, n):
        t = d[0]
        if t == link.AIR and n >= 4 + 3:
            psdu = d[4:n]
            self.counts["from_air"] += 1
            # On the medium as the board heard it, with its LQI (the FCS is recomputed, equal).
            self.radio.send(psdu, len(psdu) - 2, lqi=d[2])
        elif t == link.STATUS and n == 2:
            self.counts[TX_NAMES.get(d[1], "other_status")] += 1
        elif t == link.INFO and n >= 5:
            self.info = {
                "version": d[1],
                "channel": d[2],
                "rf_state": "0x%02X" % d[3],
                "promiscuous": bool(d[4] & link.PROMISCUOUS),
            }
            emit("board", **self.info)

    def from_medium(self):
        r, f = self.radio, self.frame
        while r.recv(f):
            if not f.crc_ok:
                self.counts["bad_fcs_from_medium"] += 1
                continue
            n = f.n - 2
            b = self.body
            b[0] = link.SEND
            for i in range(n):
                b[1 + i] = f.buf[f.off + i]
            self.counts["to_air"] += 1
            self._write(1 + n)


def open_serial(path, baud):
    import serial

    return serial.Serial(path, baud, timeout=0)


def run(args, should_stop):
    try:
        ser = open_serial(args.serial, args.baud)
    except Exception as e:  # SerialException, OSError, a bad path: one line, no traceback
        print("bridge: cannot open %s: %s; check the cable and --serial" % (args.serial, e))
        return 2
    host, _, port = args.medium.rpartition(":")
    radio = ZepRadio(medium_port=int(port), medium_host=host or "127.0.0.1")
    flags = link.PROMISCUOUS if args.promiscuous else 0
    br = HostBridge(ser, radio, args.channel, args.pan, args.eui, flags)
    sel = selectors.DefaultSelector()
    sel.register(ser.fileno(), selectors.EVENT_READ, "serial")
    sel.register(radio.sock, selectors.EVENT_READ, "medium")
    emit(
        "started",
        serial=args.serial,
        medium=args.medium,
        channel=args.channel,
        identity=to_guid(args.eui),
        promiscuous=args.promiscuous,
    )
    br.send_config()
    radio.hello()
    start = now = time.monotonic()
    next_hello, next_stats = now + HELLO_S, now + STATS_S
    end = now + args.seconds if args.seconds else None
    try:
        while not should_stop() and (end is None or now < end):
            for key, _ in sel.select(0.2):
                if key.data == "serial":
                    br.from_board(ser.read(ser.in_waiting or 1))
                else:
                    br.from_medium()
            now = time.monotonic()
            if br.info is None and now - start > READY_S:
                print(
                    "bridge: no answer from the board on %s: is it in bridge mode "
                    "(docs/esp32.md, `fs touch :bridge`) and is --baud right?" % args.serial
                )
                return 1
            if now >= next_hello:
                radio.hello()  # a restarted medium relearns this node
                next_hello = now + HELLO_S
            if now >= next_stats:
                emit("stats", **br.counts)
                next_stats = now + STATS_S
    except OSError as e:  # the board unplugged mid-run
        print("bridge: serial line lost (%s); plug the board back in and start again" % e)
        return 1
    finally:
        emit("stopped", **br.counts)
        sel.close()
        radio.close()
        ser.close()
    return 0


def eui_arg(text):
    eui = parse_eui(text)
    if eui is None:
        raise argparse.ArgumentTypeError("not an EUI-64 (like %s)" % HHT_EUI)
    return eui


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serial", required=True, help="the bridge board's port, e.g. /dev/ttyUSB1")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--medium", default="127.0.0.1:%d" % zep.PORT, help="HOST:PORT of the medium")
    ap.add_argument("--channel", type=int, default=11, choices=range(11, 27), metavar="11..26")
    ap.add_argument(
        "--eui",
        type=eui_arg,
        default=eui_arg(HHT_EUI),
        help="the identity the board acknowledges for (default: the HHT's)",
    )
    ap.add_argument("--pan", type=lambda s: int(s, 0), default=0xFFFF, help="PAN ID filter")
    ap.add_argument("--promiscuous", action="store_true", help="hear all, acknowledge nothing")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    args = ap.parse_args(argv)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    return run(args, lambda: stop)


if __name__ == "__main__":
    sys.exit(main())
