import unittest

from firmware import record


class RecordTest(unittest.TestCase):
    def test_round_trip(self):
        sealed = record.seal(3, b"hello")
        self.assertEqual(bytes(record.unseal(3, sealed)), b"hello")
        self.assertEqual(bytes(record.unseal(3, record.seal(3, b""))), b"")

    def test_every_single_byte_corruption_is_detected(self):
        sealed = record.seal(1, b"\x00\x01\x02\x03\x04\x05")
        for i in range(len(sealed)):
            bad = bytearray(sealed)
            bad[i] ^= 0x5A
            self.assertIsNone(record.unseal(1, bytes(bad)), i)

    def test_torn_other_version_or_missing(self):
        sealed = record.seal(1, b"abcdef")
        for cut in range(len(sealed)):
            self.assertIsNone(record.unseal(1, sealed[:cut]))
        self.assertIsNone(record.unseal(2, sealed))
        self.assertIsNone(record.unseal(1, None))

    def test_sealing_makes_one_copy(self):
        # The outbox seals up to 8 KB at a time on a heap of ~110 KB: one copy, not two.
        from tests_device.alloc import heap_bytes

        payload = bytes(4000)
        cost = heap_bytes(lambda: record.seal(1, payload), rounds=2)
        if cost is None:
            self.skipTest("needs micropython.mem_total")
        self.assertTrue(4005 <= cost < 6000, cost)
