# ZigBee's auxiliary security header (ZigBee specification 4.5.1), shared by NWK and APS
# security, and CCM* over a frame that carries one (4.3.1 for NWK, 4.4.1 for APS):
#
#   security control (1) | frame counter (4, LE) | [source EUI-64 (8, LE)] | [key seq (1)]
#
# security control: bits 0-2 level, 3-4 key identifier, 5 extended nonce (source present);
# the key sequence number is present only for the network key. Senders write level 000 on the
# air and both ends use the real level (nwkSecurityLevel, 5: ENC-MIC-32) for the nonce and the
# authenticated header; seal() and unseal() put it in for the computation and take it out.
#
#   nonce = source EUI-64 (LE) || frame counter (LE) || security control    (13 octets)
#   authenticated: the frame's header (NWK or APS) and this header; encrypted: what follows
#
# Parsing is by offsets into a preallocated AuxHeader, never raises on junk, allocates nothing.

from firmware import sec_ccm as ccm
from firmware.eui64 import write_le

LEVEL = const(5)  # ENC-MIC-32, the one level ZigBee PRO and Smart Energy use

KEY_DATA = const(0)  # a link key
KEY_NETWORK = const(1)
KEY_TRANSPORT = const(2)  # the key-transport key (firmware.sec_mmo)
KEY_LOAD = const(3)

_EXT_NONCE = const(0x20)
_LEVEL_MASK = const(0x07)

# parse results
OK = const(0)
TRUNCATED = const(1)  # the header (or a MIC after it) runs past the end of the frame
NO_SOURCE = const(2)  # no extended nonce: the source EUI-64 is not in the frame


class AuxHeader:
    # One auxiliary header: what write() puts on the air, or what parse() found there; and the
    # security level both ends compute with. Preallocated, one per direction.
    def __init__(self, key_id=KEY_NETWORK, src=None, level=LEVEL):
        self.level = level  # nwkSecurityLevel: the level for the nonce and the MIC
        self.key_id = key_id
        self.key_seq = 0  # the network key's sequence number; -1 when parsed without one
        self.counter = 0  # write(): the frame counter to send
        self.src = src  # write(): the sender's EUI-64, most significant first
        self.off = 0  # offset of the security control octet
        self.sc = 0  # security control as on the air
        self.src_off = -1  # offset of the 8 air-order octets of the source EUI-64
        self.end = 0  # the first octet after the header: the protected payload


def length(key_id):
    # The header's length with an extended nonce, as this project always sends it.
    return 14 if key_id == KEY_NETWORK else 13


def write(buf, p, h):
    # Writes the header h describes at p (level 000, as on the air) and returns its end.
    h.off = p
    h.sc = (h.key_id << 3) | _EXT_NONCE
    buf[p] = h.sc
    _put_counter(buf, p + 1, h.counter)
    h.src_off = p + 5
    _put_eui(buf, p + 5, h.src)
    h.end = p + 13
    if h.key_id == KEY_NETWORK:
        buf[p + 13] = h.key_seq
        h.end = p + 14
    return h.end


def _put_counter(buf, p, v):
    buf[p] = v & 0xFF
    buf[p + 1] = (v >> 8) & 0xFF
    buf[p + 2] = (v >> 16) & 0xFF
    buf[p + 3] = (v >> 24) & 0xFF


def _put_eui(buf, p, eui):
    # eui most significant first, written little-endian (air order)
    write_le(buf, p, eui)


def parse(buf, off, end, h):
    # The header at buf[off:end] (end: the end of the frame, MIC included). Returns OK, with
    # h filled in and at least 4 octets (the shortest MIC) after the header, or a reason.
    if off >= end:
        return TRUNCATED
    sc = buf[off]
    if not sc & _EXT_NONCE:
        return NO_SOURCE
    h.key_id = (sc >> 3) & 3
    h.end = off + 14 if h.key_id == KEY_NETWORK else off + 13
    if h.end + 4 > end:
        return TRUNCATED
    h.key_seq = buf[off + 13] if h.key_id == KEY_NETWORK else -1
    h.off = off
    h.sc = sc
    h.src_off = off + 5
    return OK


def _prepare(buf, h):
    # The security control with the real level, in the frame and in the nonce:
    # nonce = source EUI-64 (air order) || frame counter (air order) || security control.
    p = h.off
    buf[p] = (h.sc & ~_LEVEL_MASK) | h.level
    ccm.nonce(buf, p)


def seal(enc, buf, hdr_off, h, m_end):
    # Secures a frame: its header buf[hdr_off:h.off], the auxiliary header h (just written by
    # write()), the payload buf[h.end:m_end]. Returns the end after the MIC; the caller leaves
    # room for it (4 octets at level 5).
    _prepare(buf, h)
    ccm.use(enc, buf, h.level)
    m_end = ccm.seal(hdr_off, h.end, m_end)
    ccm.release()
    buf[h.off] = h.sc  # level 000 again, as on the air
    return m_end


def unseal(enc, buf, hdr_off, h, end):
    # Verifies and decrypts, in place, a frame whose auxiliary header parse() put in h (its
    # level is the receiver's, whatever the air said). Returns the end of the plaintext (it
    # starts at h.end), or -1 when the MIC does not verify.
    _prepare(buf, h)
    ccm.use(enc, buf, h.level)
    end = ccm.unseal(hdr_off, h.end, end)
    ccm.release()
    buf[h.off] = h.sc
    return end
