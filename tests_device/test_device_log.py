import unittest

from firmware import device_log
from firmware.device_log import ESME, GSME, DeviceLog
from firmware.eui64 import write_le
from hal.fake.storage import MemoryStorage

A = b"\x00\x23\x7e\x00\x00\x00\x00\x01"
B = b"\x00\x23\x7e\x00\x00\x00\x00\x02"


class DeviceLogTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        self.log = DeviceLog(self.st, capacity=2)

    def test_add_remove_and_kind(self):
        self.assertTrue(self.log.add(A, ESME))
        self.assertTrue(self.log.add(B, GSME))
        self.assertEqual(self.log.kind(B), GSME)
        self.assertTrue(self.log.remove(A))
        self.assertFalse(self.log.remove(A))
        self.assertEqual(self.log.kind(A), -1)
        self.assertEqual(len(self.log), 1)

    def test_bounded(self):
        self.log.add(A, ESME)
        self.log.add(B, GSME)
        self.assertFalse(self.log.add(b"\x01" * 8, ESME))
        self.assertTrue(self.log.add(A, GSME))  # an update is not a new entry
        self.assertEqual(len(self.log), 2)

    def test_survives_a_reboot(self):
        self.log.add(A, ESME)
        self.log.add(B, GSME)
        again = DeviceLog(self.st, capacity=2)
        self.assertEqual(again.entries(), [(A, ESME), (B, GSME)])

    def test_corrupt_record_starts_empty_and_is_counted(self):
        self.log.add(A, ESME)
        raw = bytearray(self.st.read("device_log"))
        raw[3] ^= 0xFF
        self.st.write("device_log", bytes(raw))
        again = DeviceLog(self.st)
        self.assertEqual((len(again), again.corrupt), (0, 1))

    def test_find_in_air_order(self):
        self.log.add(A, ESME)
        self.log.add(B, GSME)
        buf = bytearray(12)
        write_le(buf, 3, B)
        self.assertEqual(self.log.find_le(buf, 3), 1)
        write_le(buf, 3, b"\x09" * 8)
        self.assertEqual(self.log.find_le(buf, 3), -1)

    def test_bad_entries_refused(self):
        self.assertRaises(ValueError, self.log.add, A, len(device_log.KINDS))
        self.assertRaises(ValueError, self.log.add, b"\x00" * 7, ESME)
