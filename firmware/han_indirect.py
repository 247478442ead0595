# Indirect transmission (IEEE 802.15.4-2006 7.5.6.3) for sleepy devices such as the GSME: a
# frame for a device whose receiver is off is held until the device polls with a MAC data
# request, then delivered; the hub sets the frame-pending bit while more are held for it.
#
# Memory is fixed at construction: `slots` payload buffers shared by all devices (the global
# bound) with at most `per_device` of them held for any one device, chained per device in FIFO
# order through index arrays, with a free list. put/take/expire allocate nothing.
#
# Each held frame expires `expiry_ms` after it was queued (the role of macTransaction-
# PersistenceTime, which 802.15.4 sets to about 7.7 s; a GSME polls far less often, so the hub's
# default is longer: docs/han.md). Deadlines are ticks compared with ticks_diff, so expiry is
# right across the 2**30 ms wrap; expire() must run more often than every 6 days (the shell's
# housekeeping runs it every few seconds, and every take() checks the device's own queue).
#
# The stored payload is what follows the MAC header (NWK + APS + ZCL); the MAC header is written
# at delivery, when the sequence number and the frame-pending bit are known.

from contract.ticks import ticks_add, ticks_diff

OK = const(0)
FULL_DEVICE = const(1)  # this device already has per_device frames waiting
FULL = const(2)  # every slot is in use
TOO_BIG = const(3)
NAMES = ("ok", "device_queue_full", "queue_full", "too_big")

_NONE = const(-1)


class Indirect:
    def __init__(self, devices, slots=8, per_device=4, expiry_ms=120000, payload_max=116):
        self.slots = slots
        self.per_device = per_device
        self.expiry_ms = expiry_ms
        self.payload_max = payload_max
        self._buf = [bytearray(payload_max) for _ in range(slots)]
        self._len = [0] * slots
        self._deadline = [0] * slots
        self._next = [i + 1 for i in range(slots)]
        self._next[slots - 1] = _NONE
        self._free = 0
        self._head = [_NONE] * devices
        self._tail = [_NONE] * devices
        self.count = [0] * devices
        self.used = 0
        self.queued = 0
        self.delivered = 0
        self.expired = 0
        self.flushed = 0
        self.refused = [0] * len(NAMES)  # by reason

    def room(self, dev, n):
        # OK when put(dev, ..., n, ...) would succeed, else the reason (nothing is counted).
        if n > self.payload_max:
            return TOO_BIG
        if self.count[dev] >= self.per_device:
            return FULL_DEVICE
        if self._free == _NONE:
            return FULL
        return OK

    def put(self, dev, data, n, now):
        # Holds data[0:n] for device dev (a device-table slot). Returns OK or a reason.
        why = self.room(dev, n)
        if why != OK:
            self.refused[why] += 1
            return why
        i = self._free
        self._free = self._next[i]
        b = self._buf[i]
        for j in range(n):
            b[j] = data[j]
        self._len[i] = n
        self._deadline[i] = ticks_add(now, self.expiry_ms)
        self._next[i] = _NONE
        if self._tail[dev] == _NONE:
            self._head[dev] = i
        else:
            self._next[self._tail[dev]] = i
        self._tail[dev] = i
        self.count[dev] += 1
        self.used += 1
        self.queued += 1
        return OK

    def _pop(self, dev):
        i = self._head[dev]
        self._head[dev] = self._next[i]
        if self._head[dev] == _NONE:
            self._tail[dev] = _NONE
        self._next[i] = self._free
        self._free = i
        self.count[dev] -= 1
        self.used -= 1
        return i

    def expire_device(self, dev, now):
        # Drops dev's frames whose time is up (the oldest first: deadlines grow along a chain).
        n = 0
        while self._head[dev] != _NONE and ticks_diff(now, self._deadline[self._head[dev]]) >= 0:
            self._pop(dev)
            n += 1
        self.expired += n
        return n

    def expire(self, now):
        n = 0
        for dev in range(len(self._head)):
            n += self.expire_device(dev, now)
        return n

    def pending(self, dev, now):
        # Frames still waiting for dev after expiry.
        self.expire_device(dev, now)
        return self.count[dev]

    def take_into(self, dev, now, out, p):
        # Copies dev's oldest live frame to out[p:] and frees its slot. Returns its length, or
        # -1 when nothing is waiting.
        self.expire_device(dev, now)
        if self._head[dev] == _NONE:
            return -1
        i = self._pop(dev)
        n = self._len[i]
        b = self._buf[i]
        for j in range(n):
            out[p + j] = b[j]
        self.delivered += 1
        return n

    def flush(self, dev):
        # Drops everything held for dev (it left the HAN).
        while self._head[dev] != _NONE:
            self._pop(dev)
            self.flushed += 1

    def free_slots(self):
        n = 0
        i = self._free
        while i != _NONE:
            n += 1
            i = self._next[i]
        return n
