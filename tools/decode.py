"""Decode a received 802.15.4 PSDU through every layer the lab speaks, for people: MAC,
ZigBee beacon payload, MAC commands, inter-PAN (stub NWK/APS) or ZigBee NWK/APS, ZCL, hub
discovery, SE Tunneling and the GBCS message inside. Sensitive fields are redacted: GBCS
authentication tags, and the contents of messages the catalogue marks sensitive."""

import time

from contract.crc16 import fcs_ok
from firmware import discovery, interpan_frame, mac, nwk, reject, zcl
from firmware.beacon import parse_zigbee_payload
from firmware.commands import TUNNEL_TRANSFER_DATA, TUNNEL_TRANSFER_DATA_RSP
from firmware.eui64 import read_le, to_guid
from tools import describe

FRAME_TYPES = ("beacon", "data", "ack", "command")
MAC_COMMANDS = {
    1: "association_request",
    2: "association_response",
    3: "disassociation",
    4: "data_request",
    7: "beacon_request",
    8: "coordinator_realignment",
}
CLUSTERS = {
    0x0702: "metering",
    0x0704: "se_tunneling",
    0x0705: "prepayment",
    discovery.CLUSTER: "hub_discovery",
}


def _addr(psdu, mode, short, ext_off):
    if mode == mac.ADDR_SHORT:
        return "0x%04X" % short
    if mode == mac.ADDR_EXT:
        return to_guid(read_le(psdu, ext_off))
    return None


def frame(psdu, redact=True):
    """A dict describing one PSDU (FCS included)."""
    out = {"length": len(psdu), "fcs_ok": fcs_ok(psdu, 0, len(psdu))}
    f = mac.MacFrame()
    r = mac.parse(psdu, 0, len(psdu), f)
    if r:
        out["error"] = reject.NAMES[r]
        return out
    out["mac"] = {
        "type": FRAME_TYPES[f.ftype],
        "seq": f.seq,
        "dst_pan": None if f.dst_pan < 0 else "0x%04X" % f.dst_pan,
        "dst": _addr(psdu, f.dst_mode, f.dst_short, f.dst_ext_off),
        "src_pan": None if f.src_pan < 0 else "0x%04X" % f.src_pan,
        "src": _addr(psdu, f.src_mode, f.src_short, f.src_ext_off),
        "ack_req": f.ack_req(),
        "pending": f.pending(),
    }
    if f.ftype == mac.BEACON:
        p = mac.beacon_payload_off(psdu, f)
        sf = mac.beacon_superframe(psdu, f)
        out["beacon"] = {"permit_join": bool(sf & mac.SF_PERMIT)}
        zb = p > 0 and parse_zigbee_payload(psdu, p, f.payload_end)
        if zb:
            zb["epid"] = to_guid(zb["epid"])
            out["zigbee_beacon"] = zb
    elif f.ftype == mac.COMMAND:
        cid = psdu[f.payload_off]
        out["command"] = MAC_COMMANDS.get(cid, "0x%02X" % cid)
        out["command_payload"] = bytes(psdu[f.payload_off + 1 : f.payload_end]).hex()
    elif f.ftype == mac.DATA:
        if interpan_frame.is_interpan(psdu, f):
            _interpan(psdu, f, out, redact)
        else:
            _nwk(psdu, f, out, redact)
    return out


def _zcl(psdu, off, end, out):
    z = zcl.ZclHeader()
    if zcl.parse(psdu, off, end, z):
        out["zcl"] = {"error": "malformed"}
        return None
    out["zcl"] = {
        "cluster_specific": bool(z.fc & zcl.CLUSTER_SPECIFIC),
        "direction": "server_to_client" if z.fc & zcl.SERVER_TO_CLIENT else "client_to_server",
        "seq": z.seq,
        "command": z.command,
        "payload": bytes(psdu[z.payload_off : end]).hex(),
    }
    return z


def _interpan(psdu, f, out, redact):
    ih = interpan_frame.InterPanHeader()
    if interpan_frame.parse(psdu, f, ih):
        out["interpan"] = {"error": "bad_aps"}
        return
    out["interpan"] = {
        "cluster": CLUSTERS.get(ih.cluster, "0x%04X" % ih.cluster),
        "profile": "0x%04X" % ih.profile,
    }
    z = _zcl(psdu, ih.zcl_off, f.payload_end, out)
    if z is None:
        return
    if ih.cluster == discovery.CLUSTER and z.fc & zcl.SERVER_TO_CLIENT:
        d = discovery.parse_details(psdu, z.payload_off, f.payload_end)
        if d:
            d["guid"] = to_guid(d["guid"])
            d["devices"] = [to_guid(e) for e in d["devices"]]
            out["hub_details"] = d
    else:
        _tunnel(psdu, ih.cluster, z, f.payload_end, out, redact)


def _nwk(psdu, f, out, redact):
    h = nwk.NwkHeader()
    a = nwk.ApsHeader()
    r = nwk.parse(psdu, f.payload_off, f.payload_end, h, a)
    if r == nwk.OK or r == nwk.NOT_DATA:
        out["nwk"] = {
            "dst": "0x%04X" % h.dst,
            "src": "0x%04X" % h.src,
            "seq": h.seq,
            "radius": h.radius,
        }
    if r != nwk.OK:
        out["nwk_error"] = nwk.NAMES[r]
        return
    out["aps"] = {
        "cluster": CLUSTERS.get(a.cluster, "0x%04X" % a.cluster),
        "profile": "0x%04X" % a.profile,
        "counter": a.counter,
    }
    z = _zcl(psdu, a.payload_off, f.payload_end, out)
    if z is not None and z.fc & zcl.CLUSTER_SPECIFIC:
        _tunnel(psdu, a.cluster, z, f.payload_end, out, redact)


def _tunnel(psdu, cluster, z, end, out, redact):
    # SE Tunneling TransferData carries a GBCS message, over inter-PAN and over the HAN alike
    # (a meter's installer-menu interpan_enable, a command the hub forwards to a meter).
    if cluster != zcl.TUNNELING or z.command not in (
        TUNNEL_TRANSFER_DATA,
        TUNNEL_TRANSFER_DATA_RSP,
    ):
        return
    out["zcl"]["name"] = "transfer_data"
    msg = bytes(psdu[z.payload_off + 2 : end])
    out["gbcs"] = describe.gbcs_message(msg, redact)
    if redact:
        out["zcl"]["payload"] = describe.REDACTED  # the raw octets would undo the redaction


def stamp(t):
    """A frame's capture time for a person: local wall clock to the millisecond."""
    if t is None:
        return ""
    return "%s.%03d " % (time.strftime("%H:%M:%S", time.localtime(t)), int(t * 1000) % 1000)


def line(d):
    """One readable line for a decoded frame, with its time when it has one ("time")."""
    return stamp(d.get("time")) + _body(d)


def _body(d):
    m = d.get("mac")
    if m is None:
        return "undecodable (%s)" % d.get("error")
    head = "%-7s %s -> %s" % (m["type"], m["src"] or "-", m["dst"] or "-")
    if "zigbee_beacon" in d:
        zb = d["zigbee_beacon"]
        return "%s  beacon PAN %s EPID %s join %s" % (
            head,
            m["src_pan"],
            zb["epid"],
            "open" if d["beacon"]["permit_join"] else "closed",
        )
    if "command" in d:
        return "%s  %s" % (head, d["command"])
    if "gbcs" in d:
        g = d["gbcs"]
        via = "inter-PAN" if "interpan" in d else "NWK %s->%s" % (d["nwk"]["src"], d["nwk"]["dst"])
        return "%s  %s GBCS %s %s #%s %s content=%s" % (
            head,
            via,
            g.get("cra"),
            g.get("message"),
            g.get("counter"),
            g.get("status", ""),
            g.get("content"),
        )
    if "hub_details" in d:
        h = d["hub_details"]
        return "%s  inter-PAN hub details: inter-PAN %s, WAN %s, %d device(s)" % (
            head,
            h["interpan_state"],
            "present" if h["wan_present"] else "lost",
            h["devices_total"],
        )
    if "interpan" in d:
        return "%s  inter-PAN %s" % (head, d["interpan"]["cluster"])
    if "aps" in d:
        z = d.get("zcl", {})
        return "%s  NWK %s->%s APS %s ZCL cmd %s" % (
            head,
            d["nwk"]["src"],
            d["nwk"]["dst"],
            d["aps"]["cluster"],
            z.get("command"),
        )
    return head
