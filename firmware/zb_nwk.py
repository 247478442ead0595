# ZigBee NWK and APS headers of intra-PAN traffic (ZigBee PRO, protocol version 2), parsed into
# preallocated header objects by offsets (no allocation, never raising) and built into a
# caller's buffer. The hub and its meters talk in ordinary NWK data frames carrying APS data
# frames and ZCL, so Wireshark's and scapy's ZigBee dissectors decode every frame; inter-PAN
# frames (NWK frame type 3) are firmware.zb_interpan's business. All fields little-endian.
#
# A frame with the NWK security bit parses to SECURED, payload_off at its auxiliary header:
# firmware.sec_nwk unprotects it in place and hands back the end of its plaintext; the
# builders write frames in the clear and NwkSecurity.protect secures them (firmware.han_security
# is the HAN's).

from contract.native import load
from firmware import mac
from firmware.eui64 import write_le

# NWK frame control (ZigBee spec 3.3.1.1)
FT_DATA = const(0)
FT_COMMAND = const(1)
FT_INTERPAN = const(3)
_VERSION_PRO = const(2)
_DISCOVER_ROUTE = const(0x0040)  # discover route = 1 (enable)
_MULTICAST = const(0x0100)
_SECURITY = const(0x0200)
_SOURCE_ROUTE = const(0x0400)
_DST_IEEE = const(0x0800)
_SRC_IEEE = const(0x1000)

# NWK addresses
COORDINATOR = const(0x0000)
BROADCAST_MIN = const(0xFFF8)  # 0xFFF8..0xFFFF are broadcast / reserved, never a device

_RADIUS = const(30)  # 2 * nwkMaxDepth of a ZigBee PRO network: a direct child needs only 1

# APS frame control (ZigBee spec 2.2.5.1.1)
APS_DATA = const(0)
APS_COMMAND = const(1)
APS_ACK = const(2)
_APS_DELIVERY = const(0x0C)
_APS_GROUP = const(0x0C)  # delivery mode 3
_APS_SECURITY = const(0x20)
_APS_ACK_REQ = const(0x40)
_APS_EXT_HEADER = const(0x80)

PROFILE_SE = const(0x0109)
_ENDPOINT = const(1)  # the Smart Energy endpoint on the hub and on the meters

# parse results
OK = const(0)
TRUNCATED = const(1)  # a header runs past the end of the frame
BAD_VERSION = const(2)  # not ZigBee PRO (protocol version 2)
BAD_TYPE = const(3)  # reserved frame type, or inter-PAN where intra-PAN was expected
SECURED = const(4)  # NWK security: for firmware.sec_nwk
APS_SECURED = const(5)  # APS security (a Transport-Key: firmware.sec_transport_key opens it)
APS_UNSUPPORTED = const(6)  # APS extended header (fragmentation), or reserved delivery mode
NOT_DATA = const(7)  # a well-formed APS command or acknowledgement, not data

NAMES = (
    "ok",
    "truncated",
    "bad_version",
    "bad_type",
    "nwk_secured",
    "aps_secured",
    "aps_unsupported",
    "aps_not_data",
)


class NwkHeader:
    def __init__(self):
        self.fc = 0
        self.ftype = 0
        self.dst = 0
        self.src = 0
        self.radius = 0
        self.seq = 0
        self.dst_ieee_off = -1  # offset of an 8-octet air-order IEEE address, or -1
        self.src_ieee_off = -1
        self.payload_off = 0


class ApsHeader:
    def __init__(self):
        self.fc = 0
        self.ftype = 0
        self.delivery = 0
        self.dst_ep = -1
        self.group = -1
        self.cluster = 0
        self.profile = 0
        self.src_ep = 0
        self.counter = 0
        self.payload_off = 0

    def ack_req(self):
        return bool(self.fc & _APS_ACK_REQ)


# parse_nwk(buf, off, end, h): the NWK header at buf[off:end] (end: the first octet of the MAC
# FCS) into the NwkHeader h. Returns OK or a reason; on OK, h.payload_off is where the APS frame
# (or NWK command) starts (on SECURED, the auxiliary header). Native code (firmware.octets):
# every member's frame meets it.
parse_nwk = load("firmware.octets").parse_nwk


def parse_aps(buf, off, end, a):
    # The APS header at buf[off:end]. Returns OK for a data frame (a.payload_off is the ZCL
    # frame), NOT_DATA for a well-formed command or acknowledgement, or a reason.
    if off >= end:
        return TRUNCATED
    fc = buf[off]
    ftype = fc & 3
    a.fc = fc
    a.ftype = ftype
    if ftype == FT_INTERPAN:
        return BAD_TYPE
    if fc & _APS_SECURITY:
        return APS_SECURED
    if fc & _APS_EXT_HEADER:
        return APS_UNSUPPORTED
    a.delivery = (fc >> 2) & 3
    if a.delivery == 1:  # "indirect": removed from ZigBee 2007 and later
        return APS_UNSUPPORTED
    a.dst_ep = -1
    a.group = -1
    off += 1
    if ftype == APS_COMMAND:
        if off + 2 > end:  # counter + command identifier
            return TRUNCATED
        a.counter = buf[off]
        a.payload_off = off + 1
        return NOT_DATA
    if ftype == APS_ACK and fc & 0x10:  # ack format: an APS command's ack carries no addressing
        if off + 1 > end:
            return TRUNCATED
        a.counter = buf[off]
        a.payload_off = off + 1
        return NOT_DATA
    return _aps_frame(buf, off, end, a)


def _aps_frame(buf, p, end, a):
    # A data frame's or an acknowledgement's addressing, from p (after the frame control):
    # [group 2 | dst ep 1] cluster 2 profile 2 src ep 1 counter 1; acks carry a destination
    # endpoint even for group deliveries. (Apart from parse_aps: one frame of more than 11
    # words would go on the heap at every call.)
    if a.delivery == 3 and a.ftype == APS_DATA:
        if p + 8 > end:
            return TRUNCATED
        a.group = buf[p] | (buf[p + 1] << 8)
        p += 2
    else:
        if p + 7 > end:
            return TRUNCATED
        a.dst_ep = buf[p]
        p += 1
    a.cluster = buf[p] | (buf[p + 1] << 8)
    a.profile = buf[p + 2] | (buf[p + 3] << 8)
    a.src_ep = buf[p + 4]
    a.counter = buf[p + 5]
    a.payload_off = p + 6
    return OK if a.ftype == APS_DATA else NOT_DATA


def parse(buf, off, end, h, a):
    # NWK then APS, for the common case of a data frame carrying ZCL.
    r = parse_nwk(buf, off, end, h)
    if r != OK:
        return r
    if h.ftype != FT_DATA:
        return NOT_DATA
    return parse_aps(buf, h.payload_off, end, a)


# --- building -------------------------------------------------------------------------------
# IEEE addresses are 8 bytes, most significant first (written little-endian), or None.


def write_nwk(buf, p, dst, src, seq, radius=_RADIUS, dst_ieee=None, src_ieee=None):
    # A NWK data frame header with route discovery enabled (what ZigBee PRO stacks send);
    # returns the offset after it.
    fc = FT_DATA | (_VERSION_PRO << 2) | _DISCOVER_ROUTE
    if dst_ieee is not None:
        fc |= _DST_IEEE
    if src_ieee is not None:
        fc |= _SRC_IEEE
    buf[p] = fc & 0xFF
    buf[p + 1] = fc >> 8
    buf[p + 2] = dst & 0xFF
    buf[p + 3] = dst >> 8
    buf[p + 4] = src & 0xFF
    buf[p + 5] = src >> 8
    buf[p + 6] = radius
    buf[p + 7] = seq & 0xFF
    p += 8
    for ieee in (dst_ieee, src_ieee):
        if ieee is not None:
            write_le(buf, p, ieee)
            p += 8
    return p


def write_aps(
    buf, p, cluster, counter, profile=PROFILE_SE, dst_ep=_ENDPOINT, src_ep=_ENDPOINT, ack_req=False
):
    # A unicast APS data frame header; returns the offset of the ZCL frame.
    buf[p] = _APS_ACK_REQ if ack_req else 0
    buf[p + 1] = dst_ep
    buf[p + 2] = cluster & 0xFF
    buf[p + 3] = cluster >> 8
    buf[p + 4] = profile & 0xFF
    buf[p + 5] = profile >> 8
    buf[p + 6] = src_ep
    buf[p + 7] = counter & 0xFF
    return p + 8


MAC_HEADER_LEN = const(9)  # data frame, short addresses, PAN ID compression
NWK_HEADER_LEN = const(8)
APS_HEADER_LEN = const(8)
HEADERS_LEN = const(25)  # MAC + NWK + APS in front of the ZCL frame


def write_frame(buf, mac_seq, pan_id, dst, src, nwk_seq, aps_counter, cluster, pending=False):
    # MAC (short addresses, ACK requested) + NWK + APS data headers between two neighbours of
    # one PAN; returns the offset of the ZCL frame (HEADERS_LEN).
    p = mac.write_header(buf, mac.DATA, mac_seq, pan_id, dst, pan_id, src, True, pending)
    p = write_nwk(buf, p, dst, src, nwk_seq)
    return write_aps(buf, p, cluster, aps_counter)
