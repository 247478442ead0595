import io
import unittest

from firmware import store_record as record


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

    def test_in_pieces_the_same_record(self):
        for parts in ((), (b"",), (b"hello",), (b"he", b"", bytearray(b"llo"), memoryview(b"!"))):
            whole = b"".join(bytes(p) for p in parts)
            got = b"".join(bytes(p) for p in record.sealed(3, parts))
            self.assertEqual(got, bytes(record.seal(3, whole)))

    def test_checked_in_place(self):
        buf = bytearray(4)  # smaller than the record: read a piece at a time
        for payload in (b"", b"x", b"0123456789abcdef"):
            sealed = bytes(record.seal(2, payload))
            self.assertEqual(record.check(2, io.BytesIO(sealed), buf), len(payload))
            self.assertEqual(record.check(1, io.BytesIO(sealed), buf), -1)
            for i in range(len(sealed)):
                bad = bytearray(sealed)
                bad[i] ^= 0x10
                self.assertEqual(record.check(2, io.BytesIO(bad), buf), -1)
            for cut in range(len(sealed)):
                self.assertEqual(record.check(2, io.BytesIO(sealed[:cut]), buf), -1)

    def test_sealing_makes_one_copy(self):
        # Records sealed whole (the small ones) need one copy of the payload, not two.
        from tests_device.alloc import heap_bytes

        payload = bytes(4000)
        cost = heap_bytes(lambda: record.seal(1, payload), rounds=2)
        if cost is None:
            self.skipTest("needs micropython.mem_total")
        self.assertTrue(4005 <= cost < 6000, cost)
