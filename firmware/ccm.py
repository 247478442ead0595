# CCM* (IEEE 802.15.4-2006 annex B.4, ZigBee specification annex A) over AES-128, with the
# length field L = 2 octets and a 13-octet nonce, in place in the caller's buffer. The security
# level picks the work (ZigBee table 4-38 / 802.15.4-2006 table 95):
#
#   level  0     1       2       3        4    5           6           7
#          none  MIC-32  MIC-64  MIC-128  ENC  ENC-MIC-32  ENC-MIC-64  ENC-MIC-128
#
# MIC-only levels authenticate header and payload and leave both in clear; ENC levels
# authenticate the header, encrypt the payload, and (with a MIC) authenticate the plaintext.
# The caller writes the nonce into NONCE first (ZigBee: source EUI-64 || frame counter ||
# security control, firmware.secframe). Preallocated block buffers: nothing is allocated per
# frame, and every function keeps its frame small enough for MicroPython's C stack.

from firmware.compat import const

MIC_LEN = (0, 4, 8, 16, 0, 4, 8, 16)  # by security level
_ENC = const(4)  # levels 4..7 encrypt

NONCE = bytearray(13)
_X = bytearray(16)  # CBC-MAC state: ends as T
_S = bytearray(16)  # counter block A_i, then its key stream block S_i


def _block(b, flags, n):
    # flags || nonce || n (2 octets, big-endian): B0 (n = l(m)) or A_i (n = i)
    b[0] = flags
    nonce = NONCE
    for i in range(13):
        b[1 + i] = nonce[i]
    b[14] = n >> 8
    b[15] = n & 0xFF


def _xor(dst, d, src, s, n):
    for i in range(n):
        dst[d + i] ^= src[s + i]


def _absorb(enc, buf, p, end, k):
    # One CBC-MAC step: buf[p:end], as much as fits after octet k (zero padding is implicit),
    # XORed into the state, which is then encrypted. Returns the new p.
    n = end - p
    if n > 16 - k:
        n = 16 - k
    _xor(_X, k, buf, p, n)
    enc(_X, _X)
    return p + n


def _mac(enc, buf, a_off, a_end, m_end, m):
    # T, in _X, over a = buf[a_off:a_end] and m = buf[a_end:m_end] (annex B.4.1.1): B0, then
    # L(a) || a zero-padded to blocks, then m zero-padded.
    la = a_end - a_off
    _block(_X, (0x40 if la else 0) | (((m - 2) >> 1) << 3) | 1, m_end - a_end)
    enc(_X, _X)
    p = a_off
    if la:  # frames are far below 2**16 - 2**8 octets: the 2-octet L(a) form always applies
        _X[0] ^= la >> 8
        _X[1] ^= la & 0xFF
        p = _absorb(enc, buf, p, a_end, 2)
    while p < m_end:
        p = _absorb(enc, buf, p, a_end if p < a_end else m_end, 0)


def _ctr(enc, buf, p, end):
    # XOR the key stream S_1, S_2, ... into buf[p:end] (annex B.4.1.2): encrypts or decrypts.
    i = 1
    while p < end:
        _block(_S, 1, i)
        enc(_S, _S)
        _xor(buf, p, _S, 0, end - p if end - p < 16 else 16)
        p += 16
        i += 1


def _tag_stream(enc):
    # S_0 in _S: encrypts T into the MIC U = T xor S_0.
    _block(_S, 1, 0)
    enc(_S, _S)


def seal(enc, buf, a_off, m_off, m_end, level):
    # Secures buf[a_off:m_end] in place: header buf[a_off:m_off], payload buf[m_off:m_end]. The
    # MIC is written after the payload; returns the new end (m_end + MIC length). enc is the
    # bound encrypt method of a firmware.aes object. The caller ensures buf has room.
    m = MIC_LEN[level]
    if m:
        _mac(enc, buf, a_off, m_off if level & _ENC else m_end, m_end, m)
    if level & _ENC:
        _ctr(enc, buf, m_off, m_end)
    if m:
        _tag_stream(enc)
        for i in range(m):
            buf[m_end + i] = _X[i] ^ _S[i]
    return m_end + m


def unseal(enc, buf, a_off, m_off, end, level):
    # Undoes seal on buf[a_off:end] in place. Returns the end of the plaintext payload, or -1
    # when the frame is too short for the MIC or the MIC does not verify; then the payload is
    # zeroed, so a forgery's decryption is never left behind for anyone to use.
    m = MIC_LEN[level]
    m_end = end - m
    if m_end < m_off:
        return -1
    if level & _ENC:
        _ctr(enc, buf, m_off, m_end)
    if not m:
        return m_end
    _mac(enc, buf, a_off, m_off if level & _ENC else m_end, m_end, m)
    _tag_stream(enc)
    if _differ(buf, m_end, m):
        if level & _ENC:
            for i in range(m_off, m_end):
                buf[i] = 0
        return -1
    return m_end


def _differ(buf, p, m):
    # Nonzero when the received MIC buf[p:p+m] is not T xor S_0; reads every octet whatever
    # the first difference (no early exit for a timing oracle).
    d = 0
    for i in range(m):
        d |= buf[p + i] ^ _X[i] ^ _S[i]
    return d
