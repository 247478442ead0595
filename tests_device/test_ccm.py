import unittest

from contract import native
from firmware import sec_aes as aes
from firmware import sec_ccm as ccm
from tests_device.alloc import heap_bytes
from tests_device.vectors import h

KEY = h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")

# (name, nonce, a, m, level, output = encrypted m || MIC)
VECTORS = (
    # IEEE 802.15.4-2006 annex C.2.1: MAC beacon frame, MIC-64 (the whole frame authenticated)
    (
        "802.15.4 C.2.1 beacon, level 2",
        h("ACDE480000000001 00000005 02"),
        h("08D0 84 2143 0100000000 48DEAC 02 05000000 55CF 0000 51525354"),
        b"",
        2,
        h("223BC1EC841AB553"),
    ),
    # C.2.2: MAC data frame, ENC (no MIC)
    (
        "802.15.4 C.2.2 data, level 4",
        h("ACDE480000000001 00000005 04"),
        h("69DC 84 2143 0200000000 48DEAC 0100000000 48DEAC 04 05000000"),
        h("61626364"),
        4,
        h("D43E022B"),
    ),
    # C.2.3: MAC command frame, ENC-MIC-64
    (
        "802.15.4 C.2.3 command, level 6",
        h("ACDE480000000001 00000005 06"),
        h("2BDC 84 2143 0200000000 48DEAC FFFF 0100000000 48DEAC 06 05000000 01"),
        h("CE"),
        6,
        h("D8 4FDE529061F9C6F1"),
    ),
    # ZigBee specification (05-3474) annex C, the CCM* example: ENC-MIC-64
    (
        "ZigBee annex C CCM*, level 6",
        h("A0A1A2A3A4A5A6A7 03020100 06"),
        h("0001020304050607"),
        h("08090A0B0C0D0E0F101112131415161718191A1B1C1D1E"),
        6,
        h("1A55A36ABB6C610D066B3375649CEF10D4664ECAD854A80A895CC1D8 FF9469"),
    ),
)


def frame(a, m, room=16):
    buf = bytearray(len(a) + len(m) + room)
    buf[: len(a)] = a
    buf[len(a) : len(a) + len(m)] = m
    return buf


def ccm_seal(enc, buf, a_off, m_off, m_end, level):
    ccm.use(enc, buf, level)
    return ccm.seal(a_off, m_off, m_end)


def ccm_unseal(enc, buf, a_off, m_off, end, level):
    ccm.use(enc, buf, level)
    return ccm.unseal(a_off, m_off, end)


def load_nonce(nonce):
    for i in range(13):
        ccm.NONCE[i] = nonce[i]


class VectorTest(unittest.TestCase):
    def test_seal_matches_published_vectors(self):
        enc = aes.new(KEY).encrypt
        for name, nonce, a, m, level, out in VECTORS:
            load_nonce(nonce)
            buf = frame(a, m)
            end = ccm_seal(enc, buf, 0, len(a), len(a) + len(m), level)
            self.assertEqual(end, len(a) + len(out), name)
            self.assertEqual(bytes(buf[: len(a)]), a, name)  # the header stays in clear
            self.assertEqual(bytes(buf[len(a) : end]), out, name)

    def test_unseal_recovers_the_plaintext(self):
        enc = aes.new(KEY).encrypt
        for name, nonce, a, m, level, out in VECTORS:
            load_nonce(nonce)
            buf = bytearray(a + out)
            self.assertEqual(ccm_unseal(enc, buf, 0, len(a), len(buf), level), len(a) + len(m))
            self.assertEqual(bytes(buf[len(a) : len(a) + len(m)]), m, name)

    def test_every_flipped_bit_fails_the_mic(self):
        # Any change to header, ciphertext or MIC is caught, for every vector with a MIC.
        enc = aes.new(KEY).encrypt
        for name, nonce, a, _m, level, out in VECTORS:
            if not ccm.MIC_LEN[level]:
                continue
            load_nonce(nonce)
            sealed = a + out
            for i in range(len(sealed)):
                buf = bytearray(sealed)
                buf[i] ^= 0x01 << (i % 8)
                self.assertEqual(ccm_unseal(enc, buf, 0, len(a), len(buf), level), -1, name)

    def test_a_failed_mic_leaves_no_plaintext(self):
        enc = aes.new(KEY).encrypt
        name, nonce, a, m, level, out = VECTORS[3]
        load_nonce(nonce)
        buf = bytearray(a + out)
        buf[-1] ^= 0x80
        self.assertEqual(ccm_unseal(enc, buf, 0, len(a), len(buf), level), -1)
        self.assertEqual(bytes(buf[len(a) : len(a) + len(m)]), bytes(len(m)))

    def test_wrong_key_or_nonce_fails(self):
        name, nonce, a, m, level, out = VECTORS[3]
        load_nonce(nonce)
        other = aes.new(h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCEC0")).encrypt
        self.assertEqual(ccm_unseal(other, bytearray(a + out), 0, len(a), len(a + out), 6), -1)
        load_nonce(nonce[:8] + h("04020100 06"))  # another frame counter
        enc = aes.new(KEY).encrypt
        self.assertEqual(ccm_unseal(enc, bytearray(a + out), 0, len(a), len(a + out), 6), -1)


class LevelTest(unittest.TestCase):
    def test_every_level_round_trips_at_every_length(self):
        # Lengths around the block boundaries of a and m, for all eight levels.
        enc = aes.new(KEY).encrypt
        load_nonce(VECTORS[3][1])
        for level in range(8):
            mic = ccm.MIC_LEN[level]
            for la in (0, 1, 13, 14, 15, 30, 31):
                for lm in (0, 1, 15, 16, 17, 33):
                    a = bytes((i * 7 + 1) & 0xFF for i in range(la))
                    m = bytes((i * 13 + 5) & 0xFF for i in range(lm))
                    buf = frame(a, m)
                    end = ccm_seal(enc, buf, 0, la, la + lm, level)
                    self.assertEqual(end, la + lm + mic)
                    if level & 4 and lm:
                        self.assertNotEqual(bytes(buf[la : la + lm]), m)
                    elif not level & 4:
                        self.assertEqual(bytes(buf[la : la + lm]), m)  # MIC-only: in clear
                    self.assertEqual(ccm_unseal(enc, buf, 0, la, end, level), la + lm)
                    self.assertEqual(bytes(buf[: la + lm]), a + m, (level, la, lm))

    def test_mic_only_levels_authenticate_the_payload(self):
        enc = aes.new(KEY).encrypt
        load_nonce(VECTORS[3][1])
        for level in (1, 2, 3):
            buf = frame(b"head", b"payload")
            end = ccm_seal(enc, buf, 0, 4, 11, level)
            buf[6] ^= 1  # a payload octet, in clear
            self.assertEqual(ccm_unseal(enc, buf, 0, 4, end, level), -1)

    def test_too_short_for_the_mic(self):
        enc = aes.new(KEY).encrypt
        buf = bytearray(b"headXYZ")
        self.assertEqual(ccm_unseal(enc, buf, 0, 4, 7, 5), -1)  # 3 octets after the header
        self.assertEqual(ccm_unseal(enc, buf, 0, 4, 2, 5), -1)  # end before the header's end

    def test_offsets_inside_a_larger_buffer(self):
        # The same vector, sealed in the middle of a frame buffer: only [a_off, end) is touched.
        enc = aes.new(KEY).encrypt
        name, nonce, a, m, level, out = VECTORS[3]
        load_nonce(nonce)
        buf = bytearray(b"\xee" * 10) + frame(a, m, room=8) + bytearray(b"\xdd" * 4)
        end = ccm_seal(enc, buf, 10, 10 + len(a), 10 + len(a) + len(m), level)
        self.assertEqual(bytes(buf[10 + len(a) : end]), out)
        self.assertEqual(bytes(buf[:10]), b"\xee" * 10)
        self.assertEqual(bytes(buf[-4:]), b"\xdd" * 4)


_NATIVE = native.load("firmware.sec_octets")
try:
    _BYTECODE = native.bytecode("firmware.sec_octets")
except ImportError:  # run from .mpy files: no source to compile
    _BYTECODE = None


class _Bytecode:
    # Binds firmware.sec_octets compiled as bytecode around each test: what a port without a
    # native emitter runs (on CPython both are the same plain Python).
    def setUp(self):
        ccm.bind(_BYTECODE)

    def tearDown(self):
        ccm.bind(_NATIVE)


if _BYTECODE is not None:  # (from .mpy files there is no source to compile)

    class BytecodeVectorTest(_Bytecode, VectorTest):
        pass

    class BytecodeLevelTest(_Bytecode, LevelTest):
        pass


class BoundsTest(unittest.TestCase):
    # The octet functions check every offset against the buffer before touching it (native code
    # does not): out of range, they change nothing and answer "no".
    def test_out_of_range_offsets_touch_nothing(self):
        enc = aes.new(KEY).encrypt
        for o in (_NATIVE, _BYTECODE or _NATIVE):
            buf = bytearray(range(40))
            x = bytes(o.X)
            o.use(enc, buf)
            o.mac(0, 20, 41, 4)  # past the end
            o.mac(-1, 20, 40, 4)
            o.mac(30, 20, 40, 4)  # a after m
            self.assertEqual(bytes(o.X), x)
            o.ctr(30, 41)
            o.ctr(-16, 10)
            o.zero(buf, 30, 41)
            o.zero(buf, -1, 4)
            self.assertEqual(bytes(buf), bytes(range(40)))
            self.assertEqual(o.tag(38, 4, 0), 1)
            self.assertEqual(o.tag(-2, 4, 1), 1)
            self.assertEqual(o.tag(0, 17, 1), 1)
            o.use(None, None)
            self.assertEqual(bytes(buf), bytes(range(40)))
            n = bytes(o.NONCE)
            o.nonce(buf, 28)
            o.nonce(buf, -1)
            self.assertEqual(bytes(o.NONCE), n)


class AesTest(unittest.TestCase):
    def test_fips_197_appendix_c1(self):
        # FIPS-197 appendix C.1: AES-128 of 00112233...ff under 00010203...0f.
        c = aes.new(h("000102030405060708090a0b0c0d0e0f"))
        out = bytearray(16)
        c.encrypt(h("00112233445566778899aabbccddeeff"), out)
        self.assertEqual(bytes(out), h("69c4e0d86a7b0430d8cdb78070b4c55a"))

    def test_in_place(self):
        c = aes.new(bytes(16))
        b = bytearray(16)
        c.encrypt(b, b)
        self.assertEqual(bytes(b), h("66e94bd4ef8a2c3b884cfa59ca342b2e"))

    def test_key_length_is_checked(self):
        with self.assertRaises(ValueError):
            aes.new(bytes(15))


# The measured calls keep their own frames small too (module state, one call per line): a
# harness frame of more than 11 words would itself be heap-allocated and counted.
_ENC = aes.new(KEY).encrypt
_BUF = bytearray(128)
_LEVEL = [0]


def _good():
    ccm.use(_ENC, _BUF, _LEVEL[0])
    ccm.unseal(0, 30, ccm.seal(0, 30, 100))


def _forged():
    # Unsealed again after _good(): the payload is plaintext by then, so the MIC fails.
    ccm.use(_ENC, _BUF, _LEVEL[0])
    ccm.unseal(0, 30, 100 + ccm.MIC_LEN[_LEVEL[0]])


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class NoAllocationTest(unittest.TestCase):
    def test_seal_and_unseal_allocate_nothing(self):
        # Every level, a header and payload of several blocks, a good frame and a forged one.
        load_nonce(VECTORS[3][1])
        for level in range(8):
            _LEVEL[0] = level
            self.assertEqual(heap_bytes(_good), 0, level)
            self.assertEqual(heap_bytes(_forged), 0, level)


if _BYTECODE is not None:

    class BytecodeNoAllocationTest(_Bytecode, NoAllocationTest):
        # A port without a native emitter allocates nothing either: every octet function's
        # frame as bytecode is within 11 words.
        pass
