# Joining the HAN: MAC association against the device log (the allow-list), the persisted device
# table, coordinator realignment for a member that lost its coordinator, and the policy behind
# the beacon's association-permit bit. IEEE 802.15.4-2006 7.3.1-7.3.2 and 7.5.2.1.4.
#
# A refusal costs no slot, no allocation and no flash: counters, the last refused EUI-64 kept
# in place, and a note at most every _REFUSE_NOTE_S seconds with how many were refused. A
# member re-associating keeps its slot and address, so a spoofed stream of those writes
# nothing either.
#
# Association requests are rate-limited like the inter-PAN paths (firmware.dos_limits.Gcra),
# with two budgets: one for EUI-64s not in the device log (all they get is a refusal) and one
# for the log's own devices. A request over its budget is dropped unanswered and counted
# (han_rate_assoc), so a line-rate flood costs the lookup and the budget, never a response on
# air; and a flood of strangers, the cheapest to send, cannot spend the budget a device in the
# log needs to join. The source address is not authenticated (a spoofer may use a log entry's
# EUI-64 and spend the second budget), but nothing a device gets by associating is worth
# anything without its install code (the network key goes out under its link key).

from firmware import han_reject as rj
from firmware import mac
from firmware.dos_limits import Gcra
from firmware.eui64 import read_le, to_guid
from firmware.han_device_log import GSME, KINDS

ASSOC_SUCCESS = const(0x00)
ASSOC_AT_CAPACITY = const(0x01)
ASSOC_DENIED = const(0x02)
ASSOC_STATUS = ("success", "pan_at_capacity", "access_denied")

# Why an association was refused (counted in refusals)
NOT_IN_LOG = const(0)
CLOSED = const(1)
TABLE_FULL = const(2)
STORAGE = const(3)
REFUSAL_NAMES = ("not_in_device_log", "joining_closed", "table_full", "storage_error")

_REFUSE_NOTE_S = const(10)  # at most one join_refused note per this many seconds, with a count
_REJOIN_NOTE_S = const(60)  # per member


class Joining:
    # Collaborators: the device table and the device log; the HAN's drop counters; the shared
    # Outputs; the MAC framer; the HAN's uptime; the battery budget (sleepy members get one).
    def __init__(
        self, table, log, rejected, out, framer, uptime, budget, permit, auto, assoc=(4, 8)
    ):
        # assoc: (rate per second, burst) of each of the two association budgets.
        self.table = table
        self.log = log
        self.rejected = rejected
        self.out = out
        self.framer = framer
        self.uptime = uptime
        self.budget = budget
        self.join_permit = permit
        self.join_auto = auto
        self.permit_join = permit  # what the beacon's association-permit bit says
        self.refusals = [0] * len(REFUSAL_NAMES)
        self.admitted = -1  # after association(): the slot of the device admitted, or -1
        self.fresh = False  # ... and whether it is a new member (not one re-associating)
        self.joins = 0
        self._unjoined = 0
        self._open = None
        self._ref_eui = bytearray(8)  # last refused EUI, air order
        self._ref_status = 0
        self._ref_why = 0
        self._ref_pending = 0
        self._ref_note_s = -1
        self._rejoin_note = [-1] * table.capacity
        # Requests from EUI-64s not in the log (the hub tests its refusal inline: mac.Route).
        self.strangers = Gcra(assoc[0], assoc[1])
        self._listed = Gcra(assoc[0], assoc[1])  # and from the log's devices
        for s in table.slots():
            if self.sleepy(s):
                budget.enable(s)

    # --- policy ------------------------------------------------------------------------------

    def sleepy(self, s):
        # A GSME is battery powered whatever its capability octet says.
        return self.table.kind(s) == GSME or not self.table.rx_on_idle(s)

    def joining_open(self):
        # Whether a new member could join now.
        if len(self.table) >= self.table.capacity:
            return False
        return self.join_permit or (self.join_auto and self._unjoined > 0)

    def set_unjoined(self, n):
        # Devices in the log that have not joined (the HAN's sync counts them).
        self._unjoined = n
        self.update_permit()

    def update_permit(self):
        permit = self.joining_open()
        self.permit_join = permit
        if permit != self._open:
            if self._open is not None:
                self.out.note("join_permit", open=permit, members=len(self.table))
            self._open = permit

    def member(self, s):
        # A member as the log and the head-end describe it.
        t = self.table
        return {
            "guid": to_guid(t.eui(s)),
            "short": "0x%04X" % t.short(s),
            "kind": KINDS[t.kind(s)] if t.kind(s) < len(KINDS) else "other",
            "sleepy": self.sleepy(s),
        }

    def tick(self, now):
        self.strangers.tick(now)
        self._listed.tick(now)
        if self._ref_pending and self.uptime.s - self._ref_note_s >= _REFUSE_NOTE_S:
            self._note_refusals()

    # --- frames ------------------------------------------------------------------------------

    def to_coordinator(self, buf, f):
        pan = self.framer.pan_id
        if f.dst_mode == mac.ADDR_SHORT:
            return f.dst_short == 0 and f.dst_pan == pan
        if f.dst_mode == mac.ADDR_EXT:
            return f.dst_pan == pan and buf.startswith(self.framer.eui_le, f.dst_ext_off)
        return f.src_pan == pan  # no destination: the coordinator of the source's PAN

    def association(self, buf, f, now):
        # An association request: the response's length in framer.tx, or -1 (dropped); the
        # admitted slot in self.admitted. A stranger (not in the device log) is refused here,
        # within its budget; the log's devices go on to _admit within theirs. (Split so that
        # no frame is over 11 words.)
        self.admitted = -1
        if (
            f.src_mode != mac.ADDR_EXT
            or f.payload_end - f.payload_off < 2
            or not self.to_coordinator(buf, f)
        ):
            self.rejected[rj.BAD_COMMAND] += 1
            return -1
        if self.log.find_le(buf, f.src_ext_off) < 0:
            return self.stranger(buf, f.src_ext_off, now)
        if not self._listed.allow(now):
            self.rejected[rj.RATE_ASSOC] += 1
            return -1
        return self._admit(buf, f)

    def stranger(self, buf, src, now):
        # A well-formed association request to the coordinator from the EUI-64 at buf[src]
        # (air order), which is not in the device log: refused within the strangers' budget,
        # else dropped unanswered (by Hub.on_frame, before this, when route found it).
        # Returns as association() does.
        self.admitted = -1
        if not self.strangers.allow(now):
            self.rejected[rj.RATE_ASSOC] += 1
            return -1
        self.uptime.advance(now)  # the refusals' note is spaced in uptime
        return self._refuse(buf, src, ASSOC_DENIED, NOT_IN_LOG)

    def _admit(self, buf, f):
        src = f.src_ext_off
        s = self.table.find_le(buf, src)
        if s >= 0:
            # A member re-associating (it lost its state): same slot, same address.
            self._rejoined(s, "association")
            self.admitted = s
            self.fresh = False
            return self.framer.assoc_response(buf, src, self.table.short(s), ASSOC_SUCCESS)
        if len(self.table) >= self.table.capacity:
            return self._refuse(buf, src, ASSOC_AT_CAPACITY, TABLE_FULL)
        if not self.joining_open():
            return self._refuse(buf, src, ASSOC_DENIED, CLOSED)
        # Admission: rare (bounded by the device log), so it may allocate.
        eui = read_le(buf, src)
        s = self.table.join(eui, self.log.kind(eui), buf[f.payload_off + 1])
        if s < 0:
            return self._refuse(buf, src, ASSOC_AT_CAPACITY, STORAGE)
        if self.sleepy(s):
            self.budget.enable(s)
        self.joins += 1
        self._unjoined = max(0, self._unjoined - 1)
        self.out.note("device_joined", rejoin=False, **self.member(s))
        self.update_permit()
        self.admitted = s
        self.fresh = True
        return self.framer.assoc_response(buf, src, self.table.short(s), ASSOC_SUCCESS)

    def repeat(self, buf, f):
        # A device polling by its EUI-64 for its association response (802.15.4's indirect
        # way): repeated for a member; a stranger gets nothing (-1).
        s = self.table.find_le(buf, f.src_ext_off)
        if s < 0:
            self.rejected[rj.NOT_MEMBER] += 1
            return -1
        return self.framer.assoc_response(buf, f.src_ext_off, self.table.short(s), ASSOC_SUCCESS)

    def orphan(self, buf, f):
        # 802.15.4-2006 7.5.2.1.4: a member that lost its coordinator (or restarted) sends an
        # orphan notification; the coordinator realigns it with its short address. Strangers
        # get nothing (-1).
        if f.src_mode != mac.ADDR_EXT:
            self.rejected[rj.BAD_COMMAND] += 1
            return -1
        s = self.table.find_le(buf, f.src_ext_off)
        if s < 0 or self.log.find_le(buf, f.src_ext_off) < 0:
            self.rejected[rj.NOT_MEMBER] += 1
            return -1
        self._rejoined(s, "orphan")
        return self.framer.realign(buf, f.src_ext_off, self.table.short(s))

    def _refuse(self, buf, src, status, why):
        self.refusals[why] += 1
        self._keep_refused(buf, src)
        self._ref_status = status
        self._ref_why = why
        self._ref_pending += 1
        if self._ref_note_s < 0 or self.uptime.s - self._ref_note_s >= _REFUSE_NOTE_S:
            self._note_refusals()
        return self.framer.assoc_response(buf, src, 0xFFFF, status)

    def _keep_refused(self, buf, src):
        e = self._ref_eui
        for j in range(8):
            e[j] = buf[src + j]

    def _note_refusals(self):
        self.out.note(
            "join_refused",
            guid=to_guid(read_le(self._ref_eui, 0)),
            status=ASSOC_STATUS[self._ref_status],
            reason=REFUSAL_NAMES[self._ref_why],
            count=self._ref_pending,
        )
        self._ref_pending = 0
        self._ref_note_s = self.uptime.s

    def _rejoined(self, s, how):
        last = self._rejoin_note[s]
        if last < 0 or self.uptime.s - last >= _REJOIN_NOTE_S:
            self._rejoin_note[s] = self.uptime.s
            self.out.note("device_joined", rejoin=True, via=how, **self.member(s))

    def forget(self, s):
        self._rejoin_note[s] = -1
