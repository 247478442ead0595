# The receive path's octet-level work, as native code: what a received frame is, from its header
# octets (route: inter-PAN, the beacon request, the HAN's frames), the 802.15.4 MAC header parse
# (IEEE 802.15.4-2006 7.2) and the EUI-64 lookup key. Loaded with contract.native.load (machine
# code where the port has a native emitter, the same source as bytecode where it has none, plain
# Python on CPython), so every function here reads octets through ptr8, checks each offset
# against the length it was given before reading (ptr8 reads are not bounds checked), and keeps
# to small ints. Viper functions keep their state on the C stack, but where they run as bytecode
# each must keep to 11 words of frame state (locals and stack), or MicroPython puts its frame on
# the GC heap at every call (py/objfun.c, VM_MAX_STATE_ON_STACK): hence the reused variables
# and the split into parts.

from contract.compat import ptr8
from firmware import hub_reject as reject

_len = len  # a global of this module: found in one lookup (a builtin takes two)
_ONE = 1  # a global: an object where viper code adds it to one (a list's count, in place)

_DATA = const(1)
_ACK = const(2)
_COMMAND = const(3)
_BEACON = const(0)
_SECURITY = const(0x0008)
_PANID_COMP = const(0x0040)
_ADDR_SHORT = const(2)
_ADDR_EXT = const(3)
_CMD_ASSOC_REQ = const(0x01)
_CMD_DATA_REQ = const(0x04)
_CMD_ORPHAN = const(0x06)
_CMD_BEACON_REQ = const(0x07)
_SHARED = const(-2)  # eui64.SHARED: in an index, more than one entry has this key
_NOT_MEMBER = const(0)  # han_reject.NOT_MEMBER
# firmware.zb_nwk's, repeated (viper inlines only its own): the NWK frame control (ZigBee spec
# 3.3.1.1) and parse_nwk's results.
_NWK_MULTICAST = const(0x0100)
_NWK_SECURITY = const(0x0200)
_NWK_SOURCE_ROUTE = const(0x0400)
_NWK_DST_IEEE = const(0x0800)
_NWK_SRC_IEEE = const(0x1000)
_NWK_OK = const(0)
_NWK_TRUNCATED = const(1)
_NWK_BAD_VERSION = const(2)
_NWK_BAD_TYPE = const(3)
_NWK_SECURED = const(4)
# firmware.han_reject's codes route counts a member's NWK frame under, as the HAN would
# (tests_host/test_hub_constants.py holds them to their source), and the layout of
# firmware.sec_counters' IncomingCounters.state that it reads.
_NWK_NOT_FOR_US = const(2)
_BAD_NWK = const(3)
_UNSECURED = const(4)
_NOT_DATA = const(6)
_SEC_TRUNCATED = const(9)
_SEC_NO_SOURCE = const(10)
_SEC_NOT_NETWORK_KEY = const(11)
_SEC_UNKNOWN_KEY = const(12)
_SEC_UNKNOWN_SOURCE = const(13)
_SEC_REPLAYED = const(14)
_KEYS = const(4)
_SLOT = const(16)
_LOWEST = const(8)
_FLAGS = const(13)
_USED = const(1)
_KSEQ = const(2)

# route()'s verdicts other than an inter-PAN frame's source offset (>= 0): what a received frame
# is, from its header octets. GENERIC: the full path decides (mac.parse, then the layers); it
# is also the answer for every frame mac.parse rejects, so that path counts the rejection.
GENERIC = const(-1)
COUNTED = const(-2)  # a HAN frame from a short address no member has: counted, dropped
BEACON_REQUEST = const(-3)  # the canonical beacon request (the only one answered)
NOT_FOR_US = const(-4)  # the hub's drop: for another PAN, or another beacon request
UNHANDLED = const(-5)  # nothing for the hub or its HAN (beacons, acks, other commands)
# The HAN's, from here down: a member's frame (or one whose source shares a key; the full path
# decides), then the HAN's drops (Han.on_header). Route.src names an ASSOC_STRANGER's source.
POLL = const(-6)  # a data request to the coordinator from a short address
NWK = const(-7)  # a member's NWK frame that passes every check its header decides
POLL_EXT = const(-8)  # a data request to the coordinator from an EUI-64
ORPHAN = const(-9)  # an orphan notification from an EUI-64
ASSOC = const(-10)  # a well-formed association request to the coordinator
HAN_DROP = const(-11)
HAN_NOT_FOR_US = const(-11)  # a data request or NWK frame for another device
HAN_BAD_COMMAND = const(-12)  # an association request or orphan notification addressed wrongly
ASSOC_STRANGER = const(-13)  # ASSOC from an EUI-64 not in the device log (src)


class Route:
    # route()'s other inputs and its outputs. In: the receiver's PAN ID (-1: stop after the
    # inter-PAN recognition, as header_source does); the HAN's members (their short addresses,
    # a dict; their EUI-64s' lookup keys, a dict of key -> slot as eui64.reindex makes it; and
    # those EUI-64s, 8 octets per slot, most significant first), the device log's EUI-64s (a
    # dict of key -> entry, and a list of 8-octet bytes, most significant first), and the list
    # where a frame from a source no member has is counted (the HAN's counters, at
    # han_reject.NOT_MEMBER); or None and no HAN. Out: an ASSOC_STRANGER's EUI-64, its offset
    # in src. (key: route's own, a short address as an object for a dict test.)
    # assoc: the HAN's budget for strangers' association requests (a dos_limits.Gcra, set by
    # the HAN; its refusals counted at han_reject.RATE_ASSOC): Hub.on_frame tests it inline
    # for an ASSOC_STRANGER verdict. sec: the HAN's IncomingCounters.state (the network keys
    # the hub holds, each member's EUI-64, counter and key sequence number), read for a
    # member's NWK frame; ccm: the HAN's CCM* budget, which Hub.on_frame tests inline for an
    # NWK verdict (its refusals counted at han_reject.SEC_BUSY).
    def __init__(
        self, pan, shorts=None, counts=None, euis=None, octets=None, listed=None, log=None
    ):
        self.pan = pan
        self.shorts = shorts if shorts is not None else {}  # (route looks a data frame up)
        self.counts = counts
        self.euis = euis
        self.octets = octets
        self.listed = listed
        self.log = log
        self.key = 0
        self.src = -1
        self.assoc = None
        self.sec = None
        self.ccm = None


_SOURCE_ONLY = Route(-1)


@micropython.viper
def header_source(buf, off: int, n: int) -> int:
    # zb_interpan.header_source: route() with a PAN ID of -1, which stops after the inter-PAN
    # recognition: the offset of an inter-PAN frame's 64-bit source, or -1 (also for the beacon
    # request, which route() recognises before the PAN ID).
    off = int(route(buf, off, n, _SOURCE_ONLY))
    return off if off >= 0 else -1


@micropython.viper
def route(buf, off: int, n: int, r) -> int:
    # What the PSDU buf[off:off+n] (FCS included, already checked by the radio) is, decided from
    # its header octets before any parse (the verdicts above; r: a Route). An inter-PAN frame is
    # recognised from its fixed octets alone (ZigBee SE 1.1 annex B: a data frame, no MAC
    # security, no PAN ID compression, a 64-bit source, the stub NWK frame control 0x000B where
    # the payload starts); its drop paths decide from them (docs/dos.md). Then the canonical
    # beacon request (FCF 0x0803, to PAN 0xFFFF address 0xFFFF, command 7), the cheapest flood.
    # Then mac.parse's checks, the one walk of the MAC header (parse passes the frame's buffer as
    # r to have only that; a frame they reject goes the full path, which counts it). Then a
    # member's NWK frame (a data frame with short addresses on both ends): everything its
    # header decides, as Han._data, Han._nwk_header and NwkSecurity.check would, is decided and
    # counted here, so that only a frame that may be genuine reaches the CCM* budget and AES.
    # Every other frame mac.parse accepts is classified as Hub._other, Han.on_frame and Joining
    # would, so that a stranger's frame is dropped without the full path (Han.on_header).
    # The frame control field is read as its two octets, b[off] (frame type, security, PAN ID
    # compression) and b[off + 1] (addressing modes, version): no local for it, and buf, n, off
    # and p reused, keep 11 words of frame state where this runs as bytecode (7 locals, and no
    # expression deeper than 4).
    if n < 5 or off < 0 or int(_len(buf)) < off + n - 2:
        return GENERIC
    b = ptr8(buf)
    if b[off] & 0x4F == 0x01 and b[off + 1] & 0xC8 == 0xC8 and n >= 21 and r is not buf:
        n = off + n - 2  # the end of the payload
        off += 9 if b[off + 1] & 0x0C == 0x08 else 15  # the source, after a short or long dest.
        if off + 10 <= n and b[off + 8] == 0x0B and b[off + 9] == 0x00:
            return off
        return GENERIC
    if n == 10 and b[off] == 0x03 and b[off + 1] == 0x08 and b[off + 7] == _CMD_BEACON_REQ:
        if b[off + 3] & b[off + 4] & b[off + 5] & b[off + 6] == 0xFF and r is not buf:
            return BEACON_REQUEST
    # mac.parse's checks (IEEE 802.15.4-2006 7.2.1), once for both: parse passes the frame's
    # buffer as r (an identity test, no lookup) to have only this walk.
    # p the MAC payload's offset, or minus the reject code.
    if b[off] & 7 > _COMMAND:
        p = -int(reject.RESERVED_TYPE)
    elif b[off] & _SECURITY:
        p = -int(reject.MAC_SECURITY)
    elif b[off + 1] & 0x20:  # frame version 2 or 3
        p = -int(reject.RESERVED_VERSION)
    elif b[off + 1] & 0x0C == 0x04 or b[off + 1] >> 6 == 1:
        p = -int(reject.RESERVED_ADDR_MODE)
    elif b[off] & _PANID_COMP and (b[off + 1] & 0x0C == 0 or b[off + 1] >> 6 == 0):
        p = -int(reject.BAD_PANID_COMP)
    else:
        p = off + 3  # after the destination, then after the source
        p += 4 if b[off + 1] & 0x0C == 0x08 else 10 if b[off + 1] & 0x0C else 0
        if b[off + 1] >> 6:
            p += 2 if b[off + 1] >> 6 == _ADDR_SHORT else 8
            if not b[off] & _PANID_COMP:
                p += 2
        if p > off + n - 2:
            p = -int(reject.TRUNCATED)
        elif b[off] & 7 == _BEACON:  # superframe (2), GTS spec (1), pending spec (1)
            if b[off + 1] >> 6 == 0 or p + 4 > off + n - 2:
                p = -int(reject.TRUNCATED)
        elif b[off] & 7 == _COMMAND:  # the command identifier
            if p >= off + n - 2:
                p = -int(reject.TRUNCATED)
        elif b[off] & 7 == _ACK:
            if b[off + 1] & 0xCC or p != off + n - 2:
                p = -int(reject.TRUNCATED)
    if r is buf:
        return p
    if p < 0:
        return GENERIC
    buf = r.pan  # (buf reused: the frame is in b)
    if int(buf) < 0:  # header_source
        return GENERIC
    if b[off] & 0x0F == _DATA and b[off + 1] & 0xEC == 0x88:
        # A data frame with short addresses on both ends, no MAC security, frame version 0 or 1
        # (Han._data's ZigBee NWK frame; the walk above made mac.parse's checks).
        if b[off + 3] & b[off + 4] != 0xFF and ((b[off + 4] << 8) | b[off + 3]) != int(buf):
            return NOT_FOR_US  # Hub._other: for another PAN
        if b[off + 5] | b[off + 6] and b[off + 5] & b[off + 6] != 0xFF:
            return HAN_NOT_FOR_US  # neither the coordinator nor broadcast
        p = off + (9 if b[off] & _PANID_COMP else 11)  # the NWK frame
        off += n - 2  # its end
        n = (b[p - 1] << 8) | b[p - 2]  # the MAC source
        buf = r.shorts.get(n, -1)  # its member's slot (buf reused: the frame is in b)
        if int(buf) < 0:  # Han._data: no member has that short address
            if not r.counts:
                return UNHANDLED  # no HAN (Hub._other)
            r.counts[_NOT_MEMBER] += _ONE
            return COUNTED
        while True:  # (a block to break out of at the first drop, n its reason)
            # Han._nwk_header: parse_nwk's checks (the length, frame type and protocol version;
            # the fields the frame control announces), then NWK security, one hop (the NWK
            # source is the MAC source), to the hub, a data frame.
            if off - p < 8 or b[p] & 3 >= 2 or b[p] & 0x3C != 0x08:
                n = _BAD_NWK
                break
            n = p + 8 + (b[p + 1] & 8) + ((b[p + 1] >> 1) & 8) + (b[p + 1] & 1)  # after IEEE
            if b[p + 1] & _NWK_SOURCE_ROUTE >> 8:  # addresses and multicast control
                if n + 2 > off:
                    n = _BAD_NWK
                    break
                n += 2 * b[n] + 2  # relay count, relay index, the relays
            if n > off:
                n = _BAD_NWK
                break
            if not b[p + 1] & _NWK_SECURITY >> 8:
                n = _UNSECURED
                break
            if b[p + 4] != b[p - 2] or b[p + 5] != b[p - 1]:
                n = _BAD_NWK
                break
            if (b[p + 2] or b[p + 3]) and (b[p + 3] != 0xFF or b[p + 2] < 0xF8):
                n = _NWK_NOT_FOR_US  # nwk.COORDINATOR, or broadcast (nwk.BROADCAST_MIN up)
                break
            if b[p] & 3:
                n = _NOT_DATA
                break
            p = n  # the auxiliary header (p reused)
            # NwkSecurity.check: secframe.parse's reasons, then the network key ...
            if p >= off:
                n = _SEC_TRUNCATED
                break
            if not b[p] & 0x20:
                n = _SEC_NO_SOURCE
                break
            if p + (18 if b[p] & 0x18 == 0x08 else 17) > off:  # the header and a MIC
                n = _SEC_TRUNCATED
                break
            if b[p] & 0x18 != 0x08:
                n = _SEC_NOT_NETWORK_KEY
                break
            # ... one the hub holds (IncomingCounters.key_of), then IncomingCounters.admit: the
            # member's EUI-64, then its counter under that key, from their record in r.sec (a
            # slot from the index is a used one of the table's: inside r.sec).
            e = ptr8(r.sec)
            if not (e[2] & 1 and b[p + 13] == e[0]) and not (e[2] & 2 and b[p + 13] == e[1]):
                n = _SEC_UNKNOWN_KEY
                break
            off = _KEYS + _SLOT * int(buf)  # the member's record (off reused)
            if (
                not e[off + _FLAGS] & _USED
                or e[off] != b[p + 12]
                or e[off + 1] != b[p + 11]
                or e[off + 2] != b[p + 10]
                or e[off + 3] != b[p + 9]
                or e[off + 4] != b[p + 8]
                or e[off + 5] != b[p + 7]
                or e[off + 6] != b[p + 6]
                or e[off + 7] != b[p + 5]
            ):
                n = _SEC_UNKNOWN_SOURCE
                break
            off += _LOWEST  # its lowest acceptable counter (LE), key sequence number, flags
            n = _SEC_REPLAYED
            if b[p + 4] & b[p + 3] & b[p + 2] & b[p + 1] == 0xFF:
                break  # 0xFFFFFFFF, under any key
            if e[off + 5] & _KSEQ and b[p + 13] != e[off + 4]:
                if (b[p + 13] - e[off + 4]) & 0xFF >= 128:
                    break  # an older key
            elif b[p + 4] != e[off + 3]:  # the counter, from its most significant octet
                if b[p + 4] < e[off + 3]:
                    break
            elif b[p + 3] != e[off + 2]:
                if b[p + 3] < e[off + 2]:
                    break
            elif b[p + 2] != e[off + 1]:
                if b[p + 2] < e[off + 1]:
                    break
            elif b[p + 1] < e[off]:
                break
            return NWK  # (Han.on_nwk finds the member and the header again: a few a second)
        r.counts[n] += _ONE
        return COUNTED
    # Hub._other: a destination PAN other than ours or broadcast; a beacon request.
    if b[off + 1] & 0x0C and b[off + 3] & b[off + 4] != 0xFF:
        if ((b[off + 4] << 8) | b[off + 3]) != int(buf):
            return NOT_FOR_US
    if b[off] & 7 != _COMMAND:
        return UNHANDLED  # (a data frame with short addresses on both ends went above)
    if b[p] == _CMD_BEACON_REQ:
        return NOT_FOR_US
    if b[p] == _CMD_ORPHAN:
        if b[off + 1] >> 6 != _ADDR_EXT:
            return HAN_BAD_COMMAND
        n = ORPHAN
    elif b[p] != _CMD_DATA_REQ and b[p] != _CMD_ASSOC_REQ:
        return UNHANDLED
    elif b[p] == _CMD_ASSOC_REQ and (b[off + 1] >> 6 != _ADDR_EXT or off + n - 2 - p < 2):
        return HAN_BAD_COMMAND
    elif b[off + 1] & 0x0C == 0x0C:
        return GENERIC  # Joining.to_coordinator compares a 64-bit destination the full way
    else:
        # Joining.to_coordinator: to the coordinator (0x0000) on our PAN, or with no
        # destination from our PAN (a source PAN is never compressed without a destination)
        if b[off + 1] & 0x0C:
            n = ((b[off + 4] << 8) | b[off + 3]) ^ int(buf)
            n |= b[off + 5]
            n |= b[off + 6]
        elif b[off + 1] >> 6:
            n = ((b[off + 4] << 8) | b[off + 3]) ^ int(buf)
        else:
            n = 1
        if n:
            return HAN_BAD_COMMAND if b[p] == _CMD_ASSOC_REQ else HAN_NOT_FOR_US
        if b[p] == _CMD_ASSOC_REQ:
            n = ASSOC
        elif b[off + 1] >> 6 == _ADDR_SHORT:
            n = POLL
        elif b[off + 1] >> 6 == _ADDR_EXT:
            n = POLL_EXT
        else:
            return HAN_BAD_COMMAND
    # The source (before the payload at p), for the verdict in n. One no member has
    # (Han._data_request, Joining.repeat, Joining.orphan) is counted and dropped here: the
    # cheapest stranger's flood.
    if b[off + 1] >> 6 == _ADDR_SHORT:
        r.key = (b[p - 1] << 8) | b[p - 2]  # (an object for `in`: viper compares no int there)
        if r.counts and r.key not in r.shorts:
            r.counts[_NOT_MEMBER] += _ONE
            return COUNTED
        return n
    # An EUI-64 (in air order, at p - 8): a member has it (for an association request: the
    # device log has it), or it shares a key (the full path decides); else ASSOC_STRANGER for an
    # association request (Joining.stranger, which reads its offset in r.src), or the frame is
    # counted as DeviceTable.find_le's miss is, and COUNTED. A slot or entry from an index is a
    # used one: inside r.octets, or in r.log. Its lookup key (as key_le) in off, reused: nothing
    # is stored on the way, the cheapest stranger's flood.
    if not r.counts:
        return n
    off = (((((b[p - 5] & 0x3F) << 8) | b[p - 6]) << 8 | b[p - 7]) << 8) | b[p - 8]
    if n == ASSOC:
        buf = r.listed.get(off, -1)
    else:
        buf = r.euis.get(off, -1)
    off = int(buf)  # the slot or entry
    if off == _SHARED:
        return n
    if off >= 0:
        if n == ASSOC:
            e = ptr8(r.log[off])
            off = 0
        else:
            e = ptr8(r.octets)
            off *= 8
        if (
            b[p - 8] == e[off + 7]
            and b[p - 7] == e[off + 6]
            and b[p - 6] == e[off + 5]
            and b[p - 5] == e[off + 4]
            and b[p - 4] == e[off + 3]
            and b[p - 3] == e[off + 2]
            and b[p - 2] == e[off + 1]
            and b[p - 1] == e[off]
        ):
            return n
    if n == ASSOC:
        r.src = p - 8
        return ASSOC_STRANGER
    r.counts[_NOT_MEMBER] += _ONE
    return COUNTED


@micropython.viper
def parse(buf, off: int, n: int, f) -> int:
    # firmware.mac.parse: the PSDU buf[off:off+n] (FCS included, already checked by the radio)
    # into the MacFrame f. Returns reject.OK or a reject code; f is only meaningful after OK.
    # Reads only octets before the FCS (buf[off:off+n-2]).
    if n < 5:
        return int(reject.TOO_SHORT)
    if off < 0 or off + n - 2 > int(_len(buf)):
        return int(reject.TRUNCATED)
    p = int(route(buf, off, n, buf))  # its walk: the payload, or minus the reject
    if p < 0:
        return -p
    f.payload_off = p
    f.payload_end = off + n - 2
    return int(_fields(buf, off, p, f))


@micropython.viper
def _fields(buf, off: int, p: int, f):
    # The MacFrame's other fields, from the header before the payload at p (route's walk).
    b = ptr8(buf)
    fcf = (b[off + 1] << 8) | b[off]
    f.fcf = fcf
    f.ftype = fcf & 7
    f.seq = b[off + 2]
    f.dst_mode = (fcf >> 10) & 3
    f.src_mode = fcf >> 14
    f.dst_pan = f.dst_short = f.dst_ext_off = -1
    f.src_pan = f.src_short = f.src_ext_off = -1
    if fcf & 0x0C00:
        f.dst_pan = (b[off + 4] << 8) | b[off + 3]
        if fcf & 0x0C00 == 0x0800:
            f.dst_short = (b[off + 6] << 8) | b[off + 5]
        else:
            f.dst_ext_off = off + 5
    if fcf >> 14 == _ADDR_SHORT:
        f.src_short = (b[p - 1] << 8) | b[p - 2]
        p -= 2
    elif fcf >> 14:
        f.src_ext_off = p - 8
        p -= 8
    if fcf & _PANID_COMP:
        f.src_pan = (b[off + 4] << 8) | b[off + 3]
    elif fcf >> 14:
        f.src_pan = (b[p - 1] << 8) | b[p - 2]
    return reject.OK


@micropython.viper
def key_le(buf, off: int) -> int:
    # firmware.eui64.key_le: the lookup key (low 30 bits) of the air-order EUI-64 at
    # buf[off:off+8]; -1 when those octets are not all inside buf.
    if off < 0 or off + 8 > int(_len(buf)):
        return -1
    b = ptr8(buf)
    return b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | ((b[off + 3] & 0x3F) << 24)


@micropython.viper
def equals_le(buf, off: int, eui, at: int) -> bool:
    # firmware.eui64.equals_le: the air-order (least significant octet first) EUI-64 at
    # buf[off:off+8] is eui[at:at+8] (most significant first). False where either is not all
    # inside its buffer. (Unrolled: 11 words of frame state where this runs as bytecode.)
    if off < 0 or at < 0 or off + 8 > int(_len(buf)) or at + 8 > int(_len(eui)):
        return False
    a = ptr8(buf)
    e = ptr8(eui)
    return (
        a[off] == e[at + 7]
        and a[off + 1] == e[at + 6]
        and a[off + 2] == e[at + 5]
        and a[off + 3] == e[at + 4]
        and a[off + 4] == e[at + 3]
        and a[off + 5] == e[at + 2]
        and a[off + 6] == e[at + 1]
        and a[off + 7] == e[at]
    )


@micropython.viper
def parse_nwk(buf, off: int, end: int, h) -> int:
    # firmware.zb_nwk.parse_nwk: the NWK header at buf[off:end] into the NwkHeader h (the
    # frame's own checks; end must be inside buf). (off reused as the cursor: 11 words of
    # frame state where this runs as bytecode.)
    if end - off < 8 or off < 0 or end > int(_len(buf)):
        return _NWK_TRUNCATED
    b = ptr8(buf)
    fc = (b[off + 1] << 8) | b[off]
    if fc & 3 >= 2:  # reserved, or inter-PAN
        return _NWK_BAD_TYPE
    if (fc >> 2) & 0x0F != 2:  # not ZigBee PRO
        return _NWK_BAD_VERSION
    h.fc = fc
    h.ftype = fc & 3
    h.dst = (b[off + 3] << 8) | b[off + 2]
    h.src = (b[off + 5] << 8) | b[off + 4]
    h.radius = b[off + 6]
    h.seq = b[off + 7]
    off += 8
    if fc & _NWK_DST_IEEE:
        h.dst_ieee_off = off
        off += 8
    else:
        h.dst_ieee_off = -1
    if fc & _NWK_SRC_IEEE:
        h.src_ieee_off = off
        off += 8
    else:
        h.src_ieee_off = -1
    if fc & _NWK_MULTICAST:
        off += 1  # multicast control
    if fc & _NWK_SOURCE_ROUTE:
        if off + 2 > end:
            return _NWK_TRUNCATED
        off += 2 + 2 * b[off]  # relay count, relay index, relay list
    if off > end:
        return _NWK_TRUNCATED
    h.payload_off = off
    if fc & _NWK_SECURITY:
        return _NWK_SECURED
    return _NWK_OK
