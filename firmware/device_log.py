# The device log: the allow-list of devices that may join the hub's HAN (as GB's CHF device
# log), managed from the WAN. Bounded; persisted as one sealed record; membership is tested in
# place against an air-order address in a received frame, without allocating.

from contract.compat import const
from firmware import record
from firmware.eui64 import SHARED, equals_le, key, key_le, reindex

OTHER = const(0)
ESME = const(1)
GSME = const(2)
KINDS = ("other", "esme", "gsme")

_VERSION = const(1)
_ENTRY = const(9)  # EUI-64 (most significant first) + kind


class DeviceLog:
    def __init__(self, storage, name="device_log", capacity=16):
        self._storage = storage
        self._name = name
        self.capacity = capacity
        self._euis = []  # 8-byte bytes objects
        self._kinds = []
        self._index = {}  # eui64.key -> entry: find_le in constant time, whatever the capacity
        self.corrupt = 0
        raw = storage.read(name) if storage is not None else None
        payload = record.unseal(_VERSION, raw)
        if raw is not None and (payload is None or len(payload) % _ENTRY):
            self.corrupt += 1  # start empty: the WAN re-sends the log
        elif payload is not None:
            for i in range(0, min(len(payload), capacity * _ENTRY), _ENTRY):
                self._euis.append(bytes(payload[i : i + 8]))
                self._kinds.append(payload[i + 8])
        self._reindex()

    def _reindex(self):
        reindex(self._index, ((i, key(e)) for i, e in enumerate(self._euis)))

    def __len__(self):
        return len(self._euis)

    def _save(self):
        if self._storage is None:
            return
        out = bytearray(len(self._euis) * _ENTRY)
        for i, eui in enumerate(self._euis):
            out[i * _ENTRY : i * _ENTRY + 8] = eui
            out[i * _ENTRY + 8] = self._kinds[i]
        self._storage.write(self._name, record.seal(_VERSION, out))

    def add(self, eui, kind):
        # True when added or updated; False when the log is full.
        if not 0 <= kind < len(KINDS) or len(eui) != 8:
            raise ValueError("device log: bad entry")
        eui = bytes(eui)
        if eui in self._euis:
            self._kinds[self._euis.index(eui)] = kind
        elif len(self._euis) >= self.capacity:
            return False
        else:
            self._euis.append(eui)
            self._kinds.append(kind)
            self._reindex()
        self._save()
        return True

    def remove(self, eui):
        eui = bytes(eui)
        if eui not in self._euis:
            return False
        i = self._euis.index(eui)
        del self._euis[i]
        del self._kinds[i]
        self._reindex()
        self._save()
        return True

    def kind(self, eui):
        # The device's kind, or -1 when it is not in the log.
        eui = bytes(eui)
        return self._kinds[self._euis.index(eui)] if eui in self._euis else -1

    def is_member(self, eui):
        # Membership on a hub with no HAN layer: being in the log.
        return self.kind(eui) >= 0

    def find_le(self, buf, off):
        # Index of the entry whose EUI is at buf[off:off+8] in air order, or -1: the one
        # candidate the key names, confirmed; only entries sharing a key (rare) are scanned.
        i = self._index.get(key_le(buf, off), -1)
        if i == SHARED:
            i = len(self._euis) - 1
            while i >= 0 and not equals_le(buf, off, self._euis[i]):
                i -= 1
            return i
        return i if i >= 0 and equals_le(buf, off, self._euis[i]) else -1

    def entries(self):
        return list(zip(self._euis, self._kinds))
