# contract.ring.SlotRing: first in, first out, bounded, refusing when full, nothing allocated.
import unittest

from contract.ring import SlotRing
from tests_device.alloc import heap_bytes


class SlotRingTest(unittest.TestCase):
    def test_fifo_wraps_and_refuses_when_full(self):
        r = SlotRing([bytearray(4) for _ in range(3)])
        for round_ in range(3):  # around the ring more than once
            for i in range(3):
                b = r.claim()
                b[0] = 10 * round_ + i
                r.push(i + 1)
            self.assertIsNone(r.claim())
            self.assertEqual(r.dropped, round_ + 1)
            for i in range(3):
                self.assertEqual(r.pop(), i + 1)
                self.assertEqual(r.buf[0], 10 * round_ + i)
            self.assertEqual((r.pop(), len(r)), (0, 0))

    def test_clear(self):
        r = SlotRing([bytearray(1), bytearray(1)])
        r.claim()
        r.push(1)
        r.clear()
        self.assertEqual((len(r), r.pop()), (0, 0))

    def test_no_allocation(self):
        r = SlotRing([bytearray(8) for _ in range(2)])

        def cycle():
            r.claim()
            r.push(8)
            r.pop()

        n = heap_bytes(cycle)
        if n is None:
            self.skipTest("needs micropython.mem_total")
        self.assertEqual(n, 0)
