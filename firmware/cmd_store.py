# The command layer's persisted state: the anti-replay windows, the execution log and the WAN
# copies of responses not yet known to be in the outbox, in ONE sealed record so they can never
# disagree after a power cut. Written when a command is accepted (before it runs) and again when
# its outcome is known, the outcome and its response's copy together.
#   u16 window | u8 originators | windows... | u16 log entries | log... | u8 copies | copies...
# Each copy is u16 length | a GBCS response. Version 1 records (no copies) still load.

from firmware import store_record as record
from firmware.cmd_execlog import ExecLog
from firmware.cmd_first_wins import ReplayTable

_VERSION = const(2)
_COPIES_MAX = const(8)  # a receive batch's worth; the shell releases them after each batch


class CommandStore:
    def __init__(self, storage, name="commands", originators=16, window=64, log_max=64):
        self._storage = storage
        self._name = name
        self._sizes = (originators, window, log_max)
        self.corrupt = 0
        self.writes = 0
        self.copies_dropped = 0
        self.reload()

    def reload(self):
        # The state as last committed to storage (at start, and after a failed write).
        originators, window, log_max = self._sizes
        self.replay = ReplayTable(originators, window)
        self.log = ExecLog(log_max, self._storage, self._name)
        self.copies = []
        raw = self._storage.read(self._name) if self._storage is not None else None
        if raw is not None and not self._decode(raw):
            # Replay state lost (a failing flash): the shell raises an alert. Starting empty is
            # the only option left; it is reported, never silent.
            self.corrupt += 1
            self.replay = ReplayTable(originators, window)
            self.log = ExecLog(log_max, self._storage, self._name)
            self.copies = []

    def keep_copy(self, rsp):
        # A response's WAN copy, held until the shell has queued it (release_copies).
        if len(self.copies) >= _COPIES_MAX:
            self.copies.pop(0)
            self.copies_dropped += 1
        self.copies.append(bytes(rsp))

    def release_copies(self):
        # The outbox holds them now; storage forgets them with the next write.
        self.copies = []

    def _decode(self, raw):
        v2 = raw[0] == _VERSION if raw else False
        p = record.unseal(_VERSION if v2 else 1, raw)
        if p is None or len(p) < 3 or ((p[0] << 8) | p[1]) != self.replay.window:
            return False
        used = self.replay.decode(p[3:], p[2])
        if used < 0 or len(p) < 3 + used + 2:
            return False
        q = 3 + used
        n = (p[q] << 8) | p[q + 1]
        used2 = self.log.decode(p[q + 2 :], n, 1 + q + 2)  # the payload starts at offset 1
        if used2 < 0:
            return False
        q += 2 + used2
        if not v2:
            return q == len(p)
        if q >= len(p):
            return False
        n = p[q]
        q += 1
        for _ in range(n):
            if q + 2 > len(p):
                return False
            k = (p[q] << 8) | p[q + 1]
            if q + 2 + k > len(p):
                return False
            self.copies.append(bytes(p[q + 2 : q + 2 + k]))
            q += 2 + k
        return q == len(p)

    def save(self):
        w = self.replay.window
        head = bytearray((w >> 8, w & 0xFF, len(self.replay.euis)))
        head += self.replay.encode()
        n = len(self.log)
        head += bytes((n >> 8, n & 0xFF))
        tail = bytearray((len(self.copies),))
        for c in self.copies:
            tail += bytes((len(c) >> 8, len(c) & 0xFF)) + c
        if self._storage is None:
            self.log.saved(None)
        else:
            try:
                parts = self._parts(head, tail)
                self._storage.write_parts(self._name, record.sealed(_VERSION, parts))
            finally:
                self.log.closed()
            self.log.saved(1 + len(head))  # the payload starts at offset 1
        self.writes += 1

    def _parts(self, head, tail):
        yield head
        yield from self.log.parts()
        yield tail
