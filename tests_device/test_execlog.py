import gc
import sys
import unittest

from firmware.cmd_execlog import ACCEPTED, DONE, UNKNOWN
from firmware.cmd_store import CommandStore
from hal.fake.storage import MemoryStorage

A = b"\x00\x23\x7e\x00\x00\x00\x00\x01"
B = b"\x00\x23\x7e\x00\x00\x00\x00\x02"
BIG = (1 << 64) - 1  # counters are 64-bit


class Store:
    # The log as the command pipeline uses it: each entry written when added and again with
    # its outcome (firmware.cmd_pipeline).
    def __init__(self, capacity, storage=None):
        self.storage = storage or MemoryStorage()
        self.store = CommandStore(self.storage, log_max=capacity)
        self.log = self.store.log

    def add(self, eui, counter, code):
        self.log.add(eui, counter, code)
        self.store.save()

    def done(self, eui, counter, result):
        self.log.done(eui, counter, result)
        self.store.save()

    def reboot(self, capacity=None):
        return Store(capacity or self.log.capacity, self.storage)


class ExecLogTest(unittest.TestCase):
    def test_accepted_then_done(self):
        s = Store(4)
        s.add(A, 7, 0x0101)
        self.assertEqual(s.log.find(A, 7), (A, 7, 0x0101, ACCEPTED, 0))
        s.done(A, 7, 3)
        self.assertEqual(s.log.find(A, 7), (A, 7, 0x0101, DONE, 3))
        self.assertIsNone(s.log.find(A, 8))
        self.assertIsNone(s.log.find(B, 7))
        self.assertEqual(s.reboot().log.find(A, 7), (A, 7, 0x0101, DONE, 3))

    def test_oldest_goes_first(self):
        s = Store(3)
        for c in range(1, 8):
            s.add(A if c % 2 else B, c, c)
        self.assertEqual([e[1] for e in s.log.entries()], [5, 6, 7])
        self.assertIsNone(s.log.find(A, 3))
        self.assertEqual(s.log.find(B, 6)[0], B)
        self.assertEqual(s.reboot().log.entries(), s.log.entries())

    def test_the_newest_of_two_entries_for_a_command(self):
        s = Store(4)
        s.add(A, 5, 1)
        s.add(A, 5, 2)  # after a rekey, the same counter can be accepted again
        s.done(A, 5, 9)
        self.assertEqual(s.log.find(A, 5), (A, 5, 2, DONE, 9))
        self.assertEqual(s.log.entries()[0], (A, 5, 1, ACCEPTED, 0))

    def test_settle_once(self):
        s = Store(4)
        s.add(A, 1, 1)
        s.add(A, BIG, 2)
        s.done(A, 1, 0)
        boot = s.reboot()
        self.assertEqual(boot.log.settle(), [(A, BIG, 2, UNKNOWN, 0)])
        self.assertEqual(boot.log.settle(), [])
        boot.add(B, 3, 3)  # the next write keeps it settled
        self.assertEqual(boot.reboot().log.settle(), [(B, 3, 3, UNKNOWN, 0)])

    def test_an_outcome_whose_write_failed_goes_with_the_next_write(self):
        s = Store(4)
        s.add(A, 1, 1)
        s.log.done(A, 1, 5)
        s.storage.fail_next_write = True
        self.assertRaises(OSError, s.store.save)
        self.assertEqual(s.log.find(A, 1), (A, 1, 1, DONE, 5))
        self.assertEqual(s.reboot().log.find(A, 1)[3], ACCEPTED)  # on flash: "may have run"
        s.add(B, 2, 2)
        self.assertEqual(s.reboot().log.find(A, 1), (A, 1, 1, DONE, 5))

    def test_loads_the_newest_when_the_capacity_shrank(self):
        s = Store(4)
        for c in range(4):
            s.add(A, c, c)
        small = s.reboot(2)
        self.assertEqual([e[1] for e in small.log.entries()], [2, 3])
        small.add(B, 9, 9)
        self.assertEqual([e[1] for e in small.reboot().log.entries()], [3, 9])

    def test_a_short_record_is_corrupt(self):
        s = Store(4)
        s.add(A, 1, 1)
        s.storage.records["commands"] = s.storage.records["commands"][:-5]
        boot = s.reboot()
        self.assertEqual((boot.store.corrupt, len(boot.log)), (1, 0))

    def test_a_record_gone_under_the_log_is_a_failed_write_not_a_crash(self):
        s = Store(4)
        s.add(A, 1, 1)
        del s.storage.records["commands"]
        self.assertIsNone(s.log.find(A, 1))
        s.log.done(A, 1, 0)  # unrecorded: the entry stays "may have run"
        self.assertEqual((s.log.entries(), s.log.settle()), ([], []))
        self.assertRaises(OSError, s.add, B, 2, 2)  # the pipeline counts it and reloads

    def test_an_entry_whose_write_never_happened_gives_way(self):
        s = Store(4)
        s.add(A, 1, 1)
        s.log.add(A, 2, 2)  # its write then failed in a way the store could not reload from
        s.add(B, 3, 3)
        self.assertEqual([e[1] for e in s.reboot().log.entries()], [1, 3])

    def test_refuses_a_short_eui(self):
        self.assertRaises(ValueError, Store(2).log.add, A[:7], 1, 1)

    @unittest.skipUnless(sys.implementation.name == "micropython", "gc.mem_alloc")
    def test_a_full_log_costs_no_heap(self):
        s = Store(64)
        s.add(A, 0, 0x0101)
        stored = len(s.storage.records["commands"])  # the fake storage's record is on the heap
        gc.collect()
        before = gc.mem_alloc()
        for c in range(1, 100):
            s.add(A, BIG - c, 0x0101)
            s.done(A, BIG - c, 0)
        gc.collect()
        grown = gc.mem_alloc() - before - (len(s.storage.records["commands"]) - stored)
        self.assertEqual(len(s.log), 64)
        self.assertTrue(grown <= 128, grown)  # not a 20-octet entry each (1.3 KB)
