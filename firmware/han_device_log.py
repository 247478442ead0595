# The device log: the allow-list of devices that may join the hub's HAN (as GB's CHF device
# log), managed from the WAN. Each entry may carry the device's link key, derived from its
# install code when the entry was added (firmware.sec_install_code): the trust centre needs it to
# hand the device the network key (firmware.han_security). Bounded; persisted as one sealed
# record; membership is tested in place against an air-order address in a received frame,
# without allocating.
#
# Record version 2, per entry: EUI-64 (8, most significant first) | kind (1) | has key (1) |
# link key (16, zero when absent). Version 1 records (EUI-64 | kind, no keys) still load.

from firmware import eui64
from firmware import store_record as record
from firmware.eui64 import SHARED, equals_le, key_le

OTHER = const(0)
ESME = const(1)
GSME = const(2)
KINDS = ("other", "esme", "gsme")

_VERSION = const(2)
_ENTRY = const(26)
_V1 = const(1)
_V1_ENTRY = const(9)
_KEY_LEN = const(16)
_KEYED = const(0x80)  # in _kinds: the entry has a link key


class DeviceLog:
    def __init__(self, storage, name="device_log", capacity=16):
        self._storage = storage
        self._name = name
        self.capacity = capacity
        self._euis = []  # 8-byte bytes objects (discovery replies read them in place)
        # Per entry, preallocated: its kind (| _KEYED), and its link key (zeros when absent).
        self._kinds = bytearray(capacity)
        self._keys = bytearray(capacity * _KEY_LEN)
        # eui64.key -> entry: find_le in constant time, whatever the capacity. Read in place by
        # Han.on_header (a key absent: not in the log); only this class changes it.
        self.index = {}
        self.corrupt = 0
        raw = storage.read(name) if storage is not None else None
        if raw is not None:
            self._load(raw)
        self._reindex()

    def _load(self, raw):
        size = _ENTRY
        payload = record.unseal(_VERSION, raw)
        if payload is None:
            size = _V1_ENTRY
            payload = record.unseal(_V1, raw)
        if payload is None or len(payload) % size:
            self.corrupt += 1  # start empty: the WAN re-sends the log
            return
        for i in range(0, min(len(payload), self.capacity * size), size):
            k = len(self._euis)
            self._euis.append(bytes(payload[i : i + 8]))
            has = size == _ENTRY and payload[i + 9]
            self._set(k, payload[i + 8], payload[i + 10 : i + 26] if has else None)

    def _set(self, i, kind, link):
        # Entry i's kind, and its link key unless link is None (then it keeps the one it has).
        if link is not None:
            self._keys[i * _KEY_LEN : (i + 1) * _KEY_LEN] = link
            kind |= _KEYED
        else:
            kind |= self._kinds[i] & _KEYED
        self._kinds[i] = kind

    def _reindex(self):
        # Through the module (off the frame path): a global fewer keeps this module's table at
        # 12 entries, not 17.
        eui64.reindex(self.index, ((i, eui64.key(e)) for i, e in enumerate(self._euis)))

    def __len__(self):
        return len(self._euis)

    def _save(self):
        if self._storage is None:
            return
        out = bytearray(len(self._euis) * _ENTRY)
        for i, eui in enumerate(self._euis):
            p = i * _ENTRY
            out[p : p + 8] = eui
            out[p + 8] = self._kinds[i] & ~_KEYED
            if self._kinds[i] & _KEYED:
                out[p + 9] = 1
                out[p + 10 : p + 26] = self._keys[i * _KEY_LEN : (i + 1) * _KEY_LEN]
        self._storage.write(self._name, record.seal(_VERSION, out))

    def add(self, eui, kind, link_key=None):
        # True when added or updated; False when the log is full. An update without a link key
        # keeps the entry's key (a kind change must not lock a commissioned meter out).
        if not 0 <= kind < len(KINDS) or len(eui) != 8:
            raise ValueError("device log: bad entry")
        if link_key is not None and len(link_key) != _KEY_LEN:
            raise ValueError("device log: a link key is 16 octets")
        eui = bytes(eui)
        if eui in self._euis:
            self._set(self._euis.index(eui), kind, link_key)
        elif len(self._euis) >= self.capacity:
            return False
        else:
            i = len(self._euis)
            self._euis.append(eui)
            self._kinds[i] = 0
            self._set(i, kind, link_key)
            self._reindex()
        self._save()
        return True

    def remove(self, eui):
        eui = bytes(eui)
        if eui not in self._euis:
            return False
        i = self._euis.index(eui)
        n = len(self._euis)
        del self._euis[i]
        self._kinds[i : n - 1] = self._kinds[i + 1 : n]
        k = _KEY_LEN
        self._keys[i * k : (n - 1) * k] = self._keys[(i + 1) * k : n * k]
        self._reindex()
        self._save()
        return True

    def kind(self, eui):
        # The device's kind, or -1 when it is not in the log.
        eui = bytes(eui)
        return self._kinds[self._euis.index(eui)] & ~_KEYED if eui in self._euis else -1

    def link_key(self, eui):
        # The device's link key (16 octets), or None: not in the log, or no install code.
        eui = bytes(eui)
        if eui not in self._euis:
            return None
        i = self._euis.index(eui)
        if not self._kinds[i] & _KEYED:
            return None
        return bytes(self._keys[i * _KEY_LEN : (i + 1) * _KEY_LEN])

    def is_member(self, eui):
        # Membership on a hub with no HAN layer: being in the log.
        return self.kind(eui) >= 0

    def find_le(self, buf, off):
        # Index of the entry whose EUI is at buf[off:off+8] in air order, or -1: the one
        # candidate the key names, confirmed; only entries sharing a key (rare) are scanned.
        i = self.index.get(key_le(buf, off), -1)
        if i == SHARED:
            i = len(self._euis) - 1
            while i >= 0 and not self.holds(i, buf, off):
                i -= 1
            return i
        return i if i >= 0 and self.holds(i, buf, off) else -1

    def holds(self, i, buf, off):
        # Entry i is the air-order EUI at buf[off:off+8].
        return equals_le(buf, off, self._euis[i], 0)

    def entries(self):
        return [(e, self._kinds[i] & ~_KEYED) for i, e in enumerate(self._euis)]

    def euis(self):
        # The EUI-64s in log order, read in place (not a copy: do not change it).
        return self._euis
