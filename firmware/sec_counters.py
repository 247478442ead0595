# NWK security frame counters (ZigBee specification 4.3.1): the hub's outgoing counter, which
# must never repeat under one key (a repeated nonce gives away the XOR of two plaintexts and
# lets a MIC be forged), and each neighbour's incoming counter, which rejects replays.
#
# Outgoing: persisted AHEAD in steps, as ZigBee stacks do (Z-Stack, OpenThread: 1000 ahead).
# A sealed record holds a bound; only counters below a committed bound are ever used, and
# reaching the bound commits the next one first. At boot the counter resumes from the bound, so
# a power cut at any instant skips at most `step` counters and never reuses one, while flash is
# written once per `step` frames. The bound goes to two records in turn, so a record damaged by
# the medium (not by a power cut: writes are atomic) still leaves the other; with one damaged,
# the counter resumes a step past the other, which covers the lost write. With both damaged the
# counter is lost: the hub sends nothing secured until a new network key resets it (`lost`).
#
# Incoming: per neighbour, indexed by the caller's slot (the device table's), the lowest
# counter still acceptable (ZigBee's FrameCount: the last accepted + 1) and the sequence number
# of the network key the neighbour last used, kept as octets (little-endian, as on the air) and
# compared octet by octet, so that a counter read from the air is never a big int on a 32-bit
# board (the drop path allocates nothing).
# Persisted AHEAD as well: the record holds, per neighbour, a bound above every counter accepted
# from it, written before the first frame that reaches the bound is accepted (once per `step`
# frames). After a boot the lowest acceptable counter is that bound, so a frame accepted before
# a power cut can never be accepted again; the price is that a neighbour that did not restart
# loses at most `step` frames after the hub restarts, until its counter passes the bound.
# Key sequence numbers: a frame under a newer network key than the neighbour's last (mod 256,
# ahead by 1..127) starts its counting again, as a device does when it switches keys (ZigBee
# keeps counters per key); a frame under an older one is refused.

from array import array

from firmware import store_record as record
from firmware.eui64 import equals_le

_VERSION = const(1)
_IN_VERSION = const(2)  # the incoming record with bounds and key sequence numbers
_KEYS = const(4)  # IncomingCounters.state: the keys, then the slots' records (16 octets each)
_SLOT = const(16)
_LOWEST = const(8)  # in a slot's record: the lowest acceptable counter
_FLAGS = const(13)
_USED = const(1)
_KSEQ = const(2)
MAX = 0xFFFFFFFE  # the last counter a sender may use (0xFFFFFFFF never: ZigBee 4.3.1.1)

# admit() answers
ADMITTED = const(0)
NOT_MEMBER = const(1)  # the slot is empty, or its neighbour is not the frame's sender
STALE = const(2)  # a counter not above the last accepted (or under an older key)


def _u32(p, off):
    return p[off] | (p[off + 1] << 8) | (p[off + 2] << 16) | (p[off + 3] << 24)


def _le32(v):
    return bytes(((v >> 0) & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF))


class OutgoingCounter:
    def __init__(self, storage, name="nwk_counter", step=1024):
        if not 1 <= step <= 1 << 20:
            raise ValueError("frame counter step: 1..2**20")
        self._storage = storage
        self._names = (name + ".0", name + ".1")
        self.step = step
        self.write_errors = 0
        self.writes = 0
        vals = [self._read(i) for i in (0, 1)]
        good = [v for v in vals if v is not None and v >= 0]
        self.corrupt = len([v for v in vals if v is not None and v < 0])  # damaged at boot
        self.lost = bool(self.corrupt) and not good
        start = max(good) if good else 0
        if self.corrupt and good:
            start += step  # the damaged record may have held the later bound
        self.value = start if start <= MAX + 1 else MAX + 1  # the next counter to use
        self._bound = self.value  # counters below it are covered by a committed record
        # The record to write next: the one that does not hold the newest bound.
        self._slot = 1 if good and vals[0] == max(good) else 0

    def _read(self, i):
        # The bound in record i: None when absent, -1 when damaged.
        raw = self._storage.read(self._names[i]) if self._storage is not None else None
        if raw is None:
            return None
        p = record.unseal(_VERSION, raw)
        if p is None or len(p) != 4:
            return -1
        return _u32(p, 0)

    def next(self):
        # The counter for the next secured frame, or -1 when none may be used (a failed write,
        # the counter space exhausted, or the counter lost). Writes storage once per step.
        v = self.value
        if self.lost or v > MAX:
            return -1
        if v >= self._bound and not self._commit(v + self.step):
            return -1
        self.value = v + 1
        return v

    def _commit(self, bound):
        if bound > MAX + 1:
            bound = MAX + 1
        try:
            if self._storage is not None:
                self._storage.write(self._names[self._slot], record.seal(_VERSION, _le32(bound)))
        except OSError:
            self.write_errors += 1
            return False
        self.writes += 1
        self._bound = bound
        self._slot ^= 1
        return True

    def reset(self):
        # A new network key is in use: counting may start again (also ends `lost`). The
        # records keep their larger bounds, so a reboot resumes above them: still never a reuse.
        self.value = 0
        self._bound = 0
        self.lost = False


class IncomingCounters:
    # Everything admit() reads is in one preallocated bytearray, `state`, which the hub's
    # mac.route also reads in place (firmware.octets): first the receiver's network keys, then
    # each slot's record.
    #   keys (4): active key's sequence number | alternate's | held (1 active, 2 alternate) | 0
    #   slot s, at 4 + 16 s: EUI-64 (8, most significant first) | lowest acceptable counter
    #   (4, LE) | key sequence number last used (1) | flags (1 used, 2 key sequence known) | 0 0
    def __init__(self, capacity=16, storage=None, name="nwk_incoming", step=8):
        if not 1 <= step <= 0xFFFF:
            raise ValueError("incoming counter step: 1..65535")
        self.capacity = capacity
        self.step = step
        self._storage = storage
        self._name = name
        self.state = bytearray(_KEYS + _SLOT * capacity)
        self._bhi = array("H", bytes(2 * capacity))  # the persisted bound, high half
        self._blo = array("H", bytes(2 * capacity))
        self._parked = []  # devices that left: (EUI-64, bound high, low, key seq, lowest h, l)
        self.corrupt = 0
        self.writes = 0
        self.write_errors = 0
        if storage is not None:
            raw = storage.read(name)
            if raw is not None and not self._load(raw):
                self.corrupt += 1
                self._drop_all()
                self._parked = []

    # --- the receiver's keys (firmware.sec_nwk keeps them here: admit() and route read them) -

    def hold(self, i, seq):
        # Network key i (0 the active one, 1 the alternate) has sequence number seq, or none (-1).
        if seq < 0:
            self.state[2] &= ~(1 << i)
            self.state[i] = 0
        else:
            self.state[2] |= 1 << i
            self.state[i] = seq & 0xFF

    def held(self, i):
        return self.state[i] if self.state[2] >> i & 1 else -1

    def key_of(self, buf, o):
        # Which held key (0 or 1) the auxiliary header at buf[o:o+14] names, or -1.
        st = self.state
        if st[2] & 1 and buf[o + 13] == st[0]:
            return 0
        return 1 if st[2] & 2 and buf[o + 13] == st[1] else -1

    # --- membership (joins, leaves and boots: rare, so these may allocate) --------------------
    # Counters follow the device, not the slot: a device that leaves is parked with its
    # counters (bounded), so that if it comes back, even in another slot, its old frames are
    # still refused; rebind() matches the persisted counters to the device table at boot.

    def used(self, slot):
        return self.state[_at(slot) + _FLAGS] & _USED

    def assign(self, slot, eui):
        # The device in `slot` is eui (8 octets, most significant first). A device already
        # there, or parked, keeps its counter (a rejoin, or a device that comes back); anyone
        # else starts from 0.
        eui = bytes(eui)
        q = _at(slot)
        if self.used(slot) and self.state[q : q + 8] == eui:
            return
        for i, st in enumerate(self._parked):
            if st[0] == eui:
                del self._parked[i]
                self._put(slot, st)
                return
        self._put(slot, (eui, 0, 0, -1, 0, 0))

    def clear(self, slot):
        # The device in `slot` left: parked (the oldest parked one goes when full).
        if self.used(slot):
            self.state[_at(slot) + _FLAGS] = 0
            self._park(self._state(slot))

    def _drop_all(self):
        for s in range(self.capacity):
            self.state[_at(s) + _FLAGS] = 0

    def rebind(self, members):
        # At boot: members, [(slot, EUI-64)] of the device table, get their counters by EUI-64
        # from the persisted record, whatever slots they had; the rest are parked.
        states = [self._state(s) for s in range(self.capacity) if self.used(s)]
        states += self._parked
        self._drop_all()
        self._parked = []
        for slot, eui in members:
            self._put(slot, (bytes(eui), 0, 0, -1, 0, 0))
            for st in states:
                if st[0] == bytes(eui):
                    self._put(slot, st)
        for st in states:
            if not [1 for _, e in members if bytes(e) == st[0]]:
                self._park(st)

    def _state(self, s):
        q = _at(s)
        return (
            bytes(self.state[q : q + 8]),
            self._bhi[s],
            self._blo[s],
            self.key_seq(s),
            self.state[q + 10] | self.state[q + 11] << 8,
            self.state[q + 8] | self.state[q + 9] << 8,
        )

    def _put(self, s, st):
        q = _at(s)
        self.state[q : q + 8] = st[0]
        self._bhi[s], self._blo[s] = st[1], st[2]
        self._set(s, st[4], st[5])
        self._key(s, st[3])
        self.state[q + _FLAGS] |= _USED

    def _key(self, slot, kseq):
        # The key sequence number the neighbour in slot last used (-1: none yet).
        q = _at(slot) + _FLAGS
        self.state[q - 1] = kseq & 0xFF if kseq >= 0 else 0
        self.state[q] = (self.state[q] | _KSEQ) if kseq >= 0 else (self.state[q] & ~_KSEQ)

    def _park(self, st):
        if len(self._parked) >= self.capacity:
            del self._parked[0]
        self._parked.append(st)

    def _set(self, slot, hi, lo):
        q = _at(slot) + _LOWEST
        st = self.state
        st[q] = lo & 0xFF
        st[q + 1] = lo >> 8
        st[q + 2] = hi & 0xFF
        st[q + 3] = hi >> 8

    # --- per frame ---------------------------------------------------------------------------

    def admit(self, slot, buf, o):
        # May the frame whose auxiliary header (ZigBee 4.5.1, with the extended nonce and the
        # key sequence number) is at buf[o:o+14] come from the neighbour in slot? Its counter
        # (little-endian, at o + 1), sender (EUI-64 in air order, at o + 5) and key sequence
        # number (at o + 13) decide: ADMITTED; NOT_MEMBER (the sender is not that neighbour);
        # or STALE: a counter below the neighbour's lowest acceptable value, or 0xFFFFFFFF (under
        # any key); any other counter under a newer key, none under an older one. (The octets
        # compared in place, from the most significant down: this runs for every secured frame.
        # firmware.octets' route makes the same decision natively for the hub:
        # tests_device/test_route.py.)
        st = self.state
        q = _at(slot)
        if not st[q + _FLAGS] & _USED or not equals_le(buf, o + 5, st, q):
            return NOT_MEMBER
        if buf[o + 4] & buf[o + 3] & buf[o + 2] & buf[o + 1] == 0xFF:
            return STALE  # under any key: accept() has no counter above it to go on from
        q += _LOWEST
        if st[q + 5] & _KSEQ and buf[o + 13] != st[q + 4]:
            return ADMITTED if (buf[o + 13] - st[q + 4]) & 0xFF < 128 else STALE
        if buf[o + 4] != st[q + 3]:  # the counter, from its most significant octet
            return ADMITTED if buf[o + 4] > st[q + 3] else STALE
        if buf[o + 3] != st[q + 2]:
            return ADMITTED if buf[o + 3] > st[q + 2] else STALE
        if buf[o + 2] != st[q + 1]:
            return ADMITTED if buf[o + 2] > st[q + 1] else STALE
        return ADMITTED if buf[o + 1] >= st[q] else STALE

    def _due(self, slot, buf, off, kseq):
        # Whether accepting this frame needs a new bound on storage first.
        if kseq >= 0 and kseq != self.key_seq(slot):
            return True
        return _at_least(buf, off, self._bhi[slot], self._blo[slot])

    def accept(self, slot, buf, off, kseq=-1):
        # After the frame authenticated: only later counters are acceptable from now on. A
        # counter at or past the persisted bound (or a new key) first writes a bound `step`
        # further on (allocates, once per step frames). A failed write is counted, and
        # retried by the next frame.
        if self._storage is None:
            if kseq >= 0:
                self._key(slot, kseq)  # nothing to persist (tests, benchmarks)
        elif self._due(slot, buf, off, kseq):
            self._ahead(slot, buf, off, kseq)
        self._next(slot, buf, off)

    def _next(self, slot, buf, off):
        hi = buf[off + 2] | (buf[off + 3] << 8)
        lo = (buf[off] | (buf[off + 1] << 8)) + 1
        if lo > 0xFFFF:
            lo = 0
            hi += 1  # never past 0xFFFF: admit() refuses 0xFFFFFFFF
        self._set(slot, hi, lo)

    def _ahead(self, slot, buf, off, kseq):
        old = (self._bhi[slot], self._blo[slot], self.key_seq(slot))
        lo = (buf[off] | (buf[off + 1] << 8)) + self.step
        hi = (buf[off + 2] | (buf[off + 3] << 8)) + (lo >> 16)
        if hi > 0xFFFF:
            hi = lo = 0xFFFF
        self._bhi[slot] = hi
        self._blo[slot] = lo & 0xFFFF
        if kseq >= 0:
            self._key(slot, kseq)
        try:
            self.save()
        except OSError:
            self.write_errors += 1
            self._bhi[slot], self._blo[slot] = old[0], old[1]
            self._key(slot, old[2])

    def lowest(self, slot):
        # The lowest counter still acceptable from the neighbour in slot (reports and tests).
        q = _at(slot) + _LOWEST
        st = self.state
        return (st[q + 2] | st[q + 3] << 8) << 16 | st[q] | st[q + 1] << 8

    def key_seq(self, slot):
        # The sequence number of the key the neighbour last used, or -1.
        q = _at(slot) + _FLAGS
        return self.state[q - 1] if self.state[q] & _KSEQ else -1

    # --- persistence ---------------------------------------------------------------------------
    #   per device: slot (1, 0xFF parked) | EUI-64 (8) | bound (4, LE) | key sequence (1)
    #   | has key seq (1)
    #   version 1 (before bounds): slot | EUI-64 | lowest acceptable counter (4, LE)

    def save(self):
        if self._storage is None:
            return
        out = bytearray()
        for st in [(s,) + self._state(s) for s in range(self.capacity) if self.used(s)] + [
            (0xFF,) + p for p in self._parked
        ]:
            out.append(st[0])
            out += st[1]
            out += _le32((st[2] << 16) | st[3])
            out += bytes((st[4] & 0xFF, 1 if st[4] >= 0 else 0))
        self._storage.write(self._name, record.seal(_IN_VERSION, out))
        self.writes += 1

    def _load(self, raw):
        p = record.unseal(_IN_VERSION, raw)
        size = 15
        if p is None:
            p = record.unseal(_VERSION, raw)
            size = 13
        if p is None or len(p) % size:
            return False
        for q in range(0, len(p), size):
            s = p[q]
            v = _u32(p, q + 9)
            ks = p[q + 13] if size == 15 and p[q + 14] else -1
            st = (bytes(p[q + 1 : q + 9]), v >> 16, v & 0xFFFF, ks, v >> 16, v & 0xFFFF)
            if s == 0xFF:
                self._park(st)
            elif s >= self.capacity or self.used(s):
                return False
            else:
                self._put(s, st)
        return True


def _at(slot):
    # The slot's record in IncomingCounters.state.
    return _KEYS + _SLOT * slot


def _at_least(buf, off, hi, lo):
    # The counter at buf[off:off+4] (LE) >= (hi << 16) | lo, without making a big int.
    h = buf[off + 2] | (buf[off + 3] << 8)
    if h != hi:
        return h > hi
    return (buf[off] | (buf[off + 1] << 8)) >= lo
