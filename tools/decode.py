"""Decode a received 802.15.4 PSDU through every layer the lab speaks, for people: MAC,
ZigBee beacon payload, MAC commands, inter-PAN (stub NWK/APS) or ZigBee NWK/APS, ZCL, hub
discovery, SE Tunneling and the GBCS message inside. Sensitive fields are redacted: GBCS
authentication tags, the contents of messages the catalogue marks sensitive, and keys.

HAN frames are NWK-secured (ZigBee NWK security, level 5). Given Keys (as Wireshark's ZigBee
preferences take them: network keys, and link keys from the meters' install codes), NWK frames
are decrypted and their MICs checked, and a Transport-Key opened with a link key teaches the
network key it carries, as Wireshark learns it. Without keys a secured frame shows as
encrypted, and says so."""

import time

from contract.crc16 import fcs_ok
from firmware import hub_reject as reject
from firmware import ipan_discovery as discovery
from firmware import mac
from firmware import mac_peer as peer
from firmware import sec_aes as aes
from firmware import sec_frame as secframe
from firmware import sec_install_code as install_code
from firmware import sec_mmo as mmo
from firmware import sec_transport_key as transport_key
from firmware import zb_interpan as interpan_frame
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zcl
from firmware.cmd_pipeline import TUNNEL_TRANSFER_DATA, TUNNEL_TRANSFER_DATA_RSP
from firmware.eui64 import read_le, to_guid
from firmware.mac_peer import parse_zigbee_payload
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


class Keys:
    """The keys a decoder tries: network keys by sequence number (given, or learned from a
    Transport-Key) and link keys (from install codes), each with a label."""

    def __init__(self):
        self.network = []  # [(key, label)]
        self.links = []  # [(key-transport key, label)]

    def add(self, key, label):
        # A 16-octet key of either kind, as Wireshark's table takes them: tried as both.
        self.network.append((bytes(key), label))
        self.links.append((mmo.key_transport_key(key), label))

    def add_install_code(self, code, label):
        link = install_code.link_key(code)
        if link is None:
            raise ValueError(
                "%s: a bad install code (%s)"
                % (label, install_code.NAMES[install_code.check(code)])
            )
        self.links.append((mmo.key_transport_key(link), label))

    def learn(self, key, label):
        if all(k != key for k, _ in self.network):
            self.network.append((bytes(key), label))


def load_keys(conf, extra=()):
    """Keys from a provisioning file's dict (tools/demo/lab.json: the device log's install
    codes, and any "network_keys") and from 16-octet hex keys given one by one."""
    keys = Keys()
    for d in conf.get("device_log", []):
        if d.get("install_code"):
            code = install_code.parse(d["install_code"])
            if code is None:
                raise ValueError("%s: install_code is not hex" % d.get("guid"))
            keys.add_install_code(code, "%s install code" % d.get("guid"))
    for i, k in enumerate(conf.get("network_keys", [])):
        keys.add(bytes.fromhex(k), "network key %d" % i)
    for i, k in enumerate(extra):
        keys.add(k, "key %d" % i)
    return keys


def _addr(psdu, mode, short, ext_off):
    if mode == mac.ADDR_SHORT:
        return "0x%04X" % short
    if mode == mac.ADDR_EXT:
        return to_guid(read_le(psdu, ext_off))
    return None


def frame(psdu, redact=True, keys=None):
    """A dict describing one PSDU (FCS included); keys (Keys) to decrypt HAN frames with."""
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
        p = peer.beacon_payload_off(psdu, f)
        sf = peer.beacon_superframe(psdu, f)
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
            _nwk(bytearray(psdu), f, out, redact, keys)
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


def _nwk(psdu, f, out, redact, keys):
    # psdu: a copy (decryption works in place)
    h = nwk.NwkHeader()
    end = f.payload_end
    r = nwk.parse_nwk(psdu, f.payload_off, end, h)
    if r == nwk.OK or r == nwk.SECURED:
        out["nwk"] = {
            "dst": "0x%04X" % h.dst,
            "src": "0x%04X" % h.src,
            "seq": h.seq,
            "radius": h.radius,
        }
    aps = h.payload_off
    if r == nwk.SECURED:
        got = _nwk_security(psdu, f, h, out, keys)
        if got is None:
            return
        aps, end = got
        r = nwk.OK
    if r != nwk.OK:
        out["nwk_error"] = nwk.NAMES[r]
        return
    if h.ftype != nwk.FT_DATA:
        out["nwk_command"] = True
        return
    a = nwk.ApsHeader()
    r = nwk.parse_aps(psdu, aps, end, a)
    if r == nwk.APS_SECURED or r == nwk.NOT_DATA:
        _aps_command(psdu, aps, end, out, redact, keys)
        return
    if r != nwk.OK:
        out["nwk_error"] = nwk.NAMES[r]
        return
    out["aps"] = {
        "cluster": CLUSTERS.get(a.cluster, "0x%04X" % a.cluster),
        "profile": "0x%04X" % a.profile,
        "counter": a.counter,
    }
    z = _zcl(psdu, a.payload_off, end, out)
    if z is not None and z.fc & zcl.CLUSTER_SPECIFIC:
        _tunnel(psdu, a.cluster, z, end, out, redact)


def _nwk_security(psdu, f, h, out, keys):
    # The auxiliary header, and the frame decrypted with a network key that verifies: the
    # plaintext's (start, end), or None when it stays encrypted.
    aux = secframe.AuxHeader()
    r = secframe.parse(psdu, h.payload_off, f.payload_end, aux)
    sec = out["nwk_security"] = {"level": secframe.LEVEL}
    if r != secframe.OK:
        sec["error"] = ("ok", "truncated", "no_source")[r]
        return None
    sec["counter"] = _le32(psdu, aux.off + 1)
    sec["source"] = to_guid(bytes(reversed(psdu[aux.src_off : aux.src_off + 8])))
    sec["key_seq"] = aux.key_seq
    if keys is None:
        sec["decrypted"] = False
        sec["why"] = "no keys given"
        return None
    for key, label in keys.network:
        trial = bytearray(psdu)
        n = secframe.unseal(aes.new(key).encrypt, trial, f.payload_off, aux, f.payload_end)
        if n >= 0:
            psdu[:] = trial
            sec["decrypted"] = True
            sec["key"] = label
            return aux.end, n
    sec["decrypted"] = False
    sec["why"] = "no key verifies its MIC"
    return None


def _aps_command(psdu, off, end, out, redact, keys):
    # A Transport-Key (APS-secured with a key-transport key), or a Switch-Key.
    seq = transport_key.parse_switch(psdu, off, end)
    if seq >= 0:
        out["aps_command"] = {"command": "switch_key", "key_seq": seq}
        return
    cmd = out["aps_command"] = {"command": "transport_key", "decrypted": False}
    for ktk, label in keys.links if keys is not None else ():
        tk = transport_key.TransportedKey()
        if transport_key.parse(bytearray(psdu), off, end, ktk, tk) == transport_key.OK:
            keys.learn(tk.key, "learned from %s" % label)
            cmd.update(
                decrypted=True,
                key=describe.REDACTED if redact else tk.key.hex(),
                key_seq=tk.key_seq,
                dst=to_guid(tk.dst),
                src=to_guid(tk.src),
                link_key=label,
            )
            return
    cmd["why"] = "no link key given opens it" if keys is not None else "no keys given"


def _le32(b, p):
    return b[p] | b[p + 1] << 8 | b[p + 2] << 16 | b[p + 3] << 24


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
    sec = d.get("nwk_security")
    secured = ""
    if sec is not None:
        if not sec.get("decrypted"):
            return "%s  NWK %s->%s secured, encrypted (%s)" % (
                head,
                d["nwk"]["src"],
                d["nwk"]["dst"],
                sec.get("why") or sec.get("error"),
            )
        secured = " [secured, key %s, #%d]" % (sec["key_seq"], sec["counter"])
    if "aps" in d:
        z = d.get("zcl", {})
        return "%s  NWK %s->%s%s APS %s ZCL cmd %s" % (
            head,
            d["nwk"]["src"],
            d["nwk"]["dst"],
            secured,
            d["aps"]["cluster"],
            z.get("command"),
        )
    if "aps_command" in d:
        c = d["aps_command"]
        what = c["command"]
        if what == "transport_key":
            what += (
                " of network key %s for %s" % (c["key_seq"], c["dst"])
                if c["decrypted"]
                else ", encrypted (%s)" % c["why"]
            )
        else:
            what += " to key %s" % c["key_seq"]
        return "%s  NWK %s->%s%s APS %s" % (head, d["nwk"]["src"], d["nwk"]["dst"], secured, what)
    return head
