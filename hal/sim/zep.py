# ZEP v2 (ZigBee Encapsulation Protocol), the framing Wireshark dissects on UDP 17754, as RIOT's
# socket_zep and zep_dispatch use it to carry 802.15.4 frames between processes.
#
# Data datagram: 32-octet header, then the PSDU with its FCS (lqi_mode 1, "CRC mode"). The
# HELLO type (255) is RIOT's socket_zep_hello convention: a node announces itself so a
# dispatcher learns its address before it transmits; it is never relayed nor recorded.
#
# Everything here works on caller-owned buffers by index so the receive path allocates nothing;
# parse() returns a reason code instead of raising, whatever the bytes.

from contract.frame import PSDU_MAX

PORT = const(17754)
HEADER_LEN = const(32)
VERSION = const(2)
TYPE_DATA = const(1)
TYPE_ACK = const(2)
TYPE_HELLO = const(255)
PSDU_MIN = const(2)  # the FCS alone
DATAGRAM_MAX = const(159)  # HEADER_LEN + PSDU_MAX

# parse() results. OK and HELLO are well-formed; every other code names why a datagram was
# rejected, indexing REASONS for logs and counters.
OK = const(0)
HELLO = const(1)
TOO_SHORT = const(2)
BAD_PREAMBLE = const(3)
BAD_VERSION = const(4)
BAD_TYPE = const(5)
BAD_MODE = const(6)
BAD_LENGTH = const(7)
LENGTH_MISMATCH = const(8)

REASONS = (
    "ok",
    "hello",
    "too_short",
    "bad_preamble",
    "bad_version",
    "bad_type",
    "bad_mode",
    "bad_length",
    "length_mismatch",
)

_P0 = const(0x45)  # "E"
_P1 = const(0x58)  # "X"


def _put32(buf, off, v):
    buf[off] = (v >> 24) & 0xFF
    buf[off + 1] = (v >> 16) & 0xFF
    buf[off + 2] = (v >> 8) & 0xFF
    buf[off + 3] = v & 0xFF


def _common(buf, kind_, channel, device_id):
    buf[0] = _P0
    buf[1] = _P1
    buf[2] = VERSION
    buf[3] = kind_
    buf[4] = channel
    buf[5] = (device_id >> 8) & 0xFF
    buf[6] = device_id & 0xFF
    for i in range(21, 31):
        buf[i] = 0


def write_header(buf, channel, device_id, lqi, seq, psdu_len, ntp_s=0, ntp_frac=0):
    # buf[0:32] <- a data header; the PSDU (FCS included) goes at buf[32:32 + psdu_len].
    _common(buf, TYPE_DATA, channel, device_id)
    buf[7] = 1  # CRC mode: Wireshark then hands the frame to the FCS-aware 802.15.4 dissector
    buf[8] = lqi
    _put32(buf, 9, ntp_s)
    _put32(buf, 13, ntp_frac)
    _put32(buf, 17, seq)
    buf[31] = psdu_len


def write_hello(buf, device_id):
    # RIOT marks its hello with "HELLO" in the reserved octets; same here, with no payload.
    _common(buf, TYPE_HELLO, 0, device_id)
    for i in range(7, 21):
        buf[i] = 0
    buf[21] = 0x48
    buf[22] = 0x45
    buf[23] = 0x4C
    buf[24] = 0x4C
    buf[25] = 0x4F
    buf[31] = 0
    return HEADER_LEN


def parse(buf, off, n):
    # Classifies the n-octet datagram at buf[off:]. On OK the PSDU is
    # buf[off + HEADER_LEN : off + HEADER_LEN + psdu_len(buf, off)].
    if n < 4:
        return TOO_SHORT
    if buf[off] != _P0 or buf[off + 1] != _P1:
        return BAD_PREAMBLE
    if buf[off + 2] != VERSION:
        return BAD_VERSION
    t = buf[off + 3]
    if t != TYPE_DATA and t != TYPE_HELLO:
        return BAD_TYPE  # ZEP acks included: this medium carries 802.15.4 acks as data frames
    if n < HEADER_LEN:
        return TOO_SHORT
    ln = buf[off + 31]
    if t == TYPE_HELLO:
        # RIOT's hello carries the node's 8-octet address after the header; ours carries none.
        if ln > PSDU_MAX:
            return BAD_LENGTH
        return HELLO if n == HEADER_LEN + ln else LENGTH_MISMATCH
    if buf[off + 7] != 1:
        return BAD_MODE  # LQI mode: the frame ends in CC24xx metadata, not an FCS
    if ln < PSDU_MIN or ln > PSDU_MAX:
        return BAD_LENGTH
    if n != HEADER_LEN + ln:
        return LENGTH_MISMATCH
    return OK


def kind(buf, off):
    return buf[off + 3]


def channel(buf, off):
    return buf[off + 4]


def device_id(buf, off):
    return (buf[off + 5] << 8) | buf[off + 6]


def lqi(buf, off):
    return buf[off + 8]


def seq(buf, off):
    return (buf[off + 17] << 24) | (buf[off + 18] << 16) | (buf[off + 19] << 8) | buf[off + 20]


def psdu_len(buf, off):
    return buf[off + 31]
