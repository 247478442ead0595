# The command layer's octet functions (firmware.cmd_octets): native code where this port has
# an emitter and the same source as bytecode (contract.native) give the same answer on every
# message, junk included; offsets outside the buffer are refused, never read; neither
# allocates.
import unittest

from firmware import cmd_gbcs as gbcs
from tests_device import interpan_frames as ipf
from tests_device import native_pair
from tests_device.alloc import heap_bytes
from tests_device.native_pair import both

NATIVE, BYTECODE = both("firmware.cmd_octets")
FIELDS = (
    "cra", "orig_off", "recip_off", "date_off", "msg_code", "content_off", "content_len",
    "signed_end", "auth_off", "auth_len",
)  # fmt: skip
DATE = bytes(range(12))


def messages():
    yield gbcs.build(gbcs.COMMAND, 7, ipf.INSTALLER, ipf.HUB, 0x0001, b"", bytes(16))
    yield gbcs.build(gbcs.COMMAND, 2**64 - 1, ipf.INSTALLER, ipf.HUB, 0x0008, b"\x04\x01" * 70)
    yield gbcs.build(gbcs.RESPONSE, 9, ipf.HUB, ipf.INSTALLER, 0x0001, b"x" * 300, b"t" * 16)
    yield gbcs.build(gbcs.ALERT, 1, ipf.HUB, ipf.INSTALLER, 0x0002, b"", b"", DATE)


def need_source():
    native_pair.need_source(BYTECODE, "firmware/cmd_octets.py")


class SameAnswersTest(unittest.TestCase):
    def test_gbcs_header_on_junk(self):
        need_source()
        h1, h2 = gbcs.GbcsHeader(), gbcs.GbcsHeader()
        seen = set()
        bases = list(messages())
        for buf, off, n in native_pair.mutated(native_pair.rng(17), bases, 1500, reach=32):
            end = off + n
            r = NATIVE.gbcs_header(buf, off, end, h1)
            self.assertEqual(r, BYTECODE.gbcs_header(buf, off, end, h2), (bytes(buf), off, end))
            seen.add(r)
            if r == gbcs.OK:
                for name in FIELDS:
                    self.assertEqual(getattr(h1, name), getattr(h2, name), name)
        self.assertEqual(seen, {0, 1, 2, 3, 4})  # every status reached

    def test_each_message_parses_to_its_fields(self):
        h = gbcs.GbcsHeader()
        counters = []
        for m in messages():
            self.assertEqual(gbcs.parse(m, 0, len(m), h), gbcs.OK)
            counters.append(h.counter)
            self.assertEqual(h.signed_end + 1 + h.auth_len, len(m))
            self.assertEqual(m[h.orig_off - 1], 8)
        self.assertEqual(counters, [7, 2**64 - 1, 9, 1])
        self.assertEqual((h.date_off, h.cra), (30, gbcs.ALERT))  # after the marker at 29

    def test_same(self):
        need_source()
        for fns in (NATIVE, BYTECODE):
            self.assertTrue(fns.same(b"abc", bytearray(b"abc")))
            self.assertTrue(fns.same(b"", b""))
            self.assertFalse(fns.same(b"abc", b"abd"))
            self.assertFalse(fns.same(b"abc", b"xbc"))
            self.assertFalse(fns.same(b"abc", b"ab"))
            self.assertTrue(fns.same(memoryview(b"zabc")[1:], b"abc"))

    def test_offsets_outside_the_buffer_are_refused_not_read(self):
        need_source()
        m = next(messages())
        h = gbcs.GbcsHeader()
        for fns in (NATIVE, BYTECODE):
            self.assertEqual(fns.gbcs_header(m, -1, len(m), h), gbcs.TRUNCATED)
            self.assertEqual(fns.gbcs_header(m, 0, len(m) + 1, h), gbcs.TRUNCATED)


class NoAllocationTest(unittest.TestCase):
    def test_the_octet_functions_allocate_nothing(self):
        m = next(messages())
        h = gbcs.GbcsHeader()
        tag = m[-16:]
        other = bytes(16)
        for fns in (NATIVE, BYTECODE or NATIVE):
            for name, call in (
                ("gbcs_header", lambda f=fns.gbcs_header: f(m, 0, len(m), h)),
                ("same", lambda f=fns.same: f(tag, other)),
            ):
                self.assertIn(heap_bytes(call), (None, 0), name)


if __name__ == "__main__":
    unittest.main()
