"""The Hand Held Terminal: an installer's tool that talks to hubs over the radio.

    python tools/hht.py [--medium HOST:PORT] scan [--channels 11-26] [--wait 0.3] [--json]
    python tools/hht.py [--medium HOST:PORT] discover GUID [--channel 11] [--json]
    python tools/hht.py [--medium HOST:PORT] send GUID MESSAGE [FIELD ...] [--counter N] [--as P]
    python tools/hht.py [--medium HOST:PORT] run SERVICE_REQUEST.json [--json]
    python tools/hht.py [--medium HOST:PORT] set-time GUID [EPOCH] | interpan-off GUID
    python tools/hht.py [--medium HOST:PORT] watch GUID
    python tools/hht.py [--medium HOST:PORT] decode [--pcap FILE] [--json] [--show-sensitive]
                                                    [--keys FILE] [--key HEX ...]

`scan` is an IEEE 802.15.4 active scan: a beacon request on each channel, then the beacons
that answer it, listed by hub GUID (the ZigBee Extended PAN ID), PAN ID, channel and LQI.
`discover` asks one hub over ZigBee inter-PAN for its details: inter-PAN state and seconds
left, WAN state, and the GUIDs in its device log. The hub broadcasts its answers, one page of
its device log at a time and the pages in turn, so the HHT takes any answer it hears from that
hub (during a flood its own request may not be the one answered) and asks again until it has
every page. A hub whose inter-PAN is off does not answer. `--eui` gives this HHT another EUI-64
(a second HHT in the lab).
`send` carries one GBCS command (signed with a provisioned party's key, tools/demo/lab.json in
the lab) to the hub over inter-PAN, in the SE Tunneling cluster, and shows the response.
`run` executes a service request (an ordered file of commands, docs/hht.md); after a lost link
it asks the hub which commands executed and resumes from the first that has not.
`set-time` and `interpan-off` are the installer's end-of-visit actions. `watch` shows one
hub's state, refreshed in place. `decode` prints every frame of a capture (or, live, on the
medium) through all layers, sensitive fields redacted. HAN frames are NWK-encrypted and are
decrypted given keys: --keys takes a provisioning file (its device log's install codes give the
meters' link keys, which open the hub's Transport-Keys and so teach the network key, as
Wireshark learns it), --key a 16-octet network or link key. The radio is the firmware's own HAL
radio
(ZEP on loopback in the lab); --medium defaults to the running lab's (its --dir, `--lab`).

When a hub does not answer, the HHT finds out why: no medium (the lab is not running), no hub
on the channel, no hub with that GUID, or a hub that beacons with its inter-PAN off. Counters
are kept per party in the lab directory (counters.json), shared with the head-end; give
--counter only to repeat one on purpose. The HHT paces its frames (--pace) under the budget
the hub gives an HHT that has authenticated (4 a second), so a long service request never
spends it.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.frame import RxFrame  # noqa: E402
from firmware import cmd_ber as ber  # noqa: E402
from firmware import cmd_catalogue as cat  # noqa: E402
from firmware import cmd_gbcs as gbcs  # noqa: E402
from firmware import hub_reject as reject  # noqa: E402
from firmware import ipan_discovery as discovery  # noqa: E402
from firmware import mac  # noqa: E402
from firmware import mac_peer as peer  # noqa: E402
from firmware import zb_interpan as interpan_frame  # noqa: E402
from firmware import zb_zcl as zcl  # noqa: E402
from firmware.cmd_pipeline import TUNNEL_TRANSFER_DATA, TUNNEL_TRANSFER_DATA_RSP, signed  # noqa: E402
from firmware.eui64 import equals_le, to_guid  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from hal.sim.radio_zep import ZepRadio  # noqa: E402
from tools import cli, describe, labdir, provisioning  # noqa: E402
from tools import decode as decoder  # noqa: E402
from tools.counters import Counters  # noqa: E402
from tools.pcap import read_pcap  # noqa: E402

HHT_EUI = bytes.fromhex("0023 7EFF FE00 0001".replace(" ", ""))
RESUME_HINT = "run the same file again to resume: nothing that ran runs twice"


def channels(spec):
    lo, _, hi = spec.partition("-")
    try:
        out = list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        out = []
    if not out or out[0] < 11 or out[-1] > 26:
        raise cli.Fail(cli.USAGE, "--channels %r: give a channel or a range within 11-26" % spec)
    return out


def guid_arg(text):
    eui = parse_eui(text)
    if eui is None:
        raise cli.Fail(cli.USAGE, "not a GUID: %r (e.g. 00-23-7E-00-00-12-D6-87)" % text)
    return eui


def open_radio(args):
    host, _, port = args.medium.rpartition(":")
    try:
        radio = ZepRadio(medium_port=int(port), medium_host=host or "127.0.0.1")
    except (ValueError, OSError, IndexError) as e:
        raise cli.Fail(
            cli.USAGE, "--medium %r: not a HOST:PORT here (%s)" % (args.medium, e)
        ) from None
    radio.hello()
    return radio


class Pacer:
    """The HHT's own frame budget, a token bucket under the hub's per-source limit (4/s,
    burst 16 by default): a paced HHT is never dropped as a flood source."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = time.monotonic()

    def wait(self):
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            time.sleep((1 - self.tokens) / self.rate)
            self.last = time.monotonic()
            self.tokens = 1
        self.tokens -= 1


_UNPACED = Pacer(0, 0)


def receive(radio, frame, seconds):
    """Yield every received frame with a good FCS for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if radio.recv(frame):
            if frame.crc_ok:
                yield frame
        else:
            time.sleep(0.002)


def no_medium(args, radio):
    # The kernel reports "port unreachable" for a datagram to a medium that is not there on
    # the socket's next call: a receive (rx_refused) or a send (which then fails: tx_fail).
    if radio.stats["rx_refused"] or radio.stats["tx_fail"]:
        raise cli.Fail(
            cli.NO_LAB,
            "no medium at %s: is the lab running? (make run; or give --medium)" % args.medium,
        )


def own_eui(args):
    eui = parse_eui(args.eui) if getattr(args, "eui", None) else HHT_EUI
    if eui is None:
        raise cli.Fail(
            cli.USAGE, "--eui %r: not an EUI-64 (e.g. 00-23-7E-FF-FE-00-00-02)" % args.eui
        )
    return eui


def beacons(radio, frame, ch, wait, seq=0, eui=HHT_EUI):
    """The hubs that answer a beacon request on channel ch: {GUID: hub dict}."""
    f = mac.MacFrame()
    tx = bytearray(16)
    radio.configure(ch, 0xFFFF, 0xFFFF, eui)
    radio.send(tx, peer.build_beacon_request(tx, seq))
    found = {}
    for fr in receive(radio, frame, wait):
        if mac.parse(fr.buf, fr.off, fr.n, f) != reject.OK or f.ftype != mac.BEACON:
            continue
        p = peer.beacon_payload_off(fr.buf, f)
        zb = p > 0 and peer.parse_zigbee_payload(fr.buf, p, f.payload_end)
        if not zb:
            continue
        sf = peer.beacon_superframe(fr.buf, f)
        guid = to_guid(zb["epid"])
        found[guid] = {
            "guid": guid,
            "pan_id": "0x%04X" % f.src_pan,
            "channel": ch,
            "lqi": fr.lqi,
            "permit_join": bool(sf & mac.SF_PERMIT),
            "stack_profile": zb["stack_profile"],
        }
    return found


def progress(text, last=False):
    # Scan progress for a person at a terminal, rewritten in place; scripts get none.
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text + ("\n" if last else ""))
        sys.stderr.flush()


def scan(args):
    chans = channels(args.channels)
    radio = open_radio(args)
    frame = RxFrame(radio.HEADROOM)
    found = {}
    try:
        for i, ch in enumerate(chans):
            progress(
                "scanning channel %d (%d of %d): %d hub(s) so far"
                % (ch, i + 1, len(chans), len(found))
            )
            for guid, h in beacons(radio, frame, ch, args.wait, i, own_eui(args)).items():
                found[(guid, ch)] = h
            no_medium(args, radio)
        progress("scanned %d channel(s): %d hub(s)" % (len(chans), len(found)), last=True)
    finally:
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
    if not hubs:
        raise cli.Fail(cli.NO_HUB, "no hub answered on channel(s) %s" % args.channels)
    return cli.OK


def interpan_replies(radio, frame, seconds, cluster, broadcast=False):
    """Yield (buf, MacFrame, ZclHeader) for each inter-PAN frame of `cluster` sent to this HHT
    (the radio's EUI-64) or, with broadcast, to every HHT listening."""
    f = mac.MacFrame()
    ih = interpan_frame.InterPanHeader()
    zh = zcl.ZclHeader()
    for fr in receive(radio, frame, seconds):
        buf = fr.buf
        if mac.parse(buf, fr.off, fr.n, f) or not interpan_frame.is_interpan(buf, f):
            continue
        to_all = f.dst_mode == mac.ADDR_SHORT and f.dst_short == mac.BROADCAST
        if not (broadcast and to_all):
            if f.dst_mode != mac.ADDR_EXT or not equals_le(buf, f.dst_ext_off, radio.ext_addr, 0):
                continue
        if interpan_frame.parse(buf, f, ih) or ih.cluster != cluster:
            continue
        if zcl.parse(buf, ih.zcl_off, f.payload_end, zh) == zcl.OK:
            yield buf, f, zh


def hub_details(radio, frame, target, wait, pacer=_UNPACED, ask_every=0.5):
    """The hub's discovery answer (every page of its device log), or None when nothing is heard
    from it within `wait` seconds. Any answer from that hub counts, whoever asked: the hub
    broadcasts them and serves the pages in turn, and during a flood of requests its answers
    are rationed, each one serving every HHT listening. Asks again every `ask_every` s."""
    tx = bytearray(127)
    pages = {}
    details = None
    seq = 0
    deadline = time.monotonic() + wait
    while details is None or len(pages) * discovery.PAGE < max(details["devices_total"], 1):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        seq += 1
        p = interpan_frame.write_header(
            tx, seq, 0xFFFF, target, 0xFFFF, radio.ext_addr, discovery.CLUSTER
        )
        p = zcl.write(tx, p, zcl.CLUSTER_SPECIFIC, seq, discovery.CMD_GET_DETAILS)
        # The first page missing: a hint only (the hub's answers take the pages in turn).
        tx[p] = next(s for s in range(0, 256, discovery.PAGE) if s not in pages)
        pacer.wait()
        radio.send(tx, p + 1)
        for buf, f, zh in interpan_replies(
            radio, frame, min(ask_every, left), discovery.CLUSTER, True
        ):
            if zh.command != discovery.CMD_DETAILS or not zh.fc & zcl.SERVER_TO_CLIENT:
                continue
            page = discovery.parse_details(buf, zh.payload_off, f.payload_end)
            if page is None or page["guid"] != target:
                continue
            if details is not None and page["devices_total"] != details["devices_total"]:
                pages = {}  # the device log changed meanwhile: collect it again
            details = page
            pages[page["start"]] = page["devices"]
            break
    details["guid"] = to_guid(details["guid"])
    details["pan_id"] = "0x%04X" % details["pan_id"]
    details["devices"] = [to_guid(e) for s in sorted(pages) for e in pages[s]]
    del details["start"]
    return details


def why_silent(args, radio, frame, target, commanded=False, pacer=_UNPACED):
    """Raise the Fail that says why the hub did not answer: no medium, no hub on the channel,
    no hub with that GUID, inter-PAN off, or (commanded: discovery answers, the command did
    not) a key it does not trust or a rate limit."""
    no_medium(args, radio)
    guid = to_guid(target)
    heard = beacons(radio, frame, args.channel, min(args.wait, 1.0), eui=own_eui(args))
    radio.configure(args.channel, 0xFFFF, 0xFFFF, own_eui(args))
    no_medium(args, radio)
    if not heard:
        raise cli.Fail(
            cli.NO_HUB,
            "no hub on channel %d (is it another channel? hht.py scan)" % args.channel,
        )
    if guid not in heard:
        raise cli.Fail(
            cli.NO_HUB,
            "no hub %s on channel %d; heard: %s (check the GUID on its label)"
            % (guid, args.channel, ", ".join(sorted(heard))),
        )
    if commanded and hub_details(radio, frame, target, args.wait, pacer) is not None:
        raise cli.Fail(
            cli.NO_ANSWER,
            "hub %s answers discovery but not the command: is --as %s a party it trusts "
            "(right key), or is this HHT rate-limited? Its log says (command_rejected, "
            "frame_rejected)" % (guid, getattr(args, "as_party", "?")),
        )
    raise cli.Fail(
        cli.INTERPAN_OFF,
        "hub %s is there (it beacons) but its inter-PAN is off: power-cycle it "
        "(tools/lab.py reset), or enable it from a meter's installer menu" % guid,
    )


def discover(args):
    target = guid_arg(args.guid)
    radio, frame = hub_radio(args)
    try:
        details = hub_details(radio, frame, target, args.wait)
        if details is None:
            why_silent(args, radio, frame, target)
    finally:
        radio.close()
    if args.json:
        print(json.dumps(details))
        return cli.OK
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
    return cli.OK


FIRST_WAIT_S = 0.5  # a lab hub answers in tens of ms: a repeat before this would be noise
REPEAT_S = 0.1  # then the repeat interval while unanswered (docs/dos.md: the 5 s guarantee)


def transact(radio, frame, target, message, wait, seq=1, final=False, pacer=_UNPACED):
    """Send one GBCS message to the hub over inter-PAN; its response (bytes) or None. With
    final, a "forwarded" answer is followed by the meter's own, which is returned instead."""
    tx = bytearray(127)
    src = radio.ext_addr  # this HHT
    p = interpan_frame.write_header(tx, seq, 0xFFFF, target, 0xFFFF, src, zcl.TUNNELING)
    p = zcl.write(tx, p, zcl.CLUSTER_SPECIFIC, seq, TUNNEL_TRANSFER_DATA)
    tx[p] = tx[p + 1] = 0  # tunnel ID 0: inter-PAN has no tunnel session
    p += 2
    if p + len(message) > len(tx) - 2:
        raise cli.Fail(
            cli.USAGE, "the command does not fit one inter-PAN frame (%d octets)" % len(message)
        )
    tx[p : p + len(message)] = message
    n = p + len(message)
    # The same frame again every REPEAT_S (after FIRST_WAIT_S) until answered: through a flood
    # the hub verifies a share of what arrives, drawn by lot (docs/dos.md), so a repeated
    # command gets through where a single try mostly does not. A copy the hub accepted earlier
    # (its answer lost) is answered "duplicate": first wins, it never runs twice.
    deadline = time.monotonic() + wait
    tries = 0
    pacer.wait()  # repeats are not paced: unanswered, the first copy spent nothing of ours
    while time.monotonic() < deadline:
        radio.send(tx, n)
        tries += 1
        listen = min(
            FIRST_WAIT_S if tries == 1 else REPEAT_S, max(0.0, deadline - time.monotonic())
        )
        for buf, f, zh in interpan_replies(radio, frame, listen, zcl.TUNNELING):
            if zh.seq == seq and zh.command == TUNNEL_TRANSFER_DATA_RSP:
                rsp = bytes(buf[zh.payload_off + 2 : f.payload_end])
                status = describe.gbcs_message(rsp).get("status")
                if status == "duplicate" and tries > 1:
                    print(
                        "an earlier copy of this command was accepted (its answer was lost);"
                        " 'hht.py run' asks the hub what executed",
                        file=sys.stderr,
                    )
                if not final or status != "forwarded":
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
    content = ber.sequence(*(cli.hex_field(f) for f in fields_hex))
    return signed(gbcs.COMMAND, counter, orig, target, code, content, key)


def hub_radio(args):
    radio = open_radio(args)
    radio.configure(args.channel, 0xFFFF, 0xFFFF, own_eui(args))
    return radio, RxFrame(radio.HEADROOM)


def pacer_of(args):
    return Pacer(args.pace, 8)


def show(d, as_json, verbose=False, rsp=b""):
    fields = describe.response_fields(d)
    if as_json:
        if fields is not None:
            d = dict(d, fields=fields)
        if verbose:
            d = dict(d, hex=rsp.hex())
        print(json.dumps(d))
        return
    print("%s #%s: %s" % (d.get("message"), d.get("counter"), d.get("status")))
    for k, v in describe.field_lines(d, fields):
        print("  %-12s %s" % (k, v))
    if verbose:
        print("  %-12s %s" % ("response", rsp.hex()))


def stale_hint(d, who):
    return (
        "counter %s is below the hub's window for %s (it accepts each counter once, none more "
        "than its replay window, commands.replay_window, below the highest it has accepted): "
        "leave out --counter, or start the lab clean (tools/lab.py --fresh)"
        % (d.get("counter"), who)
    )


def send(args):
    target = guid_arg(args.guid)
    conf = provisioning.load(args.provisioning)
    to = guid_arg(args.to) if args.to else target
    orig, _ = provisioning.party(conf, args.as_party)
    party = to_guid(orig)
    store = Counters(args.lab)
    explicit = args.counter is not None
    counter = args.counter if explicit else store.next(party)
    msg = build_command(conf, args.as_party, counter, to, args.message, args.fields)
    if explicit:
        store.learn(party, counter)
    pacer = pacer_of(args)
    radio, frame = hub_radio(args)
    try:
        if args.verbose:
            print("command  %s" % msg.hex(), file=sys.stderr)
        rsp = transact(radio, frame, target, msg, args.wait, counter & 0xFF, True, pacer)
        if rsp is None:
            why_silent(args, radio, frame, target, commanded=True, pacer=pacer)
    finally:
        radio.close()
    d = describe.gbcs_message(rsp, redact=not args.show_sensitive)
    show(d, args.json, args.verbose, rsp)
    st = d.get("status")
    if st == "stale":
        raise cli.Fail(cli.FAILED, stale_hint(d, args.as_party))
    if st != "ok":
        raise cli.Fail(cli.FAILED, "%s: %s" % (d.get("message"), st))
    return cli.OK


def end_of_visit(args, message, fields=()):
    args.message, args.fields, args.to, args.show_sensitive = message, list(fields), None, False
    args.counter = None
    args.verbose = False
    return send(args)


def set_time(args):
    epoch = int(args.epoch if args.epoch is not None else time.time())
    return end_of_visit(args, "set_hub_clock", ["%08x" % epoch])


def interpan_off(args):
    return end_of_visit(args, "interpan_off")


def executed(radio, frame, conf, target, whose, counters, wait, store, pacer=_UNPACED):
    """The hub's answer for each of `whose` counters (catalogue Q_ codes), in batches; None
    for a batch that got no answer."""
    from firmware.cmd_pipeline import QUERY_MAX

    installer = to_guid(provisioning.party(conf, "installer")[0])
    out = []
    for i in range(0, len(counters), QUERY_MAX):
        batch = counters[i : i + QUERY_MAX]
        fields = [whose.hex()] + ["%016x" % c for c in batch]
        counter = store.next(installer)
        q = build_command(conf, "installer", counter, target, "executed_query", fields)
        rsp = transact(radio, frame, target, q, wait, counter & 0xFF, pacer=pacer)
        d = rsp and describe.gbcs_message(rsp, redact=False)
        if not d or d.get("status") != "ok":
            return None
        out += list(bytes.fromhex(d["content"][0]))
    return out


def load_service_request(path):
    sr = cli.read_json(path, "the service request")
    try:
        guid_arg(sr["hub"])
        cmds = sr["commands"]
        for c in cmds:
            int(c["counter"])
            str(c["message"])
        return sr
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise cli.Fail(
            cli.USAGE,
            "%s: not a service request (%s; docs/hht.md shows the layout)" % (path, e),
        ) from None


def run(args):
    """A service request: commands in order; after a lost link, ask the hub what ran."""
    sr = load_service_request(args.file)
    conf = provisioning.load(args.provisioning)
    target = parse_eui(sr["hub"])
    whose, _ = provisioning.party(conf, sr.get("as", "supplier"))
    cmds = sr["commands"]
    store = Counters(args.lab)
    # Built (signed) once: a retry or a resume sends the very same octets.
    msgs = [
        build_command(
            conf,
            sr.get("as", "supplier"),
            int(c["counter"]),
            guid_arg(c["to"]) if c.get("to") else target,
            c["message"],
            c.get("fields", ()),
        )
        for c in cmds
    ]
    total = len(cmds)

    def say(text, **rec):
        if args.json:
            print(json.dumps(rec))
        else:
            print(text)
        sys.stdout.flush()

    pacer = pacer_of(args)
    radio, frame = hub_radio(args)
    try:
        say(
            "service request %s: %d commands for %s" % (args.file, total, to_guid(target)),
            event="start",
            file=args.file,
            commands=total,
            hub=to_guid(target),
        )
        done = [False] * total
        counters = [int(c["counter"]) for c in cmds]
        state = executed(radio, frame, conf, target, whose, counters, args.wait, store, pacer)
        for attempt in range(args.retries):
            if state is not None:
                break
            time.sleep(min(2**attempt * 0.25, 5))
            state = executed(radio, frame, conf, target, whose, counters, args.wait, store, pacer)
        if state is None:
            why_silent(args, radio, frame, target, commanded=True, pacer=pacer)
        for i, q in enumerate(state):
            done[i] = q != cat.Q_NOT_EXECUTED
        i = 0
        tries = 0
        while i < total:
            c = cmds[i]
            tag = "[%d/%d] %s #%d" % (i + 1, total, c["message"], c["counter"])
            rec = dict(index=i + 1, message=c["message"], counter=int(c["counter"]))
            if done[i]:
                say("%s: already executed, skipped" % tag, event="skipped", **rec)
                i += 1
                continue
            rsp = transact(
                radio, frame, target, msgs[i], args.wait, c["counter"] & 0xFF, pacer=pacer
            )
            if rsp is None:
                tries += 1
                if tries > args.retries:
                    raise cli.Fail(
                        cli.NO_ANSWER,
                        "%s: no answer after %d tries; the link is lost: %s"
                        % (tag, args.retries, RESUME_HINT),
                    )
                say(
                    "%s: no answer; asking the hub which commands ran..." % tag,
                    event="retry",
                    **rec,
                )
                time.sleep(min(2**tries * 0.25, 5))
                rest = executed(
                    radio, frame, conf, target, whose, counters[i:], args.wait, store, pacer
                )
                if rest is not None:
                    for k, q in enumerate(rest):
                        done[i + k] = q != cat.Q_NOT_EXECUTED
                continue
            tries = 0
            d = describe.gbcs_message(rsp)
            say("%s: %s" % (tag, d.get("status")), event="command", status=d.get("status"), **rec)
            if d.get("status") not in ("ok", "duplicate", "forwarded"):
                why = ""
                if d.get("status") == "stale":
                    why = (
                        "its counter is below the hub's replay window for %s (commands.replay_"
                        "window below the highest it has accepted): the request is older than "
                        "what the hub has run since; get a new one, or start the lab clean "
                        "(tools/lab.py --fresh)" % sr.get("as", "supplier")
                    )
                raise cli.Fail(
                    cli.FAILED,
                    "%s: %s; the service request stops here (a later command may depend on it)%s"
                    % (tag, d.get("status"), "; " + why if why else ""),
                )
            done[i] = True
            i += 1
    finally:
        radio.close()
    say("service request complete", event="complete")
    return cli.OK


def watch(args):
    """One hub's state, refreshed in place: over the radio (discovery) and, when the lab's hub
    log is at hand, joined devices and drops by reason from it."""
    from tools import hublog

    target = guid_arg(args.guid)
    log = args.log if args.log is not None else os.path.join(args.lab, "hub.log")
    follower = hublog.Follower(log) if os.path.exists(log) else None
    radio, frame = hub_radio(args)
    tty = sys.stdout.isatty() and not args.json
    n = 0
    try:
        while True:
            details = hub_details(radio, frame, target, args.wait)
            no_medium(args, radio)
            state = follower.poll() if follower is not None else None
            view = hublog.view(details, state, to_guid(target))
            if args.json:
                print(json.dumps(view))
            else:
                if tty:
                    sys.stdout.write("\033[H\033[J")
                print(hublog.render(view))
            sys.stdout.flush()
            n += 1
            if args.count and n >= args.count:
                return cli.OK
            time.sleep(args.interval)
    finally:
        radio.close()


def decode_keys(args):
    # The keys `decode` tries (tools.decode.Keys), or None when none were given.
    if not args.keys and not args.key:
        return None
    extra = []
    for k in args.key or ():
        try:
            extra.append(bytes.fromhex(k))
        except ValueError:
            extra.append(b"")
        if len(extra[-1]) != 16:
            raise cli.Fail(cli.USAGE, "--key %s: a key is 32 hex digits" % k)
    conf = provisioning.load(args.keys) if args.keys else {}
    try:
        return decoder.load_keys(conf, extra)
    except ValueError as e:
        raise cli.Fail(cli.USAGE, "--keys %s: %s" % (args.keys, e)) from None


def decode(args):
    redact = not args.show_sensitive
    keys = decode_keys(args)
    told = False
    if args.pcap:
        try:
            _, records = read_pcap(args.pcap)
        except FileNotFoundError:
            raise cli.Fail(cli.USAGE, "%s: no such file" % args.pcap) from None
        except (OSError, ValueError) as e:
            raise cli.Fail(cli.USAGE, "%s: not a pcap capture (%s)" % (args.pcap, e)) from None
        frames = records
    else:
        frames = live_frames(args)
    for ts, raw in frames:
        d = decoder.frame(raw, redact, keys)
        d["time"] = round(ts, 6)
        print(json.dumps(d) if args.json else decoder.line(d))
        sys.stdout.flush()
        if keys is None and not told and ("nwk_security" in d or "aps_command" in d):
            told = True
            sys.stderr.write(
                "hht decode: HAN frames are encrypted; give --keys tools/demo/lab.json (the "
                "meters' install codes) or --key HEX to decrypt them\n"
            )
    return cli.OK


def live_frames(args):
    radio = open_radio(args)
    radio.configure(args.channel, 0xFFFF, 0xFFFF, own_eui(args))
    frame = RxFrame(radio.HEADROOM)
    last_hello = time.monotonic()
    try:
        while True:
            if time.monotonic() - last_hello > 10:
                radio.hello()
                last_hello = time.monotonic()
            if radio.recv(frame):
                yield time.time(), bytes(frame.buf[frame.off : frame.off + frame.n])
            else:
                no_medium(args, radio)
                time.sleep(0.005)
    except KeyboardInterrupt:
        return
    finally:
        radio.close()


def parser():
    ap = argparse.ArgumentParser(
        prog="hht",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXITS,
    )
    ap.add_argument("--medium", help="the ZEP medium, HOST:PORT (default: the lab's, or :17754)")
    ap.add_argument(
        "--lab", default=labdir.DEFAULT, help="the lab directory: its ports and the counters"
    )
    ap.add_argument("--eui", help="this HHT's own EUI-64 (default 00-23-7E-FF-FE-00-00-01)")
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name, func, text):
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXITS,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    def hub_args(p, wait=2.0):
        p.add_argument("--channel", type=int, default=11, help="the hub's channel (from scan)")
        p.add_argument("--wait", type=float, default=wait, help="seconds to wait for an answer")
        p.add_argument("--provisioning", help="parties and keys (default tools/demo/lab.json)")
        p.add_argument(
            "--pace", type=float, default=3.0, help="frames per second at most (0: unpaced)"
        )
        p.add_argument("--json", action="store_true", help="JSON output, one object per line")

    p = command("scan", scan, "active scan: list hubs by GUID, PAN ID, channel, LQI")
    p.add_argument("--channels", default="11-26", help="channel or range, e.g. 11 or 11-26")
    p.add_argument("--wait", type=float, default=0.3, help="seconds to listen per channel")
    p.add_argument("--json", action="store_true", help="one JSON object per hub")
    p = command("discover", discover, "ask one hub for its details over inter-PAN")
    p.add_argument("guid", help="the hub's GUID, e.g. 00-23-7E-00-00-12-D6-87")
    hub_args(p, wait=2.0)
    p = command("send", send, "send one signed command over inter-PAN, show the response")
    p.add_argument("guid", help="the hub's GUID")
    p.add_argument("message", help="message name (read_hub_status, interpan_off, ...) or code")
    p.add_argument("fields", nargs="*", help="the command's fields, each in hex")
    p.add_argument(
        "--as",
        dest="as_party",
        default="installer",
        help="the provisioned party to sign as (default installer)",
    )
    p.add_argument(
        "--counter", type=int, help="the originator counter (default: the party's next)"
    )
    p.add_argument("--to", help="the target device's GUID when it is not the hub")
    p.add_argument("--show-sensitive", action="store_true", help="do not redact")
    p.add_argument("-v", "--verbose", action="store_true", help="the octets too, in hex")
    hub_args(p)
    p = command("run", run, "execute a service request; resume after a lost link")
    p.add_argument("file", help="the service request (JSON, docs/hht.md)")
    p.add_argument("--retries", type=int, default=5, help="tries per command on a lost link")
    hub_args(p)
    for name, func, text in (
        ("set-time", set_time, "set the hub's clock (end of visit)"),
        ("interpan-off", interpan_off, "close inter-PAN (end of visit)"),
    ):
        p = command(name, func, text)
        p.add_argument("guid", help="the hub's GUID")
        if name == "set-time":
            p.add_argument("epoch", nargs="?", type=int, help="seconds since 1970 (default now)")
        p.add_argument("--as", dest="as_party", default="installer")
        hub_args(p)
    p = command("watch", watch, "one hub's state, refreshed in place (Ctrl-C stops)")
    p.add_argument("guid", help="the hub's GUID")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    p.add_argument("--count", type=int, default=0, help="stop after N views (0: until Ctrl-C)")
    p.add_argument("--log", help="the hub's event log (default: hub.log in the lab directory)")
    hub_args(p, wait=1.0)
    p = command("decode", decode, "print every frame through all layers, redacted")
    p.add_argument("--pcap", help="a capture (linktype 195); without it, listen live")
    p.add_argument("--channel", type=int, default=11, help="channel to listen on (live)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.add_argument("--show-sensitive", action="store_true", help="do not redact")
    p.add_argument("--keys", help="a provisioning file whose install codes decrypt the HAN")
    p.add_argument("--key", action="append", help="a network or link key (32 hex digits)")
    return ap


EXITS = cli.epilog(
    cli.FAILED,
    cli.USAGE,
    cli.NO_LAB,
    cli.NO_HUB,
    cli.INTERPAN_OFF,
    cli.NO_ANSWER,
    cli.INTERRUPTED,
)


def main(argv=None):
    args = parser().parse_args(argv)
    if args.medium is None:
        args.medium = "127.0.0.1:%d" % labdir.port(args.lab, "medium", 17754)
    return args.func(args)


def interrupted():
    if len(sys.argv) > 1 and "run" in sys.argv[1:]:
        return RESUME_HINT
    return None


if __name__ == "__main__":
    sys.exit(cli.main("hht", main, on_interrupt=interrupted))
