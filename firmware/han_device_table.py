# The HAN's device table: the devices that have joined the hub by MAC association, each with
# its EUI-64, NWK/MAC short address, kind (copied from the device log when it joined), MAC
# capability information, and (in RAM only) when it was last heard and with what link quality.
#
# Bounded: a fixed number of slots, preallocated; a full table refuses new members and never
# evicts one. Only devices in the device log are ever offered a slot (firmware.han checks that
# first), so a flood of association requests from random EUI-64s cannot touch it.
#
# Persisted as one sealed record, written only when membership changes (a join or a removal):
# never per frame, so a spoofed frame cannot wear the flash. "Last heard" is the hub's uptime in
# seconds (a small int for 34 years, unaffected by wall-clock changes and the 2**30 ms ticks
# wrap); it is not persisted and reads -1 until the device is heard after a boot.
#
# Short addresses are derived from the EUI-64 (CRC-16 of it, mapped into 0x0001..0xFFF7, the
# next free one on a collision), so they are unique, never the coordinator's 0x0000 nor a
# broadcast/reserved 0xFFF8..0xFFFF, the same after a reboot (persisted), kept by a device that
# re-associates (looked up by EUI first), and most likely the same even if the record is lost.

from contract.crc16 import crc16
from firmware import store_record as record
from firmware.eui64 import SHARED, equals_le, key, key_le, reindex, write_le

FREE = const(-1)
ADDR_MIN = const(0x0001)
ADDR_MAX = const(0xFFF7)

_CAP_RX_ON_IDLE = const(0x08)  # 802.15.4 capability information, bit 3
_CAP_MAINS = const(0x04)  # bit 2: power source

_VERSION = const(1)
_ENTRY = const(12)  # EUI-64 (most significant first) 8, short address 2 (LE), kind 1, capability 1


class DeviceTable:
    def __init__(self, storage, capacity=16, name="device_table"):
        self._storage = storage
        self._name = name
        self.capacity = capacity
        # The members' EUI-64s, 8 octets per slot, most significant first (mac.Route reads it).
        self.octets = bytearray(8 * capacity)
        self._short = [FREE] * capacity
        self._kind = bytearray(capacity)
        self._cap = bytearray(capacity)
        self.heard = [-1] * capacity  # hub uptime (s) when last heard since boot, -1 never
        self.lqi = [-1] * capacity
        self.count = 0
        self.version = 0  # bumped on every membership change (for caches)
        self.corrupt = 0  # entries (or whole records) found damaged at load
        self.write_errors = 0
        # Lookups in constant time, whatever the capacity (a frame's source is looked up here).
        # The two dicts are read in place by Han.on_header (a key absent: not a member); only
        # this class changes them.
        self.by_eui = {}  # eui64.key -> slot
        self._key = bytearray(8)  # find()'s EUI in air order
        self.by_short = {}  # short address -> slot
        self._load()

    # --- persistence ------------------------------------------------------------------------

    def _load(self):
        raw = self._storage.read(self._name) if self._storage is not None else None
        payload = record.unseal(_VERSION, raw)
        if raw is None:
            return
        if payload is None or len(payload) % _ENTRY:
            self.corrupt += 1  # members re-associate (and get the same address back)
            return
        for i in range(0, len(payload), _ENTRY):
            e = payload[i : i + _ENTRY]
            short = e[8] | (e[9] << 8)
            eui = bytes(e[0:8])
            ok = ADDR_MIN <= short <= ADDR_MAX
            if not ok or self.find(eui) >= 0 or self.find_short(short) >= 0:
                self.corrupt += 1
                continue
            s = self._free_slot()
            if s < 0:
                self.corrupt += 1  # a record from a build with a larger table
                continue
            self._set(s, eui, short, e[10], e[11])

    def _save(self):
        if self._storage is None:
            return
        out = bytearray(self.count * _ENTRY)
        q = 0
        for s in range(self.capacity):
            short = self._short[s]
            if short == FREE:
                continue
            for j in range(8):
                out[q + j] = self.octets[8 * s + j]
            out[q + 8] = short & 0xFF
            out[q + 9] = short >> 8
            out[q + 10] = self._kind[s]
            out[q + 11] = self._cap[s]
            q += _ENTRY
        self._storage.write(self._name, record.seal(_VERSION, out))

    # --- lookups (allocation-free) ----------------------------------------------------------

    def __len__(self):
        return self.count

    def find(self, eui):
        # Slot of eui (8 bytes, most significant first), or -1.
        write_le(self._key, 0, eui)
        return self.find_le(self._key, 0)

    def find_le(self, buf, off):
        # Slot of the EUI held in air order at buf[off:off+8], or -1: the one candidate the key
        # names, confirmed; only members sharing a key (rare) are scanned.
        s = self.by_eui.get(key_le(buf, off), -1)
        if s == SHARED:
            s = self.capacity - 1
            while s >= 0 and not self.holds(s, buf, off):
                s -= 1
            return s
        return s if s >= 0 and self.holds(s, buf, off) else -1

    def holds(self, s, buf, off):
        # Slot s is used and holds the air-order EUI at buf[off:off+8] (NWK security checks a
        # frame's sender with it).
        return self._short[s] != FREE and equals_le(buf, off, self.octets, 8 * s)

    def find_short(self, short):
        return self.by_short.get(short, -1)

    def short(self, s):
        return self._short[s]

    def kind(self, s):
        return self._kind[s]

    def capability(self, s):
        return self._cap[s]

    def rx_on_idle(self, s):
        return bool(self._cap[s] & _CAP_RX_ON_IDLE)

    def eui(self, s):
        # 8 bytes, most significant first (allocates).
        return bytes(self.octets[8 * s : 8 * s + 8])

    def write_eui_le(self, s, buf, off):
        # Copies slot s's EUI into an air-order field.
        b = 8 * s + 7
        for j in range(8):
            buf[off + j] = self.octets[b - j]

    def slots(self):
        # The used slots, in slot order (allocates a list: for reports, not per frame).
        return [s for s in range(self.capacity) if self._short[s] != FREE]

    def saw(self, s, up_s, lqi):
        # A frame from slot s was accepted: small-int stores only.
        self.heard[s] = up_s
        if lqi >= 0:
            self.lqi[s] = lqi

    # --- membership -------------------------------------------------------------------------

    def _free_slot(self):
        for s in range(self.capacity):
            if self._short[s] == FREE:
                return s
        return -1

    def _set(self, s, eui, short, kind, cap):
        for j in range(8):
            self.octets[8 * s + j] = eui[j]
        self._short[s] = short
        self._kind[s] = kind
        self._cap[s] = cap
        self.heard[s] = -1
        self.lqi[s] = -1
        self.count += 1
        self.version += 1
        self._reindex()

    def _clear(self, s):
        self._short[s] = FREE
        self.count -= 1
        self.version += 1
        self._reindex()

    def _reindex(self):
        used = self.slots()
        reindex(self.by_eui, ((s, key(memoryview(self.octets)[8 * s : 8 * s + 8])) for s in used))
        d = self.by_short
        d.clear()
        for s in used:
            d[self._short[s]] = s

    def allocate(self, eui):
        # The short address a new member with this EUI would get (unique, 0x0001..0xFFF7).
        span = ADDR_MAX - ADDR_MIN + 1
        a = ADDR_MIN + crc16(eui, 0, 8) % span
        while self.find_short(a) >= 0:  # at most capacity steps: the table is small
            a = ADDR_MIN if a == ADDR_MAX else a + 1
        return a

    def join(self, eui, kind, cap):
        # Adds eui (or finds it: a re-joining device keeps its slot and address). Returns the
        # slot, or -1 when the table is full or the record could not be written (then nothing
        # changed: membership that would not survive a reboot is not granted).
        eui = bytes(eui)
        s = self.find(eui)
        if s >= 0:
            return s
        s = self._free_slot()
        if s < 0:
            return -1
        self._set(s, eui, self.allocate(eui), kind, cap)
        try:
            self._save()
        except OSError:
            self.write_errors += 1
            self._clear(s)
            return -1
        return s

    def set_kind(self, s, kind):
        # The device log changed the device's kind: persisted (rare, WAN-driven).
        if self._kind[s] == kind:
            return
        self._kind[s] = kind
        try:
            self._save()
        except OSError:
            self.write_errors += 1

    def remove(self, s):
        # Frees slot s (the device left the device log). True when it was a member.
        if s < 0 or self._short[s] == FREE:
            return False
        self._clear(s)
        try:
            self._save()
        except OSError:
            self.write_errors += 1  # the next membership change rewrites the record
        return True
