# Message authentication, behind an interface so a stronger scheme can replace it. GBCS signs
# with ECDSA P-256, out of reach for MicroPython on this hardware; the lab profile is
# HMAC-SHA256 (RFC 2104) with a key per provisioned party, truncated to 128 bits as RFC 4868
# does for IPsec, which keeps a signed response inside one 802.15.4 frame.

import hashlib

from contract.compat import const

_BLOCK = const(64)


# HMAC here rather than micropython-lib's hmac, for a reason checked on the unix port: the only
# copy on a registry this project's builds can reach (PyPI's micropython-hmac 3.4.2.post3, 2017)
# imports `warnings` and calls the hash's copy() and block_size, none of which MicroPython has
# (`import warnings` fails; hashlib.sha256() has no copy or block_size); the current one is only
# on micropython.org's mip index. These dozen lines pass RFC 4231's vectors
# (tests_device/test_auth.py) and agree with CPython's hmac.
def hmac_sha256(key, data):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    pad = bytearray(_BLOCK)
    pad[: len(key)] = key
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in pad))
    inner.update(data)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in pad))
    outer.update(inner.digest())
    return outer.digest()


def equal(a, b):
    # Compares in time independent of where they differ.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


class HmacSha256:
    NAME = "hmac-sha256-128"
    TAG_LEN = const(16)

    def tag(self, key, data):
        return hmac_sha256(key, data)[: self.TAG_LEN]

    def verify(self, key, data, tag):
        return len(tag) == self.TAG_LEN and equal(self.tag(key, data), tag)
