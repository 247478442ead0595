import gc
import sys
import unittest

from contract.ticks import PERIOD, ticks_add
from firmware import han_indirect as indirect
from firmware.han_indirect import Indirect

MICROPYTHON = sys.implementation.name == "micropython"
GSME = 1
OTHER = 2


def take(q, dev, now):
    out = bytearray(q.payload_max)
    n = q.take_into(dev, now, out, 0)
    return None if n < 0 else bytes(out[:n])


class QueueTest(unittest.TestCase):
    def setUp(self):
        self.q = Indirect(devices=3, slots=5, per_device=3, expiry_ms=7000, payload_max=20)

    def test_frame_waits_for_the_poll(self):
        self.assertEqual(self.q.put(GSME, b"hello", 5, 0), indirect.OK)
        self.assertEqual(self.q.pending(GSME, 1000), 1)
        self.assertEqual(self.q.pending(OTHER, 1000), 0)
        self.assertIsNone(take(self.q, OTHER, 1000))
        self.assertEqual(take(self.q, GSME, 1000), b"hello")
        self.assertIsNone(take(self.q, GSME, 1000))
        self.assertEqual((self.q.queued, self.q.delivered), (1, 1))

    def test_fifo_per_device(self):
        for i in range(3):
            self.q.put(GSME, bytes([i]) * 4, 4, i)
            self.q.put(OTHER, bytes([10 + i]), 1, i)
        self.assertEqual(take(self.q, GSME, 5), b"\x00" * 4)
        self.assertEqual(take(self.q, OTHER, 5), b"\x0a")
        self.assertEqual(take(self.q, GSME, 5), b"\x01" * 4)
        self.assertEqual(take(self.q, GSME, 5), b"\x02" * 4)
        self.assertEqual(take(self.q, OTHER, 5), b"\x0b")

    def test_per_device_bound(self):
        for _ in range(3):
            self.assertEqual(self.q.put(GSME, b"x", 1, 0), indirect.OK)
        self.assertEqual(self.q.room(GSME, 1), indirect.FULL_DEVICE)
        self.assertEqual(self.q.put(GSME, b"x", 1, 0), indirect.FULL_DEVICE)
        self.assertEqual(self.q.put(OTHER, b"y", 1, 0), indirect.OK)  # others unaffected
        self.assertEqual(self.q.refused[indirect.FULL_DEVICE], 1)

    def test_global_bound(self):
        for dev in (0, 1):
            for _ in range(2):
                self.q.put(dev, b"x", 1, 0)
        self.assertEqual(self.q.put(OTHER, b"y", 1, 0), indirect.OK)
        self.assertEqual(self.q.put(OTHER, b"y", 1, 0), indirect.FULL)
        self.assertEqual(self.q.used, 5)
        self.assertEqual(self.q.free_slots(), 0)
        take(self.q, 0, 0)
        self.assertEqual(self.q.free_slots(), 1)
        self.assertEqual(self.q.put(OTHER, b"y", 1, 0), indirect.OK)

    def test_too_big(self):
        self.assertEqual(self.q.put(GSME, bytes(21), 21, 0), indirect.TOO_BIG)
        self.assertEqual(self.q.put(GSME, bytes(20), 20, 0), indirect.OK)

    def test_expiry_boundary(self):
        self.q.put(GSME, b"a", 1, 1000)
        self.q.put(GSME, b"b", 1, 2000)
        self.assertEqual(self.q.pending(GSME, 7999), 2)
        self.assertEqual(self.q.pending(GSME, 8000), 1)  # 7 s after it was queued
        self.assertEqual(take(self.q, GSME, 8500), b"b")
        self.assertEqual(self.q.expired, 1)
        self.assertEqual(self.q.free_slots(), 5)

    def test_expiry_across_the_ticks_wrap(self):
        t0 = PERIOD - 3000  # the 2**30 wrap comes 3 s later
        self.q.put(GSME, b"w", 1, t0)
        self.assertEqual(self.q.expire(ticks_add(t0, 4000)), 0)  # wrapped, not expired
        self.assertEqual(self.q.pending(GSME, ticks_add(t0, 6999)), 1)
        self.assertEqual(self.q.expire(ticks_add(t0, 7000)), 1)
        self.assertEqual(self.q.pending(GSME, ticks_add(t0, 7000)), 0)

    def test_wrap_does_not_expire_early(self):
        # Queued just after the wrap with a deadline still ahead: small tick values must not
        # look "past" the deadline.
        t0 = 500
        self.q.put(GSME, b"z", 1, t0)
        self.assertEqual(self.q.pending(GSME, 600), 1)
        self.assertEqual(take(self.q, GSME, 7499), b"z")

    def test_flush(self):
        self.q.put(GSME, b"1", 1, 0)
        self.q.put(GSME, b"2", 1, 0)
        self.q.flush(GSME)
        self.assertEqual(self.q.pending(GSME, 0), 0)
        self.assertEqual((self.q.flushed, self.q.used, self.q.free_slots()), (2, 0, 5))


class NoAllocationTest(unittest.TestCase):
    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_put_take_expire_allocate_nothing(self):
        q = Indirect(devices=2, slots=4, per_device=2, expiry_ms=5, payload_max=20)
        data = bytes(20)
        out = bytearray(20)
        q.put(0, data, 20, 0)
        q.take_into(0, 0, out, 0)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for i in range(1000):
                q.put(0, data, 20, i)
                q.put(0, data, 20, i)
                q.put(0, data, 20, i)  # refused: device full
                q.take_into(0, i, out, 0)
                q.expire(i + 5)
            self.assertEqual(gc.mem_alloc() - before, 0)
        finally:
            gc.enable()
