# Message authentication, behind an interface so a stronger scheme can replace it. GBCS signs
# with ECDSA P-256, out of reach for MicroPython on this hardware; the lab profile is
# HMAC-SHA256 (RFC 2104) with a key per provisioned party, truncated to 128 bits as RFC 4868
# does for IPsec, which keeps a signed response inside one 802.15.4 frame.
#
# Verification is what the hub spends on every command the DoS limiter admits, forged or not
# (docs/dos.md): the key's two padded blocks (RFC 2104's K XOR ipad, K XOR opad) are computed
# once per key and kept, so a tag costs four SHA-256 block updates in C and no Python loop.

import hashlib

from contract.compat import const
from contract.native import load

_BLOCK = const(64)
_PADS_MAX = const(16)  # keys whose padded blocks are kept: the provisioned parties, and a rekey


# HMAC here rather than micropython-lib's hmac, for a reason checked on the unix port: the only
# copy on a registry this project's builds can reach (PyPI's micropython-hmac 3.4.2.post3, 2017)
# imports `warnings` and calls the hash's copy() and block_size, none of which MicroPython has
# (`import warnings` fails; hashlib.sha256() has no copy or block_size); the current one is only
# on micropython.org's mip index. These lines pass RFC 4231's vectors (tests_device/test_auth.py)
# and agree with CPython's hmac.
def _padded(key, byte):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    pad = bytearray(_BLOCK)
    for i in range(_BLOCK):
        pad[i] = (key[i] if i < len(key) else 0) ^ byte
    return bytes(pad)


def _mac(ipad, opad, data):
    inner = hashlib.sha256(ipad)
    inner.update(data)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256(key, data):
    return _mac(_padded(key, 0x36), _padded(key, 0x5C), data)


# equal(a, b): whether two tags are the same, in time independent of where they differ (native
# code, firmware.cmd_octets: every command the inter-PAN budget admits meets it).
equal = load("firmware.cmd_octets").same


class HmacSha256:
    NAME = "hmac-sha256-128"
    TAG_LEN = const(16)

    def __init__(self):
        self._pads = {}  # key -> (K XOR ipad, K XOR opad)

    def tag(self, key, data):
        p = self._pads.get(key)
        if p is None:
            if len(self._pads) >= _PADS_MAX:
                self._pads.clear()  # keys changed many times: start again, never grow
            p = self._pads[key] = (_padded(key, 0x36), _padded(key, 0x5C))
        return _mac(p[0], p[1], data)[: self.TAG_LEN]

    def verify(self, key, data, tag):
        return len(tag) == self.TAG_LEN and equal(self.tag(key, data), tag)
