# The native-code shim (contract.native) and the native octet functions (firmware.octets):
# loaded as native code where this port has an emitter, and the same source compiled as
# bytecode with its decorators blanked (the fallback of a port without one) gives the same
# answer on every frame, junk included, and neither allocates.
import random
import sys
import unittest

from contract import native
from contract.compat import MICROPYTHON
from firmware import eui64, han_reject, mac
from firmware import zb_nwk as nwk
from firmware.sec_counters import IncomingCounters
from tests_device import vectors
from tests_device.alloc import heap_bytes
from tests_device.han_frames import (
    ESME_EUI,
    STRANGER,
    assoc_request,
    data_request,
    orphan,
    summation_report,
)

NATIVE = native.load("firmware.octets")
try:
    BYTECODE = native.bytecode("firmware.octets")
except ImportError:  # run from .mpy files (make test-device-mpy): no source to compile
    BYTECODE = None
FIELDS = (
    "fcf", "ftype", "seq", "dst_mode", "dst_pan", "dst_short", "dst_ext_off",
    "src_mode", "src_pan", "src_short", "src_ext_off", "payload_off", "payload_end",
)  # fmt: skip
POLL = data_request(0x7FF1)
REPORT = summation_report(0x4242, 1)


def secured(psdu, eui, counter, seq=0):
    # The member's report (MAC 9, NWK 8 octets of header) as NWK security puts it on the air:
    # the security bit, the auxiliary header (extended nonce, the network key), a MIC (route
    # does no AES: any 4 octets).
    aux = bytes((0x28,)) + counter.to_bytes(4, "little") + bytes(reversed(eui)) + bytes((seq,))
    out = bytearray(psdu[:17]) + aux + psdu[17:-2] + b"MIC!"
    out[10] |= 0x02
    return vectors.with_fcs(out, len(out))


# A member (the ESME, at 0x4242 in slot 0) secures its reports; its incoming counter is at 100
# under key 0, which the hub holds with key 7 (an update not yet switched to).
COUNTERS = IncomingCounters(2)
COUNTERS.assign(0, ESME_EUI)
COUNTERS.assign(1, STRANGER)
COUNTERS.hold(0, 0)
COUNTERS.hold(1, 7)
COUNTERS.accept(0, b"\x63\x00\x00\x00", 0, 0)
SECURED_BASES = (
    secured(REPORT, ESME_EUI, 100),  # passes every header check
    secured(REPORT, ESME_EUI, 99),  # replayed
    secured(REPORT, ESME_EUI, 3, seq=7),  # the other key: counting anew
    secured(REPORT, ESME_EUI, 200, seq=9),  # a key the hub does not hold
    secured(REPORT, STRANGER, 500),  # another sender under the ESME's address
    secured(summation_report(0x7FF1, 1), ESME_EUI, 100),  # slot 1's address
)
NWK_FIELDS = ("fc", "ftype", "dst", "src", "radius", "seq", "dst_ieee_off", "src_ieee_off")
NWK_FIELDS += ("payload_off",)
BASES = (
    POLL,
    data_request(0x4242),
    data_request(STRANGER),
    data_request(0x4242, dst=0x1234),
    orphan(STRANGER),
    assoc_request(STRANGER),
    summation_report(0x4242, 1),
    vectors.BEACON_REQUEST,
    vectors.BEACON,
    vectors.BEACON_PENDING,
    vectors.COORD_REALIGN,
    vectors.INTERPAN_UNICAST,
    vectors.INTERPAN_BROADCAST,
) + SECURED_BASES


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
            verdict = m.route(vectors.BEACON_REQUEST, 0, 10, m.Route(0))
            self.assertEqual(verdict, m.BEACON_REQUEST)

    def test_load_is_native_where_the_port_has_an_emitter(self):
        if not has_emitter():
            raise unittest.SkipTest("no native emitter here: the octet functions run as bytecode")
        self.assertTrue(mac.parse is NATIVE.parse)
        plain = type(has_emitter)
        for fn in (NATIVE.parse, NATIVE.route, NATIVE.key_le, NATIVE.equals_le):
            self.assertFalse(type(fn) is plain)


class SameAnswersTest(unittest.TestCase):
    def need_source(self):
        if BYTECODE is None:
            raise unittest.SkipTest("no source of firmware/octets.py here (.mpy run)")

    def junk_rng(self, seed):
        # A seeded generator for junk(), once the bytecode build is there to compare with.
        self.need_source()
        if MICROPYTHON:  # (its random module has no Random class)
            random.seed(seed)
            return random
        return random.Random(seed)

    def test_parse_on_junk(self):
        rng = self.junk_rng(14)
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

    def test_route_and_header_source_on_junk(self):
        rng = self.junk_rng(15)
        shorts = {0x4242: 0, 0x7FF1: 1}
        euis = {eui64.key(STRANGER): 1}  # a member, in slot 1
        octets = bytearray(8) + STRANGER
        log = [bytes(8), STRANGER]  # the device log: the member, and an entry before it
        count = len(han_reject.NAMES)
        r1 = NATIVE.Route(0x1A2B, shorts, [0] * count, euis, octets, euis, log)
        r2 = BYTECODE.Route(0x1A2B, shorts, [0] * count, euis, octets, euis, log)
        r1.sec = r2.sec = COUNTERS.state
        seen = set()
        for buf, off, n in junk(rng, 3000):
            v = NATIVE.route(buf, off, n, r1)
            self.assertEqual(v, BYTECODE.route(buf, off, n, r2), (bytes(buf), off, n))
            self.assertEqual((r1.key, r1.src, r1.counts), (r2.key, r2.src, r2.counts))
            seen.add(v if v < 0 else 0)
            s = NATIVE.header_source(buf, off, n)
            self.assertEqual(s, BYTECODE.header_source(buf, off, n))
            self.assertEqual(s, v if v >= 0 else -1)
            canonical = (
                n == 10
                and bytes(buf[off : off + 8])
                == b"\x03\x08" + buf[off + 2 : off + 3] + b"\xff\xff\xff\xff\x07"
            )
            self.assertEqual(v == NATIVE.BEACON_REQUEST, canonical and off + 8 <= len(buf))
            for k in (off, off + 3, len(buf) - 8, len(buf) - 7):
                self.assertEqual(NATIVE.key_le(buf, k), BYTECODE.key_le(buf, k))
                eui = bytes(reversed(buf[k : k + 8]))
                for e in (eui, b"\x00" + eui):
                    for at in (0, 1):
                        self.assertEqual(
                            NATIVE.equals_le(buf, k, e, at), BYTECODE.equals_le(buf, k, e, at)
                        )
        self.assertTrue(len(seen) >= 10, seen)  # most verdicts, inter-PAN (0) included
        self.assertTrue(r1.counts[han_reject.NOT_MEMBER] > 10, r1.counts)  # where the HAN's is
        # The secured frames' drops (each counted where the HAN counts it) were reached.
        for why in (han_reject.SEC_REPLAYED, han_reject.SEC_UNKNOWN_KEY, han_reject.BAD_NWK):
            self.assertTrue(r1.counts[why] > 3, (why, r1.counts))
        self.assertTrue(NATIVE.NWK in seen)

    def test_nwk_header_on_junk(self):
        rng = self.junk_rng(16)
        h1 = nwk.NwkHeader()
        h2 = nwk.NwkHeader()
        seen = set()
        for buf, off, n in junk(rng, 1500):
            for p in (off + 7, off + 9, off + 15, off + 21):  # where MAC headers end
                r = NATIVE.parse_nwk(buf, p, off + n - 2, h1)
                self.assertEqual(r, BYTECODE.parse_nwk(buf, p, off + n - 2, h2))
                seen.add(r)
                if r in (nwk.OK, nwk.SECURED):
                    for name in NWK_FIELDS:
                        self.assertEqual(getattr(h1, name), getattr(h2, name), name)
        self.assertTrue(len(seen) >= 4, seen)

    def test_offsets_outside_the_buffer_are_refused_not_read(self):
        self.need_source()
        f = mac.MacFrame()
        buf = bytearray(vectors.BEACON_REQUEST)
        for fns in (NATIVE, BYTECODE):
            r = fns.Route(0x1A2B)
            self.assertEqual(fns.route(buf, 1, 10, r), fns.GENERIC)
            self.assertEqual(fns.route(buf, -1, 10, r), fns.GENERIC)
            self.assertEqual(fns.header_source(buf, 3, 40), -1)
            self.assertEqual(fns.parse(buf, 3, 10, f), 7)  # reject.TRUNCATED
            self.assertEqual(fns.parse(buf, -1, 10, f), 7)
            self.assertEqual(fns.key_le(buf, 3), -1)
            self.assertEqual(fns.key_le(buf, 2), buf[2] | buf[3] << 8 | buf[4] << 16 | 0x3F << 24)
            self.assertFalse(fns.equals_le(buf, 3, b"\x00" * 8, 0))
            self.assertFalse(fns.equals_le(buf, 0, b"\x00" * 8, 1))
            self.assertTrue(fns.equals_le(buf, 2, bytes(reversed(buf[2:10])), 0))
            self.assertEqual(fns.parse_nwk(buf, 0, 12, nwk.NwkHeader()), nwk.TRUNCATED)


class NoAllocationTest(unittest.TestCase):
    def test_the_octet_functions_allocate_nothing(self):
        f = mac.MacFrame()
        frame = vectors.INTERPAN_UNICAST
        for fns in (NATIVE, BYTECODE or NATIVE):
            r = fns.Route(0x1A2B, {0x4242: 0}, [0] * 20, {}, bytearray(8), {}, [])
            r.sec = COUNTERS.state
            nh = nwk.NwkHeader()
            for call in (
                lambda p=fns.parse: p(frame, 0, len(frame), f),
                lambda g=fns.route, r=r: g(vectors.BEACON_REQUEST, 0, 10, r),
                lambda g=fns.route, r=r: g(POLL, 0, len(POLL), r),  # counted: a stranger
                lambda g=fns.route, r=r: g(frame, 0, len(frame), r),
                lambda h=fns.header_source: h(frame, 0, len(frame)),
                lambda k=fns.key_le: k(frame, 7),
                lambda e=fns.equals_le: e(frame, 7, frame, 0),
                lambda p=fns.parse_nwk, h=nh: p(REPORT, 9, len(REPORT) - 2, h),
                lambda g=fns.route, r=r: g(REPORT, 0, len(REPORT), r),  # unsecured: counted
            ) + tuple(
                lambda g=fns.route, r=r, s=s: g(s, 0, len(s), r)  # passed, or counted
                for s in SECURED_BASES
            ):
                self.assertIn(heap_bytes(call), (None, 0))
