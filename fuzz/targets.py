# Fuzz targets: one function fuzz_<name>(data) per parser that sees radio or WAN bytes, calling
# it the way the firmware does and checking the contract those parsers promise: never raise on
# junk, return a reason code from the parser's own range, and on OK hand back offsets that lie
# inside the buffer. A target raises on a broken contract (Failure) or lets the parser's own
# exception through; either is a crash to the fuzzer.
#
# The same module runs under atheris (fuzz/run_atheris.py, CPython), hypothesis
# (tests_host/test_fuzz_parsers.py) and the MicroPython unix port (fuzz/mp_replay.py), so it
# keeps to what both interpreters share: no typing, no os.path, no f-string "=".
#
# Two ways of handing a parser its bytes, on purpose:
#   exact     the input in a buffer of exactly its size, at offset 0: a read past the end the
#             parser was given raises IndexError instead of quietly reading a neighbour's bytes;
#   embedded  the input at an offset inside a larger buffer, as the firmware lays frames out
#             (behind the 32-octet ZEP header, or after the MAC header); the verdict and every
#             offset must be the exact ones, shifted.

import json

from contract import wan_msg
from contract.crc16 import append_fcs
from contract.frame import PSDU_MAX, RxFrame
from firmware import cmd_ber as ber
from firmware import cmd_catalogue as cat
from firmware import cmd_gbcs as gbcs
from firmware import decision, mac
from firmware import han_gas_proxy as gas_proxy
from firmware import hub_reject as reject
from firmware import ipan_discovery as discovery
from firmware import mac_peer as peer
from firmware import zb_interpan as interpan_frame
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zcl
from firmware.cmd_auth import hmac_sha256
from firmware.eui64 import parse as parse_eui
from firmware.han_device_log import KINDS
from hal.sim import zep
from tests_device import vectors


class L:
    # The heavy modules: the hub with its HAN and command layers, and the sim radio. They are
    # imported on first use (load()), not with this module, because on the unix port's
    # ESP32-sized heap the firmware imported whole leaves too little room for a hub per input;
    # fuzz/mp_replay.py runs one target per process, each importing only what it needs.
    hub = None
    han = None
    commands = None
    CommandStore = None
    Parties = None
    Settings = None
    ManualClock = None
    MemoryStorage = None
    ZepRadio = None
    App = None
    FakeBoard = None
    core = None


def load(hub=True, radio=False, app=False):
    # Imports the heavy modules now (fuzz/run_atheris.py calls load(radio=True) inside
    # atheris.instrument_imports(), so they are instrumented too).
    if hub and L.hub is None:
        from firmware import cmd_pipeline as commands
        from firmware import core, han
        from firmware import hub as hubmod
        from firmware.cmd_parties import Parties
        from firmware.cmd_store import CommandStore
        from firmware.settings import Settings
        from hal.fake.clock import ManualClock
        from hal.fake.storage import MemoryStorage

        L.hub = hubmod
        L.core = core
        L.han = han
        L.commands = commands
        L.CommandStore = CommandStore
        L.Parties = Parties
        L.Settings = Settings
        L.ManualClock = ManualClock
        L.MemoryStorage = MemoryStorage
    if app and L.App is None:
        from boards.fake import FakeBoard
        from firmware.app import App

        L.App = App
        L.FakeBoard = FakeBoard
    if radio and L.ZepRadio is None:
        from hal.sim.radio_zep import ZepRadio

        L.ZepRadio = ZepRadio


class Failure(AssertionError):
    # A broken contract. Raised explicitly rather than with `assert`, which python -O removes.
    pass


def check(ok, what):
    if not ok:
        raise Failure(what)


# --- the hub the fuzzer talks to ------------------------------------------------------------
# The lab's own provisioning (tools/demo/lab.json, public demo keys): frames captured from
# `make run` (an HHT's signed tunnel commands) then authenticate here too, so seeds from a
# capture reach the command layer's execution paths, not just its rejections.


def _root():
    # The repository root from this file's path, without os.path (MicroPython has none).
    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return d.rsplit("/", 1)[0] if "/" in d else "."


def _load_lab():
    with open(_root() + "/tools/demo/lab.json") as f:
        conf = json.loads(f.read())
    parties = [{"guid": p["guid"], "role": p["role"], "key": p["key"]} for p in conf["parties"]]
    devices = [(parse_eui(d["guid"]), KINDS.index(d["kind"])) for d in conf["device_log"]]
    return conf["parties"], json.dumps(parties).encode(), devices


_LAB_PARTIES, _PARTIES_RECORD, DEVICES = _load_lab()
# name -> (EUI-64, key): seed builders sign with these.
PARTIES = {}
for _p in _LAB_PARTIES:
    PARTIES[_p["name"]] = (parse_eui(_p["guid"]), bytes.fromhex(_p["key"]))
PARTY_NAMES = tuple(p["name"] for p in _LAB_PARTIES)
_KEYS = tuple(PARTIES[n][1] for n in PARTY_NAMES)

HUB_GUID = "00-23-7E-00-00-12-D6-87"
HUB_EUI = parse_eui(HUB_GUID)
PAN_ID = 0x1A2B
_SETTINGS = ("hub.eui64=" + HUB_GUID, "radio.pan_id=0x1A2B")
CAP_MAINS = 0x8C  # association capability: allocate address, rx on when idle, mains powered
CAP_BATTERY = 0x80


def assoc_request(eui, cap, seq=1):
    # The association request a meter sends the hub (MPDU + FCS), as firmware.mac builds it.
    buf = bytearray(PSDU_MAX)
    n = peer.build_command(buf, seq, PAN_ID, 0x0000, 0xFFFF, eui, mac.CMD_ASSOC_REQ, bytes((cap,)))
    return bytes(buf[: append_fcs(buf, n)])


class Rig:
    # A hub as firmware/app.py builds it: settings, a command layer on a command store with the
    # lab's parties, the lab's device log, storage in memory; powered up at tick 0 (inter-PAN
    # ON). han=True adds the HAN layer as the app wires it (from settings, meters' answers
    # hooked to the command layer) and joins the log's meters, so their frames get past the
    # membership checks.
    def __init__(self, han=False):
        load()
        st = L.MemoryStorage()
        st.records["parties"] = _PARTIES_RECORD
        self.storage = st
        self.clock = L.ManualClock()
        self.store = L.CommandStore(st)
        s = L.Settings(None, _SETTINGS)
        core = L.core.Core(s, st, L.Parties(st), self.store, self.clock, han=han)
        self.cmds = core.commands
        self.out = core.out
        hub = core.hub
        for eui, kind in DEVICES:
            hub.device_log.add(eui, kind)
        self.hub = hub
        self.han = core.han
        if han:
            self.han.start(0)
            for eui, kind in DEVICES:
                cap = CAP_BATTERY if KINDS[kind] == "gsme" else CAP_MAINS
                hub.on_frame(vectors.load(RxFrame(), assoc_request(eui, cap)), 0)
        hub.power_up(0)
        self.drain()

    def drain(self):
        # What the shell takes away after every frame: notes, and the queued WAN copies and
        # inter-PAN frames (so a long run measures the hub's own state, not an undrained queue).
        out = self.out
        del out.notes[:]
        del out.wan[:]
        while out.radio.pop():
            pass

    def members(self):
        # (EUI-64, short address) of each joined meter, for seed builders.
        t = self.han.table
        return [(t.eui(s), t.short(s)) for s in t.slots()]

    def state(self):
        # What only an accepted (authenticated) command may change.
        c = self.cmds
        return (
            len(self.store.replay.euis)
            + len(self.store.log)
            + self.store.writes
            + len(self.out.wan)
            + len(c.pending)
            + c.counts.get("executed", 0)
        )


def _tag_ok(buf, start, end):
    # True when buf[start:end] is a message signed with a provisioned key. Independent of
    # firmware.cmd_gbcs on purpose: the tag is the last 16 octets, after its length octet, and
    # covers everything before that length octet.
    if end - start < 19 or buf[end - 17] != 16:
        return False
    part = bytes(buf[start : end - 17])
    tag = bytes(buf[end - 16 : end])
    for key in _KEYS:
        if hmac_sha256(key, part)[:16] == tag:
            return True
    return False


def _signed_inside(buf, lo, end):
    # Some message ending at `end`, starting at a DF 09 tag at or after lo, is authentic.
    for s in range(lo, end - 18):
        if buf[s] == gbcs.TAG and buf[s + 1] == gbcs.TXID_LEN and _tag_ok(buf, s, end):
            return True
    return False


def _embed(data, k):
    # data at offset k of a larger buffer with junk around it (a header before, an FCS after).
    out = bytearray(k + len(data) + 2)
    for i in range(k):
        out[i] = 0xA5
    out[k : k + len(data)] = data
    out[-2] = out[-1] = 0x5A
    return out


# --- MAC (firmware/mac.py) and the ZigBee beacon payload (firmware/mac_beacon.py) ----------------

_F = mac.MacFrame()  # preallocated, reused, as the hub does
_F2 = mac.MacFrame()
_RX = RxFrame(zep.HEADER_LEN)  # the sim radio's frame: the PSDU lands behind the ZEP header


def _mac_ok(buf, off, n, f):
    # Invariants of a frame mac.parse accepted at buf[off:off+n].
    end = off + n - 2
    check(f.payload_end == end, "mac: payload_end is not the FCS")
    check(off + 3 <= f.payload_off <= end, "mac: payload_off outside the frame")
    check(f.ftype <= mac.COMMAND, "mac: reserved frame type accepted")
    check(f.dst_mode in (0, 2, 3) and f.src_mode in (0, 2, 3), "mac: reserved address mode")
    for mode, ext in ((f.dst_mode, f.dst_ext_off), (f.src_mode, f.src_ext_off)):
        if mode == mac.ADDR_EXT:
            check(off + 3 <= ext and ext + 8 <= f.payload_off, "mac: extended address outside")
        else:
            check(ext == -1, "mac: extended offset without an extended address")
    if f.ftype == mac.BEACON:
        check(f.src_mode and f.payload_off + 4 <= end, "mac: beacon without its fixed fields")
        peer.beacon_superframe(buf, f)
        p = peer.beacon_payload_off(buf, f)
        check(p == -1 or f.payload_off + 4 <= p <= end, "mac: beacon payload offset outside")
        if p > 0:  # how tools/hht.py reads a scan result
            _zb_ok(peer.parse_zigbee_payload(buf, p, end))
    elif f.ftype == mac.COMMAND:
        check(f.payload_off < end, "mac: command without its identifier")
        peer.command_id(buf, f)
    elif f.ftype == mac.ACK:
        check(not f.dst_mode and not f.src_mode and f.payload_off == end, "mac: odd ACK")


def _same_mac(f, g, k):
    # g parsed the same frame k octets further into its buffer.
    for a in ("fcf", "ftype", "seq", "dst_mode", "src_mode", "dst_pan", "dst_short"):
        check(getattr(f, a) == getattr(g, a), "mac: embedded parse differs in " + a)
    for a in ("src_pan", "src_short"):
        check(getattr(f, a) == getattr(g, a), "mac: embedded parse differs in " + a)
    for a in ("dst_ext_off", "src_ext_off", "payload_off", "payload_end"):
        v = getattr(f, a)
        check(getattr(g, a) == (v + k if v >= 0 else v), "mac: embedded offset differs: " + a)


def fuzz_mac(data):
    psdu = bytes(data[:PSDU_MAX])  # no radio hands over more than aMaxPHYPacketSize
    n = len(psdu)
    f = _F
    r = mac.parse(psdu, 0, n, f)
    check(0 <= r < reject.COUNT, "mac: reason out of range")
    if r == reject.OK:
        _mac_ok(psdu, 0, n, f)
    fr = vectors.load(_RX, psdu, off=zep.HEADER_LEN)
    r2 = mac.parse(fr.buf, fr.off, fr.n, _F2)
    check(r2 == r, "mac: verdict depends on the buffer offset")
    if r == reject.OK:
        _same_mac(f, _F2, zep.HEADER_LEN)
    return r


def _zb_ok(d):
    if d is None:
        return
    check(isinstance(d, dict), "beacon: not a dict")
    check(0 <= d["stack_profile"] <= 15 and 0 <= d["protocol_version"] <= 15, "beacon: nibble")
    check(0 <= d["depth"] <= 15 and len(d["epid"]) == 8, "beacon: depth or EPID")
    if "tx_offset" in d:
        check(0 <= d["tx_offset"] < 1 << 24 and 0 <= d["update_id"] <= 255, "beacon: tail")


def fuzz_beacon(data):
    # The ZigBee beacon payload on its own (tools read it from scan results), exact and embedded.
    d = peer.parse_zigbee_payload(bytes(data), 0, len(data))
    _zb_ok(d)
    buf = _embed(data, 11)  # after a beacon's MHR and superframe fields
    d2 = peer.parse_zigbee_payload(buf, 11, 11 + len(data))
    check(d == d2, "beacon: embedded parse differs")
    # and inside a whole beacon frame, as a scan receives it
    fuzz_mac(data)
    return 0 if d is None else 1


# --- inter-PAN (firmware/zb_interpan.py) and ZCL (firmware/zb_zcl.py) -------------------------

_IPH = interpan_frame.InterPanHeader()
_ZH = zcl.ZclHeader()


def fuzz_interpan(data):
    # As Hub._interpan: MAC, the cheap is_interpan test, the stub APS header, then ZCL.
    psdu = bytes(data[:PSDU_MAX])
    f = _F
    if mac.parse(psdu, 0, len(psdu), f) != reject.OK:
        return -1
    if not interpan_frame.is_interpan(psdu, f):
        return -2
    check(f.ftype == mac.DATA and f.src_mode == mac.ADDR_EXT, "interpan: wrong MAC shape")
    h = _IPH
    r = interpan_frame.parse(psdu, f, h)
    check(r in (interpan_frame.OK, interpan_frame.BAD_APS), "interpan: reason out of range")
    if r == interpan_frame.OK:
        check(h.delivery in (0x03, 0x07, 0x0B, 0x0F), "interpan: APS frame control accepted")
        check(f.payload_off + 7 <= h.zcl_off <= f.payload_end, "interpan: zcl_off outside")
        check(0 <= h.cluster <= 0xFFFF and 0 <= h.profile <= 0xFFFF, "interpan: field range")
        _zcl(psdu, h.zcl_off, f.payload_end, _ZH)
    return r


def _zcl(buf, off, end, z):
    r = zcl.parse(buf, off, end, z)
    check(r in (zcl.OK, zcl.BAD), "zcl: reason out of range")
    if r == zcl.OK:
        check(off + 3 <= z.payload_off <= end, "zcl: payload_off outside")
        check(not z.fc & 0xE0 and z.fc & 3 <= 1, "zcl: reserved frame control accepted")
        m = z.manufacturer
        check(m == -1 if not z.fc & zcl.MANUFACTURER_SPECIFIC else 0 <= m <= 0xFFFF, "zcl: mfr")
    return r


def fuzz_zcl(data):
    z = _ZH
    r = _zcl(bytes(data), 0, len(data), z)
    fields = (z.fc, z.manufacturer, z.seq, z.command, z.payload_off)
    buf = _embed(data, 25)  # after MAC + NWK + APS headers (nwk.HEADERS_LEN)
    r2 = _zcl(buf, 25, 25 + len(data), z)
    check(r2 == r, "zcl: verdict depends on the offset")
    if r == zcl.OK:
        shifted = (z.fc, z.manufacturer, z.seq, z.command, z.payload_off - 25)
        check(shifted == fields, "zcl: embedded parse differs")
    return r


# --- NWK / APS (firmware/zb_nwk.py) --------------------------------------------------------------

_NH = nwk.NwkHeader()
_AH = nwk.ApsHeader()


def _nwk_ok(r, off, end, h):
    check(0 <= r < len(nwk.NAMES), "nwk: reason out of range")
    if r in (nwk.OK, nwk.SECURED):
        check(off + 8 <= h.payload_off <= end, "nwk: payload_off outside")
        check(h.ftype in (nwk.FT_DATA, nwk.FT_COMMAND), "nwk: reserved frame type accepted")
        p = off + 8
        for ieee in (h.dst_ieee_off, h.src_ieee_off):
            check(ieee == -1 or (p <= ieee and ieee + 8 <= h.payload_off), "nwk: IEEE outside")


def _aps_ok(r, off, end, a):
    check(0 <= r < len(nwk.NAMES), "aps: reason out of range")
    if r in (nwk.OK, nwk.NOT_DATA):
        check(off + 1 <= a.payload_off <= end, "aps: payload_off outside")
    if r == nwk.OK:
        check(a.ftype == nwk.APS_DATA and a.delivery in (0, 2, 3), "aps: data frame fields")


def _rel(v, off):
    # An offset relative to where the parse started; -1 (absent) stays -1.
    return v - off if v >= 0 else v


def _nwk_all(buf, off, end):
    load()  # firmware.han's summation reader
    # Each entry point as the HAN layer uses it. Returns the verdicts and, where a verdict says
    # they are meaningful, the fields (offsets relative to off), to compare two layouts; the
    # header objects keep stale values after a rejection, so those are left out.
    h = _NH
    a = _AH
    r1 = nwk.parse_nwk(buf, off, end, h)
    _nwk_ok(r1, off, end, h)
    out = [r1]
    if r1 in (nwk.OK, nwk.SECURED):
        out += [h.payload_off - off, _rel(h.dst_ieee_off, off), _rel(h.src_ieee_off, off)]
    r2 = nwk.parse_aps(buf, off, end, a)
    _aps_ok(r2, off, end, a)
    out.append(r2)
    if r2 in (nwk.OK, nwk.NOT_DATA):
        out.append(a.payload_off - off)
    if r2 == nwk.OK:
        out += [a.cluster, a.profile, a.group, a.dst_ep, a.src_ep, a.counter]
    r3 = nwk.parse(buf, off, end, h, a)
    check(0 <= r3 < len(nwk.NAMES), "nwk.parse: reason out of range")
    out.append(r3)
    if r3 == nwk.OK:  # the ZCL frame after a good NWK + APS data frame, as firmware.han reads it
        _aps_ok(r3, h.payload_off, end, a)
        rz = _zcl(buf, a.payload_off, end, _ZH)
        out.append(rz)
        # Only after OK: a rejected parse leaves the previous input's fields in _ZH.
        if rz == zcl.OK and _ZH.fc & zcl.SERVER_TO_CLIENT and a.cluster == zcl.METERING:
            for with_status in (False, True):
                p = gas_proxy.find_summation(buf, _ZH.payload_off, end, with_status)
                check(p == -1 or _ZH.payload_off < p and p + 6 <= end, "zcl: summation outside")
                out.append(_rel(p, off))
    return out


def fuzz_nwk(data):
    # data: a MAC payload (NWK header onwards), as firmware.han hands it over.
    exact = _nwk_all(bytes(data), 0, len(data))
    k = nwk.MAC_HEADER_LEN
    check(_nwk_all(_embed(data, k), k, k + len(data)) == exact, "nwk: result depends on offset")
    return exact[0]


# --- GBCS grouping header (firmware/cmd_gbcs.py) and its BER content (firmware/cmd_ber.py)-----

_GH = gbcs.GbcsHeader()  # preallocated and reused, as Commands does
_GBCS_FIELDS = (
    "cra",
    "counter",
    "orig_off",
    "recip_off",
    "date_off",
    "msg_code",
    "content_off",
    "content_len",
    "signed_end",
    "auth_off",
    "auth_len",
)
_GBCS_OFFSETS = ("orig_off", "recip_off", "date_off", "content_off", "signed_end", "auth_off")


def _gbcs_ok(buf, off, end, h):
    check(gbcs.COMMAND <= h.cra <= gbcs.ALERT, "gbcs: CRA out of range")
    check(0 <= h.counter < 1 << 64 and 0 <= h.msg_code <= 0xFFFF, "gbcs: field range")
    check(h.orig_off == off + 12 and h.orig_off + 9 == h.recip_off, "gbcs: originator offset")
    if h.date_off >= 0:
        check(h.recip_off + 9 == h.date_off, "gbcs: date offset")
    check(h.recip_off + 8 < h.content_off, "gbcs: content before the header's end")
    check(h.content_off + h.content_len == h.signed_end, "gbcs: content end")
    check(h.signed_end + 1 == h.auth_off and h.auth_off + h.auth_len == end, "gbcs: auth field")


def _gbcs_values(h, k):
    out = []
    for a in _GBCS_FIELDS:
        v = getattr(h, a)
        out.append(v - k if a in _GBCS_OFFSETS and v >= 0 else v)
    return out


def fuzz_gbcs(data):
    data = bytes(data[: wan_msg.MAX_LEN])  # the longest a message gets: one WAN message
    h = _GH
    n = len(data)
    r = gbcs.parse(data, 0, n, h)
    check(0 <= r < len(gbcs.REASONS), "gbcs: reason out of range")
    exact = None
    if r == gbcs.OK:
        _gbcs_ok(data, 0, n, h)
        exact = _gbcs_values(h, 0)
        # Builder and parser agree: the parsed fields, rebuilt, parse to the same fields.
        date = data[h.date_off : h.date_off + 12] if h.date_off >= 0 else None
        rebuilt = gbcs.build(
            h.cra,
            h.counter,
            gbcs.eui(data, h.orig_off),
            gbcs.eui(data, h.recip_off),
            h.msg_code,
            data[h.content_off : h.signed_end],
            data[h.auth_off : h.auth_off + h.auth_len],
            date,
        )
        h2 = gbcs.GbcsHeader()
        check(gbcs.parse(rebuilt, 0, len(rebuilt), h2) == gbcs.OK, "gbcs: rebuilt fails")
        for a in ("cra", "counter", "msg_code", "content_len", "auth_len"):
            check(getattr(h2, a) == getattr(h, a), "gbcs: rebuilt differs in " + a)
        fuzz_ber(data[h.content_off : h.signed_end])
    k = 28  # inter-PAN: MAC + stub NWK/APS + ZCL header + tunnel ID in front of the message
    buf = _embed(data, k)
    r2 = gbcs.parse(buf, k, k + n, h)
    check(r2 == r, "gbcs: verdict depends on the offset")
    if r == gbcs.OK:
        check(_gbcs_values(h, k) == exact, "gbcs: embedded parse differs")
    return r


def fuzz_ber(data):
    content = bytes(data[: wan_msg.MAX_LEN])  # Commands hands ber a bytes copy of the content
    els = ber.elements(content)
    fields = ber.fields(content)
    if els is None:
        check(fields is None, "ber: fields of something that is not a SEQUENCE")
        return -1
    check(isinstance(els, list), "ber: elements not a list")
    used = 0
    for e in els:
        check(len(e) == 2 and 0 <= e[0] <= 255 and isinstance(e[1], bytes), "ber: element")
        used += 2 + len(e[1])
    check(used + 2 <= len(content), "ber: elements longer than the content")  # bounded output
    all_octets = True
    for e in els:
        all_octets = all_octets and e[0] == ber.OCTET_STRING
    check((fields is not None) == all_octets, "ber: fields disagree with elements")
    if fields is not None:
        check(fields == [e[1] for e in els], "ber: fields are not the elements' values")
        again = ber.fields(ber.sequence(*fields))
        check(again == fields, "ber: sequence() of the fields does not parse back")
    return len(els)


# --- hub discovery answer (firmware/ipan_discovery.py) -------------------------------------------


def fuzz_discovery(data):
    d = discovery.parse_details(bytes(data), 0, len(data))
    buf = _embed(data, 35)  # after the inter-PAN headers and the ZCL header of a reply
    check(discovery.parse_details(buf, 35, 35 + len(data)) == d, "discovery: offset matters")
    if d is None:
        return -1
    check(isinstance(d, dict), "discovery: not a dict")
    check(len(d["guid"]) == 8 and 0 <= d["pan_id"] <= 0xFFFF, "discovery: identity")
    check(d["interpan_state"] in ("off", "on", "on_no_timeout"), "discovery: state")
    s = d["seconds_left"]
    check(s is None or 0 <= s < discovery.NO_TIMEOUT, "discovery: seconds_left")
    check(20 + 8 * len(d["devices"]) <= len(data), "discovery: more devices than octets")
    for e in d["devices"]:
        check(len(e) == 8, "discovery: device EUI")
    return len(d["devices"])


# --- head-end link framing (contract/wan_msg.py) -----------------------------------------------


def _json_ok(obj):
    check(obj is None or isinstance(obj, dict), "wan_msg: decode_json gave a non-object")


def fuzz_wan_msg(data):
    # data: the bytes of the TCP stream from the head-end, read as hal/tcp_wan.py does: a
    # 4-octet header, then a message of the announced length; a bad length closes the link.
    data = bytes(data)
    p = 0
    msgs = 0
    while p + wan_msg.HEADER_LEN <= len(data):
        hdr = data[p : p + wan_msg.HEADER_LEN]
        n = wan_msg.length(hdr)
        raw = (hdr[0] << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3]
        check(n == (raw if 0 < raw <= wan_msg.MAX_LEN else -1), "wan_msg: length")
        if n < 0:
            break  # protocol error: the link is closed
        p += wan_msg.HEADER_LEN
        if p + n > len(data):
            break  # the stream ended mid-message
        msg = data[p : p + n]
        p += n
        msgs += 1
        if msg[0] != wan_msg.GBCS:  # firmware/app.py on_message: GBCS, else a JSON request
            _json_ok(wan_msg.decode_json(msg))
    # and the whole input as one message body (a peer that skips the framing)
    _json_ok(wan_msg.decode_json(data))
    _json_ok(wan_msg.decode_json(memoryview(data)))
    return msgs


# --- ZEP (hal/sim/zep.py) and the sim radio's receive path (hal/sim/radio_zep.py) --------------


def _zep_ok(buf, off, n, r):
    check(0 <= r < len(zep.REASONS), "zep: reason out of range")
    if r == zep.OK:
        ln = zep.psdu_len(buf, off)
        check(zep.PSDU_MIN <= ln <= zep.PSDU_MAX and n == zep.HEADER_LEN + ln, "zep: length")
        check(zep.kind(buf, off) == zep.TYPE_DATA, "zep: type")
        zep.channel(buf, off)
        zep.device_id(buf, off)
        zep.lqi(buf, off)
        zep.seq(buf, off)
    elif r == zep.HELLO:
        check(n == zep.HEADER_LEN + zep.psdu_len(buf, off), "zep: hello length")


def fuzz_zep(data):
    data = bytes(data)
    n = len(data)
    r = zep.parse(data, 0, n)
    _zep_ok(data, 0, n, r)
    buf = _embed(data, 7)  # a datagram in the middle of a batch, as the radio reads them
    r2 = zep.parse(buf, 7, n)
    check(r2 == r, "zep: verdict depends on the offset")
    return r


class _Sock:
    # A socket that holds one read's worth of bytes, then would block: recv_into is CPython's
    # one-datagram read, readinto MicroPython's batch read (hal/sim/radio_zep.py).
    def __init__(self):
        self.data = b""

    def recv_into(self, buf):
        return self.readinto(buf) or 0

    def readinto(self, buf):
        d = self.data
        if not d:
            return None
        n = min(len(d), len(buf))
        buf[:n] = d[:n]
        self.data = b""
        return n

    def close(self):
        pass


_radio = None
_RADIO_RX = RxFrame(zep.HEADER_LEN)  # ZepRadio.HEADROOM


def _zep_radio():
    # One radio for the whole run (a socket each time would dominate the cost); its socket is
    # swapped for _Sock, so nothing goes on the network.
    global _radio
    if _radio is None:
        load(hub=False, radio=True)
        _radio = L.ZepRadio()
        _radio.sock.close()
        _radio.sock = _Sock()
        _radio.configure(11, PAN_ID, 0, HUB_EUI)
    return _radio


def fuzz_zep_radio(data):
    data = bytes(data)
    r = _zep_radio()
    got = 0
    for exact in (True, False):
        r._exact = exact
        r._rx_pos = r._rx_end = 0
        r.sock.data = data
        fr = _RADIO_RX
        frames = 0
        limit = len(data) // (zep.HEADER_LEN + zep.PSDU_MIN) + 1
        while r.recv(fr):
            frames += 1
            check(frames <= limit, "zep radio: more frames than the bytes can hold")
            check(fr.off == zep.HEADER_LEN and zep.PSDU_MIN <= fr.n <= PSDU_MAX, "zep radio: n")
            psdu = bytes(fr.buf[fr.off : fr.off + fr.n])
            if exact:
                check(psdu == data[zep.HEADER_LEN :], "zep radio: PSDU is not the datagram's")
                check(zep.channel(data, 0) == r.channel, "zep radio: a frame from another channel")
            else:
                check(psdu in data, "zep radio: PSDU not from the batch")
        got += frames
    return got


# --- the hub's receive path (firmware/hub.py) and the command layer (firmware/cmd_pipeline.py) ---


def _tx_ok(hub, kinds):
    # The frame a TRANSMIT decision sends is a well-formed 802.15.4 frame.
    out = hub.out
    check(out.tx_buf is not None and out.tx_kind in kinds, "hub: TRANSMIT without a frame")
    n = out.tx_len
    check(3 <= n <= PSDU_MAX - 2, "hub: tx_len out of range")
    frame = bytearray(n + 2)
    for i in range(n):
        frame[i] = out.tx_buf[i]
    append_fcs(frame, n)
    f = mac.MacFrame()
    check(mac.parse(frame, 0, n + 2, f) == reject.OK, "hub: sent a frame mac.parse rejects")
    if out.tx_kind == decision.TX_BEACON:
        p = peer.beacon_payload_off(frame, f)
        d = peer.parse_zigbee_payload(frame, p, f.payload_end) if p > 0 else None
        check(d is not None and d["epid"] == hub.eui, "hub: beacon without the hub's EPID")


def hub_step(rig, data, now=0):
    # One received PSDU through Hub.on_frame, with the invariants of the receive path. Used by
    # fuzz_hub / fuzz_hub_han (a fresh hub per input, so a crash replays from its input alone)
    # and by fuzz/mp_replay.py's long run (one hub for every input: state stays bounded).
    hub = rig.hub
    psdu = bytes(data[:PSDU_MAX])
    # crc_ok: the attacker gets the FCS right (it is no secret); BAD_FCS is the trivial path.
    fr = vectors.load(_RX, psdu, off=zep.HEADER_LEN)
    han = rig.han
    rej = sum(hub.rejected)
    state = rig.state()
    if han is not None:
        han_rej = sum(han.rejected)  # refusals are not drops: each is answered
        han_ok = han.frames_in + han.polls
    act = hub.on_frame(fr, now)
    check(act in (decision.NOTHING, decision.TRANSMIT), "hub: decision out of range")
    dropped = sum(hub.rejected) - rej
    if han is not None:
        # The HAN layer counts its own drops; a member's data frame or an empty poll is
        # handled and answered with silence.
        dropped += sum(han.rejected) - han_rej
        handled = han.frames_in + han.polls - han_ok
        if act == decision.TRANSMIT:
            check(dropped == 0, "hub: transmitted and counted a rejection")
            kinds = (decision.TX_BEACON, decision.TX_DISCOVERY, decision.TX_REPLY, decision.TX_HAN)
            _tx_ok(hub, kinds)
        else:
            check(dropped + handled == 1, "hub: silence without exactly one count")
    elif act == decision.TRANSMIT:
        check(dropped == 0, "hub: transmitted and counted a rejection")
        _tx_ok(hub, (decision.TX_BEACON, decision.TX_DISCOVERY, decision.TX_REPLY))
    else:
        check(dropped == 1, "hub: NOTHING without exactly one rejection counted")
    check(len(hub.notes) <= 32, "hub: notes unbounded")
    if rig.state() != state:
        # Only an authentic inter-PAN command may move the command layer's state.
        check(_signed_inside(psdu, 0, len(psdu) - 2), "hub: unauthenticated frame executed")
    return act


def fuzz_hub(data):
    return hub_step(Rig(), data)


def fuzz_hub_han(data):
    return hub_step(Rig(han=True), data)


def _process_ok(rig, res, buf, off, end):
    check(isinstance(res, tuple) and len(res) == 2, "commands: not a pair")
    accepted, rsp = res
    check(accepted is True or accepted is False, "commands: accepted not a bool")
    check(rsp is None or isinstance(rsp, bytes), "commands: response not bytes")
    changed = rig.state() != 0
    if rsp is None:
        check(not accepted, "commands: accepted without an answer")
        check(not changed, "commands: unanswered input changed state")
    if rsp is not None or changed:
        check(_tag_ok(buf, off, end), "commands: unauthenticated input answered or executed")
    if rsp is not None:
        _response_ok(rsp)
    check(len(rig.store.replay.euis) <= rig.store.replay.capacity, "commands: replay unbounded")
    check(len(rig.store.log) <= rig.store.log.capacity, "commands: log unbounded")


def _response_ok(rsp):
    # A signed GBCS response with a status from the catalogue.
    h = gbcs.GbcsHeader()
    check(gbcs.parse(rsp, 0, len(rsp), h) == gbcs.OK, "commands: response does not parse")
    check(h.cra == gbcs.RESPONSE and _tag_ok(rsp, 0, len(rsp)), "commands: response not signed")
    els = ber.elements(rsp[h.content_off : h.signed_end])
    check(els is not None and els[0][0] == ber.ENUMERATED, "commands: response content")
    check(len(els[0][1]) == 1 and els[0][1][0] < len(cat.STATUS), "commands: status")
    return h, els[0][1][0]


def fuzz_commands(data):
    # WAN bytes (a GBCS message from the head-end) through Commands.process, then the same
    # bytes as inter-PAN hands them over: inside the received frame, at an offset.
    data = bytes(data[: wan_msg.MAX_LEN - 1])  # a WAN message's body: its length minus the type
    a = Rig()
    res = a.cmds.process(L.commands.WAN, data, 0, len(data), 0)
    _process_ok(a, res, data, 0, len(data))
    a = None  # one hub at a time: the unix port's ESP32-sized heap holds little more
    b = Rig()
    k = 28
    buf = _embed(data, k)
    res2 = b.cmds.process(L.commands.INTERPAN, buf, k, k + len(data), 0)
    _process_ok(b, res2, buf, k, k + len(data))
    check(res2[0] == res[0] and (res2[1] is None) == (res[1] is None), "commands: channel differs")
    return 0 if res[1] is None else 1


_CODES = sorted(m[0] for m in cat.MESSAGES)
_RECIPIENTS = (HUB_EUI,) + tuple(e for e, _ in DEVICES) + (bytes(8),)
CONTENT_MAX = 3900  # a signed message then still fits one WAN message (wan_msg.MAX_LEN)


def signed_command(data):
    # Structure-aware input for fuzz_commands_signed: what an authenticated party could send.
    #   data[0] party (index into PARTY_NAMES)   data[1] message: a catalogue code when small,
    #   else data[1]:data[2] as a raw code        data[3] recipient (low 2 bits), counter (rest)
    #   data[4:] the content, as BER or not.
    who = PARTY_NAMES[data[0] % len(PARTY_NAMES)]
    code = _CODES[data[1]] if data[1] < len(_CODES) else (data[1] << 8) | data[2]
    recip = _RECIPIENTS[data[3] % len(_RECIPIENTS)]
    counter = 1 + (data[3] >> 2)
    orig, key = PARTIES[who]
    load()
    return L.commands.signed(
        gbcs.COMMAND, counter, orig, recip, code, data[4 : 4 + CONTENT_MAX], key
    )


def fuzz_commands_signed(data):
    # Past authentication: every authenticated command is answered. One the hub may accept
    # runs once, and a second copy on the other channel is answered "duplicate" and runs
    # nothing (first wins); one it refuses (its target, role, channel or content) is answered
    # with the reason and leaves no trace in the replay state, so a copy is refused alike.
    if len(data) < 4:
        return -1
    data = bytes(data)
    msg = signed_command(data)
    rig = Rig()
    wan, interpan = L.commands.WAN, L.commands.INTERPAN
    first, second = (wan, interpan) if data[3] & 1 else (interpan, wan)
    res = rig.cmds.process(first, msg, 0, len(msg), 0)
    _process_ok(rig, res, msg, 0, len(msg))
    check(res[1] is not None, "commands: authentic command not answered")
    h, status = _response_ok(res[1])
    check(h.counter == 1 + (data[3] >> 2), "commands: response for another counter")
    if not res[0]:
        check(not rig.cmds.counts.get("executed"), "commands: refused but executed")
        check(rig.store.replay.euis == [] and len(rig.store.log) == 0, "commands: trace")
        return status
    check(rig.cmds.counts.get("executed") == 1, "commands: not executed exactly once")
    res2 = rig.cmds.process(second, msg, 0, len(msg), 0)
    check(res2[0] is False and res2[1] is not None, "commands: a copy was accepted")
    check(cat.STATUS[_response_ok(res2[1])[1]] == "duplicate", "commands: copy not duplicate")
    check(rig.cmds.counts.get("executed") == 1, "commands: a copy executed")
    return status


# --- the app's handling of head-end messages (firmware/app.py on_message) ----------------------

_app = None


def _wan_app():
    # One app for the whole run, as the hub keeps one across messages: building the whole
    # firmware per input would dominate the cost. Its state is checked after every input.
    global _app
    if _app is None:
        load(app=True)
        board = L.FakeBoard()
        board.storage.write("parties", _PARTIES_RECORD)
        _app = L.App(board, _SETTINGS)
        _app.hub.power_up(0)
    return _app


def _app_state(app):
    return (
        app.clock.time(),
        app.hub.device_log.entries(),
        app.commands.store.writes,
        app.hub.interpan.is_on(),
        app.settings["interpan.keepalive_s"],
    )


def fuzz_wan_app(data):
    # data: one message body from the head-end (type octet + body), as the uplink hands it to
    # App.on_message. Nothing unsigned changes the hub; nothing raises (the app's backstop
    # counts what would have); the reply is None or one well-framed JSON or GBCS message.
    data = bytes(data[: wan_msg.MAX_LEN])
    if not data:
        return -1
    app = _wan_app()
    errors = app.wan_errors
    state = _app_state(app)
    reply = app.on_message(data)
    check(app.wan_errors == errors, "app: handling a head-end message raised")
    if _app_state(app) != state:
        check(data[0] == wan_msg.GBCS and _tag_ok(data, 1, len(data)), "app: unsigned change")
    if reply is None:
        return 0 if data[0] != wan_msg.GBCS else 4
    check(isinstance(reply, bytes) and len(reply) > wan_msg.HEADER_LEN, "app: reply framing")
    check(wan_msg.length(reply[:4]) == len(reply) - 4, "app: reply length")
    check(reply[4] in (wan_msg.JSON, wan_msg.GBCS), "app: reply type")
    if reply[4] == wan_msg.JSON:
        obj = wan_msg.decode_json(reply[4:])
        check(obj is not None and obj.get("msg") == "reply", "app: reply not a JSON reply")
        # CPython's and MicroPython's json differ at the edges (NaN, 1e400, nesting depth),
        # so which JSON requests get a reply is not part of the cross-interpreter digest.
        return 0
    return 3


# --- the registry -----------------------------------------------------------------------------

TARGETS = {
    "mac": fuzz_mac,
    "beacon": fuzz_beacon,
    "interpan": fuzz_interpan,
    "zcl": fuzz_zcl,
    "nwk": fuzz_nwk,
    "gbcs": fuzz_gbcs,
    "ber": fuzz_ber,
    "discovery": fuzz_discovery,
    "wan_msg": fuzz_wan_msg,
    "zep": fuzz_zep,
    "zep_radio": fuzz_zep_radio,
    "hub": fuzz_hub,
    "hub_han": fuzz_hub_han,
    "commands": fuzz_commands,
    "commands_signed": fuzz_commands_signed,
    "wan_app": fuzz_wan_app,
}
NAMES = tuple(TARGETS)
_HUB_TARGETS = ("nwk", "hub", "hub_han", "commands", "commands_signed", "wan_app")


def warm_up(name):
    # Everything the target allocates once (lazy imports, the sim radio) is allocated now, so
    # a heap measured after this and after a run shows only what inputs left behind.
    load(hub=name in _HUB_TARGETS, radio=name == "zep_radio", app=name == "wan_app")
    TARGETS[name](b"")
    if name == "wan_app":
        # The app's bounded queues at their bound: refusals are reported to the head-end, and
        # a run's growth must show only what is not bounded.
        app = _wan_app()
        req = bytes((wan_msg.JSON,)) + b'{"op": "set_time", "epoch": 1}'
        for _ in range(app.settings["wan.outbox_items"] + 1):
            app.on_message(req)
