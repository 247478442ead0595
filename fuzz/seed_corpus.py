"""Seed corpora for the fuzz targets, from the frames and messages the project itself produces.

    python fuzz/seed_corpus.py [--out build/fuzz/corpus] [--pcap FILE ...] [--target NAME ...]

Deterministic sources: the public test vectors (tests_device/vectors.py), the HHT's inter-PAN
frames (tests_device/interpan_frames.py), what a hub built by fuzz/targets.py's Rig answers to
them (beacons, discovery answers, signed tunnel replies, association responses), meters' HAN
frames built with firmware.mac/nwk, GBCS commands signed with the lab's demo keys
(firmware.cmd_pipeline.signed), head-end stream messages (contract.wan_msg) and ZEP datagrams
(hal/sim/zep.py write_header / write_hello). With --pcap, every record of a capture (link type
195 with FCS, or 230 without) is added too, e.g. the lab/capture.pcap `make run` writes.

Each target gets the inputs in the shape it reads (a PSDU, a MAC payload, a ZCL frame, a GBCS
message...), derived from every frame above, one file per distinct input named by its SHA-1.
"""

import argparse
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from contract import wan_msg  # noqa: E402
from contract.crc16 import append_fcs  # noqa: E402
from contract.frame import PSDU_MAX, RxFrame  # noqa: E402
from firmware import cmd_ber as ber  # noqa: E402
from firmware import cmd_catalogue as cat  # noqa: E402
from firmware import cmd_gbcs as gbcs  # noqa: E402
from firmware import decision, han_mac, mac  # noqa: E402
from firmware import hub_reject as reject  # noqa: E402
from firmware import ipan_discovery as discovery  # noqa: E402
from firmware import mac_beacon as beacon  # noqa: E402
from firmware import mac_peer as peer  # noqa: E402
from firmware import zb_interpan as interpan_frame  # noqa: E402
from firmware import zb_nwk as nwk  # noqa: E402
from firmware import zb_zcl as zcl  # noqa: E402
from firmware.cmd_pipeline import TUNNEL_TRANSFER_DATA, WAN, signed  # noqa: E402
from fuzz import hostile_wan, targets  # noqa: E402
from hal.sim import zep  # noqa: E402
from tests_device import interpan_frames as ipf  # noqa: E402
from tests_device import vectors  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "build", "fuzz", "corpus")
STRANGER = bytes.fromhex("00237e00000000ff")


def _fcs(buf, n):
    out = bytearray(buf[:n]) + b"\0\0"
    append_fcs(out, n)
    return bytes(out)


def _party(name):
    return targets.PARTIES[name]


# --- GBCS: what the head-end and an HHT send ---------------------------------------------------

# (party, message code, recipient, BER fields): one well-formed command per catalogue entry,
# from a party allowed to send it, plus a few that the hub answers with an error status.
_ESME = targets.DEVICES[0][0]
_GSME = targets.DEVICES[1][0]
COMMANDS = (
    ("supplier", cat.READ_HUB_STATUS, targets.HUB_EUI, ()),
    ("installer", cat.SET_HUB_CLOCK, targets.HUB_EUI, (b"\x6a\x00\x00\x00",)),
    ("supplier", cat.INTERPAN_OFF, targets.HUB_EUI, ()),
    ("esme", cat.INTERPAN_ENABLE, targets.HUB_EUI, ()),
    ("network_operator", cat.DEVICE_LOG_ADD, targets.HUB_EUI, (STRANGER, b"\x02")),
    ("supplier", cat.DEVICE_LOG_REMOVE, targets.HUB_EUI, (_ESME,)),
    (
        "installer",
        cat.EXECUTED_QUERY,
        targets.HUB_EUI,
        (_party("supplier")[0], bytes(8), b"\1" * 8),
    ),
    ("supplier", cat.READ_METER, _ESME, ()),
    ("supplier", cat.READ_GAS, _GSME, ()),
    ("supplier", cat.PREPAY_TOPUP, _ESME, (b"\x00\x00\x27\x10",)),
    ("supplier", cat.TARIFF_UPDATE, _ESME, (b"\x00\x10", b"\x00\x20")),
    ("gsme", cat.DEVICE_LOG_ADD, targets.HUB_EUI, (STRANGER, b"\x01")),  # not permitted
    ("supplier", 0x0F99, targets.HUB_EUI, ()),  # unknown message
    ("supplier", cat.SET_HUB_CLOCK, targets.HUB_EUI, (b"\x01",)),  # bad content
)


def gbcs_commands():
    out = []
    for i, (who, code, recip, fields) in enumerate(COMMANDS):
        orig, key = _party(who)
        out.append(signed(gbcs.COMMAND, 1000 + i, orig, recip, code, ber.sequence(*fields), key))
    orig, key = _party("supplier")
    # With a date-time, and with long-form BER lengths in the content (both parse).
    part = gbcs.signed_part(
        gbcs.COMMAND, 7, orig, targets.HUB_EUI, cat.READ_HUB_STATUS, ber.sequence(), bytes(12)
    )
    out.append(part + b"\x10" + bytes(16))
    content = ber.sequence(b"\x6a\x00\x00\x00", bytes(200))
    out.append(signed(gbcs.COMMAND, 8, orig, targets.HUB_EUI, cat.SET_HUB_CLOCK, content, key))
    return out


def signed_inputs():
    # fuzz_commands_signed's structured inputs (see targets.signed_command) for COMMANDS.
    out = []
    codes = targets._CODES
    for i, (who, code, recip, fields) in enumerate(COMMANDS):
        pick = codes.index(code) if code in codes else code >> 8
        lo = code & 0xFF
        r = targets._RECIPIENTS.index(recip)
        hdr = bytes((targets.PARTY_NAMES.index(who), pick, lo, ((i + 1) << 2 | r) & 0xFF))
        out.append(hdr + ber.sequence(*fields))
    return out


# --- frames: vectors, the HHT, meters, and what the hub answers ---------------------------------


def tunnel_frames(messages):
    # Each GBCS message in an SE Tunneling TransferData frame, as tools/hht.py sends it.
    out = []
    for m in messages:
        if len(m) <= 127 - 40:
            out.append(ipf.frame(zcl.TUNNELING, TUNNEL_TRANSFER_DATA, b"\0\0" + m))
    return out


def han_frames(rig):
    members = rig.members()
    short = members[0][1] if members else 0x1234
    out = [
        targets.assoc_request(_ESME, targets.CAP_MAINS),
        targets.assoc_request(STRANGER, targets.CAP_BATTERY),
    ]
    buf = bytearray(PSDU_MAX)
    for src in (short, _GSME, STRANGER):  # a member's poll, an association poll, a stranger's
        n = peer.build_command(
            buf, 2, targets.PAN_ID, 0x0000, targets.PAN_ID, src, mac.CMD_DATA_REQ
        )
        out.append(_fcs(buf, n))
    p = mac.write_header(buf, mac.COMMAND, 3, 0xFFFF, 0xFFFF, 0xFFFF, _ESME)
    buf[p] = han_mac.CMD_ORPHAN
    out.append(_fcs(buf, p + 1))
    # ZigBee data from a member: a summation report, a read-attributes response, a default
    # response, an APS command and a NWK command.
    zcls = (
        (zcl.METERING, b"\x18\x01\x0a\x00\x00\x25\x10\x27\x00\x00\x00\x00"),
        (zcl.METERING, b"\x18\x02\x01\x00\x00\x00\x25\x10\x27\x00\x00\x00\x00"),
        (0x0000, b"\x10\x03\x0b\x00\x00"),
    )
    for cluster, payload in zcls:
        p = nwk.write_frame(buf, 4, targets.PAN_ID, 0x0000, short, 9, 7, cluster)
        buf[p : p + len(payload)] = payload
        out.append(_fcs(buf, p + len(payload)))
    p = mac.write_header(buf, mac.DATA, 5, targets.PAN_ID, 0, targets.PAN_ID, short, True)
    p = nwk.write_nwk(buf, p, 0x0000, short, 10, dst_ieee=targets.HUB_EUI, src_ieee=_ESME)
    buf[p] = 0x01  # APS command frame
    buf[p + 1] = 0x11
    buf[p + 2] = 0x05
    out.append(_fcs(buf, p + 3))
    p = mac.write_header(buf, mac.DATA, 6, targets.PAN_ID, 0, targets.PAN_ID, short, True)
    q = nwk.write_nwk(buf, p, 0x0000, short, 11)
    buf[p] |= nwk.FT_COMMAND
    buf[q] = 0x08  # a NWK command identifier (link status)
    out.append(_fcs(buf, q + 1))
    out.append(_fcs(buf, peer.build_ack(buf, 9)))
    return out


def _answer(rig, psdu):
    # The hub's reply to psdu (with FCS), or None.
    hub = rig.hub
    hub.out.tx_len = 0
    if hub.on_frame(vectors.load(RxFrame(), psdu), 0) != decision.TRANSMIT:
        return None
    return _fcs(hub.out.tx_buf, hub.out.tx_len)


def frames(messages):
    # Every PSDU the project's code and tests produce, with the hub's and HAN's answers.
    out = list(vectors.ALL) + [
        ipf.get_details(),
        ipf.get_details(9),
        ipf.get_details(dst=b"\xff" * 8),
        ipf.tunnel(),
        ipf.frame(0x0702, 0x00, b"\x00"),
        ipf.frame(discovery.CLUSTER, 0, b"\x00", profile=0x0104),
    ]
    out += tunnel_frames(messages)
    rig = targets.Rig(han=True)
    out += han_frames(rig)
    asked = list(out)
    for psdu in asked:
        for r in (rig, targets.Rig()):
            a = _answer(r, psdu)
            if a is not None:
                out.append(a)
    return out


# --- derivations: each target's view of a frame ------------------------------------------------


def derive(psdu, into):
    # Adds to into[target] what each target reads out of one PSDU.
    into["mac"].append(psdu)
    into["interpan"].append(psdu)
    into["hub"].append(psdu)
    into["hub_han"].append(psdu)
    hdr = bytearray(zep.HEADER_LEN)
    zep.write_header(hdr, 11, 0x1234, 255, 1, len(psdu))
    into["zep"].append(bytes(hdr) + psdu)
    into["zep_radio"].append(bytes(hdr) + psdu)
    f = mac.MacFrame()
    if mac.parse(psdu, 0, len(psdu), f) != reject.OK:
        return
    end = f.payload_end
    if f.ftype == mac.BEACON:
        into["beacon"].append(psdu)
        p = peer.beacon_payload_off(psdu, f)
        if p > 0:
            into["beacon"].append(psdu[p:end])
    if f.ftype != mac.DATA:
        return
    into["nwk"].append(psdu[f.payload_off : end])
    z = zcl.ZclHeader()
    if interpan_frame.is_interpan(psdu, f):
        h = interpan_frame.InterPanHeader()
        if interpan_frame.parse(psdu, f, h) or zcl.parse(psdu, h.zcl_off, end, z):
            return
        into["zcl"].append(psdu[h.zcl_off : end])
        if h.cluster == discovery.CLUSTER and z.fc & zcl.SERVER_TO_CLIENT:
            into["discovery"].append(psdu[z.payload_off : end])
        elif h.cluster == zcl.TUNNELING and z.payload_off + 2 < end:
            gbcs_msg(psdu[z.payload_off + 2 : end], into)
        return
    nh = nwk.NwkHeader()
    ah = nwk.ApsHeader()
    if nwk.parse(psdu, f.payload_off, end, nh, ah) == nwk.OK:
        into["zcl"].append(psdu[ah.payload_off : end])


def gbcs_msg(m, into):
    into["gbcs"].append(m)
    into["commands"].append(m)
    h = gbcs.GbcsHeader()
    if gbcs.parse(m, 0, len(m), h) == gbcs.OK:
        into["ber"].append(m[h.content_off : h.signed_end])
    into["wan_msg"].append(wan_msg.encode(wan_msg.GBCS, m))


def seeds(pcaps=()):
    """{target: [input, ...]} (distinct, in a stable order) from the project's code and tests,
    plus every record of each pcap file in pcaps."""
    into = {name: [] for name in targets.NAMES}
    messages = gbcs_commands()
    rig = targets.Rig()
    for m in messages:
        gbcs_msg(m, into)
        rsp = rig.cmds.process(WAN, m, 0, len(m), 0)[1]
        if rsp is not None:
            gbcs_msg(rsp, into)
    for psdu in frames(messages):
        derive(psdu, into)
    for path in pcaps:
        for psdu in read_capture(path):
            derive(psdu, into)
    into["commands_signed"] += signed_inputs()
    # Hub details as the hub writes them: no timeout, a countdown with a page of the log.
    buf = bytearray(PSDU_MAX)
    euis = [e for e, _ in targets.DEVICES]
    for secs, start in ((None, 0), (3597, 1), (0, 5)):
        n = discovery.write_details(buf, 0, targets.HUB_EUI, 0x1A2B, 11, secs, True, euis, start)
        into["discovery"].append(bytes(buf[:n]))
    into["beacon"].append(beacon.zigbee_payload(targets.HUB_EUI))
    into["ber"] += [ber.response(0), ber.response(5, b"\x01\x02"), ber.sequence(bytes(300))]
    # The head-end stream: requests, a heartbeat, and several messages back to back.
    stream = [
        wan_msg.encode_json({"op": "status"}),
        wan_msg.encode_json({"op": "device_log_add", "guid": "00-23-7E-00-00-00-00-03"}),
        wan_msg.encode(wan_msg.HEARTBEAT),
    ]
    into["wan_msg"] += stream + [b"".join(stream + into["wan_msg"][:2])]
    # One message body each, as the app gets them: requests, unsigned and hostile.
    into["wan_app"] += [m[4:] for m in stream] + hostile_wan.messages()
    # ZEP: a hello, and a batch of datagrams as MicroPython's readinto delivers them.
    hello = bytearray(zep.HEADER_LEN)
    zep.write_hello(hello, 0x1234)
    into["zep"].append(bytes(hello))
    into["zep_radio"] += [bytes(hello), b"".join([bytes(hello)] + into["zep_radio"][:6])]
    out = {}
    for name, items in into.items():
        seen = set()
        out[name] = [x for x in items if not (x in seen or seen.add(x))]
    return out


def read_capture(path):
    """The PSDUs (FCS included) of every record of an 802.15.4 pcap."""
    from tools.pcap import LINKTYPE_IEEE802_15_4_NOFCS, LINKTYPE_IEEE802_15_4_WITHFCS, read_pcap

    linktype, records = read_pcap(path)
    if linktype == LINKTYPE_IEEE802_15_4_WITHFCS:
        return [bytes(d[:PSDU_MAX]) for _, d in records]
    if linktype == LINKTYPE_IEEE802_15_4_NOFCS:
        return [_fcs(d, len(d)) for _, d in records if len(d) <= PSDU_MAX - 2]
    raise SystemExit("%s: link type %d is not 802.15.4 (195 or 230)" % (path, linktype))


# Octets that sit on parsers' boundaries: lengths, BER length forms, address modes, tags.
INTERESTING = (0x00, 0x01, 0x02, 0x03, 0x07, 0x08, 0x0B, 0x0C, 0x10, 0x7F, 0x80, 0x81, 0x82, 0xDF)
INTERESTING += (0xFE, 0xFF)


def mutate(rnd, data, pool, max_len=4096):
    """One to four random edits of data, as a dumb mutation fuzzer makes them: flip a bit, set
    an interesting octet or 16-bit field, insert, delete or repeat a run, truncate, or splice
    with another input of pool. rnd: a random.Random, so a run is reproducible from its seed."""
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(9)
        i = rnd.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1 and b:
            b[i] = rnd.choice(INTERESTING)
        elif op == 2 and len(b) > 1:
            v = rnd.choice((0, 0xFFFF, len(b), len(b) - i, rnd.randrange(0x10000)))
            i = min(i, len(b) - 2)
            b[i] = v & 0xFF
            b[i + 1] = v >> 8
        elif op == 3:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 4 and b:
            del b[i : i + rnd.randint(1, 8)]
        elif op == 5 and b:
            run = b[i : i + rnd.randint(1, 16)]
            b[i:i] = run * rnd.randint(1, 8)
        elif op == 6 and b:
            del b[rnd.randrange(len(b)) :]
        elif op == 7 and pool:
            other = rnd.choice(pool)
            b = b[:i] + other[rnd.randrange(len(other) + 1) :]
        else:
            b[i:i] = bytes((rnd.randrange(256),))
    return bytes(b[:max_len])


def write(corpus, out_dir, names=None):
    """One file per input under out_dir/<target>/; returns {target: (files, octets)}."""
    stats = {}
    for name in names or corpus:
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        octets = 0
        for data in corpus[name]:
            path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest())
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
            octets += len(data)
        stats[name] = (len(corpus[name]), octets)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="corpus root (default build/fuzz/corpus)")
    ap.add_argument("--pcap", action="append", default=[], help="a capture to seed from")
    ap.add_argument("--target", action="append", choices=targets.NAMES, help="only these")
    args = ap.parse_args(argv)
    pcaps = [p for p in args.pcap if p]
    corpus = seeds(pcaps)
    stats = write(corpus, args.out, args.target)
    for name, (n, octets) in stats.items():
        print("%-16s %4d seeds %7d octets -> %s" % (name, n, octets, os.path.join(args.out, name)))


if __name__ == "__main__":
    main()
