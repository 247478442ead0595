# Outbox: the bounded, persisted queue of messages for the head-end.
#
# Delivery is strictly in order of arrival (peek, send, then pop); priority only decides what is
# dropped when a bound is hit: the oldest LOW item, counting the incoming one, so a LOW put into
# a queue holding only HIGH items is itself the one dropped; a HIGH item goes only when no LOW
# is left. Drops are reported in-band: the outbox keeps one overflow report entry, placed where
# the first undelivered drop happened, whose count grows with each further drop until it is
# delivered. peek/pop present it as a HIGH item whose bytes come from `report(count)` (default: a
# head-end event, framed as contract.wan_msg frames every item the app queues: the uplink sends
# items as they are, and an unframed one broke the link's framing). One slot and _REPORT_MAX
# bytes are reserved for it, so reporting a drop never evicts anything; ordinary items
# therefore get max_items - 1 slots and max_bytes - _REPORT_MAX payload bytes. put() also
# returns how many items it dropped, and `dropped` counts them over the outbox's life
# (persisted).
#
# Every change is written through hal Storage (atomic per record) as one sealed record
# (firmware.store_record: version 1, CRC-32) whose payload is, little-endian:
#   u32 dropped | u16 n | n x (u8 kind | u16 len | data)
# kind 0 LOW, 1 HIGH, 2 overflow report (data: u32 count). The bytes bound is on payloads; the
# record adds 3 per item and 11 in all. A record that fails any check (torn by a bad flash,
# edited, another version) is counted in `corrupt` and the outbox starts empty instead of
# crashing the boot.
#
# The record is the queue: RAM holds each item's kind and length (one preallocated word each),
# so a full queue (8 KB by default) costs about 300 bytes of heap. Where an item is in the record
# follows from the lengths before it while the record holds what RAM holds. A change streams the
# new record from the old one, a small buffer at a time (Storage.write_parts, with the CRC
# computed on the way); peek() reads one item back. A failed write keeps the change in RAM (each
# item's place in the old record, and a new item's bytes, until a write succeeds; sets `dirty`,
# counts `write_errors`) and leaves the previous record on storage; the next change or flush()
# writes again. If the stored record cannot be read back (gone, or shorter than its index
# says), its items are lost: counted in `corrupt` and in the overflow report, as dropped, so the
# head-end hears of them, and the queue goes on with what RAM still holds.

import struct
from array import array

from contract import wan_msg
from firmware import store_record as record

LOW = const(0)
HIGH = const(1)
_REPORT = const(2)

_VERSION = const(1)
_REPORT_MAX = const(80)
_HEAD = "<IH"
_HEAD_LEN = const(6)
_ITEM = "<BH"
_ITEM_LEN = const(3)
_CHUNK = const(64)


def overflow_report(count):
    body = '{"msg":"event","event":"queue_overflow","dropped":%d}' % count
    return wan_msg.encode(wan_msg.JSON, body.encode())


class Outbox:
    def __init__(self, storage, name="outbox", max_items=64, max_bytes=8192, report=None):
        if max_items < 2 or max_bytes <= _REPORT_MAX:
            raise ValueError("outbox: max_items >= 2 and max_bytes > %d" % _REPORT_MAX)
        self._report = report or overflow_report
        if len(self._report(0xFFFFFFFF)) > _REPORT_MAX:
            raise ValueError("outbox: overflow report over %d bytes" % _REPORT_MAX)
        self._storage = storage
        self._name = name
        self._cap_items = max_items - 1
        self._cap_bytes = max_bytes - _REPORT_MAX
        # Per item, in order: kind | payload length << 2. While the stored record differs from
        # RAM (a change not yet written), _at holds where each item's payload is: an offset in
        # the stored record, or its bytes (the report: unused; its count is _report_n).
        self._meta = array("I", bytes(4 * max_items))
        self._n = 0
        self._at = None
        self._report_n = 0
        self._buf = bytearray(_CHUNK)  # streams the record through
        self._count = 0  # ordinary items (all but the report)
        self._payload = 0  # their bytes
        self.dropped = 0
        self.corrupt = 0
        self.write_errors = 0
        self.dirty = False
        self._unreadable = False
        try:
            ok = self._load()
        except OSError:
            ok = False
        if not ok:
            self.corrupt += 1
            self._clear()
            self._persist()  # so the next boot does not count the same record again
        elif self._fit(0, None)[0]:
            self._persist()  # the bounds shrank since the record was written

    def __len__(self):
        return self._n

    def _kind(self, i):
        return self._meta[i] & 3

    def _len(self, i):
        return self._meta[i] >> 2

    def nbytes(self):
        # Payload bytes as delivered, the overflow report included.
        n = self._payload
        if self._oldest(_REPORT) >= 0:
            n += len(self._report(self._report_n))
        return n

    def put(self, priority, data):
        # Appends; returns how many items were dropped to make room (the new one may be among
        # them). ValueError for an unknown priority or an item that could never fit.
        if priority != LOW and priority != HIGH:
            raise ValueError("outbox: priority")
        if len(data) > self._cap_bytes:
            raise ValueError("outbox: item over %d bytes" % self._cap_bytes)
        n, keep = self._fit(len(data), priority)
        if keep:
            self._add(priority, len(data), bytes(data))
            self._count += 1
            self._payload += len(data)
        self._persist()
        return n

    def peek(self):
        # The next item as (priority, bytes), or None when empty.
        while self._n:
            e = self._get(0, self._at)
            if e is not None:
                return e
        return None

    def pop(self):
        e = self.peek()
        if e is None:
            return None
        self._drop(0)
        self._persist()
        return e

    def items(self):
        out = []
        at = self._places()
        for i in range(self._n):
            e = self._get(i, at)
            if e is None:
                return self.items()  # the stored items are gone: what is left, from RAM
            out.append(e)
        return out

    def holds(self, data):
        # Whether an item with exactly these bytes is queued (boot-time recovery, not per frame).
        at = self._places()
        for i in range(self._n):
            if self._kind(i) != _REPORT and self._len(i) == len(data):
                e = self._get(i, at)
                if e is None:
                    return self.holds(data)  # the stored items are gone: look in what is left
                if e[1] == data:
                    return True
        return False

    def flush(self):
        # Retries a failed write; True when storage holds the current queue.
        return not self.dirty or self._persist()

    def _places(self):
        # Where each item's payload is: _at, or the offsets that the lengths give while the
        # stored record holds what RAM holds (a new list).
        if self._at is not None:
            return self._at
        out = []
        off = 1 + _HEAD_LEN
        for i in range(self._n):
            off += _ITEM_LEN
            out.append(off)
            off += self._len(i)
        return out

    # Each change to the index allocates what it needs before it changes anything, so that a
    # MemoryError on the way leaves the index whole (its lengths and places agree).

    def _add(self, kind, n, at):
        # Appends an item (at: its bytes, or None for the report).
        if self._n == len(self._meta):  # only while a record from larger bounds loads
            self._meta.append(0)
        places = self._places()
        places.append(at)
        self._meta[self._n] = kind | n << 2
        self._n += 1
        self._at = places

    def _drop(self, i):
        # Removes item i, and its bytes from the counts.
        places = self._places()
        kind = self._kind(i)
        if kind == _REPORT:
            self._report_n = 0
        else:
            self._count -= 1
            self._payload -= self._len(i)
        places.pop(i)
        m = self._meta
        for j in range(i, self._n - 1):
            m[j] = m[j + 1]
        self._n -= 1
        self._at = places

    def _clear(self):
        self._n = 0
        self._at = None
        self._report_n = 0
        self._count = 0
        self._payload = 0

    def _stored(self):
        # Whether some item's payload is only in the stored record.
        for i in range(self._n):
            if self._kind(i) != _REPORT and (self._at is None or isinstance(self._at[i], int)):
                return True
        return False

    def _get(self, i, places):
        # Item i as (priority, bytes), places from _places(); None if it had to be read from a
        # stored record that can no longer give it (the stored items are then lost:
        # _lose_stored).
        kind = self._kind(i)
        if kind == _REPORT:
            return (HIGH, self._report(self._report_n))
        at = places[i] if places is not None else 1 + _HEAD_LEN + _ITEM_LEN  # i == 0
        if not isinstance(at, int):
            return (kind, at)
        n = self._len(i)
        data = None
        try:
            f = self._storage.open(self._name)
            if f is not None:
                try:
                    f.seek(at)
                    data = f.read(n)
                finally:
                    f.close()
        except OSError:
            pass
        if data is None or len(data) != n:
            self._lose_stored()
            return None
        return (kind, data)

    def _lose_stored(self):
        # The stored record cannot be read back: the items only it held are dropped, and
        # reported as such.
        self.corrupt += 1
        self._at = self._places()
        n = 0
        i = 0
        while i < self._n:
            if self._kind(i) != _REPORT and isinstance(self._at[i], int):
                self._drop(i)
                n += 1
            else:
                i += 1
        self._count_dropped(n)
        self._persist()

    def _fit(self, nbytes, priority):
        # Evicts until an incoming item of nbytes fits (priority None: no incoming item, just
        # enforce the bounds). Returns (number dropped, whether the incoming item survives).
        extra = 0 if priority is None else 1
        dropped = 0
        keep = True
        while self._count + extra > self._cap_items or self._payload + nbytes > self._cap_bytes:
            i = self._oldest(LOW)
            if i < 0 and priority == LOW:
                keep = False
                dropped += 1
                break
            if i < 0:
                i = self._oldest(HIGH)
            self._drop(i)
            dropped += 1
        self._count_dropped(dropped)
        return dropped, keep

    def _count_dropped(self, n):
        # Into dropped and the overflow report (added where the first undelivered drop is).
        if not n:
            return
        self.dropped += n
        if self._oldest(_REPORT) < 0:
            self._add(_REPORT, 4, None)
        self._report_n = min(self._report_n + n, 0xFFFFFFFF)

    def _oldest(self, kind):
        for i in range(self._n):
            if self._kind(i) == kind:
                return i
        return -1

    def _load(self):
        # Reads the stored record's index (kinds, lengths, offsets); False if it fails a check.
        f = self._storage.open(self._name)
        if f is None:
            return True
        try:
            buf = self._buf
            mv = memoryview(buf)
            end = 1 + record.check(_VERSION, f, buf)  # the payload starts after the version
            if end < 1 + _HEAD_LEN:
                return False
            f.seek(1)
            f.readinto(mv[:_HEAD_LEN])
            dropped, n = struct.unpack_from(_HEAD, buf, 0)
            reports = 0
            off = 1 + _HEAD_LEN
            for _ in range(n):
                if off + _ITEM_LEN > end:
                    return False
                f.seek(off)
                f.readinto(mv[: _ITEM_LEN + 4])
                kind, ln = struct.unpack_from(_ITEM, buf, 0)
                off += _ITEM_LEN
                if off + ln > end:
                    return False
                if kind == _REPORT:
                    if ln != 4:
                        return False
                    reports += 1
                    self._report_n = struct.unpack_from("<I", buf, _ITEM_LEN)[0]
                    self._add(kind, 4, off)
                elif kind == LOW or kind == HIGH:
                    self._payload += ln
                    self._add(kind, ln, off)
                else:
                    return False
                off += ln
            if off != end or reports > 1:
                return False
            self._count = n - reports
            self.dropped = dropped
            self._at = None  # the record holds what RAM holds
            return True
        finally:
            f.close()

    def _parts(self, f, places):
        # The new record's payload, streamed: the header, then each item, its payload copied
        # from the old record (f, at places) a buffer at a time or given from RAM; f is closed
        # once read, before storage renames. A short read sets _unreadable.
        buf = self._buf
        mv = memoryview(buf)
        struct.pack_into(_HEAD, buf, 0, self.dropped & 0xFFFFFFFF, self._n)
        yield mv[:_HEAD_LEN]
        for i in range(self._n):
            kind = self._kind(i)
            n = self._len(i)
            struct.pack_into(_ITEM, buf, 0, kind, n)
            if kind == _REPORT:
                struct.pack_into("<I", buf, _ITEM_LEN, self._report_n)
                yield mv[: _ITEM_LEN + 4]
                continue
            at = places[i]
            yield mv[:_ITEM_LEN]
            if not isinstance(at, int):
                yield at
                continue
            f.seek(at)
            while n:
                k = min(n, _CHUNK)
                if f.readinto(mv[:k]) != k:
                    self._unreadable = True
                    raise OSError(5)  # EIO
                yield mv[:k]
                n -= k
        if f is not None:
            f.close()

    def _persist(self):
        f = None
        places = self._places()
        self._unreadable = False
        try:
            if self._stored():
                f = self._storage.open(self._name)
                if f is None:
                    self._unreadable = True
                    raise OSError(2)  # ENOENT: the record went away under the queue
            self._storage.write_parts(self._name, record.sealed(_VERSION, self._parts(f, places)))
        except OSError:
            if self._unreadable:
                self._lose_stored()  # then writes what is left
                return not self.dirty
            self.write_errors += 1
            self.dirty = True
            return False
        finally:
            if f is not None:
                f.close()
        self._at = None  # the record holds what RAM holds
        self.dirty = False
        return True
