# HAN security on the hub, the trust centre of its PAN (ZigBee specification 4.6.3; Smart Energy
# install-code joining): the network key, handed to each member in an APS Transport-Key under
# the key-transport key of its install-code link key (firmware.han_device_log keeps the link keys);
# NWK security (level 5, firmware.sec_nwk) on every frame to and from members; one
# outgoing frame counter for every secured frame, Transport-Keys included, so that no nonce
# is ever used twice under any key; and the key update the head-end asks for.
#
# Receiving: the frame's sender must be the member its MAC source address names (the HAN is one
# hop: the auxiliary header's EUI-64 is compared with that member's), decided with the header
# checks before any AES work. A budget (firmware.dos_limits.Gcra)
# sits in front of the CCM* stage, the only per-frame work no header check can refuse (a
# member's public EUI-64, fresh counters, forged MICs): a flood of those is dropped before the
# AES work once the budget is spent, so it cannot starve the WAN and inter-PAN work.
#
# Keys: a random network key (os.urandom: the ESP32's hardware RNG) made at first boot, kept in
# one sealed record with the previous key while members switch. A key update makes a new key
# (sequence number + 1), persists it, and from then on the hub sends with it; each member is
# sent a Transport-Key of it and a Switch-Key (held for a sleepy one's poll, in that order).
# Old-key frames are still accepted from a member until it sends under the new key, which its
# Switch-Key tells it to; the old key is forgotten once every commissioned member has switched,
# or an hour after the update.
#
# A member whose device-log entry has no install code is never sent a key: it can associate
# (the device log allows its EUI-64) but nothing it sends is accepted. Transport-Keys to one
# member are spaced out (10 s, doubling to an hour) so that re-associations spoofed with a
# member's EUI-64 cannot flood it (or drain a gas meter's battery) with key frames.

import os

from firmware import han_reject as rj
from firmware import sec_mmo as mmo
from firmware import sec_transport_key as transport_key
from firmware import store_record as record
from firmware import zb_nwk as nwk
from firmware.dos_limits import Gcra
from firmware.sec_counters import IncomingCounters, OutgoingCounter
from firmware.sec_nwk import NwkSecurity

OVERHEAD = const(18)  # what NWK security adds to a frame: auxiliary header 14, MIC 4
_VERSION = const(1)
_RECORD = "nwk_key"
_KEY_WAIT_MIN_S = const(10)
_KEY_WAIT_MAX_S = const(3600)
_OLD_KEY_S = const(3600)

# key_due() answers
SEND = const(0)
NO_INSTALL_CODE = const(1)
WITHHELD = const(2)  # one was sent lately: spaced out
KEY_NAMES = ("sent", "no_install_code", "withheld")


class HanSecurity:
    # nh: the HAN's NWK header object, that parsed the frames handed to unprotect().
    def __init__(self, storage, eui, table, log, nh, rate_per_s=20, burst=10, rand=os.urandom):
        self.eui = bytes(eui)
        self.nh = nh
        self.table = table
        self.log = log
        self._storage = storage
        self._rand = rand
        self.outgoing = OutgoingCounter(storage)
        self.incoming = IncomingCounters(table.capacity, storage)
        self.incoming.rebind([(s, table.eui(s)) for s in table.slots()])
        # The sender of a frame is the member its MAC source names: no lookup by EUI-64.
        self.budget = Gcra(rate_per_s, burst)
        self.nwk = NwkSecurity(
            eui, None, self.incoming, self.outgoing, nh=nh, budget=self.budget, base=rj.SEC
        )
        # unprotect(s, buf, f, now): a secured NWK frame (MAC frame f, its NWK header parsed
        # into nh) from the member in slot s: the end of its plaintext (it starts at
        # self.nwk.aux.end), or minus a han_reject code (SEC + a firmware.sec_nwk reason).
        # NwkSecurity's own method: no call in between on a frame path.
        self.unprotect = self.nwk.receive
        # passed(s, buf, f, now): the same for a frame whose header checks the hub's mac.route
        # made (Han.on_nwk): the budget and CCM* only.
        self.passed = self.nwk.passed
        self.key = None
        self.seq = 0
        self._old = None  # (key, seq) while members switch
        self._old_since = -1  # uptime s of the update (or the boot that found it unfinished)
        self.write_errors = 0
        self.key_lost = False  # the record was damaged: a new key, members must rejoin
        n = table.capacity
        self._key_at = [-1] * n  # uptime s a Transport-Key was last sent to the member
        self._key_wait = [_KEY_WAIT_MIN_S] * n
        self.pending = bytearray(n)  # members still to be sent the key update
        self.keys = [0] * len(KEY_NAMES)  # Transport-Keys sent, and not sent by reason
        self.updates = 0
        self._load()
        self.nwk.set_key(self.key, self.seq)
        if self._old is not None:
            self.nwk.set_key(self._old[0], self._old[1])
            self.nwk.switch_key(self.seq)  # the new one sends; the old one is still heard
            self._old_since = 0
            for s in table.slots():
                self.pending[s] = self.incoming.key_seq(s) != self.seq

    # --- the network key record ---------------------------------------------------------------
    #   seq (1) | key (16) [| old seq (1) | old key (16)]

    def _load(self):
        raw = self._storage.read(_RECORD) if self._storage is not None else None
        p = record.unseal(_VERSION, raw)
        if p is not None and len(p) in (17, 34):
            self.seq = p[0]
            self.key = bytes(p[1:17])
            if len(p) == 34:
                self._old = (bytes(p[18:34]), p[17])
            return
        self.key_lost = raw is not None
        self.key = self._rand(16)
        self.seq = 0
        self._save()

    def _save(self):
        if self._storage is None:
            return True
        out = bytes((self.seq,)) + self.key
        if self._old is not None:
            out += bytes((self._old[1],)) + self._old[0]
        try:
            self._storage.write(_RECORD, record.seal(_VERSION, out))
        except OSError:
            self.write_errors += 1
            return False
        return True

    # --- frames ------------------------------------------------------------------------------

    def protect(self, buf, nwk_off, end):
        # Secures the NWK frame at buf[nwk_off:end] that firmware.zb_nwk wrote: its new end, or
        # -1 when it cannot be sent (no frame counter: firmware.sec_counters).
        return self.nwk.protect(buf, nwk_off, nwk_off + nwk.NWK_HEADER_LEN, end)

    # --- key delivery ------------------------------------------------------------------------

    def key_due(self, s, up):
        # May the member in slot s be sent the network key now (uptime up, seconds)? SEND, or
        # why not, counted.
        if self.log.link_key(self.table.eui(s)) is None:
            self.keys[NO_INSTALL_CODE] += 1
            return NO_INSTALL_CODE
        if self._key_at[s] >= 0 and up - self._key_at[s] < self._key_wait[s]:
            self.keys[WITHHELD] += 1
            return WITHHELD
        if self._key_at[s] >= 0:
            self._key_wait[s] = min(2 * self._key_wait[s], _KEY_WAIT_MAX_S)
        self._key_at[s] = up
        return SEND

    def write_key(self, s, buf, p, aps_counter):
        # The APS Transport-Key of the network key for the member in slot s, at buf[p:]: its
        # end, or -1 (no link key, or no frame counter).
        eui = self.table.eui(s)
        link = self.log.link_key(eui)
        counter = self.outgoing.next() if link is not None else -1
        if counter < 0:
            return -1
        self.keys[SEND] += 1
        ktk = mmo.key_transport_key(link)
        return transport_key.write(
            buf, p, ktk, counter, self.eui, aps_counter, self.key, self.seq, eui
        )

    def write_switch(self, buf, p, aps_counter):
        return transport_key.write_switch(buf, p, aps_counter, self.seq)

    def joined(self, s):
        # A new member in slot s: its counters (kept if it is a device coming back), and key
        # deliveries spaced from scratch.
        self.incoming.assign(s, self.table.eui(s))
        self._key_at[s] = -1
        self._key_wait[s] = _KEY_WAIT_MIN_S
        self.pending[s] = 0

    def left(self, s):
        self.incoming.clear(s)
        self.pending[s] = 0

    # --- key update ------------------------------------------------------------------------

    def update(self, up):
        # A new network key, in force for sending at once; every member is to be sent it.
        # False when it could not be persisted (then nothing changed).
        old = (self.key, self.seq)
        keep = self._old
        self._old = old
        self.key = self._rand(16)
        self.seq = (self.seq + 1) & 0xFF
        if not self._save():
            self.key, self.seq = old
            self._old = keep
            return False
        self.nwk.drop_old()
        self.nwk.set_key(self.key, self.seq)
        self.nwk.switch_key(self.seq)
        self._old_since = up
        self.updates += 1
        for s in self.table.slots():
            self.pending[s] = 1
            self._key_at[s] = -1  # an update is not a resend: no spacing
            self._key_wait[s] = _KEY_WAIT_MIN_S
        return True

    def tick(self, up):
        # Housekeeping: the old key goes once every commissioned member has switched, or when
        # the grace period is over. True when it went.
        if self._old is None:
            return False
        if up - self._old_since < _OLD_KEY_S:
            for s in self.table.slots():
                if self.incoming.key_seq(s) != self.seq and self.log.link_key(self.table.eui(s)):
                    return False
        self._old = None
        self.nwk.drop_old()
        self._save()
        return True

    def status(self):
        return {
            "key_seq": self.seq,
            "old_key_seq": self._old[1] if self._old is not None else None,
            "frame_counter": self.outgoing.value,
            "keys": {KEY_NAMES[i]: n for i, n in enumerate(self.keys)},
            "updates": self.updates,
            "key_lost": self.key_lost,
            "counter_lost": self.outgoing.lost,
            "write_errors": self.write_errors
            + self.outgoing.write_errors
            + self.incoming.write_errors,
        }
