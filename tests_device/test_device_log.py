import unittest

from firmware import han_device_log as device_log
from firmware import store_record as record
from firmware.eui64 import write_le
from firmware.han_device_log import ESME, GSME, DeviceLog
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

    def test_link_keys_persist_and_an_update_without_one_keeps_it(self):
        key = bytes(range(16))
        self.assertTrue(self.log.add(A, ESME, key))
        self.log.add(B, GSME)
        again = DeviceLog(self.st, capacity=2)
        self.assertEqual(again.link_key(A), key)
        self.assertIsNone(again.link_key(B))
        again.add(A, GSME)  # a kind change from the WAN: the meter stays commissioned
        self.assertEqual(DeviceLog(self.st, capacity=2).link_key(A), key)
        again.add(A, GSME, bytes(16))
        self.assertEqual(DeviceLog(self.st, capacity=2).link_key(A), bytes(16))
        self.assertRaises(ValueError, again.add, A, ESME, b"short")
        self.assertIsNone(again.link_key(b"\x07" * 8))

    def test_a_removal_moves_the_later_entries_with_their_keys(self):
        log = DeviceLog(self.st, capacity=3)
        c = b"\x00\x23\x7e\x00\x00\x00\x00\x03"
        log.add(A, ESME, bytes(range(16)))
        log.add(B, GSME, bytes(range(16, 32)))
        log.add(c, ESME)
        log.remove(A)
        for got in (log, DeviceLog(self.st, capacity=3)):
            self.assertEqual(got.entries(), [(B, GSME), (c, ESME)])
            self.assertEqual(got.link_key(B), bytes(range(16, 32)))
            self.assertIsNone(got.link_key(c))
        log.add(A, GSME)  # back in the slot after them, with no key of the old entry's
        self.assertIsNone(log.link_key(A))
        self.assertEqual(log.kind(A), GSME)

    def test_a_version_1_record_still_loads(self):
        # Written by the release before install codes: EUI-64 | kind per entry.
        self.st.write("device_log", record.seal(1, A + b"\x01" + B + b"\x02"))
        old = DeviceLog(self.st)
        self.assertEqual(old.entries(), [(A, ESME), (B, GSME)])
        self.assertEqual((old.corrupt, old.link_key(A)), (0, None))


class ConstantTimeLookupTest(unittest.TestCase):
    # Keys are the EUI's low 30 bits: entries sharing one are told apart by the full address.
    TWIN_A = b"\x00\x23\x7e\x00\x40\x00\x00\x07"
    TWIN_B = b"\x00\x23\x7e\x00\x80\x00\x00\x07"
    TWIN_X = b"\x00\x23\x7e\x00\xc0\x00\x00\x07"

    def le(self, eui):
        buf = bytearray(11)
        write_le(buf, 3, eui)
        return buf

    def test_entries_sharing_a_key_and_a_stranger_with_it(self):
        log = DeviceLog(MemoryStorage())
        log.add(self.TWIN_A, ESME)
        self.assertEqual(log.find_le(self.le(self.TWIN_X), 3), -1)
        log.add(self.TWIN_B, GSME)
        self.assertEqual(log.find_le(self.le(self.TWIN_A), 3), 0)
        self.assertEqual(log.find_le(self.le(self.TWIN_B), 3), 1)
        self.assertEqual(log.find_le(self.le(self.TWIN_X), 3), -1)
        log.remove(self.TWIN_A)
        self.assertEqual(log.find_le(self.le(self.TWIN_B), 3), 0)  # indices moved up
        self.assertEqual(log.find_le(self.le(self.TWIN_A), 3), -1)

    def test_the_index_survives_a_reboot(self):
        st = MemoryStorage()
        DeviceLog(st).add(self.TWIN_B, GSME)
        self.assertEqual(DeviceLog(st).find_le(self.le(self.TWIN_B), 3), 0)

    def test_lookups_allocate_nothing(self):
        from tests_device.alloc import heap_bytes

        if heap_bytes(lambda: None) is None:
            self.skipTest("needs micropython.mem_total")
        log = DeviceLog(None, capacity=64)
        for i in range(60):
            log.add(bytes((0, 0x23, 0x7E, 0x10, 0, 0, i >> 8, i & 0xFF)), ESME)
        log.add(self.TWIN_A, ESME)
        log.add(self.TWIN_B, ESME)
        twin, stranger = self.le(self.TWIN_B), self.le(self.TWIN_X)
        member = self.le(b"\x00\x23\x7e\x10\x00\x00\x00\x05")
        self.assertEqual(heap_bytes(lambda: log.find_le(twin, 3)), 0)
        self.assertEqual(heap_bytes(lambda: log.find_le(stranger, 3)), 0)
        self.assertEqual(heap_bytes(lambda: log.find_le(member, 3)), 0)
