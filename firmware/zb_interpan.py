# ZigBee Smart Energy inter-PAN frames: an 802.15.4 data frame with a 64-bit source and both PAN
# IDs, then a 2-octet stub NWK header (0x000B: frame type 3, protocol version 2) and a stub APS
# header (frame type 3, delivery mode, optional group, cluster, profile; no endpoints and no
# counter), then a ZCL frame. ZigBee Smart Energy 1.1 (07-5356) annex B.

from contract.compat import const
from firmware import cmd_gbcs as gbcs
from firmware import ipan_discovery as discovery
from firmware import mac
from firmware import zb_zcl as zcl

_STUB_NWK_LO = const(0x0B)
_STUB_NWK_HI = const(0x00)
_APS_UNICAST = const(0x03)
_APS_BROADCAST = const(0x0B)
_APS_GROUP = const(0x0F)
PROFILE_SE = const(0x0109)

OK = const(0)
BAD_APS = const(2)


class InterPanHeader:
    def __init__(self):
        self.delivery = 0  # APS frame control (unicast / broadcast / group)
        self.cluster = 0
        self.profile = 0
        self.zcl_off = 0


def header_source(buf, off, n):
    # The offset of the 64-bit source of an inter-PAN frame recognised from its fixed header
    # octets alone, or -1: a data frame, no MAC security, no PAN ID compression, a 64-bit
    # source, and the stub NWK frame control 0x000B where the payload starts. The drop paths
    # (flag OFF, not for us, rate-limited) decide from this, before any parse (docs/dos.md).
    lo = buf[off]
    hi = buf[off + 1]
    if n < 21 or lo & 0x4F != 0x01 or hi & 0xC0 != 0xC0:
        return -1
    dm = (hi >> 2) & 3
    if dm == 2:
        src = off + 9
    elif dm == 3:
        src = off + 15
    else:
        return -1
    p = src + 8
    if p + 2 > off + n - 2 or buf[p] != _STUB_NWK_LO or buf[p + 1] != _STUB_NWK_HI:
        return -1
    return src


# classify()'s verdicts other than a command's GBCS offset (>= 0).
DISCOVERY = const(-2)
OTHER = const(-1)
# The shortest GBCS command: grouping header with no date-time, empty content, 16-octet tag.
_GBCS_MIN = const(51)
ORIG = const(12)  # the originator's EUI-64 in a GBCS grouping header: DF 09 CRA counter(8) 08


def classify(buf, off, n, src):
    # From fixed octets of an inter-PAN frame (src from interpan_frame.header_source), before
    # any budget is spent: the offset of the GBCS block of an SE Tunneling TransferData command
    # (>= 0), DISCOVERY for a Get Hub Details request, or OTHER. Only what locates the two is
    # read (cluster, a ZCL command from client to server with no manufacturer code, the GBCS
    # tag); the full parse after the budget checks everything, and a frame that passes here and
    # fails there costs no more than a forged command.
    p = src + 10  # the stub APS frame control, after the source and the stub NWK header
    if buf[p] == _APS_GROUP:
        p += 2
    if buf[p + 5] & 0x0C:  # ZCL: server to client, or a manufacturer code before the command
        return OTHER
    if buf[p + 2] == 0xFC and buf[p + 1] == 0x00:  # discovery.CLUSTER
        return DISCOVERY if buf[p + 7] == discovery.CMD_GET_DETAILS else OTHER
    if buf[p + 2] != 0x07 or buf[p + 1] != 0x04 or buf[p + 7] != zcl.TRANSFER_DATA:
        return OTHER  # not zcl.TUNNELING's TransferData
    p += 10  # the GBCS block: after the ZCL header (3) and the tunnel ID (2)
    if buf[p] != gbcs.TAG or off + n - 2 - p < _GBCS_MIN:
        return OTHER
    return p


def is_interpan(buf, f):
    # Whether a parsed MAC frame is inter-PAN (the host tools' decoders; the hub classifies
    # raw octets with header_source, before any parse).
    p = f.payload_off
    return (
        f.ftype == mac.DATA
        and f.src_mode == mac.ADDR_EXT
        and f.payload_end - p >= 2
        and buf[p] == _STUB_NWK_LO
        and buf[p + 1] == _STUB_NWK_HI
    )


def parse(buf, f, h):
    # After is_interpan(): the stub APS header. Returns OK, or BAD_APS.
    p = f.payload_off + 2
    end = f.payload_end
    if p >= end:
        return BAD_APS
    fc = buf[p]
    if fc & 0x03 != 0x03 or fc & 0xF0:  # not inter-PAN type; security/ack/ext header unsupported
        return BAD_APS
    p += 1
    if fc == _APS_GROUP:
        p += 2
    if p + 4 > end:
        return BAD_APS
    h.delivery = fc
    h.cluster = buf[p] | (buf[p + 1] << 8)
    h.profile = buf[p + 2] | (buf[p + 3] << 8)
    h.zcl_off = p + 4
    return OK


def write_header(buf, seq, dst_pan, dst, src_pan, src_eui, cluster, profile=PROFILE_SE):
    # MAC + stub NWK + stub APS; returns the offset where the ZCL frame goes. Unicast to a long
    # address asks for an ACK, broadcast never does (Ember's inter-PAN frame controls).
    unicast = not isinstance(dst, int) or dst != mac.BROADCAST
    p = mac.write_header(
        buf, mac.DATA, seq, dst_pan, dst, src_pan, src_eui, ack_req=unicast, compress=False
    )
    buf[p] = _STUB_NWK_LO
    buf[p + 1] = _STUB_NWK_HI
    buf[p + 2] = _APS_UNICAST if unicast else _APS_BROADCAST
    buf[p + 3] = cluster & 0xFF
    buf[p + 4] = cluster >> 8
    buf[p + 5] = profile & 0xFF
    buf[p + 6] = profile >> 8
    return p + 7


class Replier:
    # The hub's inter-PAN replies (discovery details, command answers): its addresses, its own
    # sequence numbers, and one preallocated buffer for the reply to the frame in hand.
    def __init__(self, pan_id, eui, size):
        self.buf = bytearray(size)
        self.pan_id = pan_id
        self.eui = eui
        self._seq = 0
        # The broadcast header (discovery details), written once; a reply copies it in place.
        self._bcast = bytearray(32)
        self._bcast_len = write_header(
            self._bcast, 0, mac.BROADCAST, mac.BROADCAST, pan_id, eui, 0
        )

    def header(self, tx, dst_eui, dst_pan, cluster):
        # Starts a reply in tx, unicast to dst_eui or, for mac.BROADCAST, to every HHT listening
        # (discovery); returns the offset where the ZCL frame goes.
        self._seq = (self._seq + 1) & 0xFF
        return write_header(tx, self._seq, dst_pan, dst_eui, self.pan_id, self.eui, cluster)

    def broadcast_header(self, tx, cluster):
        # header(tx, mac.BROADCAST, mac.BROADCAST, cluster), allocating nothing: the template
        # copied octet by octet (a slice, or write_header's frame, would go on the heap).
        self._seq = (self._seq + 1) & 0xFF
        n = self._bcast_len
        b = self._bcast
        for i in range(n):
            tx[i] = b[i]
        tx[2] = self._seq
        tx[n - 4] = cluster & 0xFF
        tx[n - 3] = cluster >> 8
        return n
