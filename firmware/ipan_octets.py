# The inter-PAN receive path's octet-level work, as native code: what an inter-PAN frame for
# this hub is (its destination, then a discovery request or a command, decided from fixed
# octets before any budget: docs/dos.md), its stub APS header (ZigBee Smart Energy 1.1,
# 07-5356, annex B) and its ZCL header (ZCL spec 2.4.1). Loaded with contract.native.load
# (machine code where the port has a native emitter, the same source as bytecode where it has
# none, plain Python on CPython), so every function here reads octets through ptr8, checks
# each offset against the length it was given before reading (ptr8 reads are not bounds
# checked), and keeps to small ints. Viper functions keep their state on the C stack, so their
# size costs no heap. The constants are the protocol modules' (firmware.zb_interpan, zb_zcl,
# ipan_discovery, cmd_gbcs), repeated here as private consts: viper inlines only its own.

from contract.compat import ptr8
from contract.native import load
from firmware import hub_reject as reject

_APS_GROUP = const(0x0F)  # as zb_interpan writes it
_PROFILE_SE = const(0x0109)  # zb_interpan.PROFILE_SE
_BAD_APS = const(2)  # zb_interpan.BAD_APS
_DISCOVERY_LO = const(0x00)  # ipan_discovery.CLUSTER (0xFC00), little-endian on air
_DISCOVERY_HI = const(0xFC)
_GET_DETAILS = const(0x00)  # ipan_discovery.CMD_GET_DETAILS
_TUNNELING_LO = const(0x04)  # zb_zcl.TUNNELING (0x0704)
_TUNNELING_HI = const(0x07)
_TRANSFER_DATA = const(0x02)  # zb_zcl.TRANSFER_DATA
_ZCL_MANUFACTURER = const(0x04)  # zb_zcl.MANUFACTURER_SPECIFIC
_ZCL_SERVER_TO_CLIENT = const(0x08)  # zb_zcl.SERVER_TO_CLIENT
_ZCL_CLUSTER_SPECIFIC = const(0x01)  # zb_zcl.CLUSTER_SPECIFIC
_GBCS_TAG = const(0xDF)  # cmd_gbcs.TAG
# The shortest GBCS command: grouping header with no date-time, empty content, 16-octet tag.
_GBCS_MIN = const(51)


# len as a global of this module: found in its dict, not by a search of the builtins' table
# (about half the cost of a call of len, which every function here makes to check its offsets).
_len = len

# classify()'s verdicts other than a command's GBCS offset (>= 0); zb_interpan exports them. A
# drop is its reject code negated (hub_reject.NOT_A_COMMAND, NOT_FOR_US: the tests hold them
# equal), so the hub counts it with no further decision.
OTHER = const(-19)
DISCOVERY = const(-2)
FOREIGN = const(-9)

# The InterPanHeader fields parse_at() fills.
PARSED = ("src_pan", "src_ext_off", "payload_end", "seq", "command", "payload_off")


# Where these run as bytecode (contract.native), MicroPython puts a function's frame on the GC
# heap when its locals and stack are over 11 words (py/objfun.c, VM_MAX_STATE_ON_STACK): hence
# few locals, reused. As native code each keeps its state on the C stack.


# header_source(buf, off, n): the offset of the 64-bit source of an inter-PAN frame recognised
# from its fixed header octets alone, or -1. The first step of firmware.octets.route, which the
# hub runs on every frame: one recognition of an inter-PAN frame, for the shell and the hub.
header_source = load("firmware.octets").header_source


@micropython.viper
def classify(buf, off: int, n: int, src: int, me) -> int:
    # An inter-PAN frame header_source() recognised (src: what it returned) while the flag is
    # ON, from its fixed octets: FOREIGN unless it is for us (PAN 0xFFFF or ours, and our
    # EUI-64 or the broadcast address; me: our PAN ID then our EUI-64, 10 octets in air order);
    # then the offset of the GBCS block of an SE Tunneling TransferData command (>= 0),
    # DISCOVERY for a Get Hub Details request, or OTHER. Only what locates the two is read
    # (cluster, a ZCL command from client to server with no manufacturer code, the GBCS tag);
    # the full parse after the budget checks everything, and a frame that passes here and
    # fails there costs no more than a forged command. One function, no calls: arguments are
    # reused (n becomes the end, off the octet read) to keep to 11 words as bytecode.
    n = off + n - 2  # the FCS's offset: nothing from it on is read
    if off < 0 or n > int(_len(buf)) or src < off + 9 or src + 10 >= n or int(_len(me)) < 10:
        return OTHER
    b = ptr8(buf)
    m = ptr8(me)
    if (b[off + 3] != 0xFF or b[off + 4] != 0xFF) and (b[off + 3] != m[0] or b[off + 4] != m[1]):
        return FOREIGN
    if src == off + 15:  # a 64-bit destination at off + 5 .. src - 3 (m[2] .. m[9]): ours?
        off += 5
        while off < src - 2:
            if b[off] != m[off - src + 12]:
                return FOREIGN
            off += 1
    elif b[off + 5] != 0xFF or b[off + 6] != 0xFF:  # else the broadcast address
        return FOREIGN
    off = src + 10  # the stub APS frame control, after the source and the stub NWK header
    if b[off] == _APS_GROUP:
        off += 2
    if off + 8 > n:  # up to the ZCL command identifier
        return OTHER
    if b[off + 5] & 0x0C:  # ZCL: server to client, or a manufacturer code before the command
        return OTHER
    if b[off + 2] == _DISCOVERY_HI and b[off + 1] == _DISCOVERY_LO:
        return DISCOVERY if b[off + 7] == _GET_DETAILS else OTHER
    if b[off + 2] != _TUNNELING_HI or b[off + 1] != _TUNNELING_LO or b[off + 7] != _TRANSFER_DATA:
        return OTHER
    off += 10  # the GBCS block: after the ZCL header (3) and the tunnel ID (2)
    if off >= n or b[off] != _GBCS_TAG or n - off < _GBCS_MIN:
        return OTHER
    return off


@micropython.viper
def aps(buf, p: int, end: int, h) -> int:
    # The stub APS header at buf[p:end] into h (an InterPanHeader): 0, or BAD_APS.
    if p < 0 or end > int(_len(buf)) or p >= end:
        return _BAD_APS
    return int(_aps(buf, p, end, h))


@micropython.viper
def _aps(buf, p: int, end: int, h) -> int:
    # aps() once buf[p:end] is known to be inside buf and not empty.
    b = ptr8(buf)
    fc = b[p]
    if fc & 0x03 != 0x03 or fc & 0xF0:  # not inter-PAN type; security/ack/ext header unsupported
        return _BAD_APS
    p += 1
    if fc == _APS_GROUP:
        p += 2
    if p + 4 > end:
        return _BAD_APS
    h.delivery = fc
    h.cluster = b[p] | (b[p + 1] << 8)
    h.profile = b[p + 2] | (b[p + 3] << 8)
    h.zcl_off = p + 4
    return 0


@micropython.viper
def parse_at(buf, off: int, n: int, src: int, h) -> int:
    # The hub's parse of a frame header_source() recognised (src: what it returned), in place
    # of mac.parse, zb_interpan.parse and zb_zcl.parse: the layout is fixed once the frame type,
    # the addressing modes and the stub NWK header are, so only the frame version is left to
    # check. Then what the hub does with it: 0 for SE Tunneling (the command layer), DISCOVERY
    # for a Get Hub Details request, or a reject code (firmware.hub_reject); h (an
    # InterPanHeader) then holds what the hub and the command layer read of it (PARSED: the
    # MAC source's PAN and offset, the payload's end, the ZCL sequence number, command and
    # payload offset), and only that: each store from native code is a call into the runtime
    # (about 0.2k Ir), and the stub APS header's fields are aps()'s to fill. The checks of
    # _aps and _zcl are made inline (every command meets this: two calls and the reads of
    # what they stored cost more than the rest), and what is compared again is read from the
    # octets, not from h; the tests hold the answers and the fields equal to aps() and
    # zcl_header(). Arguments reused to keep to 11 words as bytecode: n becomes the end, src
    # the header's offset, off an octet.
    n = off + n - 2  # the FCS's offset: nothing from it on is read
    if off < 0 or n > int(_len(buf)) or src < off + 9 or src + 10 >= n:
        return int(reject.TRUNCATED)
    b = ptr8(buf)
    if b[off + 1] & 0x20:  # frame version 2 or 3
        return int(reject.RESERVED_VERSION)
    h.src_pan = b[src - 2] | (b[src - 1] << 8)
    h.src_ext_off = src
    h.payload_end = n
    src += 10  # the stub APS header (as _aps)
    off = b[src]
    if off & 0x03 != 0x03 or off & 0xF0:
        return int(reject.BAD_APS)
    src += 3 if off == _APS_GROUP else 1
    if src + 4 > n:
        return int(reject.BAD_APS)
    src += 4
    if (b[src - 2] | (b[src - 1] << 8)) != _PROFILE_SE:
        return int(reject.WRONG_PROFILE)
    if n - src < 3:  # the ZCL header (as _zcl)
        return int(reject.BAD_ZCL)
    off = b[src]
    if off & 0xE0 or off & 0x03 > 1:  # reserved bits / frame types
        return int(reject.BAD_ZCL)
    if off & _ZCL_MANUFACTURER and n - src < 5:
        return int(reject.BAD_ZCL)
    n = src + ((off & _ZCL_MANUFACTURER) >> 1)  # reused: the ZCL header less its code
    h.seq = b[n + 1]
    h.command = b[n + 2]
    h.payload_off = n + 3
    if off & _ZCL_SERVER_TO_CLIENT:  # the hub serves; it is not a client
        return int(reject.UNKNOWN_COMMAND)
    if b[src - 3] == _TUNNELING_HI and b[src - 4] == _TUNNELING_LO:
        return 0
    if b[src - 3] != _DISCOVERY_HI or b[src - 4] != _DISCOVERY_LO:
        return int(reject.UNKNOWN_COMMAND)
    if (off & _ZCL_CLUSTER_SPECIFIC) == 0 or b[n + 2] != _GET_DETAILS:
        return int(reject.UNKNOWN_COMMAND)
    return DISCOVERY


@micropython.viper
def zcl_header(buf, off: int, end: int, z) -> int:
    # firmware.zb_zcl.parse: the ZCL header at buf[off:end] into the ZclHeader z; 0, or 1
    # (zb_zcl.BAD).
    if off < 0 or end > int(_len(buf)):
        return 1
    return int(_zcl(buf, off, end, z))


@micropython.viper
def _zcl(buf, off: int, end: int, z) -> int:
    # zcl_header() once buf[off:end] is known to be inside buf.
    if end - off < 3:
        return 1
    b = ptr8(buf)
    fc = b[off]
    if fc & 0xE0 or fc & 0x03 > 1:  # reserved bits / frame types
        return 1
    p = off + 1
    z.manufacturer = -1
    if fc & _ZCL_MANUFACTURER:
        if end - p < 4:
            return 1
        z.manufacturer = b[p] | (b[p + 1] << 8)
        p += 2
    z.fc = fc
    z.seq = b[p]
    z.command = b[p + 1]
    z.payload_off = p + 2
    return 0


@micropython.viper
def find8(table, count: int, buf, off: int) -> int:
    # The index of the first of the count 8-octet entries of table (back to back: the
    # provisioned parties' EUI-64s) that buf[off:off+8] equals, or -1 (also when those octets
    # are not all in buf).
    if off < 0 or off + 8 > int(_len(buf)) or count < 0 or 8 * count > int(_len(table)):
        return -1
    t = ptr8(table)
    b = ptr8(buf)
    count *= 8  # reused: the table's end
    i = 0  # an octet of the table; i & 7: its place in its entry
    while i < count:
        if t[i] == b[(i & 7) + off]:
            if i & 7 == 7:
                return i >> 3
            i += 1
        else:
            i = (i | 7) + 1  # the next entry
    return -1
