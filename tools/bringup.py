"""`make bringup PORT=...`: a hub board's radio checked step by step, each failure explained.

    python tools/bringup.py --port /dev/ttyUSB0 [--board esp32_devkitc] [--channel 11]
                            [--bridge /dev/ttyUSB1] [--boot-wait 30]

1. On the board, through mpremote, with the deployed firmware (`make deploy` first): the
   MRF24J40 answers on SPI, its registers read back as initialised, RESET and INT are wired,
   the RF state machine reaches RX, the RSSI on the channel, a beacon request goes out and any
   beacon that answers is listed (boards/bringup.py).
2. The board is reset into the hub and its console read: the `started` event (its GUID) and
   the first `stats` event, whose heap_free is the free heap after boot.
3. With --bridge (a second board in bridge mode, docs/esp32.md): a beacon request sent through
   the bridge must be answered by this hub's beacon, over the air both ways.

Exit status 0 when every step passed; each failed step prints what it most likely means.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.frame import RxFrame  # noqa: E402
from firmware import bridge_link as link  # noqa: E402
from firmware import hub_reject as reject  # noqa: E402
from firmware import mac  # noqa: E402
from firmware import mac_peer as peer  # noqa: E402
from firmware.eui64 import to_guid  # noqa: E402

HHT_EUI = bytes.fromhex("00237EFFFE000001")
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")

_LABELS = {
    "spi": "MRF24J40 answers on SPI",
    "registers": "registers read back as initialised",
    "reset_line": "RESET line resets the chip",
    "rf_state": "RF state machine in RX",
    "rssi": "RSSI on the channel",
    "transmit": "beacon request transmitted",
    "int_line": "INT line interrupts",
    "beacon_reply": "a beacon answered",
    "heap": "free heap (bring-up script)",
}


def mpremote(port, *args, timeout=60):
    return subprocess.run(
        [MPREMOTE, "connect", port] + list(args), capture_output=True, text=True, timeout=timeout
    )


def json_records(lines, key):
    """The JSON objects with `key` among text lines (boot messages and the like skipped)."""
    out = []
    for line in lines:
        line = line.strip()
        if line.startswith("{") and '"%s"' % key in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def board_steps(stdout):
    """The step records boards/bringup.py printed, in order."""
    return json_records(stdout.splitlines(), "step")


def describe(rec):
    """One line per step: ok/FAIL, what was checked, the figures, the hint when it failed."""
    name = rec["step"]
    figures = []
    for k, v in rec.items():
        if k not in ("step", "ok", "hint"):
            figures.append("%s=%s" % (k, v))
    line = "%-4s  %-38s %s" % (
        "ok" if rec["ok"] else "FAIL",
        _LABELS.get(name, name),
        " ".join(figures),
    )
    if not rec["ok"]:
        line += "\n      -> " + rec.get("hint", "")
    return line.rstrip()


def explain_mpremote_failure(port, r):
    err = (r.stderr or r.stdout or "").strip().splitlines()
    last = err[-1] if err else "no output"
    if "no module named" in (r.stdout + r.stderr):
        return "the firmware is not on the board: run `make deploy PORT=%s` first" % port
    if "failed to access" in last or "could not" in last.lower() or "No such" in last:
        return (
            "mpremote cannot reach %s (%s): check the cable and PORT, and that no other"
            " program (a terminal, tools/bridge.py) holds the port" % (port, last)
        )
    return "the board did not run the checks: %s" % last


def console_events(lines):
    """The hub's JSON events among its console lines."""
    return json_records(lines, "event")


def heap_report(events):
    """(ok, line) about the free heap after boot, from the hub's `stats` event."""
    stats = [e for e in events if e.get("event") == "stats" and "heap_free" in e]
    if not stats:
        return (
            False,
            "no `stats` event from the hub: it did not start (mpremote connect PORT"
            " cat :crash.log shows why), or --boot-wait is too short",
        )
    free, used = stats[0]["heap_free"], stats[0].get("heap_used", 0)
    total = free + used
    half = free * 2 >= total
    line = "free heap after boot: %d bytes of %d (%d%% free%s)" % (
        free,
        total,
        100 * free // max(total, 1),
        "" if half else "; the brief wants half of it free",
    )
    return half, line


def read_console(port, seconds, until="stats"):
    import serial

    lines = []
    with serial.Serial(port, 115200, timeout=0.2) as ser:
        end = time.monotonic() + seconds
        buf = b""
        while time.monotonic() < end:
            buf += ser.read(256)
            *done, buf = buf.split(b"\n")
            for raw in done:
                lines.append(raw.decode("utf-8", "replace"))
                if '"event": "%s"' % until in lines[-1]:
                    return lines
    return lines


def bridge_scan(port, channel, seconds=2.0, open_serial=None):
    """Beacons heard through a bridge board after one beacon request: [(guid, pan, lqi)]."""
    import serial

    ser = (open_serial or (lambda p: serial.Serial(p, 115200, timeout=0)))(port)
    body = bytearray(link.BODY_MAX)
    wire = bytearray(link.wire_size())
    dec = link.Decoder(4096)
    found = []
    try:
        n = link.put_config(body, channel, 0xFFFF, 0xFFFF, HHT_EUI, 0)
        ser.write(bytes(wire[: link.encode(body, n, wire)]))
        tx = bytearray(16)
        m = peer.build_beacon_request(tx, 0x5A)
        body[0] = link.SEND
        body[1 : 1 + m] = tx[:m]
        end = time.monotonic() + seconds
        sent = False
        f = mac.MacFrame()
        fr = RxFrame()
        while time.monotonic() < end:
            for b in ser.read(512):
                k = dec.feed(b)
                if not k:
                    continue
                d = dec.buf
                if d[0] == link.INFO and not sent:
                    ser.write(bytes(wire[: link.encode(body, 1 + m, wire)]))
                    sent = True
                elif d[0] == link.AIR and k > 6:
                    psdu = bytes(d[4:k])
                    fr.buf[: len(psdu)] = psdu
                    if mac.parse(fr.buf, 0, len(psdu), f) != reject.OK or f.ftype != mac.BEACON:
                        continue
                    p = peer.beacon_payload_off(fr.buf, f)
                    zb = p > 0 and peer.parse_zigbee_payload(fr.buf, p, f.payload_end)
                    if zb:
                        found.append((to_guid(zb["epid"]), "0x%04X" % f.src_pan, d[2]))
            time.sleep(0.01)
    finally:
        ser.close()
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", required=True, help="the hub board's serial port")
    ap.add_argument("--board", default="esp32_devkitc", help="the board module (boards/)")
    ap.add_argument("--channel", type=int, default=11, choices=range(11, 27), metavar="11..26")
    ap.add_argument("--bridge", help="a bridge board's serial port, for the over-the-air check")
    ap.add_argument("--boot-wait", type=float, default=30.0, help="s to wait for the hub's stats")
    args = ap.parse_args(argv)
    failed = 0

    print("1. the radio, on the board (%s, channel %d)" % (args.board, args.channel))
    code = "from boards import bringup; bringup.main(%r, %d)" % (args.board, args.channel)
    try:
        r = mpremote(args.port, "exec", code, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("bringup: mpremote did not run (%s); run `make bootstrap` and check PORT" % e)
        return 2
    steps = board_steps(r.stdout)
    if not steps:
        print("bringup: " + explain_mpremote_failure(args.port, r))
        return 2
    for rec in steps:
        print("   " + describe(rec).replace("\n", "\n   "))
        failed += not rec["ok"]

    print("2. the hub after a reset")
    r = mpremote(args.port, "reset", timeout=30)
    try:
        lines = read_console(args.port, args.boot_wait)
    except Exception as e:  # the port vanished: one line, no traceback
        print("bringup: cannot read %s after the reset (%s)" % (args.port, e))
        return 2
    events = console_events(lines)
    started = [e for e in events if e.get("event") == "started"]
    guid = started[0].get("guid") if started else None
    print(
        "   hub %s on channel %s" % (guid, started[0].get("channel"))
        if started
        else "   no `started` event"
    )
    ok, line = heap_report(events)
    print("   %-4s  %s" % ("ok" if ok else "FAIL", line))
    failed += not ok

    if args.bridge:
        print("3. over the air, through the bridge on %s" % args.bridge)
        try:
            found = bridge_scan(args.bridge, args.channel)
        except Exception as e:
            print("bringup: cannot use the bridge on %s (%s)" % (args.bridge, e))
            return 2
        for g, pan, lqi in found:
            print(
                "   beacon from %s PAN %s LQI %d%s" % (g, pan, lqi, "  <- this hub" * (g == guid))
            )
        ok = any(g == guid for g, _, _ in found)
        if not ok:
            print(
                "   FAIL  this hub's beacon did not come back: if the bridge heard others, this"
                " hub's RF side (antenna, channel %d) is at fault; if it heard none, check the"
                " bridge board and that both boards are on channel %d"
                % (args.channel, args.channel)
            )
        failed += not ok
    print("bringup: %s" % ("all checks passed" if not failed else "%d check(s) failed" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
