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
# allocated on the heap at every call). One operation at a time; none ever yields. The octet
# work, block by block, is firmware.sec_octets' (native code where the port has an emitter):
# this module only sequences it.

from contract.native import load

MIC_LEN = (0, 4, 8, 16, 0, 4, 8, 16)  # by security level
_ENC = const(4)  # levels 4..7 encrypt
NONCE = nonce = _use = _mac = _ctr = _tag = _zero = None


def bind(octets):
    # The octet functions in use: firmware.sec_octets as contract.native loads it (the tests
    # also bind its bytecode build). NONCE is its nonce block; nonce(buf, p) fills it from a
    # ZigBee auxiliary header.
    global NONCE, nonce, _use, _mac, _ctr, _tag, _zero
    NONCE = octets.NONCE
    nonce = octets.nonce
    _use = octets.use
    _mac = octets.mac
    _ctr = octets.ctr
    _tag = octets.tag
    _zero = octets.zero


bind(load("firmware.sec_octets"))

_B = None  # the operation's buffer
_M = 0  # its MIC length
_L = 0  # its level


def use(enc, buf, level):
    # The next seal() or unseal(): enc, the encrypt method of a firmware.sec_aes object; buf, the
    # frame's buffer; level, its security level (0..7).
    global _B, _M, _L
    _use(enc, buf)
    _B = buf
    _M = MIC_LEN[level]
    _L = level


def release():
    # After an operation: the cipher and the buffer are the caller's again (module state must
    # not keep a dropped hub's objects alive).
    global _B
    _use(None, None)
    _B = None


def seal(a_off, m_off, m_end):
    # Secures buf[a_off:m_end] in place: header buf[a_off:m_off], payload buf[m_off:m_end]. The
    # MIC is written after the payload; returns the new end (m_end + MIC length). The caller
    # ensures the buffer has room for the MIC.
    if not _L & _ENC:
        m_off = m_end  # MIC only: the whole frame is authenticated data
    if _M:
        _mac(a_off, m_off, m_end, _M)
    if _L & _ENC:
        _ctr(m_off, m_end)
    if _M:
        _tag(m_end, _M, 1)
    return m_end + _M


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
    _mac(a_off, m_off, end, _M)
    if _tag(end, _M, 0):
        _zero(_B, m_off, end)
        return -1
    return end
