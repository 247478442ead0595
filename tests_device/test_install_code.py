import unittest

from firmware import sec_install_code as ic
from firmware import sec_mmo as mmo
from tests_device.vectors import h

# The public install-code vector (ZigBee Smart Energy install-code example), and the codes of each
# length that zigbee-herdsman's tests check (their CRCs are X-25, low octet first).
CODE18 = h("83FED3407A939723A5C639B26916D505C3B5")
LINK18 = h("66B6900981E1EE3CA4206B6B861C02BB")
CODE14 = h("83FED3407A939723A5C639FF4C12")
LINK14 = h("58C1828CF7F1C3FE29E7B1024AD84BFA")
CODE10 = h("83FED3407A93972397FC")
CODE8 = h("83FED3407A932B70")


class MmoTest(unittest.TestCase):
    def test_zigbee_annex_c_hash_vectors(self):
        # ZigBee specification annex C: one octet, and exactly one block.
        self.assertEqual(mmo.digest(h("C0")), h("AE3A102A28D43EE0D4A09E22788B206C"))
        self.assertEqual(
            mmo.digest(h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")),
            h("A7977E88BC0B61E8210827109A228F2D"),
        )

    def test_zigbee_annex_c_keyed_hash(self):
        # HMAC-MMO of the one octet C0 under 404142...4F, and its inner hash on its own.
        key = h("404142434445464748494A4B4C4D4E4F")
        self.assertEqual(mmo.keyed_hash(key, h("C0")), h("4512807BF94CB3400F0E2C25FB76E999"))
        inner = bytes(k ^ 0x36 for k in key) + h("C0")
        self.assertEqual(mmo.digest(inner), h("3C3D537529A7A9A03F669DCD886CB52C"))

    def test_padding_boundaries_differ(self):
        # Messages of 13..17 octets straddle the padding's block boundary; each hashes
        # differently from the same message one octet longer or shorter.
        seen = set()
        for n in range(0, 34):
            d = mmo.digest(bytes(n))
            self.assertEqual(len(d), 16)
            seen.add(d)
        self.assertEqual(len(seen), 34)

    def test_derived_keys_differ_and_are_deterministic(self):
        ktk = mmo.key_transport_key(LINK18)
        klk = mmo.key_load_key(LINK18)
        self.assertEqual(ktk, mmo.keyed_hash(LINK18, b"\x00"))
        self.assertEqual(klk, mmo.keyed_hash(LINK18, b"\x02"))
        self.assertNotEqual(ktk, klk)
        self.assertNotEqual(ktk, LINK18)

    def test_long_message_refused(self):
        with self.assertRaises(ValueError):
            mmo.digest(bytes(8192))


class InstallCodeTest(unittest.TestCase):
    def test_public_vector(self):
        self.assertEqual(ic.check(CODE18), ic.OK)
        self.assertEqual(ic.link_key(CODE18), LINK18)

    def test_every_length(self):
        for code in (CODE8, CODE10, CODE14, CODE18):
            self.assertEqual(ic.check(code), ic.OK, code)
            self.assertEqual(len(ic.link_key(code)), 16)
        self.assertEqual(ic.link_key(CODE14), LINK14)

    def test_crc_is_x25(self):
        # CRC-16/X-25 check value over "123456789".
        self.assertEqual(ic.crc(b"123456789", 9), 0x906E)
        self.assertEqual(ic.crc(CODE18, 16), 0xB5C3)

    def test_any_single_octet_change_is_caught(self):
        for i in range(len(CODE18)):
            bad = bytearray(CODE18)
            bad[i] ^= 0x01
            self.assertEqual(ic.check(bad), ic.BAD_CRC, i)
            self.assertIsNone(ic.link_key(bad))

    def test_bad_lengths(self):
        for n in (0, 1, 2, 6, 9, 12, 16, 20):
            self.assertEqual(ic.check(bytes(n)), ic.BAD_LENGTH, n)
        self.assertEqual(ic.check(CODE18[:-2]), ic.BAD_LENGTH)  # the CRC left off

    def test_parse_printed_forms(self):
        for text in (
            "83FED3407A939723A5C639B26916D505C3B5",
            "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5",
            " 83-fe-d3-40-7a-93-97-23-a5-c6-39-b2-69-16-d5-05-c3-b5 ",
            "83:FE:D3:40:7A:93:97:23:A5:C6:39:B2:69:16:D5:05:C3:B5",
        ):
            self.assertEqual(ic.parse(text), CODE18, text)

    def test_parse_junk(self):
        for text in ("", "8", "83FEG3", "+f", "0x83FE", "83FE\x00"):
            self.assertIsNone(ic.parse(text), text)
