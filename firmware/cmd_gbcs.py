# The GBCS grouping header ("general signing"), big-endian as GBCS is (as
# SmartDCCInnovation/gbcs-parser reads it, src/parser.ts parseGeneralSigning):
#   DF 09 | CRA (1) | originator counter (8) | 08 originator EUI-64 | 08 recipient EUI-64 |
#   date-time (00 absent, or 0C + 12 octets) | other-info: len + message code (2) [+ more] |
#   content: BER length (n < 0x80, 81 n, 82 hi lo) + content | authentication: len + tag
# Parsed into a preallocated GbcsHeader by offsets, never raising. The authentication field
# covers everything from the DF tag to the end of the content.

from contract.native import load

TAG = const(0xDF)
TXID_LEN = const(0x09)
COMMAND = const(1)
RESPONSE = const(2)
ALERT = const(3)

OK = const(0)
TRUNCATED = const(1)
BAD_FORMAT = const(2)  # not a general-signing block, or a field with a reserved value
BAD_CRA = const(3)
TRAILING = const(4)  # octets after the authentication field
REASONS = ("ok", "truncated", "bad_format", "bad_cra", "trailing")


class GbcsHeader:
    def __init__(self):
        self.cra = 0
        self.counter = 0
        self.orig_off = 0  # EUI-64, most significant octet first (GBCS order)
        self.recip_off = 0
        self.date_off = -1
        self.msg_code = 0
        self.content_off = 0
        self.content_len = 0
        self.signed_end = 0
        self.auth_off = 0
        self.auth_len = 0


_header = load("firmware.cmd_octets").gbcs_header


# parse_header(buf, off, end, h): parse() without the originator counter (native code,
# firmware.cmd_octets; allocates nothing): what the command layer reads before authentication.
parse_header = _header


def counter(buf, h):
    # The originator counter of the message h was parsed from (64 bits: may allocate).
    return int.from_bytes(buf[h.orig_off - 9 : h.orig_off - 1], "big")


def parse(buf, off, end, h):
    # The grouping header at buf[off:end] into h, its counter included: OK or a status code.
    r = _header(buf, off, end, h)
    if r == OK:
        h.counter = counter(buf, h)
    return r


def _ber(n):
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    return bytes((0x82, n >> 8, n & 0xFF))


def signed_part(cra, counter, orig, recip, msg_code, content, date=None):
    # Everything the authentication tag covers (allocates: builders are not on a drop path).
    out = bytearray((TAG, TXID_LEN, cra))
    out += bytes((counter >> (8 * (7 - i))) & 0xFF for i in range(8))
    out += b"\x08" + bytes(orig) + b"\x08" + bytes(recip)
    out += b"\x0c" + bytes(date) if date else b"\x00"
    out += bytes((2, msg_code >> 8, msg_code & 0xFF))
    out += _ber(len(content)) + bytes(content)
    return bytes(out)


def build(cra, counter, orig, recip, msg_code, content, tag=b"", date=None):
    return (
        signed_part(cra, counter, orig, recip, msg_code, content, date)
        + bytes((len(tag),))
        + bytes(tag)
    )


def eui(buf, off):
    return bytes(buf[off : off + 8])
