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
            self.assertTrue(len(a._mids) <= 16)
        key, data, mac = RFC4231[1]
        self.assertEqual(a.tag(key, data), h(mac)[:16])


class Sha256Test(unittest.TestCase):
    # firmware.cmd_sha256 (native code where this port has an emitter, its source as bytecode)
    # against hashlib, at the lengths where the padding changes; HmacSha256.check in place
    # against verify; neither allocates.
    def test_native_and_bytecode_agree_with_hashlib(self):
        import hashlib
        from array import array

        from tests_device.native_pair import both, need_source

        native, bytecode = both("firmware.cmd_sha256")
        need_source(bytecode, "firmware/cmd_sha256.py")
        st, w, blk = array("I", [0] * 8), array("I", [0] * 64), bytearray(64)
        for fns in (native, bytecode):
            for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 200):
                data = bytes((i * 7 + 3) & 0xFF for i in range(n + 2))
                st[:] = fns.IV
                self.assertEqual(fns.finish(st, w, blk, data, 2, n + 2, 0), 0)
                got = b"".join(v.to_bytes(4, "big") for v in st)
                self.assertEqual(got, hashlib.sha256(data[2:]).digest(), n)
            self.assertEqual(fns.finish(st, w, blk, data, 0, len(data) + 1, 0), 1)
            self.assertEqual(fns.compress(st, w, data, len(data) - 63), 1)

    def test_hmac_at_every_length_around_one_block(self):
        # hmac() pads the outer message itself, and the inner goes through finish(), in one
        # block or more: native and bytecode against RFC 2104 spelled with hashlib.
        import hashlib
        from array import array

        from tests_device.native_pair import both, need_source

        native, bytecode = both("firmware.cmd_sha256")
        need_source(bytecode, "firmware/cmd_sha256.py")
        key = bytes(range(1, 33))
        st, w, blk, out = array("I", [0] * 8), array("I", [0] * 64), bytearray(64), bytearray(32)
        mid = auth._states(key, (st, w, blk, out))

        def rfc2104(data):
            k = key + bytes(32)
            inner = hashlib.sha256(bytes(b ^ 0x36 for b in k) + data).digest()
            return hashlib.sha256(bytes(b ^ 0x5C for b in k) + inner).digest()

        for fns in (native, bytecode):
            for n in range(0, 72):
                data = bytes((i * 11 + 5) & 0xFF for i in range(n + 3))
                self.assertEqual(fns.hmac(mid, st, w, blk, data, 3, n + 3, out), 0, n)
                self.assertEqual(bytes(out), rfc2104(data[3:]), n)
            for off, end in ((-1, 4), (3, len(data) + 1), (5, 4), (60, 40)):  # refused
                self.assertEqual(fns.hmac(mid, st, w, blk, data, off, end, out), 1, (off, end))

    def test_check_in_place(self):
        from firmware import cmd_gbcs as gbcs
        from firmware.cmd_pipeline import signed
        from tests_device.alloc import heap_bytes

        a = auth.HmacSha256()
        key = b"k" * 32
        msg = bytearray(b"zz" + signed(gbcs.COMMAND, 7, b"o" * 8, b"r" * 8, 1, b"", key))
        h = gbcs.GbcsHeader()
        self.assertEqual(gbcs.parse(msg, 2, len(msg), h), gbcs.OK)
        self.assertTrue(a.check(key, msg, 2, h))
        self.assertFalse(a.check(b"x" * 32, msg, 2, h))
        self.assertIn(heap_bytes(lambda: a.check(key, msg, 2, h)), (None, 0))
        for i in (2, 20, len(msg) - 18, len(msg) - 16, len(msg) - 1):  # signed part, then tag
            msg[i] ^= 1
            self.assertFalse(a.check(key, msg, 2, h), i)
            msg[i] ^= 1
        h.auth_off = len(msg) - 15  # a tag that would run past the buffer: refused, not read
        self.assertFalse(a.check(key, msg, 2, h))
