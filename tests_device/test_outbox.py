import gc
import json
import sys
import unittest

from contract import wan_msg
from firmware.wan_outbox import HIGH, LOW, Outbox
from hal.fake.storage import MemoryStorage

MICROPYTHON = sys.implementation.name == "micropython"


def report(n):
    # The overflow report as the head-end reads it: a JSON event framed as every item (a u32
    # big-endian length, the JSON type octet, the body).
    body = ('{"msg":"event","event":"queue_overflow","dropped":%d}' % n).encode()
    return (HIGH, (len(body) + 1).to_bytes(4, "big") + b"\x01" + body)


class OrderTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        self.ob = Outbox(self.st)

    def test_empty(self):
        self.assertEqual(len(self.ob), 0)
        self.assertIsNone(self.ob.peek())
        self.assertIsNone(self.ob.pop())

    def test_delivered_in_order_of_arrival_whatever_the_priority(self):
        sent = [(LOW, b"l1"), (HIGH, b"h1"), (LOW, b"l2"), (HIGH, b"h2"), (LOW, b"")]
        for p, d in sent:
            self.assertEqual(self.ob.put(p, d), 0)
        self.assertEqual(self.ob.items(), sent)
        got = []
        while len(self.ob):
            head = self.ob.peek()
            self.assertEqual(self.ob.pop(), head)
            got.append(head)
        self.assertEqual(got, sent)
        self.assertEqual(self.ob.nbytes(), 0)

    def test_accepts_any_buffer(self):
        self.ob.put(HIGH, bytearray(b"ab"))
        self.ob.put(HIGH, memoryview(b"cd"))
        self.assertEqual(self.ob.items(), [(HIGH, b"ab"), (HIGH, b"cd")])
        self.assertIsInstance(self.ob.peek()[1], bytes)

    def test_rejects_bad_input(self):
        self.assertRaises(ValueError, self.ob.put, 7, b"x")
        self.assertRaises(ValueError, self.ob.put, LOW, bytes(8192 - 80 + 1))
        self.assertEqual(self.ob.put(LOW, bytes(8192 - 80)), 0)
        self.assertRaises(ValueError, Outbox, self.st, "x", 1)
        self.assertRaises(ValueError, Outbox, self.st, "x", 4, 80)
        self.assertRaises(ValueError, Outbox, self.st, "x", 4, 200, lambda n: bytes(81))

    def test_every_change_is_written(self):
        w = self.st.writes
        self.ob.put(LOW, b"a")
        self.ob.put(LOW, b"b")
        self.ob.pop()
        self.assertEqual(self.st.writes, w + 3)


class BoundsTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        # 4 ordinary items and 100 payload bytes; one slot and 80 bytes kept for the report.
        self.ob = Outbox(self.st, max_items=5, max_bytes=180)

    def fill(self, items):
        for p, d in items:
            self.assertEqual(self.ob.put(p, d), 0)

    def test_item_bound_drops_the_oldest_low(self):
        self.fill([(LOW, b"l1"), (HIGH, b"h1"), (LOW, b"l2"), (HIGH, b"h2")])
        self.assertEqual(self.ob.put(HIGH, b"h3"), 1)
        self.assertEqual(
            self.ob.items(), [(HIGH, b"h1"), (LOW, b"l2"), (HIGH, b"h2"), report(1), (HIGH, b"h3")]
        )
        self.assertEqual(self.ob.put(LOW, b"l3"), 1)  # l2 goes; the report counts on
        self.assertEqual(
            self.ob.items(), [(HIGH, b"h1"), (HIGH, b"h2"), report(2), (HIGH, b"h3"), (LOW, b"l3")]
        )
        self.assertEqual(self.ob.dropped, 2)
        self.assertEqual(len(self.ob), 5)

    def test_high_goes_only_when_no_low_is_left(self):
        self.fill([(HIGH, b"h1"), (HIGH, b"h2"), (HIGH, b"h3"), (HIGH, b"h4")])
        self.assertEqual(self.ob.put(HIGH, b"h5"), 1)
        self.assertEqual(
            self.ob.items(),
            [(HIGH, b"h2"), (HIGH, b"h3"), (HIGH, b"h4"), report(1), (HIGH, b"h5")],
        )

    def test_a_low_put_into_a_queue_of_high_is_itself_dropped(self):
        self.fill([(HIGH, b"h1"), (HIGH, b"h2"), (HIGH, b"h3"), (HIGH, b"h4")])
        self.assertEqual(self.ob.put(LOW, b"l1"), 1)
        self.assertEqual(
            self.ob.items(),
            [(HIGH, b"h1"), (HIGH, b"h2"), (HIGH, b"h3"), (HIGH, b"h4"), report(1)],
        )

    def test_byte_bound(self):
        self.fill([(HIGH, b"A" * 40), (LOW, b"B" * 40), (HIGH, b"C" * 10)])
        self.assertEqual(self.ob.put(HIGH, b"D" * 30), 1)  # 120 > 100: B goes, not the older A
        self.assertEqual(
            self.ob.items(), [(HIGH, b"A" * 40), (HIGH, b"C" * 10), report(1), (HIGH, b"D" * 30)]
        )
        self.assertEqual(self.ob.put(HIGH, b"E" * 90), 3)  # only E fits
        self.assertEqual(self.ob.items(), [report(4), (HIGH, b"E" * 90)])

    def test_never_exceeds_the_bounds(self):
        for i in range(300):
            self.ob.put(HIGH if i % 3 == 0 else LOW, bytes(i * 7 % 61))
            self.assertTrue(len(self.ob) <= 5)
            self.assertTrue(self.ob.nbytes() <= 180)

    def test_drop_report_is_json_and_starts_over_once_delivered(self):
        self.fill([(LOW, b"1"), (LOW, b"2"), (LOW, b"3"), (LOW, b"4")])
        for d in (b"5", b"6", b"7"):
            self.assertEqual(self.ob.put(LOW, d), 1)
        self.assertEqual(self.ob.items()[1], report(3))
        self.ob.pop()
        msg = self.ob.pop()[1]  # what the uplink sends as it is: one whole framed message
        self.assertEqual(wan_msg.length(msg[: wan_msg.HEADER_LEN]), len(msg) - wan_msg.HEADER_LEN)
        want = {"msg": "event", "event": "queue_overflow", "dropped": 3}
        self.assertEqual(wan_msg.decode_json(msg[wan_msg.HEADER_LEN :]), want)
        self.assertEqual(json.loads(msg[wan_msg.HEADER_LEN + 1 :]), want)
        self.assertEqual(self.ob.put(LOW, b"8"), 0)  # the report's slot is free again
        self.assertEqual(self.ob.put(LOW, b"9"), 1)
        self.assertEqual(self.ob.items()[-2:], [report(1), (LOW, b"9")])
        self.assertEqual(self.ob.dropped, 4)

    def test_custom_report(self):
        ob = Outbox(
            MemoryStorage(), max_items=2, max_bytes=100, report=lambda n: ("drop %d" % n).encode()
        )
        ob.put(LOW, b"a")
        ob.put(LOW, b"b")
        self.assertEqual(ob.items(), [(HIGH, b"drop 1"), (LOW, b"b")])


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.st = MemoryStorage()
        self.ob = Outbox(self.st, max_items=4, max_bytes=200)
        for p, d in ((LOW, b"l1"), (HIGH, b"h1"), (LOW, b"l2"), (HIGH, b"h2")):
            self.ob.put(p, d)

    def reboot(self, **kw):
        args = {"max_items": 4, "max_bytes": 200}
        args.update(kw)
        return Outbox(self.st, **args)

    def test_round_trip(self):
        before = self.ob.items()
        self.assertEqual(before[2], report(1))
        again = self.reboot()
        self.assertEqual(again.items(), before)
        self.assertEqual((again.dropped, again.corrupt, again.nbytes()), (1, 0, self.ob.nbytes()))
        self.assertEqual(again.pop(), (HIGH, b"h1"))
        self.assertEqual(self.reboot().items(), before[1:])

    def test_report_count_survives_and_keeps_counting(self):
        again = self.reboot()
        again.put(LOW, b"l4")
        self.assertEqual(self.reboot().items()[1], report(2))

    def test_names_are_separate(self):
        other = Outbox(self.st, "other")
        other.put(HIGH, b"x")
        self.assertEqual(len(self.reboot()), 4)
        self.assertEqual(Outbox(self.st, "other").items(), [(HIGH, b"x")])

    def test_every_flipped_byte_is_detected(self):
        good = self.st.records["outbox"]
        for i in range(len(good)):
            for bit in (0x01, 0x80):
                bad = bytearray(good)
                bad[i] ^= bit
                self.st.records["outbox"] = bytes(bad)
                ob = self.reboot()
                self.assertEqual((len(ob), ob.corrupt, ob.dropped), (0, 1, 0))
        self.assertEqual(self.reboot().corrupt, 0)  # the empty queue was written back

    def test_every_truncation_is_detected(self):
        good = self.st.records["outbox"]
        for n in range(len(good)):
            self.st.records["outbox"] = good[:n]
            ob = self.reboot()
            self.assertEqual((len(ob), ob.corrupt), (0, 1))

    def test_usable_after_corruption(self):
        self.st.records["outbox"] = b"\xff" * 30
        ob = self.reboot()
        ob.put(HIGH, b"new")
        self.assertEqual(self.reboot().items(), [(HIGH, b"new")])

    def test_failed_write_leaves_the_previous_record(self):
        before = self.ob.items()
        self.st.fail_next_write = True
        self.assertEqual(self.ob.put(HIGH, b"h3"), 1)
        self.assertEqual((self.ob.dirty, self.ob.write_errors), (True, 1))
        self.assertEqual(self.ob.items()[-1], (HIGH, b"h3"))  # still queued in RAM
        again = self.reboot()
        self.assertEqual(again.items(), before)
        self.assertEqual(again.corrupt, 0)
        self.assertTrue(self.ob.flush())
        self.assertFalse(self.ob.dirty)
        self.assertEqual(self.reboot().items(), self.ob.items())

    def test_failed_write_on_pop(self):
        self.st.fail_next_write = True
        self.assertEqual(self.ob.pop(), (HIGH, b"h1"))
        self.assertEqual(self.reboot().items()[0], (HIGH, b"h1"))  # delivered again after a reboot
        self.ob.pop()  # the next change writes the whole queue
        self.assertEqual(self.reboot().items(), self.ob.items())

    def test_bounds_shrunk_between_boots(self):
        small = self.reboot(max_items=3)
        self.assertEqual(small.items(), [(HIGH, b"h1"), report(2), (HIGH, b"h2")])
        self.assertEqual(small.dropped, 2)
        self.assertEqual(self.reboot(max_items=3).items(), small.items())


class FullHeap(list):
    # Where each item is while a change is not yet written: a list whose growth fails, as on a
    # full heap.
    def append(self, x):
        raise MemoryError


class MemoryErrorTest(unittest.TestCase):
    # A MemoryError in the middle of a change leaves the index whole.
    def test_a_put_that_cannot_allocate_changes_nothing(self):
        st = MemoryStorage()
        ob = Outbox(st, max_items=4, max_bytes=200)
        for d in (b"a", b"b"):
            ob.put(LOW, d)
        ob._places = lambda: FullHeap([10, 14])  # the places the record gives the two items
        self.assertRaises(MemoryError, ob.put, LOW, b"c")
        del ob._places
        self.assertEqual(len(ob), 2)
        self.assertEqual(ob.items(), [(LOW, b"a"), (LOW, b"b")])
        self.assertEqual(ob.pop(), (LOW, b"a"))
        self.assertEqual(Outbox(st, max_items=4, max_bytes=200).items(), [(LOW, b"b")])


class PieceStorage(MemoryStorage):
    # Notes the largest piece a write was given.
    largest = 0

    def write_parts(self, name, parts):
        def note():
            for p in parts:
                self.largest = max(self.largest, len(p))
                yield p

        MemoryStorage.write_parts(self, name, note())


class RamTest(unittest.TestCase):
    # The stored record is the queue: RAM holds an index, and a write streams the record.
    def fill(self, ob):
        for i in range(63):
            ob.put(HIGH if i % 2 else LOW, bytes([i]) * 120)

    def test_written_a_piece_at_a_time(self):
        st = PieceStorage()
        ob = Outbox(st)
        self.fill(ob)
        ob.pop()
        self.assertEqual(len(st.records["outbox"]), 6 + 62 * 123 + 5)
        self.assertTrue(st.largest <= 120, st.largest)  # the new item; stored ones in chunks

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_a_full_queue_costs_no_more_than_an_empty_one(self):
        st = MemoryStorage()
        ob = Outbox(st)
        gc.collect()
        before = gc.mem_alloc()
        self.fill(ob)
        gc.collect()
        held = gc.mem_alloc() - before - len(st.records["outbox"])  # less the fake's record
        self.assertEqual(ob.nbytes(), 63 * 120)
        # Each item's kind and length were preallocated with the outbox; its place in the record
        # follows from the lengths (what is left is the fake record's rounding to heap blocks).
        self.assertTrue(held <= 128, held)


class FileTest(unittest.TestCase):
    # On the file storage the board uses: the new record is streamed from the old one.
    def setUp(self):
        from hal.fake.esp32 import rmtree, scratch_dir

        self.dir = scratch_dir("commshub-outbox-test")
        self.rmtree = rmtree
        rmtree(self.dir)

    def tearDown(self):
        self.rmtree(self.dir)

    def test_full_queue_round_trip(self):
        from hal.file_storage import FileStorage

        ob = Outbox(FileStorage(self.dir), max_items=8, max_bytes=80 + 700)
        for i in range(12):
            ob.put(LOW if i % 3 else HIGH, bytes([65 + i]) * (50 + i * 7))
        ob.pop()
        want = ob.items()
        self.assertEqual(len(want), 7)  # 6 items and the drop report
        self.assertEqual(Outbox(FileStorage(self.dir), max_items=8, max_bytes=780).items(), want)


class LostRecordTest(unittest.TestCase):
    # A record that can no longer be read back: its items are dropped and reported.
    def setUp(self):
        self.st = MemoryStorage()
        self.ob = Outbox(self.st)
        for d in (b"a1", b"b22", b"c333"):
            self.ob.put(HIGH, d)

    def test_record_gone(self):
        self.st.remove("outbox")
        self.assertEqual(self.ob.peek(), report(3))
        self.assertEqual((len(self.ob), self.ob.dropped, self.ob.corrupt), (1, 3, 1))
        self.assertEqual(Outbox(self.st).items(), [report(3)])

    def test_record_cut_short(self):
        self.st.records["outbox"] = self.st.records["outbox"][:12]
        self.assertEqual(self.ob.items(), [report(3)])
        self.ob.put(LOW, b"d")
        self.assertEqual(Outbox(self.st).items(), [report(3), (LOW, b"d")])

    def test_a_write_finds_it_gone(self):
        self.st.remove("outbox")
        self.assertEqual(self.ob.put(LOW, b"d"), 0)
        self.assertEqual(self.ob.items(), [(LOW, b"d"), report(3)])
        self.assertEqual(Outbox(self.st).items(), self.ob.items())

    def test_items_not_yet_written_survive(self):
        self.st.fail_next_write = True
        self.ob.put(HIGH, b"pending")
        self.st.remove("outbox")
        self.assertFalse(self.ob.holds(b"a1"))
        self.assertTrue(self.ob.holds(b"pending"))
        self.assertEqual(self.ob.items(), [(HIGH, b"pending"), report(3)])
        self.assertTrue(self.ob.flush())
        self.assertEqual(Outbox(self.st).items(), self.ob.items())

    def test_stored_and_pending_written_together(self):
        self.st.fail_next_write = True
        self.ob.put(LOW, b"pending")
        self.assertEqual(self.ob.pop(), (HIGH, b"a1"))  # this write succeeds
        want = [(HIGH, b"b22"), (HIGH, b"c333"), (LOW, b"pending")]
        self.assertEqual(Outbox(self.st).items(), want)
        self.assertEqual(self.ob.items(), want)
