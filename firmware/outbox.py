# Outbox: the bounded, persisted queue of messages for the head-end.
#
# Delivery is strictly in order of arrival (peek, send, then pop); priority only decides what is
# dropped when a bound is hit: the oldest LOW item, counting the incoming one, so a LOW put into
# a queue holding only HIGH items is itself the one dropped; a HIGH item goes only when no LOW
# is left. Drops are reported in-band: the outbox keeps one overflow report entry, placed where
# the first undelivered drop happened, whose count grows with each further drop until it is
# delivered. peek/pop present it as a HIGH item whose bytes come from `report(count)` (default: a
# small JSON object). One slot and _REPORT_MAX bytes are reserved for it, so reporting a drop
# never evicts anything; ordinary items therefore get max_items - 1 slots and
# max_bytes - _REPORT_MAX payload bytes. put() also returns how many items it dropped, and
# `dropped` counts them over the outbox's life (persisted).
#
# Every change is written through hal Storage (atomic per record) as one sealed record
# (firmware.record: version 1, CRC-32) whose payload is, little-endian:
#   u32 dropped | u16 n | n x (u8 kind | u16 len | data)
# kind 0 LOW, 1 HIGH, 2 overflow report (data: u32 count). The bytes bound is on payloads; the
# record adds 3 per item and 11 in all. A record that fails any check (torn by a bad flash,
# edited, another version) is counted in `corrupt` and the outbox starts empty instead of
# crashing the boot. A failed write keeps the queue in RAM (sets `dirty`, counts
# `write_errors`) and leaves the previous record on storage; the next change or flush() writes
# again.

import struct

from contract.compat import const
from firmware import record

LOW = const(0)
HIGH = const(1)
_REPORT = const(2)

_VERSION = const(1)
_REPORT_MAX = const(64)
_HEAD = "<IH"
_HEAD_LEN = const(6)
_ITEM = "<BH"
_ITEM_LEN = const(3)


def overflow_report(count):
    return ('{"event":"queue_overflow","dropped":%d}' % count).encode()


class Outbox:
    def __init__(self, storage, name="outbox", max_items=64, max_bytes=8192, report=None):
        if max_items < 2 or max_bytes <= _REPORT_MAX:
            raise ValueError("outbox: max_items >= 2 and max_bytes > %d" % _REPORT_MAX)
        self._report = report or overflow_report
        if len(self._report(0xFFFFFFFF)) > _REPORT_MAX:
            raise ValueError("outbox: overflow report over %d bytes" % _REPORT_MAX)
        self._storage = storage
        self._name = name
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._cap_items = max_items - 1
        self._cap_bytes = max_bytes - _REPORT_MAX
        self._items = []  # [kind, data]; the report's data is its count
        self._count = 0  # ordinary items (all but the report)
        self._payload = 0  # their bytes
        self.dropped = 0
        self.corrupt = 0
        self.write_errors = 0
        self.dirty = False
        rec = storage.read(name)
        if rec is not None and not self._decode(rec):
            self.corrupt += 1
            self._persist()  # so the next boot does not count the same record again
        elif self._fit(0, None)[0]:
            self._persist()  # the bounds shrank since the record was written

    def __len__(self):
        return len(self._items)

    def nbytes(self):
        # Payload bytes as delivered, the overflow report included.
        n = self._payload
        for kind, data in self._items:
            if kind == _REPORT:
                n += len(self._report(data))
        return n

    def put(self, priority, data):
        # Appends; returns how many items were dropped to make room (the new one may be among
        # them). ValueError for an unknown priority or an item that could never fit.
        if priority != LOW and priority != HIGH:
            raise ValueError("outbox: priority")
        data = bytes(data)
        if len(data) > self._cap_bytes:
            raise ValueError("outbox: item over %d bytes" % self._cap_bytes)
        n, keep = self._fit(len(data), priority)
        if keep:
            self._items.append([priority, data])
            self._count += 1
            self._payload += len(data)
        self._persist()
        return n

    def peek(self):
        # The next item as (priority, bytes), or None when empty.
        if not self._items:
            return None
        return self._present(self._items[0])

    def pop(self):
        if not self._items:
            return None
        e = self._items.pop(0)
        if e[0] != _REPORT:
            self._count -= 1
            self._payload -= len(e[1])
        self._persist()
        return self._present(e)

    def items(self):
        return [self._present(e) for e in self._items]

    def holds(self, data):
        # Whether an item with exactly these bytes is queued (boot-time recovery, not per frame).
        for e in self._items:
            if e[0] != _REPORT and e[1] == data:
                return True
        return False

    def flush(self):
        # Retries a failed write; True when storage holds the current queue.
        return not self.dirty or self._persist()

    def _present(self, e):
        if e[0] == _REPORT:
            return (HIGH, self._report(e[1]))
        return (e[0], e[1])

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
            self._payload -= len(self._items.pop(i)[1])
            self._count -= 1
            dropped += 1
        if dropped:
            self.dropped += dropped
            for e in self._items:
                if e[0] == _REPORT:
                    e[1] = min(e[1] + dropped, 0xFFFFFFFF)
                    break
            else:
                self._items.append([_REPORT, dropped])
        return dropped, keep

    def _oldest(self, kind):
        for i in range(len(self._items)):
            if self._items[i][0] == kind:
                return i
        return -1

    def _encode(self):
        size = _HEAD_LEN
        for kind, data in self._items:
            size += _ITEM_LEN + (4 if kind == _REPORT else len(data))
        buf = bytearray(size)
        struct.pack_into(_HEAD, buf, 0, self.dropped & 0xFFFFFFFF, len(self._items))
        off = _HEAD_LEN
        for kind, data in self._items:
            if kind == _REPORT:
                data = struct.pack("<I", data)
            struct.pack_into(_ITEM, buf, off, kind, len(data))
            off += _ITEM_LEN
            buf[off : off + len(data)] = data
            off += len(data)
        return record.seal(_VERSION, buf)

    def _decode(self, rec):
        rec = record.unseal(_VERSION, rec)
        if rec is None or len(rec) < _HEAD_LEN:
            return False
        end = len(rec)
        dropped, n = struct.unpack_from(_HEAD, rec, 0)
        items = []
        payload = 0
        reports = 0
        off = _HEAD_LEN
        for _ in range(n):
            if off + _ITEM_LEN > end:
                return False
            kind, ln = struct.unpack_from(_ITEM, rec, off)
            off += _ITEM_LEN
            if off + ln > end:
                return False
            data = bytes(rec[off : off + ln])
            off += ln
            if kind == _REPORT:
                if ln != 4:
                    return False
                reports += 1
                items.append([kind, struct.unpack("<I", data)[0]])
            elif kind == LOW or kind == HIGH:
                payload += ln
                items.append([kind, data])
            else:
                return False
        if off != end or reports > 1:
            return False
        self._items = items
        self._count = len(items) - reports
        self._payload = payload
        self.dropped = dropped
        return True

    def _persist(self):
        try:
            self._storage.write(self._name, self._encode())
        except OSError:
            self.write_errors += 1
            self.dirty = True
            return False
        self.dirty = False
        return True
