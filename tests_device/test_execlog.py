import gc
import sys
import unittest

from firmware.cmd_execlog import ACCEPTED, DONE, UNKNOWN, ExecLog

A = b"\x00\x23\x7e\x00\x00\x00\x00\x01"
B = b"\x00\x23\x7e\x00\x00\x00\x00\x02"
BIG = (1 << 64) - 1  # counters are 64-bit


class ExecLogTest(unittest.TestCase):
    def test_accepted_then_done(self):
        log = ExecLog(4)
        log.add(A, 7, 0x0101)
        self.assertEqual(log.find(A, 7), (A, 7, 0x0101, ACCEPTED, 0))
        log.done(A, 7, 3)
        self.assertEqual(log.find(A, 7), (A, 7, 0x0101, DONE, 3))
        self.assertIsNone(log.find(A, 8))
        self.assertIsNone(log.find(B, 7))

    def test_oldest_goes_first_around_the_ring(self):
        log = ExecLog(3)
        for c in range(1, 8):
            log.add(A if c % 2 else B, c, c)
        self.assertEqual([e[1] for e in log.entries()], [5, 6, 7])
        self.assertIsNone(log.find(A, 3))
        self.assertEqual(log.find(B, 6)[0], B)

    def test_the_newest_of_two_entries_for_a_command(self):
        log = ExecLog(4)
        log.add(A, 5, 1)
        log.add(A, 5, 2)  # after a rekey, the same counter can be accepted again
        log.done(A, 5, 9)
        self.assertEqual(log.find(A, 5), (A, 5, 2, DONE, 9))
        self.assertEqual(log.entries()[0], (A, 5, 1, ACCEPTED, 0))

    def test_settle_once(self):
        log = ExecLog(4)
        log.add(A, 1, 1)
        log.add(A, BIG, 2)
        log.done(A, 1, 0)
        self.assertEqual(log.settle(), [(A, BIG, 2, UNKNOWN, 0)])
        self.assertEqual(log.settle(), [])

    def test_round_trip_whole_and_wrapped(self):
        for added in (2, 5, 9):
            log = ExecLog(4)
            for c in range(added):
                log.add(B, BIG - c, c)
            log.done(B, BIG, 4)
            data = b"".join(bytes(p) for p in log.parts())
            again = ExecLog(4)
            self.assertEqual(again.decode(data, len(log)), len(data))
            self.assertEqual(again.entries(), log.entries())
            self.assertEqual(ExecLog(4).decode(data[:-1], len(log)), -1)

    def test_loads_the_newest_when_the_capacity_shrank(self):
        log = ExecLog(4)
        for c in range(4):
            log.add(A, c, c)
        data = b"".join(bytes(p) for p in log.parts())
        small = ExecLog(2)
        self.assertEqual(small.decode(data, 4), len(data))
        self.assertEqual([e[1] for e in small.entries()], [2, 3])

    def test_refuses_a_short_eui(self):
        self.assertRaises(ValueError, ExecLog(2).add, A[:7], 1, 1)

    @unittest.skipUnless(sys.implementation.name == "micropython", "gc.mem_alloc")
    def test_a_full_log_costs_its_octets(self):
        gc.collect()
        before = gc.mem_alloc()
        log = ExecLog(64)
        for c in range(100):
            log.add(A, BIG - c, 0x0101)
            log.done(A, BIG - c, 0)
        gc.collect()
        self.assertTrue(gc.mem_alloc() - before <= 64 * 20 + 256, gc.mem_alloc() - before)
