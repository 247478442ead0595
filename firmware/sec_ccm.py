# CCM* (IEEE 802.15.4-2006 annex B.4, ZigBee specification annex A) over AES-128, with the
# length field L = 2 octets and a 13-octet nonce, in place in the caller's buffer. The security
# level picks the work (ZigBee table 4-38 / 802.15.4-2006 table 95):
#
#   level  0     1       2       3        4    5           6           7
#          none  MIC-32  MIC-64  MIC-128  ENC  ENC-MIC-32  ENC-MIC-64  ENC-MIC-128
#
# MIC-only levels authenticate header and payload and leave both in clear; ENC levels
# authenticate the header, encrypt the payload, and (with a MIC) authenticate the plaintext.
# A caller writes the nonce into NONCE (ZigBee: source EUI-64 || frame counter || security
# control, firmware.sec_frame), names the key, buffer and level with use(), then calls seal() or
# unseal() with offsets into that buffer.
#
# Nothing is allocated per frame, call frames included: the blocks are preallocated, and the
# operation in progress (its cipher, buffer and MIC length) is module state too, so that no
# function's frame is over the 11 words that MicroPython keeps on the C stack (a larger one is
# allocated on the heap at every call). One operation at a time; none ever yields.

from contract.compat import const

MIC_LEN = (0, 4, 8, 16, 0, 4, 8, 16)  # by security level
_ENC = const(4)  # levels 4..7 encrypt

NONCE = bytearray(13)
_X = bytearray(16)  # CBC-MAC state: ends as T
_A = bytearray(16)  # counter block A_i
_S = bytearray(16)  # key stream block S_i = E(A_i)
_E = None  # the operation's encrypt(src, dst) (a firmware.sec_aes object's)
_B = None  # its buffer
_M = 0  # its MIC length
_L = 0  # its level


def use(enc, buf, level):
    # The next seal() or unseal(): enc, the encrypt method of a firmware.sec_aes object; buf, the
    # frame's buffer; level, its security level (0..7).
    global _E, _B, _M, _L
    _E = enc
    _B = buf
    _M = MIC_LEN[level]
    _L = level


def release():
    # After an operation: the cipher and the buffer are the caller's again (module state must
    # not keep a dropped hub's objects alive).
    global _E, _B
    _E = None
    _B = None


def _start(b, flags, n):
    # flags || nonce || n (2 octets, big-endian): B0 (n = l(m)) or A_i (n = i)
    b[0] = flags
    b[1:14] = NONCE  # a copy in C, allocating nothing
    b[14] = n >> 8
    b[15] = n & 0xFF


def _xor16(dst, d, src, s):
    # dst[d:d+16] ^= src[s:s+16], unrolled: whole blocks are the common case
    dst[d] ^= src[s]
    dst[d + 1] ^= src[s + 1]
    dst[d + 2] ^= src[s + 2]
    dst[d + 3] ^= src[s + 3]
    dst[d + 4] ^= src[s + 4]
    dst[d + 5] ^= src[s + 5]
    dst[d + 6] ^= src[s + 6]
    dst[d + 7] ^= src[s + 7]
    dst[d + 8] ^= src[s + 8]
    dst[d + 9] ^= src[s + 9]
    dst[d + 10] ^= src[s + 10]
    dst[d + 11] ^= src[s + 11]
    dst[d + 12] ^= src[s + 12]
    dst[d + 13] ^= src[s + 13]
    dst[d + 14] ^= src[s + 14]
    dst[d + 15] ^= src[s + 15]


def _xor_n(dst, d, src, s, n):
    # dst[d:d+n] ^= src[s:s+n], for headers and last partial blocks (four at a time: loop
    # overhead costs as much as the XOR itself here)
    while n >= 4:
        dst[d] ^= src[s]
        dst[d + 1] ^= src[s + 1]
        dst[d + 2] ^= src[s + 2]
        dst[d + 3] ^= src[s + 3]
        d += 4
        s += 4
        n -= 4
    while n:
        dst[d] ^= src[s]
        d += 1
        s += 1
        n -= 1


def _absorb(p, end):
    # One CBC-MAC step over _B[p:end] (a block, or what is left of it, zero-padded).
    if end - p >= 16:
        _xor16(_X, 0, _B, p)
    else:
        _xor_n(_X, 0, _B, p, end - p)
    _E(_X, _X)
    return p + 16


def _mac(a_off, a_end, m_end):
    # T, in _X, over a = _B[a_off:a_end] and m = _B[a_end:m_end] (annex B.4.1.1): B0, then
    # L(a) || a zero-padded to whole blocks, then m zero-padded.
    _start(_X, (0x40 if a_end > a_off else 0) | (((_M - 2) >> 1) << 3) | 1, m_end - a_end)
    _E(_X, _X)
    if a_end > a_off:
        _mac_header(a_off, a_end)
    while a_end < m_end:
        a_end = _absorb(a_end, m_end)


def _mac_header(p, end):
    # L(a) || a: frames are far below 2**16 - 2**8 octets, so the 2-octet L(a) form applies.
    n = end - p
    _X[0] ^= n >> 8
    _X[1] ^= n & 0xFF
    if n > 14:
        n = 14
    _xor_n(_X, 2, _B, p, n)
    _E(_X, _X)
    p += 14
    while p < end:
        p = _absorb(p, end)


def _ctr(p, end):
    # XOR the key stream S_1, S_2, ... into _B[p:end] (annex B.4.1.2): encrypts or decrypts.
    _start(_A, 1, 1)
    while p < end:
        _E(_A, _S)
        if end - p >= 16:
            _xor16(_B, p, _S, 0)
        else:
            _xor_n(_B, p, _S, 0, end - p)
        p += 16
        i = _A[15] + 1
        _A[15] = i & 0xFF
        if i > 0xFF:
            _A[14] += 1


def _tag_stream():
    # S_0, which encrypts T into the MIC: U = T xor S_0.
    _start(_A, 1, 0)
    _E(_A, _S)


def seal(a_off, m_off, m_end):
    # Secures buf[a_off:m_end] in place: header buf[a_off:m_off], payload buf[m_off:m_end]. The
    # MIC is written after the payload; returns the new end (m_end + MIC length). The caller
    # ensures the buffer has room for the MIC.
    if not _L & _ENC:
        m_off = m_end  # MIC only: the whole frame is authenticated data
    if _M:
        _mac(a_off, m_off, m_end)
    if _L & _ENC:
        _ctr(m_off, m_end)
    if _M:
        _tag_stream()
        _put_mic(m_end)
    return m_end + _M


def _put_mic(p):
    for i in range(_M):
        _B[p + i] = _X[i] ^ _S[i]


def unseal(a_off, m_off, end):
    # Undoes seal on buf[a_off:end] in place. Returns the end of the plaintext payload, or -1
    # when the frame is too short for the MIC or the MIC does not verify; then the payload is
    # zeroed, so a forgery's decryption is never left behind for anyone to use.
    end -= _M
    if end < m_off:
        return -1
    if _L & _ENC:
        _ctr(m_off, end)
    else:
        m_off = end
    if not _M:
        return end
    _mac(a_off, m_off, end)
    _tag_stream()
    if _differ(end):
        _zero(m_off, end)
        return -1
    return end


def _differ(p):
    # Nonzero when the received MIC _B[p:p+M] is not T xor S_0; reads every octet whatever the
    # first difference (no early exit for a timing oracle).
    d = 0
    for i in range(_M):
        d |= _B[p + i] ^ _X[i] ^ _S[i]
    return d


def _zero(p, end):
    while p < end:
        _B[p] = 0
        p += 1
