# firmware/cmd_auth.py's HMAC-SHA256 against RFC 4231's test vectors (cases 1, 2 and 6: a key
# longer than the block is hashed first), on both interpreters; on CPython also against its hmac.

import sys
import unittest

from firmware import cmd_auth as auth
from tests_device.vectors import h

RFC4231 = (
    (
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
)


class HmacTest(unittest.TestCase):
    def test_rfc4231(self):
        for key, data, mac in RFC4231:
            self.assertEqual(auth.hmac_sha256(key, data), h(mac))

    def test_truncated_tag_and_constant_time_compare(self):
        a = auth.HmacSha256()
        tag = a.tag(b"k" * 16, b"message")
        self.assertEqual(tag, auth.hmac_sha256(b"k" * 16, b"message")[:16])
        self.assertTrue(a.verify(b"k" * 16, b"message", tag))
        self.assertFalse(a.verify(b"k" * 16, b"messagf", tag))
        self.assertFalse(a.verify(b"k" * 16, b"message", tag[:15]))

    @unittest.skipIf(sys.implementation.name == "micropython", "CPython's hmac")
    def test_agrees_with_cpython(self):
        import hashlib
        import hmac
        import random

        rnd = random.Random(7)
        for n in (0, 1, 63, 64, 65, 200):
            key = bytes(rnd.getrandbits(8) for _ in range(n))
            data = bytes(rnd.getrandbits(8) for _ in range(n * 3))
            want = hmac.new(key, data, hashlib.sha256).digest()
            self.assertEqual(auth.hmac_sha256(key, data), want)


class KeptPadsTest(unittest.TestCase):
    # HmacSha256 keeps each key's padded blocks: its tags must be RFC 2104's for every key, kept
    # or not, and what it keeps must stay bounded however often keys change.
    def test_kept_pads_give_the_same_tags_for_every_key(self):
        a = auth.HmacSha256()
        for _ in range(2):  # first computed, then from the kept blocks
            for key, data, mac in RFC4231:
                self.assertEqual(a.tag(key, data), h(mac)[:16])
                self.assertTrue(a.verify(key, data, h(mac)[:16]))
                self.assertFalse(a.verify(key, data + b"!", h(mac)[:16]))

    def test_kept_pads_are_bounded(self):
        a = auth.HmacSha256()
        for i in range(100):  # keys changed over and over (rekeys): the cache never grows
            a.tag(bytes((i,)) * 32, b"m")
            self.assertTrue(len(a._pads) <= 16)
        key, data, mac = RFC4231[1]
        self.assertEqual(a.tag(key, data), h(mac)[:16])
