import unittest

from contract.crc16 import append_fcs, crc16, fcs_ok
from tests_device import vectors


class CrcTest(unittest.TestCase):
    def test_check_value(self):
        self.assertEqual(crc16(b"123456789", 0, 9), 0x2189)

    def test_vectors_have_zero_residue(self):
        for v in vectors.ALL:
            self.assertTrue(fcs_ok(v, 0, len(v)), v)

    def test_append_matches_vector(self):
        buf = bytearray(vectors.BEACON)
        buf[-2] = buf[-1] = 0
        self.assertEqual(append_fcs(buf, len(buf) - 2), len(buf))
        self.assertEqual(bytes(buf), vectors.BEACON)
        self.assertEqual(buf[-2] | buf[-1] << 8, 0xA458)

    def test_single_bit_error_detected(self):
        buf = bytearray(vectors.BEACON_REQUEST)
        buf[3] ^= 0x10
        self.assertFalse(fcs_ok(buf, 0, len(buf)))

    def test_offset(self):
        buf = bytearray(5) + vectors.BEACON_REQUEST
        self.assertTrue(fcs_ok(buf, 5, len(vectors.BEACON_REQUEST)))
        self.assertFalse(fcs_ok(buf, 0, 1))
