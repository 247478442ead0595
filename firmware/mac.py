# IEEE 802.15.4-2006 MAC frames: parse into a preallocated MacFrame by offsets (no allocation,
# never raises), and build into a caller's buffer. Multi-octet fields are little-endian on air;
# extended addresses are kept in air order inside the buffer and compared in place
# (firmware.eui64.equals_le). Layouts: IEEE 802.15.4-2006 7.2.

from contract.native import load
from firmware.eui64 import write_le

BEACON = const(0)
DATA = const(1)
ACK = const(2)
COMMAND = const(3)

ADDR_NONE = const(0)
ADDR_SHORT = const(2)
ADDR_EXT = const(3)

_PENDING = const(0x0010)
_ACK_REQ = const(0x0020)
_PANID_COMP = const(0x0040)

BROADCAST = const(0xFFFF)  # short address and PAN ID

# MAC command identifiers
CMD_ASSOC_REQ = const(0x01)
CMD_ASSOC_RESP = const(0x02)
CMD_DATA_REQ = const(0x04)
CMD_BEACON_REQ = const(0x07)


class MacFrame:
    # Fields of the last parsed frame. Addresses: a short address is an int; an extended one
    # is the offset of its 8 air-order octets in the buffer (dst_ext_off / src_ext_off).
    def __init__(self):
        self.fcf = 0
        self.ftype = 0
        self.seq = 0
        self.dst_mode = 0
        self.dst_pan = -1
        self.dst_short = -1
        self.dst_ext_off = -1
        self.src_mode = 0
        self.src_pan = -1
        self.src_short = -1
        self.src_ext_off = -1
        self.payload_off = 0  # MAC payload (for commands: starts with the command id)
        self.payload_end = 0  # first octet of the FCS

    def ack_req(self):
        return bool(self.fcf & _ACK_REQ)

    def pending(self):
        return bool(self.fcf & _PENDING)


# Native code (firmware.octets), as every received frame meets it: parse(buf, off, n, f) fills
# the MacFrame f and returns reject.OK or a reject code; route(buf, off, n, r) says what a frame
# is from its header octets before any parse (an inter-PAN frame's source offset, or one of
# octets' verdicts; r: an octets.Route).
_octets = load("firmware.octets")
parse = _octets.parse
route = _octets.route
Route = _octets.Route
header_source = _octets.header_source  # zb_interpan.header_source
# route()'s verdicts (firmware.octets says what each means)
GENERIC = _octets.GENERIC
COUNTED = _octets.COUNTED
BEACON_REQUEST = _octets.BEACON_REQUEST
NOT_FOR_US = _octets.NOT_FOR_US
UNHANDLED = _octets.UNHANDLED
HAN_DROP = _octets.HAN_DROP
POLL = _octets.POLL
NWK = _octets.NWK
ORPHAN = _octets.ORPHAN
POLL_EXT = _octets.POLL_EXT
ASSOC = _octets.ASSOC
ASSOC_STRANGER = _octets.ASSOC_STRANGER
HAN_NOT_FOR_US = _octets.HAN_NOT_FOR_US
HAN_BAD_COMMAND = _octets.HAN_BAD_COMMAND


# --- building -------------------------------------------------------------------------------
# Builders write the MPDU without its FCS (the radio appends it; contract.crc16.append_fcs does
# so for captures and tests) and return its length. Addresses: None, an int (short address) or
# 8 bytes (an EUI-64, most significant octet first).


def _mode(addr):
    if addr is None:
        return ADDR_NONE
    return ADDR_SHORT if isinstance(addr, int) else ADDR_EXT


def _put_addr(buf, p, addr):
    if isinstance(addr, int):
        buf[p] = addr & 0xFF
        buf[p + 1] = addr >> 8
        return p + 2
    write_le(buf, p, addr)
    return p + 8


def write_header(
    buf, ftype, seq, dst_pan, dst, src_pan, src, ack_req=False, pending=False, compress=True
):
    # PAN ID compression is used when both addresses are present and the PANs match, unless
    # compress is False (inter-PAN frames always carry both PAN IDs).
    dm = _mode(dst)
    sm = _mode(src)
    comp = compress and dm and sm and dst_pan == src_pan
    fcf = ftype | (dm << 10) | (sm << 14)
    if ack_req:
        fcf |= _ACK_REQ
    if pending:
        fcf |= _PENDING
    if comp:
        fcf |= _PANID_COMP
    buf[0] = fcf & 0xFF
    buf[1] = fcf >> 8
    buf[2] = seq & 0xFF
    p = 3
    if dm:
        buf[p] = dst_pan & 0xFF
        buf[p + 1] = dst_pan >> 8
        p = _put_addr(buf, p + 2, dst)
    if sm:
        if not comp:
            buf[p] = src_pan & 0xFF
            buf[p + 1] = src_pan >> 8
            p += 2
        p = _put_addr(buf, p, src)
    return p


def put(buf, p, data):
    for i in range(len(data)):
        buf[p + i] = data[i]
    return p + len(data)


def build_beacon(buf, seq, pan_id, src, superframe, payload):
    # A beacon without GTS or pending addresses, as a non-beacon-enabled PAN sends it.
    p = write_header(buf, BEACON, seq, 0, None, pan_id, src)
    buf[p] = superframe & 0xFF
    buf[p + 1] = superframe >> 8
    buf[p + 2] = 0  # GTS specification: no descriptors, GTS not permitted
    buf[p + 3] = 0  # pending address specification: none
    return put(buf, p + 4, payload)


# --- beacon fields --------------------------------------------------------------------------

SF_PERMIT = const(0x8000)  # association permit
SF_PAN_COORD = const(0x4000)
SF_NON_BEACON = const(0x0FFF)  # beacon order 15, superframe order 15, final CAP slot 15
