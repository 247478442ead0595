# The execution log: what the hub did with each command it accepted, so an HHT whose link
# dropped mid service request can ask which commands executed and resume from the first that
# has not. Bounded (the oldest entry goes first). An entry is written ACCEPTED before the
# command runs and DONE with its result after; an entry still ACCEPTED after a power cut means
# "may have run": it is never run again.
#
# Each entry is _ENTRY octets: EUI-64 | counter, big-endian | message code, big-endian | state |
# result. The entries live in the command store's record (firmware.cmd_store), oldest first, and
# are read from there, one entry at a time: RAM holds only what changed since the record was
# last written (the entry just added, the outcomes not yet written, the settling at boot), so
# a full log costs no heap. The store's next write streams the entries from the old record into
# the new one with those changes applied. Without storage, nothing is kept once written.


ACCEPTED = const(0)
DONE = const(1)
UNKNOWN = const(2)  # was ACCEPTED at a boot: its outcome was lost with the power, and reported
_ENTRY = const(20)
_KEY = const(16)  # EUI-64 and counter: what identifies a command
_STATE = const(18)
_RESULT = const(19)
_OUTCOMES_MAX = const(8)  # outcomes held while writes fail; an older one stays "may have run"


class ExecLog:
    def __init__(self, capacity=64, storage=None, name=None):
        self.capacity = capacity
        self._storage = storage
        self._name = name
        self._at = 0  # where the oldest stored entry starts in the record
        self._stored = 0  # entries in the record
        self._new = bytearray(_ENTRY)  # the entry added since the record was written
        self._adding = False
        self._outcomes = []  # (stored index, result) of outcomes not yet written
        self._settle = False  # stored ACCEPTED entries read as UNKNOWN (settle())
        self._buf = bytearray(_ENTRY)
        self._f = None  # the old record, while a write streams from it

    def __len__(self):
        return min(self._stored + self._adding, self.capacity)

    def add(self, eui, counter, code):
        if len(eui) != 8:
            raise ValueError("execlog: an EUI-64 is 8 octets")
        # An entry still pending here was never written (its write failed, so its command never
        # ran): the new one takes its place.
        r = self._new
        r[0:8] = eui
        r[8:_KEY] = counter.to_bytes(8, "big")
        r[_KEY] = code >> 8
        r[_KEY + 1] = code & 0xFF
        r[_STATE] = ACCEPTED
        r[_RESULT] = 0
        self._adding = True

    def done(self, eui, counter, result):
        i = self._locate(eui, counter)
        if i == self._stored:
            self._new[_STATE] = DONE
            self._new[_RESULT] = result
        elif i >= 0:
            if len(self._outcomes) >= _OUTCOMES_MAX:
                self._outcomes.pop(0)
            self._outcomes.append((i, result))

    def find(self, eui, counter):
        # The entry as (eui, counter, code, state, result), or None.
        i = self._locate(eui, counter)
        got = self._entries(i, i + 1) if i >= 0 else None
        return got[0] if got else None

    def entries(self):
        return self._entries(self._first(), self._stored + self._adding) or []

    def settle(self):
        # At boot: the entries a power cut left ACCEPTED ("may have run"), now UNKNOWN so that
        # each is reported once; returned for the report.
        was = [] if self._settle else self._entries(self._first(), self._stored) or []
        self._settle = True
        return [e[:3] + (UNKNOWN,) + e[4:] for e in was if e[3] == ACCEPTED]

    # --- reading the record ------------------------------------------------------------------

    def _first(self):
        # The index of the oldest entry still in the log.
        return max(0, self._stored + self._adding - self.capacity)

    def _read(self, f, i):
        # Entry i (oldest stored first; _stored is the one being added) into self._buf, with
        # the changes not yet written applied.
        b = self._buf
        if i == self._stored:
            b[:] = self._new
            return b
        f.seek(self._at + i * _ENTRY)
        if f.readinto(b) != _ENTRY:
            raise OSError(5)  # EIO: shorter than its header said
        if self._settle and b[_STATE] == ACCEPTED:
            b[_STATE] = UNKNOWN
        for k, result in self._outcomes:
            if k == i:
                b[_STATE] = DONE
                b[_RESULT] = result
        return b

    def _open(self):
        if not self._stored:
            return None
        f = self._storage.open(self._name)
        if f is None:
            raise OSError(2)  # ENOENT: the record went away under the log
        return f

    def _locate(self, eui, counter):
        # The index of the newest entry for this command, or -1 (also when the record cannot be
        # read: an outcome then stays unrecorded, "may have run", which is never run again).
        key = bytes(eui) + counter.to_bytes(8, "big")
        f = None
        try:
            f = self._open()
            for i in range(self._stored + self._adding - 1, self._first() - 1, -1):
                if self._read(f, i).find(key, 0, _KEY) == 0:
                    return i
        except OSError:
            pass
        finally:
            if f is not None:
                f.close()
        return -1

    def _entries(self, first, end):
        # Entries first..end-1 as (eui, counter, code, state, result) tuples, or None when the
        # record cannot be read.
        out = []
        f = None
        try:
            f = self._open()
            for i in range(first, end):
                b = self._read(f, i)
                out.append(
                    (
                        bytes(b[0:8]),
                        int.from_bytes(b[8:_KEY], "big"),
                        b[_KEY] << 8 | b[_KEY + 1],
                        b[_STATE],
                        b[_RESULT],
                    )
                )
        except OSError:
            return None
        finally:
            if f is not None:
                f.close()
        return out

    # --- the command store's record ----------------------------------------------------------

    def parts(self):
        # The entries in their persisted form, oldest first, streamed from the record through
        # one buffer; the store calls saved() once the new record is written, closed() always.
        self._f = self._open()
        mv = memoryview(self._buf)
        for i in range(self._first(), self._stored + self._adding):
            self._read(self._f, i)
            yield mv
        self.closed()

    def closed(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def saved(self, at):
        # The new record is written, its entries starting at offset at (None: not kept).
        n = len(self)
        self._stored = n if at is not None else 0
        self._at = at or 0
        self._adding = False
        self._outcomes = []
        self._settle = False

    def decode(self, data, n, at):
        # The record holds n entries (the newest capacity of them are loaded), data from their
        # start, which is at offset at in the record: the octets used, or -1 if short.
        if len(data) < n * _ENTRY:
            return -1
        keep = min(n, self.capacity)
        self._at = at + (n - keep) * _ENTRY
        self._stored = keep
        return n * _ENTRY
