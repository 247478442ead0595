# SHA-256 (FIPS 180-4) as native code, for the command layer's HMAC (firmware.cmd_auth) on the
# path of every command the inter-PAN budget admits, forged or not: written into preallocated
# state, so a tag costs no allocation (hashlib makes two hash objects and two digests per tag
# and cannot be copied, so it cannot reuse a key's padded block either; here a key's two padded
# blocks are absorbed once and their states kept, and a tag of a short message is two blocks).
# Loaded with contract.native.load: machine code where the port has a native emitter, the same
# source as bytecode where it has none (slow, and its frames are over 11 words: no board
# without an emitter is supported), plain Python on CPython.
#
# Words: the state and the message schedule are array("I") buffers, read and written through
# ptr32 (as bytecode and on CPython, indexing the array gives the same words). A native int is
# 32 or 64 bits wide and signed, so every right shift is masked to the bits it keeps, and every
# value stored or shifted again is masked to 32 bits with m (all ones in 32 bits, computed so
# that no constant is outside the ESP32's small ints).

from array import array

from contract.compat import ptr8

_len = len  # found in this module's dict, not by a search of the builtins' table
_BLOCK = const(64)

# FIPS 180-4 4.2.2: the round constants; 5.3.3: the initial hash value.
_K = array(
    "I",
    (
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ),
)  # fmt: skip
IV = array(
    "I",
    (
        0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
        0x5BE0CD19,
    ),
)  # fmt: skip


def ptr32(x):
    # Viper's word view of a buffer, where the same source runs as bytecode or on CPython: every
    # buffer it is given here is an array("I"), whose items are those words.
    return x


@micropython.viper
def compress(st, w, buf, off: int) -> int:
    # One block, buf[off:off+64], into the state st (8 words); w: 64 words of scratch for the
    # message schedule. 0, or 1 when the block or the buffers are short (nothing is read).
    if off < 0 or off + _BLOCK > int(_len(buf)) or int(_len(st)) < 8 or int(_len(w)) < 64:
        return 1
    m = 0xFFFF
    m = (m << 16) | m  # at run time: a constant would be folded, and not small on 32 bits
    p = ptr8(buf)
    s = ptr32(st)
    k = ptr32(_K)
    x = ptr32(w)
    i = 0
    while i < 16:  # FIPS 180-4 6.2.2 step 1: the block's words, big-endian
        x[i] = ((p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3]) & m
        off += 4
        i += 1
    while i < 64:
        a = x[i - 15]
        b = x[i - 2]
        a = (
            (((a >> 7) & 0x1FFFFFF) | (a << 25))
            ^ (((a >> 18) & 0x3FFF) | (a << 14))
            ^ ((a >> 3) & 0x1FFFFFFF)
        )
        b = (
            (((b >> 17) & 0x7FFF) | (b << 15))
            ^ (((b >> 19) & 0x1FFF) | (b << 13))
            ^ ((b >> 10) & 0x3FFFFF)
        )
        x[i] = (x[i - 16] + (a & m) + x[i - 7] + (b & m)) & m
        i += 1
    a = s[0]
    b = s[1]
    c = s[2]
    d = s[3]
    e = s[4]
    f = s[5]
    g = s[6]
    h = s[7]
    i = 0
    while i < 64:  # step 3
        t = (
            (((e >> 6) & 0x3FFFFFF) | (e << 26))
            ^ (((e >> 11) & 0x1FFFFF) | (e << 21))
            ^ (((e >> 25) & 0x7F) | (e << 7))
        )
        t = h + (t & m) + ((e & f) ^ (~e & g & m)) + k[i] + x[i]
        h = g
        g = f
        f = e
        e = (d + t) & m
        d = (
            (((a >> 2) & 0x3FFFFFFF) | (a << 30))
            ^ (((a >> 13) & 0x7FFFF) | (a << 19))
            ^ (((a >> 22) & 0x3FF) | (a << 10))
        )
        t = (t + (d & m) + ((a & b) ^ (a & c) ^ (b & c))) & m
        d = c
        c = b
        b = a
        a = t
        i += 1
    s[0] = (s[0] + a) & m  # step 4
    s[1] = (s[1] + b) & m
    s[2] = (s[2] + c) & m
    s[3] = (s[3] + d) & m
    s[4] = (s[4] + e) & m
    s[5] = (s[5] + f) & m
    s[6] = (s[6] + g) & m
    s[7] = (s[7] + h) & m
    return 0


@micropython.viper
def finish(st, w, blk, buf, off: int, end: int, done: int) -> int:
    # The hash of a message whose first `done` octets (a multiple of 64) st has absorbed and
    # whose rest is buf[off:end]: the whole blocks, then the last with its padding (5.1.1) built
    # in blk (64 octets of scratch). The digest is left in st. 0, or 1 when an offset is outside
    # buf or a buffer is short.
    if off < 0 or end < off or end > int(_len(buf)) or int(_len(blk)) < _BLOCK:
        return 1
    done = (done + end - off) << 3  # the message's length in bits (under 2**28 octets)
    while end - off >= _BLOCK:
        if int(compress(st, w, buf, off)):
            return 1
        off += _BLOCK
    p = ptr8(buf)
    q = ptr8(blk)
    end -= off  # the octets left, fewer than 64
    i = 0
    while i < end:
        q[i] = p[off + i]
        i += 1
    q[i] = 0x80
    i += 1
    if i > _BLOCK - 8:  # no room for the length: a block of its own
        while i < _BLOCK:
            q[i] = 0
            i += 1
        if int(compress(st, w, blk, 0)):
            return 1
        i = 0
    while i < _BLOCK - 4:
        q[i] = 0
        i += 1
    q[60] = (done >> 24) & 0xFF
    q[61] = (done >> 16) & 0xFF
    q[62] = (done >> 8) & 0xFF
    q[63] = done & 0xFF
    return int(compress(st, w, blk, 0))


@micropython.viper
def hmac(mid, st, w, blk, buf, off: int, end: int, out) -> int:
    # RFC 2104's HMAC-SHA256 of buf[off:end], from a key's two states after its padded blocks
    # (mid: 16 words, K XOR ipad's then K XOR opad's): its first len(out) octets (at most 32)
    # into out. st: 8 words, w: 64, blk: 64 octets of scratch. 0, or 1 when an offset is outside
    # buf or a buffer is short.
    if int(_len(mid)) < 16 or int(_len(st)) < 8 or int(_len(out)) > 32:
        return 1
    s = ptr32(st)
    v = ptr32(mid)
    i = 0
    while i < 8:
        s[i] = v[i]
        i += 1
    if int(finish(st, w, blk, buf, off, end, _BLOCK)):
        return 1
    q = ptr8(blk)
    i = 0
    while i < 8:  # the inner digest, big-endian, as the outer message
        q[4 * i] = (s[i] >> 24) & 0xFF
        q[4 * i + 1] = (s[i] >> 16) & 0xFF
        q[4 * i + 2] = (s[i] >> 8) & 0xFF
        q[4 * i + 3] = s[i] & 0xFF
        s[i] = v[8 + i]
        i += 1
    # The outer message is those 32 octets after the key's block, so its padding (FIPS 180-4
    # 5.1.1) is always the same: 0x80, zeros, and the length, 96 octets (768 bits). Written
    # here rather than by finish(): a call fewer on every command the limiter admits.
    q[32] = 0x80
    i = 33
    while i < 62:
        q[i] = 0
        i += 1
    q[62] = 0x03
    q[63] = 0x00
    if int(compress(st, w, blk, 0)):
        return 1
    q = ptr8(out)
    end = int(_len(out))
    i = 0
    while i < end:
        q[i] = (s[i >> 2] >> (24 - 8 * (i & 3))) & 0xFF
        i += 1
    return 0


@micropython.viper
def check(mid, scr, buf, off: int, h) -> bool:
    # Whether the 16-octet tag at buf[h.auth_off:] is the HMAC-SHA256 (truncated) of
    # buf[off:h.signed_end] under the key whose states mid holds (a GBCS message and its
    # GbcsHeader h: firmware.cmd_gbcs), compared in a time that does not depend on where they
    # differ. scr: (st, w, blk, out) as hmac() takes them, out of 16 octets.
    t = int(h.auth_off)
    if t < 0 or t + 16 > int(_len(buf)):
        return False
    if int(hmac(mid, scr[0], scr[1], scr[2], buf, off, int(h.signed_end), scr[3])):
        return False
    p = ptr8(buf)
    q = ptr8(scr[3])
    d = 0
    off = 0
    while off < 16:
        d |= q[off] ^ p[t + off]
        off += 1
    return d == 0
