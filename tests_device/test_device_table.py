import unittest

from firmware import han_device_table as device_table
from firmware import store_record as record
from firmware.eui64 import write_le
from firmware.han_device_log import ESME, GSME
from firmware.han_device_table import ADDR_MAX, ADDR_MIN, DeviceTable
from hal.fake.storage import MemoryStorage

A = b"\x00\x23\x7e\x00\x00\x00\x00\x01"
B = b"\x00\x23\x7e\x00\x00\x00\x00\x02"
C = b"\x00\x23\x7e\x00\x00\x00\x00\x03"
CAP_ESME = 0x8C  # allocate address, rx on when idle, mains
CAP_GSME = 0x80


def eui_n(i):
    return bytes(
        [0x00, 0x23, 0x7E, 0x10, (i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF]
    )


class JoinTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        self.t = DeviceTable(self.st, capacity=3)

    def test_join_allocates_a_valid_address(self):
        s = self.t.join(A, ESME, CAP_ESME)
        self.assertEqual(s, 0)
        a = self.t.short(s)
        self.assertTrue(ADDR_MIN <= a <= ADDR_MAX)
        self.assertEqual((self.t.kind(s), self.t.capability(s)), (ESME, CAP_ESME))
        self.assertTrue(self.t.rx_on_idle(s))
        self.assertEqual(self.t.eui(s), A)
        self.assertEqual((self.t.heard[s], self.t.lqi[s]), (-1, -1))

    def test_rejoin_keeps_slot_and_address(self):
        s = self.t.join(B, GSME, CAP_GSME)
        a = self.t.short(s)
        writes = self.st.writes
        self.assertEqual(self.t.join(B, GSME, CAP_GSME), s)
        self.assertEqual(self.t.short(s), a)
        self.assertEqual(self.st.writes, writes)  # nothing changed, nothing written
        self.assertEqual(len(self.t), 1)

    def test_full_table_refuses_and_never_evicts(self):
        for e in (A, B, C):
            self.assertTrue(self.t.join(e, ESME, CAP_ESME) >= 0)
        shorts = [self.t.short(s) for s in self.t.slots()]
        self.assertEqual(self.t.join(eui_n(99), ESME, CAP_ESME), -1)
        self.assertEqual([self.t.short(s) for s in self.t.slots()], shorts)
        self.assertEqual(len(self.t), 3)
        for e in (A, B, C):
            self.assertTrue(self.t.find(e) >= 0)

    def test_addresses_are_unique_and_never_reserved(self):
        t = DeviceTable(None, capacity=200)
        seen = {}
        for i in range(200):
            s = t.join(eui_n(i * 7919), ESME, CAP_ESME)
            a = t.short(s)
            self.assertTrue(ADDR_MIN <= a <= ADDR_MAX)
            self.assertNotEqual(a, 0x0000)
            self.assertFalse(a in seen)
            seen[a] = i

    def test_collision_takes_the_next_free_address(self):
        sa = self.t.join(A, ESME, CAP_ESME)
        wanted = self.t.allocate(B)
        self.t._short[sa] = wanted  # A now holds the address B hashes to
        self.t._reindex()
        sb = self.t.join(B, GSME, CAP_GSME)
        self.assertEqual(self.t.short(sb), ADDR_MIN if wanted == ADDR_MAX else wanted + 1)

    def test_lookups_in_air_order_and_by_short(self):
        self.t.join(A, ESME, CAP_ESME)
        sb = self.t.join(B, GSME, CAP_GSME)
        buf = bytearray(12)
        write_le(buf, 2, B)
        self.assertEqual(self.t.find_le(buf, 2), sb)
        write_le(buf, 2, C)
        self.assertEqual(self.t.find_le(buf, 2), -1)
        self.assertEqual(self.t.find_short(self.t.short(sb)), sb)
        self.assertEqual(self.t.find_short(0x0000), -1)
        out = bytearray(8)
        self.t.write_eui_le(sb, out, 0)
        self.assertEqual(bytes(out), bytes(reversed(B)))

    def test_saw_records_uptime_and_lqi(self):
        s = self.t.join(A, ESME, CAP_ESME)
        self.t.saw(s, 1234, 200)
        self.t.saw(s, 1240, -1)  # a frame without an LQI keeps the last one
        self.assertEqual((self.t.heard[s], self.t.lqi[s]), (1240, 200))

    def test_remove_then_rejoin_gets_the_same_address(self):
        s = self.t.join(A, ESME, CAP_ESME)
        a = self.t.short(s)
        self.assertTrue(self.t.remove(s))
        self.assertFalse(self.t.remove(s))
        self.assertEqual(self.t.find(A), -1)
        self.assertEqual(self.t.short(self.t.join(A, ESME, CAP_ESME)), a)


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        self.t = DeviceTable(self.st, capacity=4)
        self.t.join(A, ESME, CAP_ESME)
        self.t.join(B, GSME, CAP_GSME)

    def members(self, t):
        return sorted((t.eui(s), t.short(s), t.kind(s), t.capability(s)) for s in t.slots())

    def test_survives_a_reboot(self):
        again = DeviceTable(self.st, capacity=4)
        self.assertEqual(self.members(again), self.members(self.t))
        self.assertEqual(again.corrupt, 0)

    def test_written_only_on_membership_changes(self):
        writes = self.st.writes
        s = self.t.find(A)
        for i in range(100):
            self.t.saw(s, i, i)
        self.assertEqual(self.st.writes, writes)
        self.t.set_kind(s, GSME)
        self.assertEqual(self.st.writes, writes + 1)
        self.assertEqual(DeviceTable(self.st, capacity=4).kind(s), GSME)

    def test_corrupt_record_starts_empty_and_is_counted(self):
        raw = bytearray(self.st.read("device_table"))
        raw[4] ^= 0x01
        self.st.write("device_table", bytes(raw))
        again = DeviceTable(self.st, capacity=4)
        self.assertEqual((len(again), again.corrupt), (0, 1))

    def test_damaged_entries_are_skipped(self):
        # A sealed record whose entries break the rules: a reserved address and a duplicate.
        good = bytearray(A) + b"\x34\x12" + bytes([ESME, CAP_ESME])
        reserved = bytearray(B) + b"\xfe\xff" + bytes([GSME, CAP_GSME])
        dup = bytearray(C) + b"\x34\x12" + bytes([ESME, CAP_ESME])
        self.st.write("device_table", record.seal(1, good + reserved + dup))
        again = DeviceTable(self.st, capacity=4)
        self.assertEqual(self.members(again), [(A, 0x1234, ESME, CAP_ESME)])
        self.assertEqual(again.corrupt, 2)

    def test_smaller_table_keeps_what_fits(self):
        again = DeviceTable(self.st, capacity=1)
        self.assertEqual(len(again), 1)
        self.assertEqual(again.corrupt, 1)

    def test_failed_write_grants_nothing(self):
        self.st.fail_next_write = True
        self.assertEqual(self.t.join(C, ESME, CAP_ESME), -1)
        self.assertEqual(self.t.find(C), -1)
        self.assertEqual((len(self.t), self.t.write_errors), (2, 1))
        self.assertEqual(len(DeviceTable(self.st, capacity=4)), 2)

    def test_free_marker_is_not_an_address(self):
        self.assertTrue(device_table.FREE < ADDR_MIN)


# Two EUI-64s whose low 30 bits are equal (the lookup key), and a third with the same key that
# is neither: a stranger cannot pass for a member by matching the key.
TWIN_A = b"\x00\x23\x7e\x00\x40\x00\x00\x07"
TWIN_B = b"\x00\x23\x7e\x00\x80\x00\x00\x07"
TWIN_X = b"\x00\x23\x7e\x00\xc0\x00\x00\x07"


class ConstantTimeLookupTest(unittest.TestCase):
    def le(self, eui):
        buf = bytearray(11)
        write_le(buf, 3, eui)
        return buf

    def test_members_sharing_a_key_are_told_apart(self):
        t = DeviceTable(MemoryStorage(), capacity=4)
        sa = t.join(TWIN_A, ESME, CAP_ESME)
        sb = t.join(TWIN_B, GSME, CAP_GSME)
        self.assertNotEqual(sa, sb)
        self.assertEqual((t.find(TWIN_A), t.find(TWIN_B), t.find(TWIN_X)), (sa, sb, -1))
        self.assertEqual(t.find_le(self.le(TWIN_A), 3), sa)
        self.assertEqual(t.find_le(self.le(TWIN_B), 3), sb)
        self.assertEqual(t.find_le(self.le(TWIN_X), 3), -1)
        t.remove(sa)  # one left with that key: found directly again
        self.assertEqual((t.find(TWIN_A), t.find(TWIN_B)), (-1, sb))
        self.assertEqual(t.find_le(self.le(TWIN_X), 3), -1)

    def test_a_stranger_with_a_member_s_key_is_not_a_member(self):
        t = DeviceTable(None, capacity=2)
        t.join(TWIN_A, ESME, CAP_ESME)
        self.assertEqual(t.find_le(self.le(TWIN_X), 3), -1)
        self.assertEqual(t.find(TWIN_X), -1)

    def test_short_addresses_follow_joins_removals_and_reboots(self):
        st = MemoryStorage()
        t = DeviceTable(st, capacity=3)
        s = t.join(A, ESME, CAP_ESME)
        a = t.short(s)
        self.assertEqual(t.find_short(a), s)
        t.remove(s)
        self.assertEqual(t.find_short(a), -1)
        s = t.join(B, GSME, CAP_GSME)
        again = DeviceTable(st, capacity=3)
        self.assertEqual(again.find_short(t.short(s)), again.find(B))
        self.assertEqual(again.find_le(self.le(B), 3), again.find(B))

    def test_lookups_allocate_nothing_whatever_the_table_size(self):
        from tests_device.alloc import heap_bytes

        if heap_bytes(lambda: None) is None:
            self.skipTest("needs micropython.mem_total")

        def costs(t, member, stranger, twin, short):
            return [
                heap_bytes(lambda: t.find_le(member, 3)),
                heap_bytes(lambda: t.find_le(stranger, 3)),
                heap_bytes(lambda: t.find_le(twin, 3)),
                heap_bytes(lambda: t.find_short(short)),
                heap_bytes(lambda: t.find_short(0x1234)),
            ]

        for n in (4, 64):
            t = DeviceTable(None, capacity=n)
            for i in range(n - 2):
                t.join(eui_n(i), ESME, CAP_ESME)
            t.join(TWIN_A, ESME, CAP_ESME)
            t.join(TWIN_B, ESME, CAP_ESME)
            short = t.short(t.find(eui_n(1)))
            got = costs(t, self.le(eui_n(1)), self.le(eui_n(999)), self.le(TWIN_B), short)
            self.assertEqual(got, [0] * 5, n)
