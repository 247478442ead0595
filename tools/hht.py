"""The Hand Held Terminal: an installer's tool that talks to hubs over the radio.

    python tools/hht.py [--medium HOST:PORT] scan [--channels 11-26] [--wait 0.3] [--json]
    python tools/hht.py [--medium HOST:PORT] discover GUID [--channel 11] [--json]
    python tools/hht.py [--medium HOST:PORT] send GUID MESSAGE [FIELD ...] [--counter N] [--as P]
    python tools/hht.py [--medium HOST:PORT] run SERVICE_REQUEST.json
    python tools/hht.py [--medium HOST:PORT] set-time GUID [EPOCH] | interpan-off GUID
    python tools/hht.py [--medium HOST:PORT] decode [--pcap FILE] [--json] [--show-sensitive]

`scan` is an IEEE 802.15.4 active scan: a beacon request on each channel, then the beacons
that answer it, listed by hub GUID (the ZigBee Extended PAN ID), PAN ID, channel and LQI.
`discover` asks one hub over ZigBee inter-PAN for its details: inter-PAN state and seconds
left, WAN state, and the GUIDs in its device log. A hub whose inter-PAN is off does not answer.
`send` carries one GBCS command (signed with a provisioned party's key, tools/demo/lab.json in
the lab) to the hub over inter-PAN, in the SE Tunneling cluster, and shows the response.
`run` executes a service request (an ordered file of commands, docs/hht.md); after a lost link
it asks the hub which commands executed and resumes from the first that has not.
`set-time` and `interpan-off` are the installer's end-of-visit actions. `decode` prints every
frame of a capture (or, live, on the medium) through all layers, sensitive fields redacted.
The radio is the firmware's own HAL radio (ZEP on loopback in the lab).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.frame import RxFrame  # noqa: E402
from firmware import beacon, ber, discovery, gbcs, interpan_frame, mac, reject, zcl  # noqa: E402
from firmware import catalogue as cat  # noqa: E402
from firmware.commands import TUNNEL_TRANSFER_DATA, TUNNEL_TRANSFER_DATA_RSP, signed  # noqa: E402
from firmware.eui64 import equals_le, to_guid  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from hal.sim.radio_zep import ZepRadio  # noqa: E402
from tools import decode as decoder  # noqa: E402
from tools import describe, provisioning  # noqa: E402
from tools.pcap import read_pcap  # noqa: E402

HHT_EUI = bytes.fromhex("0023 7EFF FE00 0001".replace(" ", ""))


def channels(spec):
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def open_radio(args):
    host, _, port = args.medium.rpartition(":")
    return ZepRadio(medium_port=int(port), medium_host=host)


def receive(radio, frame, seconds):
    """Yield every received frame with a good FCS for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if radio.recv(frame):
            if frame.crc_ok:
                yield frame
        else:
            time.sleep(0.002)


def scan(args):
    radio = open_radio(args)
    radio.hello()
    frame = RxFrame(radio.HEADROOM)
    f = mac.MacFrame()
    tx = bytearray(16)
    found = {}
    seq = 0
    for ch in channels(args.channels):
        radio.configure(ch, 0xFFFF, 0xFFFF, HHT_EUI)
        radio.send(tx, mac.build_beacon_request(tx, seq))
        seq += 1
        for fr in receive(radio, frame, args.wait):
            if mac.parse(fr.buf, fr.off, fr.n, f) != reject.OK or f.ftype != mac.BEACON:
                continue
            p = mac.beacon_payload_off(fr.buf, f)
            zb = p > 0 and beacon.parse_zigbee_payload(fr.buf, p, f.payload_end)
            if not zb:
                continue
            sf = mac.beacon_superframe(fr.buf, f)
            guid = to_guid(zb["epid"])
            found[(guid, ch)] = {
                "guid": guid,
                "pan_id": "0x%04X" % f.src_pan,
                "channel": ch,
                "lqi": fr.lqi,
                "permit_join": bool(sf & mac.SF_PERMIT),
                "stack_profile": zb["stack_profile"],
            }
    radio.close()
    hubs = sorted(found.values(), key=lambda h: (h["channel"], h["guid"]))
    if args.json:
        for h in hubs:
            print(json.dumps(h))
    else:
        print("%-23s  %-6s  %-7s  %-3s  %s" % ("GUID", "PAN", "CHANNEL", "LQI", "JOIN"))
        for h in hubs:
            print(
                "%-23s  %-6s  %-7d  %-3d  %s"
                % (
                    h["guid"],
                    h["pan_id"],
                    h["channel"],
                    h["lqi"],
                    "open" if h["permit_join"] else "closed",
                )
            )
        print("%d hub(s) found" % len(hubs))
    return 0 if hubs else 1


def interpan_replies(radio, frame, seconds, cluster):
    """Yield (buf, MacFrame, ZclHeader) for each inter-PAN frame of `cluster` sent to the HHT."""
    f = mac.MacFrame()
    ih = interpan_frame.InterPanHeader()
    zh = zcl.ZclHeader()
    for fr in receive(radio, frame, seconds):
        buf = fr.buf
        if mac.parse(buf, fr.off, fr.n, f) or not interpan_frame.is_interpan(buf, f):
            continue
        if f.dst_mode != mac.ADDR_EXT or not equals_le(buf, f.dst_ext_off, HHT_EUI):
            continue
        if interpan_frame.parse(buf, f, ih) or ih.cluster != cluster:
            continue
        if zcl.parse(buf, ih.zcl_off, f.payload_end, zh) == zcl.OK:
            yield buf, f, zh


def discover(args):
    target = parse_eui(args.guid)
    if target is None:
        sys.exit("not a GUID: %r" % args.guid)
    radio = open_radio(args)
    radio.hello()
    radio.configure(args.channel, 0xFFFF, 0xFFFF, HHT_EUI)
    frame = RxFrame(radio.HEADROOM)
    tx = bytearray(127)
    details = None
    start = seq = 0
    while True:
        seq += 1
        p = interpan_frame.write_header(
            tx, seq, 0xFFFF, target, 0xFFFF, HHT_EUI, discovery.CLUSTER
        )
        p = zcl.write(tx, p, zcl.CLUSTER_SPECIFIC, seq, discovery.CMD_GET_DETAILS)
        tx[p] = start
        radio.send(tx, p + 1)
        page = None
        for buf, f, zh in interpan_replies(radio, frame, args.wait, discovery.CLUSTER):
            if zh.seq == seq and zh.command == discovery.CMD_DETAILS:
                page = discovery.parse_details(buf, zh.payload_off, f.payload_end)
                break
        if page is None:
            break
        if details is None:
            details = page
        else:
            details["devices"] += page["devices"]
        start = page["start"] + len(page["devices"])
        if not page["devices"] or start >= page["devices_total"]:
            break
    radio.close()
    if details is None:
        print(
            "no answer from %s on channel %d (inter-PAN off, or not in range)"
            % (to_guid(target), args.channel)
        )
        return 1
    details["guid"] = to_guid(details["guid"])
    details["pan_id"] = "0x%04X" % details["pan_id"]
    details["devices"] = [to_guid(e) for e in details["devices"]]
    del details["start"]
    if args.json:
        print(json.dumps(details))
    else:
        left = details["seconds_left"]
        print(
            "hub          %s  PAN %s  channel %d"
            % (details["guid"], details["pan_id"], details["channel"])
        )
        print(
            "inter-PAN    %s%s"
            % (details["interpan_state"], "" if left is None else " (%d s left)" % left)
        )
        print("WAN          %s" % ("present" if details["wan_present"] else "lost"))
        print("device log   %d device(s)" % details["devices_total"])
        for g in details["devices"]:
            print("             %s" % g)
    return 0


def transact(radio, frame, target, message, wait, seq=1, final=False):
    """Send one GBCS message to the hub over inter-PAN; its response (bytes) or None. With
    final, a "forwarded" answer is followed by the meter's own, which is returned instead."""
    tx = bytearray(127)
    p = interpan_frame.write_header(tx, seq, 0xFFFF, target, 0xFFFF, HHT_EUI, zcl.TUNNELING)
    p = zcl.write(tx, p, zcl.CLUSTER_SPECIFIC, seq, TUNNEL_TRANSFER_DATA)
    tx[p] = tx[p + 1] = 0  # tunnel ID 0: inter-PAN has no tunnel session
    p += 2
    if p + len(message) > len(tx) - 2:
        raise SystemExit("the command does not fit one inter-PAN frame (%d octets)" % len(message))
    tx[p : p + len(message)] = message
    radio.send(tx, p + len(message))
    for buf, f, zh in interpan_replies(radio, frame, wait, zcl.TUNNELING):
        if zh.seq == seq and zh.command == TUNNEL_TRANSFER_DATA_RSP:
            rsp = bytes(buf[zh.payload_off + 2 : f.payload_end])
            if not final or describe.gbcs_message(rsp).get("status") != "forwarded":
                return rsp
            print("forwarded to the meter; waiting for its answer", file=sys.stderr)
            for buf, f, zh in interpan_replies(radio, frame, wait * 5, zcl.TUNNELING):
                if zh.seq == seq and zh.command == TUNNEL_TRANSFER_DATA_RSP:
                    return bytes(buf[zh.payload_off + 2 : f.payload_end])
            return rsp
    return None


def build_command(conf, who, counter, target, message, fields_hex=()):
    orig, key = provisioning.party(conf, who)
    code = describe.message_code(message)
    content = ber.sequence(*(bytes.fromhex(f) for f in fields_hex))
    return signed(gbcs.COMMAND, counter, orig, target, code, content, key)


def now_counter():
    # The installer's own commands count in milliseconds since 1970, as DCC's tools do:
    # strictly increasing without any state kept on the HHT.
    return time.time_ns() // 1000000


def hub_radio(args):
    radio = open_radio(args)
    radio.hello()
    radio.configure(args.channel, 0xFFFF, 0xFFFF, HHT_EUI)
    return radio, RxFrame(radio.HEADROOM)


def show(d, as_json):
    if as_json:
        print(json.dumps(d))
        return
    shown = d.get("content")
    shown = " ".join(shown) if isinstance(shown, list) else shown
    print("%s %s: %s %s" % (d.get("message"), d.get("counter"), d.get("status"), shown))


def send(args):
    target = parse_eui(args.guid)
    if target is None:
        sys.exit("not a GUID: %r" % args.guid)
    conf = provisioning.load(args.provisioning)
    to = parse_eui(args.to) if args.to else target
    counter = args.counter if args.counter is not None else now_counter()
    msg = build_command(conf, args.as_party, counter, to, args.message, args.fields)
    radio, frame = hub_radio(args)
    rsp = transact(radio, frame, target, msg, args.wait, counter & 0xFF, final=True)
    radio.close()
    if rsp is None:
        print("no answer (inter-PAN off, not in range, or the command failed authentication)")
        return 1
    d = describe.gbcs_message(rsp, redact=not args.show_sensitive)
    show(d, args.json)
    return 0 if d.get("status") == "ok" else 2


def end_of_visit(args, message, fields=()):
    args.as_party = args.as_party or "installer"
    args.message, args.fields, args.to, args.show_sensitive = message, list(fields), None, False
    args.counter = None
    return send(args)


def set_time(args):
    epoch = int(args.epoch if args.epoch is not None else time.time())
    return end_of_visit(args, "set_hub_clock", ["%08x" % epoch])


def interpan_off(args):
    return end_of_visit(args, "interpan_off")


def executed(radio, frame, conf, target, whose, counters, wait):
    """The hub's answer for each of `whose` counters (catalogue Q_ codes), in batches; None
    for a batch that got no answer."""
    from firmware.commands import QUERY_MAX

    out = []
    for i in range(0, len(counters), QUERY_MAX):
        batch = counters[i : i + QUERY_MAX]
        fields = [whose.hex()] + ["%016x" % c for c in batch]
        counter = now_counter()
        q = build_command(conf, "installer", counter, target, "executed_query", fields)
        rsp = transact(radio, frame, target, q, wait, counter & 0xFF)
        d = rsp and describe.gbcs_message(rsp, redact=False)
        if not d or d.get("status") != "ok":
            return None
        out += list(bytes.fromhex(d["content"][0]))
    return out


def run(args):
    """A service request: commands in order; after a lost link, ask the hub what ran."""
    with open(args.file) as f:
        sr = json.load(f)
    conf = provisioning.load(args.provisioning)
    target = parse_eui(sr["hub"])
    whose, _ = provisioning.party(conf, sr.get("as", "supplier"))
    cmds = sr["commands"]
    # Built (signed) once: a retry or a resume sends the very same octets.
    msgs = [
        build_command(
            conf,
            sr.get("as", "supplier"),
            c["counter"],
            parse_eui(c["to"]) if c.get("to") else target,
            c["message"],
            c.get("fields", ()),
        )
        for c in cmds
    ]
    radio, frame = hub_radio(args)
    total = len(cmds)
    done = [False] * total
    print("service request %s: %d commands for %s" % (args.file, total, to_guid(target)))
    counters = [c["counter"] for c in cmds]
    state = executed(radio, frame, conf, target, whose, counters, args.wait)
    for attempt in range(args.retries):
        if state is not None:
            break
        time.sleep(min(2**attempt * 0.25, 5))  # the hub may be rate-limiting this HHT
        state = executed(radio, frame, conf, target, whose, counters, args.wait)
    if state is None:
        print("no answer from the hub (inter-PAN off, or out of range)")
        return 1
    for i, q in enumerate(state):
        done[i] = q != cat.Q_NOT_EXECUTED
    i = 0
    tries = 0
    while i < total:
        c = cmds[i]
        tag = "[%d/%d] %s #%d" % (i + 1, total, c["message"], c["counter"])
        if done[i]:
            print("%s: already executed, skipped" % tag)
            i += 1
            continue
        rsp = transact(radio, frame, target, msgs[i], args.wait, c["counter"] & 0xFF)
        if rsp is None:
            tries += 1
            if tries > args.retries:
                print(
                    "%s: link lost; giving up after %d tries (run again to resume)"
                    % (tag, args.retries)
                )
                return 3
            print("%s: no answer; asking the hub which commands ran..." % tag)
            time.sleep(min(2**tries * 0.25, 5))
            rest = executed(
                radio, frame, conf, target, whose, [cc["counter"] for cc in cmds[i:]], args.wait
            )
            if rest is not None:
                for k, q in enumerate(rest):
                    done[i + k] = q != cat.Q_NOT_EXECUTED
            continue
        tries = 0
        d = describe.gbcs_message(rsp)
        print("%s: %s" % (tag, d.get("status")))
        if d.get("status") not in ("ok", "duplicate", "forwarded"):
            print("stopped: the service request must not go on past a failed command")
            return 2
        done[i] = True
        i += 1
    radio.close()
    print("service request complete")
    return 0


def decode(args):
    redact = not args.show_sensitive
    if args.pcap:
        _, records = read_pcap(args.pcap)
        frames = (raw for _, raw in records)
    else:
        frames = live_frames(args)
    for raw in frames:
        d = decoder.frame(raw, redact)
        print(json.dumps(d) if args.json else decoder.line(d))
        sys.stdout.flush()
    return 0


def live_frames(args):
    radio = open_radio(args)
    radio.hello()
    radio.configure(args.channel, 0xFFFF, 0xFFFF, HHT_EUI)
    frame = RxFrame(radio.HEADROOM)
    last_hello = time.monotonic()
    try:
        while True:
            if time.monotonic() - last_hello > 10:
                radio.hello()
                last_hello = time.monotonic()
            if radio.recv(frame):
                yield bytes(frame.buf[frame.off : frame.off + frame.n])
            else:
                time.sleep(0.005)
    except KeyboardInterrupt:
        return


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="hht", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--medium", default="127.0.0.1:17754", help="the ZEP medium (HOST:PORT)")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan", help="active scan: list hubs by GUID, PAN ID, channel, LQI")
    p.add_argument("--channels", default="11-26", help="channel or range, e.g. 11 or 11-26")
    p.add_argument("--wait", type=float, default=0.3, help="seconds to listen per channel")
    p.add_argument("--json", action="store_true", help="one JSON object per hub")
    p.set_defaults(func=scan)
    p = sub.add_parser("discover", help="ask one hub for its details over inter-PAN")
    p.add_argument("guid", help="the hub's GUID, e.g. 00-23-7E-00-00-12-D6-87")
    p.add_argument("--channel", type=int, default=11, help="the hub's channel (from scan)")
    p.add_argument("--wait", type=float, default=1.0, help="seconds to wait for each answer")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=discover)
    p = sub.add_parser("send", help="send one signed command over inter-PAN, show the response")
    p.add_argument("guid", help="the hub's GUID")
    p.add_argument("message", help="message name (read_hub_status, interpan_off, ...) or code")
    p.add_argument("fields", nargs="*", help="the command's fields, each in hex")
    p.add_argument(
        "--as",
        dest="as_party",
        default="installer",
        help="the provisioned party to sign as (default installer)",
    )
    p.add_argument("--counter", type=int, help="the originator counter (default: ms since 1970)")
    p.add_argument("--to", help="the target device's GUID when it is not the hub")
    p.add_argument("--channel", type=int, default=11)
    p.add_argument("--wait", type=float, default=2.0)
    p.add_argument("--provisioning", help="parties and keys (default tools/demo/lab.json)")
    p.add_argument("--show-sensitive", action="store_true", help="do not redact")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=send)

    def hub_args(p, wait=2.0):
        p.add_argument("--channel", type=int, default=11, help="the hub's channel")
        p.add_argument("--wait", type=float, default=wait, help="seconds to wait for an answer")
        p.add_argument("--provisioning", help="parties and keys (default tools/demo/lab.json)")

    p = sub.add_parser("run", help="execute a service request; resume after a lost link")
    p.add_argument("file", help="the service request (JSON, docs/hht.md)")
    p.add_argument("--retries", type=int, default=5, help="tries per command on a lost link")
    hub_args(p)
    p.set_defaults(func=run)
    for name, func, text in (
        ("set-time", set_time, "set the hub's clock (end of visit)"),
        ("interpan-off", interpan_off, "close inter-PAN (end of visit)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("guid", help="the hub's GUID")
        if name == "set-time":
            p.add_argument("epoch", nargs="?", type=int, help="seconds since 1970 (default now)")
        p.add_argument("--as", dest="as_party", default="installer")
        p.add_argument("--json", action="store_true")
        hub_args(p)
        p.set_defaults(func=func)
    p = sub.add_parser("decode", help="print every frame through all layers, redacted")
    p.add_argument("--pcap", help="a capture (linktype 195); without it, listen live")
    p.add_argument("--channel", type=int, default=11, help="channel to listen on (live)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.add_argument("--show-sensitive", action="store_true", help="do not redact")
    p.set_defaults(func=decode)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `hht.py decode ... | head`
        sys.exit(0)
