import unittest

from firmware import eui64
from firmware import store_record as record
from firmware.sec_counters import (
    ADMITTED,
    MAX,
    NOT_MEMBER,
    STALE,
    IncomingCounters,
    OutgoingCounter,
)
from hal.fake.storage import MemoryStorage
from tests_device.alloc import heap_bytes

A = eui64.parse("00-23-7E-00-00-00-00-01")
B = eui64.parse("00-23-7E-00-00-00-00-02")


def le(v):
    return bytes(((v >> (8 * i)) & 0xFF for i in range(4)))


def fresh(t, slot, buf, off, kseq=-1):
    # Would the counter at buf[off:off+4] from the neighbour in slot be admitted under key kseq
    # (-1: its current one)? The auxiliary header admit() reads: the counter, the sender in air
    # order, the key sequence number.
    aux = bytearray(14)
    aux[1:5] = buf[off : off + 4]
    q = 4 + 16 * slot  # the slot's record in t.state: its EUI-64 first
    aux[5:13] = bytes(reversed(t.state[q : q + 8]))
    aux[13] = (kseq if kseq >= 0 else t.key_seq(slot)) & 0xFF
    return t.admit(slot, aux, 0) == ADMITTED


class OutgoingTest(unittest.TestCase):
    def test_counts_up_writing_once_per_step(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=16)
        self.assertEqual([c.next() for _ in range(40)], list(range(40)))
        self.assertEqual(st.writes, 3)  # bounds 16, 32, 48: each before its first use
        self.assertEqual(c.writes, 3)

    def test_reboot_resumes_past_everything_used(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=16)
        used = [c.next() for _ in range(21)]
        again = OutgoingCounter(st, step=16)  # power cut after frame 20: the bound was 32
        self.assertEqual(again.next(), 32)
        self.assertTrue(again.value > max(used))
        self.assertEqual(OutgoingCounter(st, step=16).next(), 48)  # a boot loop skips a step

    def test_records_alternate(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=4)
        for _ in range(9):
            c.next()
        bounds = sorted(_bound(st, n) for n in ("nwk_counter.0", "nwk_counter.1"))
        self.assertEqual(bounds, [8, 12])

    def test_failed_write_sends_nothing_then_recovers(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=8)
        st.fail_next_write = True
        self.assertEqual(c.next(), -1)
        self.assertEqual(c.write_errors, 1)
        self.assertEqual(c.next(), 0)  # nothing was used, so 0 is still unused

    def test_one_damaged_record_resumes_a_step_past_the_other(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=8)
        used = [c.next() for _ in range(17)]  # bounds 8 (record 0), 16 (1), 24 (0)
        for name in ("nwk_counter.0", "nwk_counter.1"):
            saved = st.records[name]
            st.records[name] = saved[:-1] + bytes((saved[-1] ^ 1,))
            again = OutgoingCounter(st, step=8)
            self.assertEqual(again.corrupt, 1)
            self.assertFalse(again.lost)
            self.assertTrue(again.next() > max(used), name)
            st.records[name] = saved

    def test_both_damaged_is_lost_until_a_new_key(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=8)
        for _ in range(10):
            c.next()
        for name in ("nwk_counter.0", "nwk_counter.1"):
            st.records[name] = b"junk"
        again = OutgoingCounter(st, step=8)
        self.assertTrue(again.lost)
        self.assertEqual(again.corrupt, 2)
        self.assertEqual(again.next(), -1)
        again.reset()  # a new network key: counting may restart
        self.assertEqual(again.next(), 0)

    def test_exhaustion(self):
        c = OutgoingCounter(MemoryStorage(), step=8)
        c.value = MAX - 1
        self.assertEqual((c.next(), c.next(), c.next()), (MAX - 1, MAX, -1))

    def test_bound_never_passes_the_counter_space(self):
        st = MemoryStorage()
        c = OutgoingCounter(st, step=1024)
        c.value = MAX - 3
        self.assertEqual(c.next(), MAX - 3)
        self.assertEqual(OutgoingCounter(st).next(), -1)  # resumes at 0xFFFFFFFF: none left

    def test_without_storage(self):
        c = OutgoingCounter(None, step=8)
        self.assertEqual([c.next() for _ in range(10)], list(range(10)))

    def test_step_is_checked(self):
        with self.assertRaises(ValueError):
            OutgoingCounter(MemoryStorage(), step=0)


def _bound(st, name):
    p = record.unseal(1, st.records[name])
    return p[0] | p[1] << 8 | p[2] << 16 | p[3] << 24


class IncomingTest(unittest.TestCase):
    def setUp(self):
        self.t = IncomingCounters(4)
        self.t.assign(1, A)

    def fresh(self, v, slot=1):
        return fresh(self.t, slot, le(v), 0)

    def accept(self, v, slot=1):
        self.t.accept(slot, le(v), 0)

    def test_only_later_counters_are_fresh(self):
        self.assertTrue(self.fresh(0))
        self.accept(5)
        self.assertEqual(self.t.lowest(1), 6)
        self.assertFalse(self.fresh(5))
        self.assertFalse(self.fresh(0))
        self.assertTrue(self.fresh(6))
        self.assertTrue(self.fresh(1 << 20))

    def test_halves_carry(self):
        self.accept(0xFFFF)
        self.assertEqual(self.t.lowest(1), 0x10000)
        self.assertFalse(self.fresh(0xFFFF))
        self.assertTrue(self.fresh(0x10000))
        self.accept(0x1234FFFF)
        self.assertFalse(self.fresh(0x1234FFFF))
        self.assertTrue(self.fresh(0x12350000))

    def test_ffffffff_is_never_fresh(self):
        self.assertFalse(self.fresh(0xFFFFFFFF))
        self.accept(0xFFFFFFFE)
        self.assertFalse(self.fresh(0xFFFFFFFF))
        self.assertFalse(self.fresh(0xFFFFFFFE))

    def test_empty_slot_is_never_fresh(self):
        self.assertFalse(self.fresh(0, slot=0))
        self.t.clear(1)
        self.assertFalse(self.fresh(100))

    def test_admit_names_the_sender_check_apart_from_the_counter(self):
        # A frame naming another sender in the slot of A is NOT_MEMBER whatever its counter; A's
        # own frame is judged on its counter and key. Headers past the buffer's end are never
        # the member's.
        def aux(eui, counter=7, kseq=0):
            return bytearray(b"\x28" + le(counter) + bytes(reversed(eui)) + bytes((kseq,)))

        frm = aux(A)
        self.assertEqual(self.t.admit(1, frm, 0), ADMITTED)
        self.assertEqual(self.t.admit(1, aux(B), 0), NOT_MEMBER)
        self.assertEqual(self.t.admit(1, frm, 1), NOT_MEMBER)  # past the end
        self.assertEqual(self.t.admit(0, frm, 0), NOT_MEMBER)  # an empty slot
        self.t.accept(1, frm, 1, 0)
        self.assertEqual(self.t.admit(1, frm, 0), STALE)  # replayed
        self.assertEqual(self.t.admit(1, aux(B), 0), NOT_MEMBER)
        self.assertEqual(self.t.admit(1, aux(A, 8), 0), ADMITTED)
        self.assertEqual(self.t.admit(1, aux(A, 8, 255), 0), STALE)  # an older key
        self.assertEqual(self.t.admit(1, aux(A, 0, 1), 0), ADMITTED)  # a newer key: from 0
        self.assertEqual(self.t.admit(1, aux(A, 0xFFFFFFFF, 1), 0), STALE)  # never, any key

    def test_assign_keeps_a_rejoining_device_and_resets_a_new_one(self):
        self.accept(100)
        self.t.assign(1, A)
        self.assertEqual(self.t.lowest(1), 101)
        self.t.assign(1, B)
        self.assertEqual(self.t.lowest(1), 0)

    def test_persisted_ahead_so_a_power_cut_replays_nothing(self):
        st = MemoryStorage()
        t = IncomingCounters(4, st, step=8)
        t.assign(0, A)
        t.assign(3, B)
        t.accept(0, le(0x00ABCDEF), 0)  # past the bound 0: a bound 8 on is written first
        t.accept(3, le(7), 0)
        self.assertEqual(st.writes, 2)
        for c in range(8, 15):  # below B's bound 15: no write
            t.accept(3, le(c), 0)
        self.assertEqual(st.writes, 2)
        t.accept(3, le(15), 0)
        self.assertEqual(st.writes, 3)
        # The power goes: every counter accepted before is refused, whichever was last saved.
        u = IncomingCounters(4, st, step=8)
        self.assertEqual((u.lowest(0), u.lowest(3), u.corrupt), (0x00ABCDF7, 23, 0))
        u.assign(0, A)  # the device table reloaded at boot: same device, same counter
        for c in (0x00ABCDEF, 0x00ABCDF6):
            self.assertFalse(fresh(u, 0, le(c), 0))
        self.assertTrue(fresh(u, 0, le(0x00ABCDF7), 0))
        self.assertFalse(fresh(u, 1, le(1), 0))

    def test_a_failed_write_is_counted_and_retried(self):
        st = MemoryStorage()
        t = IncomingCounters(4, st, step=8)
        t.assign(0, A)
        st.fail_next_write = True
        t.accept(0, le(3), 0)
        self.assertEqual((t.write_errors, t.lowest(0)), (1, 4))
        t.accept(0, le(4), 0)  # still at or past the bound on storage (0): written now
        self.assertEqual(IncomingCounters(4, st).lowest(0), 12)

    def test_key_sequence_numbers(self):
        t = IncomingCounters(4, MemoryStorage())
        t.assign(0, A)
        t.accept(0, le(500), 0, 7)
        self.assertFalse(fresh(t, 0, le(10), 0, 7))
        self.assertTrue(fresh(t, 0, le(10), 0, 8))  # a newer key: counting starts again
        self.assertFalse(fresh(t, 0, le(900), 0, 6))  # an older key: never
        t.accept(0, le(10), 0, 8)
        self.assertEqual((t.key_seq(0), t.lowest(0)), (8, 11))
        self.assertFalse(fresh(t, 0, le(900), 0, 7))  # switched: the old key is refused
        t.accept(0, le(20), 0, 255)
        self.assertTrue(fresh(t, 0, le(0), 0, 0))  # 255 -> 0 wraps forward
        self.assertEqual(IncomingCounters(4, t._storage).key_seq(0), 255)

    def test_counters_follow_the_device_not_the_slot(self):
        st = MemoryStorage()
        t = IncomingCounters(4, st, step=8)
        t.assign(0, A)
        t.assign(1, B)
        t.accept(0, le(100), 0)
        t.accept(1, le(200), 0)
        # A leaves; a new device takes its slot; A comes back in another slot.
        t.clear(0)
        t.assign(0, b"\x05" * 8)
        self.assertEqual(t.lowest(0), 0)
        t.assign(2, A)
        self.assertFalse(fresh(t, 2, le(100), 0))
        self.assertTrue(fresh(t, 2, le(101), 0))
        # At boot the device table may list the members in other slots: rebind by EUI-64.
        t.clear(2)
        t.save()
        u = IncomingCounters(4, st, step=8)
        u.rebind([(0, B), (3, A)])
        self.assertFalse(fresh(u, 0, le(200), 0))
        self.assertFalse(fresh(u, 3, le(100), 0))  # A was parked when saved
        self.assertTrue(fresh(u, 0, le(208), 0))
        u.rebind([(1, b"\x07" * 8)])  # a stranger to the record starts from 0
        self.assertTrue(fresh(u, 1, le(0), 0))
        self.assertFalse(fresh(u, 0, le(500), 0))  # B is parked, not a member

    def test_a_version_1_record_still_loads(self):
        st = MemoryStorage()
        st.write("nwk_incoming", record.seal(1, b"\x02" + A + le(41)))
        u = IncomingCounters(4, st)
        self.assertEqual((u.lowest(2), u.key_seq(2), u.corrupt), (41, -1, 0))

    def test_damaged_record_is_counted_and_dropped(self):
        st = MemoryStorage()
        t = IncomingCounters(4, st)
        t.assign(0, A)
        t.save()
        st.records["nwk_incoming"] = st.records["nwk_incoming"][:-1] + b"\x00"
        u = IncomingCounters(4, st)
        self.assertEqual(u.corrupt, 1)
        self.assertFalse(fresh(u, 0, le(1), 0))
        # a record from a larger table: refused whole
        big = IncomingCounters(8, st)
        big.assign(7, B)
        big.save()
        self.assertEqual(IncomingCounters(4, st).corrupt, 1)


_T = IncomingCounters(2)
_T.assign(0, A)
_HIGH = le(0xFFFFFFF0)  # a big int on a 32-bit board if read whole


# Auxiliary headers (ZigBee 4.5.1): the frame counter 0xFFFFFFF0 from A (air order), or from
# another EUI-64, under key 0.
_FROM_A = bytearray(b"\x28" + _HIGH + bytes(reversed(A)) + b"\x00")
_FROM_B = bytearray(b"\x28" + _HIGH + bytes(reversed(B)) + b"\x00")


def _check_and_accept():
    if not _T.admit(0, _FROM_A, 0):
        _T.accept(0, _FROM_A, 1)


def _admit_sender():
    _T.admit(0, _FROM_A, 0)
    _T.admit(0, _FROM_B, 0)


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class NoAllocationTest(unittest.TestCase):
    def test_admit_and_accept_allocate_nothing(self):
        self.assertEqual(heap_bytes(_check_and_accept), 0)
        self.assertEqual(_T.lowest(0), 0xFFFFFFF1)

    def test_admit_with_the_sender_allocates_nothing(self):
        self.assertEqual(heap_bytes(_admit_sender), 0)

    def test_next_allocates_only_when_it_commits(self):
        c = OutgoingCounter(MemoryStorage(), step=1 << 20)
        self.assertEqual(heap_bytes(c.next, rounds=100), 0)
