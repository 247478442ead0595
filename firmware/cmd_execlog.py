# The execution log: what the hub did with each command it accepted, so an HHT whose link
# dropped mid service request can ask which commands executed and resume from the first that
# has not. Bounded (the oldest entry goes first). An entry is written ACCEPTED before the
# command runs and DONE with its result after; an entry still ACCEPTED after a power cut means
# "may have run": it is never run again.
#
# The entries live in one preallocated ring, each in its persisted form (_ENTRY octets:
# EUI-64 | counter, big-endian | message code, big-endian | state | result), so a full log costs
# its octets and no object per entry, and the record is written from it as it is.

from contract.compat import const

ACCEPTED = const(0)
DONE = const(1)
UNKNOWN = const(2)  # was ACCEPTED at a boot: its outcome was lost with the power, and reported
_ENTRY = const(20)
_KEY = const(16)  # EUI-64 and counter: what identifies a command
_STATE = const(18)
_RESULT = const(19)


class ExecLog:
    def __init__(self, capacity=64):
        self.capacity = capacity
        self._ring = bytearray(capacity * _ENTRY)
        self._first = 0  # slot of the oldest entry
        self._n = 0

    def __len__(self):
        return self._n

    def _slot(self, k):
        # The k-th entry's offset in the ring, oldest first.
        return (self._first + k) % self.capacity * _ENTRY

    def add(self, eui, counter, code):
        if len(eui) != 8:
            raise ValueError("execlog: an EUI-64 is 8 octets")
        if self._n < self.capacity:
            self._n += 1
        else:
            self._first = (self._first + 1) % self.capacity
        p = self._slot(self._n - 1)
        r = self._ring
        r[p : p + 8] = eui
        r[p + 8 : p + _KEY] = counter.to_bytes(8, "big")
        r[p + _KEY] = code >> 8
        r[p + _KEY + 1] = code & 0xFF
        r[p + _STATE] = ACCEPTED
        r[p + _RESULT] = 0

    def _find(self, eui, counter):
        # The newest entry for this command (offset in the ring), or -1.
        key = bytes(eui) + counter.to_bytes(8, "big")
        r = self._ring
        for k in range(self._n - 1, -1, -1):
            p = self._slot(k)
            if r.find(key, p, p + _KEY) == p:
                return p
        return -1

    def done(self, eui, counter, result):
        p = self._find(eui, counter)
        if p >= 0:
            self._ring[p + _STATE] = DONE
            self._ring[p + _RESULT] = result

    def find(self, eui, counter):
        # The entry as (eui, counter, code, state, result), or None.
        p = self._find(eui, counter)
        return None if p < 0 else self._entry(p)

    def _entry(self, p):
        r = self._ring
        return (
            bytes(r[p : p + 8]),
            int.from_bytes(r[p + 8 : p + _KEY], "big"),
            r[p + _KEY] << 8 | r[p + _KEY + 1],
            r[p + _STATE],
            r[p + _RESULT],
        )

    def entries(self):
        return [self._entry(self._slot(k)) for k in range(self._n)]

    def settle(self):
        # At boot: the entries a power cut left ACCEPTED ("may have run"), now UNKNOWN so that
        # each is reported once; returned for the report.
        out = []
        for k in range(self._n):
            p = self._slot(k)
            if self._ring[p + _STATE] == ACCEPTED:
                self._ring[p + _STATE] = UNKNOWN
                out.append(self._entry(p))
        return out

    def parts(self):
        # The entries in their persisted form, oldest first: one or two views of the ring.
        mv = memoryview(self._ring)
        a = self._first * _ENTRY
        b = a + self._n * _ENTRY
        end = len(self._ring)
        if b <= end:
            return (mv[a:b],)
        return (mv[a:end], mv[: b - end])

    def decode(self, data, n):
        # Loads n entries (the newest capacity of them); the octets used, or -1 if short.
        if len(data) < n * _ENTRY:
            return -1
        keep = min(n, self.capacity)
        skip = (n - keep) * _ENTRY
        self._ring[: keep * _ENTRY] = data[skip : n * _ENTRY]
        self._first = 0
        self._n = keep
        return n * _ENTRY
