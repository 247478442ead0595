# ZigBee Smart Energy inter-PAN frames: an 802.15.4 data frame with a 64-bit source and both PAN
# IDs, then a 2-octet stub NWK header (0x000B: frame type 3, protocol version 2) and a stub APS
# header (frame type 3, delivery mode, optional group, cluster, profile; no endpoints and no
# counter), then a ZCL frame. ZigBee Smart Energy 1.1 (07-5356) annex B.

from contract.native import load
from firmware import mac

_STUB_NWK_LO = const(0x0B)
_STUB_NWK_HI = const(0x00)
_APS_UNICAST = const(0x03)
_APS_BROADCAST = const(0x0B)
PROFILE_SE = const(0x0109)

OK = const(0)
BAD_APS = const(2)


class InterPanHeader:
    # The stub APS header (parse() fills it); the MAC fields an inter-PAN frame's consumers
    # read (the names are mac.MacFrame's); and the ZCL header (the names are
    # zb_zcl.ZclHeader's). The command layer takes it for either. The hub's parse_at fills
    # only what the hub and the command layer read (ipan_octets.PARSED).
    def __init__(self):
        self.delivery = 0  # APS frame control (unicast / broadcast / group)
        self.cluster = 0
        self.profile = 0
        self.zcl_off = 0
        self.src_pan = -1
        self.src_ext_off = -1
        self.payload_end = 0
        self.fc = 0
        self.manufacturer = -1
        self.seq = 0
        self.command = 0
        self.payload_off = 0


# Recognising an inter-PAN frame from its header octets (header_source: the first step of
# mac.route, firmware.octets), what it is for this hub (classify: a command's GBCS offset, or
# one of the verdicts below), its stub APS header and the hub's parse of it are native code
# (firmware.ipan_octets): every inter-PAN frame meets them.
_octets = load("firmware.ipan_octets")
header_source = mac.header_source
classify = _octets.classify
OTHER = _octets.OTHER
DISCOVERY = _octets.DISCOVERY
FOREIGN = _octets.FOREIGN  # not for this hub
parse_at = _octets.parse_at
PARSED = _octets.PARSED  # the fields parse_at fills
find8 = _octets.find8  # the provisioned parties' search (firmware.cmd_parties)


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
    h.src_pan = f.src_pan
    h.src_ext_off = f.src_ext_off
    h.payload_end = f.payload_end
    return BAD_APS if _octets.aps(buf, f.payload_off + 2, f.payload_end, h) else OK


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
