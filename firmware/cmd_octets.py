# The command layer's octet-level work, as native code: the GBCS grouping header's offsets
# (firmware.cmd_gbcs) and the constant-time compare of an authentication tag
# (firmware.cmd_auth). Every command the inter-PAN budget admits, forged or not, meets both
# before it is refused. Loaded with contract.native.load (machine code where the port has a
# native emitter, the same source as bytecode where it has none, plain Python on CPython), so
# every function here reads octets through ptr8, checks each offset against the length it was
# given before reading (ptr8 reads are not bounds checked), keeps to small ints, and keeps to
# 11 words of locals and stack where it runs as bytecode (a larger frame goes on the GC heap).

from contract.compat import ptr8

# cmd_gbcs's codes and octets, repeated as private consts: viper inlines only its own.
_TAG = const(0xDF)
_TXID_LEN = const(0x09)
_COMMAND = const(1)
_ALERT = const(3)
_OK = const(0)
_TRUNCATED = const(1)
_BAD_FORMAT = const(2)
_BAD_CRA = const(3)
_TRAILING = const(4)

# len as a global of this module: found in its dict, not by a search of the builtins' table.
_len = len


@micropython.viper
def gbcs_header(buf, off: int, end: int, h) -> int:
    # cmd_gbcs.parse without the originator counter (a 64-bit value: cmd_gbcs reads it): the
    # grouping header at buf[off:end] into the GbcsHeader h, and cmd_gbcs's status code.
    if off < 0 or end > int(_len(buf)) or end - off < 2 + 1 + 8 + 18 + 1 + 3 + 1 + 1:
        return _TRUNCATED
    b = ptr8(buf)
    if b[off] != _TAG or b[off + 1] != _TXID_LEN:
        return _BAD_FORMAT
    if b[off + 2] < _COMMAND or b[off + 2] > _ALERT:
        return _BAD_CRA
    p = off + 11  # after the CRA flag and the counter
    if b[p] != 8 or b[p + 9] != 8:
        return _BAD_FORMAT
    h.orig_off = p + 1
    h.recip_off = p + 10
    p += 18
    if b[p] == 0:
        h.date_off = -1
        p += 1
    elif b[p] == 12:
        h.date_off = p + 1
        p += 13
    else:
        return _BAD_FORMAT
    if p + 3 > end:
        return _TRUNCATED
    if b[p] < 2:  # other-info: at least the message code
        return _BAD_FORMAT
    h.msg_code = (b[p + 1] << 8) | b[p + 2]
    p += 1 + b[p]
    if p >= end:  # the content's BER length
        return _TRUNCATED
    n = b[p]
    if n < 0x80:
        p += 1
    elif n == 0x81 and p + 1 < end:
        n = b[p + 1]
        p += 2
    elif n == 0x82 and p + 2 < end:
        n = (b[p + 1] << 8) | b[p + 2]
        p += 3
    else:
        return _BAD_FORMAT
    if p + n >= end:
        return _TRUNCATED
    h.content_off = p
    h.content_len = n
    p += n
    h.signed_end = p
    if b[p] >= 0x80:  # the authentication field's length
        return _BAD_FORMAT
    h.auth_off = p + 1
    h.auth_len = b[p]
    p += 1 + b[p]
    if p > end:
        return _TRUNCATED
    if p != end:
        return _TRAILING
    h.cra = b[off + 2]
    return _OK


@micropython.viper
def same(x, y) -> bool:
    # Whether two buffers hold the same octets, in a time that depends on their length only.
    n = int(_len(x))
    if n != int(_len(y)):
        return False
    a = ptr8(x)
    b = ptr8(y)
    d = 0
    while n > 0:
        n -= 1
        d |= a[n] ^ b[n]
    return d == 0
