# The content of this lab profile's GBCS messages: ASN.1 BER, as GBCS uses for its CS and CCS
# use cases, so Wireshark's GBCS dissector shows it as well-formed ASN.1. A command's content
# is a SEQUENCE of OCTET STRINGs (its fields); a response's is SEQUENCE { ENUMERATED status,
# OCTET STRING data }. Definite short or one/two-octet long lengths only.


_SEQUENCE = const(0x30)
OCTET_STRING = const(0x04)
ENUMERATED = const(0x0A)


def _len(n):
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    return bytes((0x82, n >> 8, n & 0xFF))


def tlv(tag, value):
    return bytes((tag,)) + _len(len(value)) + bytes(value)


def sequence(*fields):
    # A SEQUENCE of OCTET STRINGs (command fields).
    return tlv(_SEQUENCE, b"".join(tlv(OCTET_STRING, f) for f in fields))


def response(status, data=b""):
    body = tlv(ENUMERATED, bytes((status,)))
    if data:
        body += tlv(OCTET_STRING, data)
    return tlv(_SEQUENCE, body)


def _read(buf, p, end):
    # (tag, value start, value end), or None if malformed.
    if p + 2 > end:
        return None
    tag = buf[p]
    n = buf[p + 1]
    p += 2
    if n == 0x81 and p < end:
        n = buf[p]
        p += 1
    elif n == 0x82 and p + 1 < end:
        n = (buf[p] << 8) | buf[p + 1]
        p += 2
    elif n >= 0x80:
        return None
    if p + n > end:
        return None
    return tag, p, p + n


def elements(content):
    # The (tag, bytes) elements of a SEQUENCE, or None if content is not exactly one SEQUENCE.
    t = _read(content, 0, len(content))
    if t is None or t[0] != _SEQUENCE or t[2] != len(content):
        return None
    out = []
    p = t[1]
    while p < t[2]:
        e = _read(content, p, t[2])
        if e is None:
            return None
        out.append((e[0], bytes(content[e[1] : e[2]])))
        p = e[2]
    return out


def fields(content):
    # A command's fields: the OCTET STRINGs of its SEQUENCE, or None if it is anything else.
    els = elements(content)
    if els is None or any(tag != OCTET_STRING for tag, _ in els):
        return None
    return [v for _, v in els]
