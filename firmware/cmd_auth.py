# Message authentication, behind an interface so a stronger scheme can replace it. GBCS signs
# with ECDSA P-256, out of reach for MicroPython on this hardware; the lab profile is
# HMAC-SHA256 (RFC 2104) with a key per provisioned party, truncated to 128 bits as RFC 4868
# does for IPsec, which keeps a signed response inside one 802.15.4 frame.
#
# Verification is what the hub spends on every command the DoS limiter admits, forged or not
# (docs/dos.md): the key's two padded blocks (RFC 2104's K XOR ipad, K XOR opad) are hashed
# once per key and the two states kept, so the tag of a message of up to 55 octets is two
# SHA-256 blocks, in native code that writes into preallocated buffers.

from array import array

from contract.native import load

_BLOCK = const(64)
_PADS_MAX = const(16)  # keys whose padded blocks are kept: the provisioned parties, and a rekey

# SHA-256 as native code writing into preallocated state (firmware.cmd_sha256): a verification
# allocates nothing. MicroPython's hashlib could not do that (two hash objects and two digests
# a tag; no copy(), so no reuse of a key's padded blocks either).
_sha = load("firmware.cmd_sha256")
_check = _sha.check  # a global, not a module's attribute: HmacSha256.check's frame stays small


# HMAC here rather than micropython-lib's hmac, for a reason checked on the unix port: the only
# copy on a registry this project's builds can reach (PyPI's micropython-hmac 3.4.2.post3, 2017)
# imports `warnings` and calls the hash's copy() and block_size, none of which MicroPython has
# (`import warnings` fails; hashlib.sha256() has no copy or block_size); the current one is only
# on micropython.org's mip index. These lines pass RFC 4231's vectors (tests_device/test_auth.py)
# and agree with CPython's hmac.
# hmac()'s working buffers: the state (8 words), the message schedule (64), a block, a tag. One
# set for the module: every use runs to its end before the next starts (no await inside), and
# no instance brings a set of its own to allocate.
_SCR = (array("I", [0] * 8), array("I", [0] * 64), bytearray(_BLOCK), bytearray(16))


def _digest(st):
    return bytes((st[i >> 2] >> (24 - 8 * (i & 3))) & 0xFF for i in range(32))


def _states(key, scr):
    # The key's two states (16 words): SHA-256 after K XOR ipad, and after K XOR opad.
    st, w, blk, _ = scr
    if len(key) > _BLOCK:
        st[:] = _sha.IV
        _sha.finish(st, w, blk, key, 0, len(key), 0)
        key = _digest(st)
    mid = array("I", [0] * 16)
    for half, byte in ((0, 0x36), (8, 0x5C)):
        for i in range(_BLOCK):
            blk[i] = (key[i] if i < len(key) else 0) ^ byte
        st[:] = _sha.IV
        _sha.compress(st, w, blk, 0)
        for i in range(8):
            mid[half + i] = st[i]
    return mid


def hmac_sha256(key, data):
    out = bytearray(32)
    _sha.hmac(_states(key, _SCR), _SCR[0], _SCR[1], _SCR[2], data, 0, len(data), out)
    return bytes(out)


class HmacSha256:
    NAME = "hmac-sha256-128"
    TAG_LEN = const(16)

    def __init__(self):
        self._mids = {}  # key -> its two states (_states)
        self._scr = _SCR

    def _mid(self, key):
        m = self._mids.get(key)
        if m is None:
            if len(self._mids) >= _PADS_MAX:
                self._mids.clear()  # keys changed many times: start again, never grow
            m = self._mids[key] = _states(key, self._scr)
        return m

    def tag(self, key, data):
        # The tag of data (allocates: for signing).
        s = self._scr
        out = bytearray(self.TAG_LEN)
        _sha.hmac(self._mid(key), s[0], s[1], s[2], data, 0, len(data), out)
        return bytes(out)

    def verify(self, key, data, tag):
        return len(tag) == self.TAG_LEN and equal(self.tag(key, data), tag)

    def check(self, key, buf, off, h):
        # verify() of a GBCS message in place (buf[off:h.signed_end], its tag at h.auth_off):
        # what the command layer asks of every command it meets, forged or not. Allocates
        # nothing; 11 words of frame state at most.
        if h.auth_len != self.TAG_LEN:
            return False
        return _check(self._mid(key), self._scr, buf, off, h)


# equal(a, b): whether two tags are the same, in time independent of where they differ (native
# code, firmware.cmd_octets).
equal = load("firmware.cmd_octets").same
