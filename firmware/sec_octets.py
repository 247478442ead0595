# The octet work of ZigBee security: CCM* (IEEE 802.15.4-2006 annex B.4, ZigBee specification
# annex A; firmware.sec_ccm sequences it), the nonce from the auxiliary header
# (firmware.sec_frame). It is the per-octet work of every secured frame, so it is written for
# the native-code shim: where the port has an emitter it runs as machine code, elsewhere as the
# same source in bytecode.
#
# The CCM* blocks are this module's own, preallocated: NONCE (13 octets), X (the CBC-MAC state,
# ends as T), A (the counter block A_i), S (the key stream block S_i); the length field L is 2
# octets. use() names the operation's cipher and buffer.
#
# Loaded with contract.native.load. Every function checks its offsets against its buffer's
# length before it touches an octet (ptr8 reads and writes are not bounds checked) and then does
# nothing, or answers "no"; none allocates, and as native code none keeps state on the heap.

from contract.compat import ptr8

_len = len  # (a module global: native code finds it in one lookup, a builtin in two)

NONCE = bytearray(13)
X = bytearray(16)
A = bytearray(16)
S = bytearray(16)
E = B = None  # the operation's cipher and buffer (use())


@micropython.viper
def nonce(buf, p: int):
    # NONCE from the auxiliary header at buf[p:p+13]: source EUI-64 (air order, at p + 5) ||
    # frame counter (air order, at p + 1) || security control (at p).
    if p < 0 or p + 13 > int(_len(buf)):
        return
    d = ptr8(NONCE)
    b = ptr8(buf)
    i = 0
    while i < 8:
        d[i] = b[p + 5 + i]
        i += 1
    while i < 12:
        d[i] = b[p + i - 7]
        i += 1
    d[12] = b[p]


def use(enc, buf):
    # The operation's cipher (a firmware.sec_aes object's encrypt(src, dst)) and buffer, for
    # mac, ctr and tag (module state: fewer arguments keep their frames within 11 words where
    # they run as bytecode). use(None, None) lets them go.
    global E, B
    E = enc
    B = buf


@micropython.viper
def _block(blk, flags: int, n: int):
    # blk = flags || NONCE || n (2 octets, most significant first): B_0 (n the length of m) or
    # the counter block A_n.
    if int(_len(blk)) < 16:
        return
    d = ptr8(blk)
    q = ptr8(NONCE)
    d[0] = flags
    i = 1
    while i < 14:
        d[i] = q[i - 1]
        i += 1
    d[14] = (n >> 8) & 0xFF
    d[15] = n & 0xFF


@micropython.viper
def mac(a: int, m: int, end: int, tag: int):
    # T, in X, over a = B[a:m] and m = B[m:end] for a MIC of `tag` octets (annex B.4.1.1):
    # B_0, then L(a) || a zero-padded to whole blocks (2-octet L(a): frames are far below
    # 2**16 - 2**8 octets), then m zero-padded.
    if a < 0 or a > m or m > end or end > int(_len(B)):
        return
    tag = (((tag - 2) >> 1) << 3) | 1  # B_0's flags (tag reused: 11 words of frame at most)
    if m > a:
        tag = tag | 0x40  # Adata
    i = end - m
    _block(X, tag, i)
    E(X, X)
    x = ptr8(X)
    b = ptr8(B)
    i = 0
    if m > a:
        x[0] = x[0] ^ (((m - a) >> 8) & 0xFF)
        x[1] = x[1] ^ ((m - a) & 0xFF)
        i = 2
    while a < end:  # a block ends when full, and at the end of a and of m (zero-padded)
        x[i] = x[i] ^ b[a]
        a += 1
        i += 1
        if i == 16 or a == m or a == end:
            E(X, X)
            i = 0


@micropython.viper
def ctr(p: int, end: int):
    # XORs the key stream S_1, S_2, ... into B[p:end] (annex B.4.1.2): encrypts or decrypts.
    if p < 0 or end > int(_len(B)):
        return
    _block(A, 1, 1)  # flags: L - 1
    c = ptr8(A)
    k = ptr8(S)
    b = ptr8(B)
    while p < end:
        E(A, S)
        i = 0
        while i < 16 and p < end:
            b[p] = b[p] ^ k[i]
            p += 1
            i += 1
        i = c[15] + 1
        c[15] = i & 0xFF
        if i > 0xFF:
            c[14] = (c[14] + 1) & 0xFF


@micropython.viper
def tag(p: int, n: int, write: int) -> int:
    # The MIC U = T xor S_0 (T in X, n octets) at B[p:p+n]: written there when `write`, else
    # compared with what is there: 0 when they agree. The comparison reads every octet whatever
    # the first difference (no timing oracle).
    if p < 0 or n < 0 or n > 16 or p + n > int(_len(B)):
        return 1
    _block(A, 1, 0)  # A_0
    E(A, S)
    k = ptr8(S)
    x = ptr8(X)
    b = ptr8(B)
    i = 0
    while n > 0:
        n -= 1
        if write:
            b[p + n] = x[n] ^ k[n]
        else:
            i = i | (b[p + n] ^ x[n] ^ k[n])
    return i


@micropython.viper
def zero(buf, p: int, end: int):
    if p < 0 or end > int(_len(buf)):
        return
    b = ptr8(buf)
    while p < end:
        b[p] = 0
        p += 1
