# The native-code shim (contract.native) and the native octet functions (firmware.octets):
# loaded as native code where this port has an emitter, and the same source compiled as
# bytecode with its decorators blanked (the fallback of a port without one) gives the same
# answer on every frame, junk included, and neither allocates.
import random
import sys
import unittest

from contract import native
from contract.compat import MICROPYTHON
from firmware import mac
from tests_device import vectors
from tests_device.alloc import heap_bytes

NATIVE = native.load("firmware.octets")
try:
    BYTECODE = native.bytecode("firmware.octets")
except ImportError:  # run from .mpy files (make test-device-mpy): no source to compile
    BYTECODE = None
FIELDS = (
    "fcf", "ftype", "seq", "dst_mode", "dst_pan", "dst_short", "dst_ext_off",
    "src_mode", "src_pan", "src_short", "src_ext_off", "payload_off", "payload_end",
)  # fmt: skip
BASES = (
    vectors.BEACON_REQUEST,
    vectors.BEACON,
    vectors.BEACON_PENDING,
    vectors.COORD_REALIGN,
    vectors.INTERPAN_UNICAST,
    vectors.INTERPAN_BROADCAST,
)


def has_emitter():
    # The .mpy architecture this port runs native code for (0: none).
    return MICROPYTHON and (getattr(sys.implementation, "_mpy", 0) >> 10) & 15 != 0


def junk(rng, count):
    # (buffer, offset, length): the project's frames mutated, cut and shifted, and random
    # octets; lengths run past the buffer, as no radio would give them.
    for k in range(count):
        base = BASES[k % len(BASES)]
        if k % 7 == 6:
            psdu = bytearray(rng.getrandbits(8) for _ in range(rng.getrandbits(7)))
        else:
            psdu = bytearray(base)
            for _ in range(rng.getrandbits(2)):
                psdu[rng.getrandbits(8) % len(psdu)] = rng.getrandbits(8)
            if k % 4 == 1:  # an FCF from anywhere: other types, modes, versions
                psdu[0] = rng.getrandbits(8)
                psdu[1] = rng.getrandbits(8)
        off = rng.getrandbits(2)
        buf = bytearray(off) + psdu
        n = len(psdu) - rng.getrandbits(2) + (2 if k % 5 == 0 else 0)
        yield buf, off, n


class StripTest(unittest.TestCase):
    def test_decorators_are_blanked_and_lines_kept(self):
        src = "x = 1\n@micropython.viper\ndef f(a):\n    @micropython.native\n    return a\n"
        out = native.strip(src)
        self.assertEqual(out, "x = 1\n\ndef f(a):\n\n    return a\n")
        kept = "@micropython.viperish\n"
        self.assertEqual(native.strip(kept), kept)

    def test_a_module_this_port_refuses_is_loaded_from_its_source(self):
        # What load() does where the import fails (a port without an emitter: SyntaxError;
        # a .mpy for another architecture: ValueError). tests_host/test_native_mpy.py runs the
        # second for real.
        for error in (SyntaxError, ValueError):

            def refuse(name, error=error):
                raise error("invalid micropython decorator")

            try:
                m = native.load("firmware.octets", refuse, {})
            except ImportError:  # .mpy run: no source, and load() says so
                self.assertTrue(BYTECODE is None)
                continue
            self.assertFalse(m is sys.modules["firmware.octets"])
            self.assertTrue(m.is_beacon_request(vectors.BEACON_REQUEST, 0, 10))

    def test_load_is_native_where_the_port_has_an_emitter(self):
        if not has_emitter():
            raise unittest.SkipTest("no native emitter here: the octet functions run as bytecode")
        self.assertTrue(mac.parse is NATIVE.parse)
        plain = type(has_emitter)
        for fn in (NATIVE.parse, NATIVE.is_beacon_request, NATIVE.key_le):
            self.assertFalse(type(fn) is plain)


class SameAnswersTest(unittest.TestCase):
    def need_source(self):
        if BYTECODE is None:
            raise unittest.SkipTest("no source of firmware/octets.py here (.mpy run)")

    def test_parse_on_junk(self):
        self.need_source()
        rng = random.Random(14) if not MICROPYTHON else random
        if MICROPYTHON:
            random.seed(14)
        f1 = mac.MacFrame()
        f2 = mac.MacFrame()
        seen = set()
        for buf, off, n in junk(rng, 1500):
            r1 = NATIVE.parse(buf, off, n, f1)
            r2 = BYTECODE.parse(buf, off, n, f2)
            self.assertEqual(r1, r2, (bytes(buf), off, n))
            seen.add(r1)
            if r1 == 0:
                for name in FIELDS:
                    self.assertEqual(getattr(f1, name), getattr(f2, name), name)
                self.assertTrue(off + 3 <= f1.payload_off <= f1.payload_end == off + n - 2)
        self.assertTrue(len(seen) >= 6, seen)  # the junk reached most of the reject codes

    def test_beacon_request_and_key_on_junk(self):
        self.need_source()
        rng = random.Random(15) if not MICROPYTHON else random
        if MICROPYTHON:
            random.seed(15)
        hits = 0
        for buf, off, n in junk(rng, 1500):
            b1 = NATIVE.is_beacon_request(buf, off, n)
            self.assertEqual(b1, BYTECODE.is_beacon_request(buf, off, n))
            hits += b1
            for k in (off, off + 3, len(buf) - 8, len(buf) - 7):
                self.assertEqual(NATIVE.key_le(buf, k), BYTECODE.key_le(buf, k))
        self.assertTrue(hits > 0)

    def test_offsets_outside_the_buffer_are_refused_not_read(self):
        self.need_source()
        f = mac.MacFrame()
        buf = bytearray(vectors.BEACON_REQUEST)
        for fns in (NATIVE, BYTECODE):
            self.assertFalse(fns.is_beacon_request(buf, 1, 10))
            self.assertEqual(fns.parse(buf, 3, 10, f), 7)  # reject.TRUNCATED
            self.assertEqual(fns.parse(buf, -1, 10, f), 7)
            self.assertEqual(fns.key_le(buf, 3), -1)
            self.assertEqual(fns.key_le(buf, 2), buf[2] | buf[3] << 8 | buf[4] << 16 | 0x3F << 24)


class NoAllocationTest(unittest.TestCase):
    def test_the_octet_functions_allocate_nothing(self):
        f = mac.MacFrame()
        frame = vectors.INTERPAN_UNICAST
        for fns in (NATIVE, BYTECODE or NATIVE):
            for call in (
                lambda p=fns.parse: p(frame, 0, len(frame), f),
                lambda b=fns.is_beacon_request: b(vectors.BEACON_REQUEST, 0, 10),
                lambda k=fns.key_le: k(frame, 7),
            ):
                self.assertIn(heap_bytes(call), (None, 0))
