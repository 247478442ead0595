# The command layer's persisted state: the anti-replay windows and the execution log, in ONE
# sealed record so they can never disagree after a power cut. Written when a command is
# accepted (before it runs) and again when its outcome is known.
#   u16 window | u8 originators | windows... | u16 log entries | log...

from firmware import record
from firmware.compat import const
from firmware.execlog import ExecLog
from firmware.replay import ReplayTable

_VERSION = const(1)


class CommandStore:
    def __init__(self, storage, name="commands", originators=16, window=64, log_max=64):
        self._storage = storage
        self._name = name
        self._sizes = (originators, window, log_max)
        self.corrupt = 0
        self.writes = 0
        self.reload()

    def reload(self):
        # The state as last committed to storage (at start, and after a failed write).
        originators, window, log_max = self._sizes
        self.replay = ReplayTable(originators, window)
        self.log = ExecLog(log_max)
        raw = self._storage.read(self._name) if self._storage is not None else None
        if raw is not None and not self._decode(record.unseal(_VERSION, raw)):
            # Replay state lost (a failing flash): the shell raises an alert. Starting empty is
            # the only option left; it is reported, never silent.
            self.corrupt += 1
            self.replay = ReplayTable(originators, window)
            self.log = ExecLog(log_max)

    def _decode(self, p):
        if p is None or len(p) < 3 or ((p[0] << 8) | p[1]) != self.replay.window:
            return False
        used = self.replay.decode(p[3:], p[2])
        if used < 0 or len(p) < 3 + used + 2:
            return False
        q = 3 + used
        n = (p[q] << 8) | p[q + 1]
        used2 = self.log.decode(p[q + 2 :], n)
        return used2 >= 0 and q + 2 + used2 == len(p)

    def save(self):
        w = self.replay.window
        body = bytearray((w >> 8, w & 0xFF, len(self.replay.euis)))
        body += self.replay.encode()
        n = len(self.log.entries)
        body += bytes((n >> 8, n & 0xFF)) + self.log.encode()
        if self._storage is not None:
            self._storage.write(self._name, record.seal(_VERSION, body))
        self.writes += 1
