# The home area network, as seen from the hub (the PAN coordinator). Its concerns, each in a
# module of its own:
#   firmware.han_join    MAC association against the device log, realignment, the permit bit
#   firmware.han_send    frames to members: direct, or held for a sleepy one's poll, budgeted
#   firmware.han_gas_proxy   the copy of each member's last meter reading
#   firmware.han_mac     the coordinator's MAC frames
#   firmware.han_security  the trust centre: network key, NWK security, frame counters
#   firmware.han_device_table, device_log, indirect, battery: the tables and queues they share
# This module dispatches received frames among them, answers polls, receives members' NWK/APS/
# ZCL frames, keeps the table in step with the device log, and reports. docs/han.md describes
# the behaviour and the defaults.
#
# Seams: Hub.on_frame hands every frame that is not inter-PAN, not for another PAN and not a
# beacon request to on_frame(buf, f, now, lqi), which returns a firmware.decision code: NOTHING,
# TRANSMIT (the frame in the shared Outputs' transmit slot) or NOT_MINE. Notes, and frames for
# rx-on-when-idle members sent outside a receive decision, go into the same Outputs. The command
# layer registers its handlers for what members send (on_command, on_response) and reaches the
# HAN through forward() and send_to_device(); nothing here knows the hub.
#
# Every frame from a member must be NWK-secured under a network key the hub holds, by that
# member, with a fresh counter; everything that decides that is read from the header before
# any AES work (firmware.han_security). After a member associates, the trust centre sends it
# the network key (when its device-log entry has an install code).
#
# Allocation: every path that drops or refuses a frame, answers a poll or realigns an orphan
# works on preallocated objects and small ints. Notes (which allocate) are only made for events
# that are rare by construction (a new member) or rate-limited (refusals, rejoins, readings).

from contract.ticks import Uptime
from firmware import han_battery as battery
from firmware import han_reject as rj
from firmware import mac
from firmware import sec_install_code as install_code
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zcl
from firmware.decision import NOT_MINE, NOTHING, TX_HAN
from firmware.eui64 import parse as parse_eui
from firmware.eui64 import to_guid
from firmware.han_battery import BatteryBudget
from firmware.han_device_log import KINDS
from firmware.han_device_table import DeviceTable
from firmware.han_gas_proxy import REPORT_ATTRS, Readings, summation_in
from firmware.han_indirect import Indirect
from firmware.han_join import REFUSAL_NAMES, Joining
from firmware.han_mac import CMD_ORPHAN, COORD, Framer
from firmware.han_security import KEY_NAMES, HanSecurity
from firmware.han_security import SEND as KEY_SEND
from firmware.han_send import QUEUED, STATUS, TUNNEL_TRANSFER_DATA, Sender
from firmware.mac import ASSOC_STRANGER, HAN_NOT_FOR_US

_READING_NOTE_S = const(10)  # per member
_KEY_NOTE_S = const(600)  # per member: a key not sent (no install code, spaced out)


def from_settings(settings, storage, device_log, out):
    # A Han configured from firmware.settings (the keys and their reasons: docs/han.md).
    return Han(
        storage,
        device_log,
        out,
        settings.eui64(),
        settings["radio.pan_id"],
        settings["radio.channel"],
        table_max=settings["han.device_table_max"],
        join_permit=settings["join.permit"],
        join_auto=settings["join.auto"],
        indirect_slots=settings["han.indirect_slots"],
        indirect_per_device=settings["han.indirect_per_device"],
        indirect_expiry_s=settings["han.indirect_expiry_s"],
        frames_h=(settings["battery.interpan_frames_h"], settings["battery.wan_frames_h"]),
        airtime_ms_h=(
            settings["battery.interpan_airtime_ms_h"],
            settings["battery.wan_airtime_ms_h"],
        ),
        ccm=(settings["han.ccm_per_s"], settings["han.ccm_burst"]),
        assoc=(settings["dos.assoc_rate_per_s"], settings["dos.assoc_burst"]),
    )


def provision(device_log, spec):
    # Adds "GUID:kind[:install code][,...]" (kind esme, gsme or other; the install code in hex)
    # to the device log, for the lab (the WAN manages the log in the field). Returns the number
    # of entries; ValueError if bad.
    n = 0
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        eui = parse_eui(parts[0])
        kind = parts[1].lower() if len(parts) > 1 else ""
        if eui is None or kind not in KINDS or len(parts) > 3:
            raise ValueError("han.devices: %r is not GUID:esme|gsme|other[:install code]" % item)
        key = None
        if len(parts) == 3:
            code = install_code.parse(parts[2])
            why = install_code.check(code) if code is not None else install_code.BAD_LENGTH
            if why:
                raise ValueError("han.devices: %r: %s" % (item, install_code.NAMES[why]))
            key = install_code.link_key(code)
        if not device_log.add(eui, KINDS.index(kind), key):
            raise ValueError("han.devices: the device log is full")
        n += 1
    return n


class Han:
    def __init__(
        self,
        storage,
        device_log,
        out,
        eui,
        pan_id,
        channel=11,
        table_max=16,
        join_permit=False,
        join_auto=True,
        indirect_slots=8,
        indirect_per_device=4,
        indirect_expiry_s=120,
        frames_h=(12, 48),
        airtime_ms_h=(40, 160),
        ccm=(20, 10),
        assoc=(4, 8),
    ):
        if not 0 < indirect_expiry_s < 86400:  # ticks deadlines need < 6 days
            raise ValueError("han.indirect_expiry_s must be within 1..86399")
        self.log = device_log
        self.out = out
        self.uptime = Uptime()
        self.rejected = [0] * len(rj.NAMES)
        self.table = table = DeviceTable(storage, table_max)
        self.indirect = Indirect(
            table_max, indirect_slots, indirect_per_device, indirect_expiry_s * 1000
        )
        self.budget = BatteryBudget(table_max, frames_h, airtime_ms_h)
        self.framer = Framer(eui, pan_id, channel)
        # The hub's mac.route() of each frame (on_header): a frame from a short address or
        # EUI-64 no member has is counted there, as _data_request, _data and Joining count it.
        r = (table.by_short, self.rejected, table.by_eui, table.octets)
        self.route = mac.Route(pan_id, *r, device_log.index, device_log.euis())
        self.nh = nwk.NwkHeader()
        self.security = HanSecurity(storage, eui, table, device_log, self.nh, ccm[0], ccm[1])
        self.joining = Joining(
            table,
            device_log,
            self.rejected,
            out,
            self.framer,
            self.uptime,
            self.budget,
            join_permit,
            join_auto,
            assoc,
        )
        self.route.assoc = self.joining.strangers
        self.route.sec = self.security.incoming.state  # (mac.route decides on its octets)
        self.route.ccm = self.security.budget
        self.readings = Readings(table_max, self.uptime)
        self.sender = Sender(
            table,
            self.indirect,
            self.budget,
            self.readings,
            out,
            self.framer,
            self.joining.sleepy,
            self.uptime,
            self.security,
        )
        # The command layer's interface, served by the parts.
        self.forward = self.sender.forward
        self.send_to_device = self.sender.send_to_device
        self.reading = self.readings.reading
        # Handlers the command layer registers: on_response(eui, aps, zcl, buf, end, now) for
        # ZCL frames from meters, on_command(eui, zcl, buf, end, now) for GBCS commands a member
        # sends (its installer-PIN menu).
        self.on_response = None
        self.on_command = None
        self.ah = nwk.ApsHeader()
        self.zh = zcl.ZclHeader()
        self._reading_note = [-1] * table_max
        self._key_note = [-1] * table_max
        self._now = 0  # the frame in hand's time and LQI (on_frame)
        self._lqi = -1
        self.polls = 0
        self.frames_in = 0

    @property
    def forward_seq(self):
        # The ZCL sequence of the last forward(): the meter's answer carries it.
        return self.sender.forward_seq

    def register(self, on_command=None, on_response=None):
        self.on_command = on_command
        self.on_response = on_response

    def is_member(self, eui):
        return self.table.find(eui) >= 0

    # --- membership ---------------------------------------------------------------------------

    def start(self, now):
        # At power-up: the permit bit, and the members restored from storage in the log.
        self.uptime.advance(now)
        self.sync(now)
        t = self.table
        self.out.note(
            "han",
            members=len(t),
            capacity=t.capacity,
            permit_join=self.joining.permit_join,
            devices=[self.joining.member(s) for s in t.slots()],
            table_corrupt=t.corrupt,
            key_seq=self.security.seq,
            key_lost=self.security.key_lost,
        )

    def sync(self, now):
        # Reconciles the table with the device log (the WAN edits it): members removed from the
        # log leave, kinds follow the log, and the permit bit is recomputed. Allocates; run by
        # tick() and by whoever edits the log.
        unjoined = 0
        for eui, kind in self.log.entries():
            s = self.table.find(eui)
            if s < 0:
                unjoined += 1
            elif self.table.kind(s) != kind:
                self.table.set_kind(s, kind)
                if self.joining.sleepy(s):
                    self.budget.enable(s)
        for s in self.table.slots():
            if self.log.kind(self.table.eui(s)) < 0:
                guid = to_guid(self.table.eui(s))
                self._leave(s)
                self.out.note("device_removed", guid=guid, reason="not_in_device_log")
        self.joining.set_unjoined(unjoined)

    def _leave(self, s):
        self.security.left(s)
        self._key_note[s] = -1
        self.indirect.flush(s)
        self.budget.disable(s)
        self.readings.forget(s)
        self.joining.forget(s)
        self._reading_note[s] = -1
        self.table.remove(s)

    def tick(self, now):
        # Housekeeping, every few seconds from the shell: expiry, budget windows, device log.
        self.uptime.advance(now)
        self.indirect.expire(now)
        self.budget.prune(now)
        self.security.budget.tick(now)
        self.sync(now)
        self.joining.tick(now)
        self._distribute(now)
        if self.security.tick(self.uptime.s):
            self.out.note("network_key", change="old_key_dropped", key_seq=self.security.seq)

    # --- keys -----------------------------------------------------------------------------------

    def _give_key(self, s, now):
        # After an association: the network key for the device, if it may have it now.
        why = self.security.key_due(s, self.uptime.s)
        if why == KEY_SEND:
            st = self.sender.send_key(s, now)
            self._key_noted(s, "sent" if st <= QUEUED else STATUS[st], "join")
        else:
            self._key_noted(s, KEY_NAMES[why], "join")

    def _key_noted(self, s, result, why):
        # A Transport-Key sent (spaced out by han_security), or why not: at most one note per
        # member per _KEY_NOTE_S for the refusals a spoofer could repeat.
        last = self._key_note[s]
        up = self.uptime.s
        if result != "sent" and last >= 0 and up - last < _KEY_NOTE_S:
            return
        self._key_note[s] = up
        self.out.note(
            "network_key_to",
            guid=to_guid(self.table.eui(s)),
            result=result,
            reason=why,
            key_seq=self.security.seq,
        )

    def update_key(self, now):
        # The head-end's key update (a signed command): a new network key, sent to every
        # member with its Switch-Key. False when the key could not be persisted.
        self.uptime.advance(now)
        if not self.security.update(self.uptime.s):
            return False
        self.out.note("network_key", change="updated", key_seq=self.security.seq)
        self._distribute(now)
        return True

    def _distribute(self, now):
        # Members still to be sent the key update (a full queue or ring is retried next tick).
        sec = self.security
        for s in self.table.slots():
            if not sec.pending[s]:
                continue
            if self.log.link_key(self.table.eui(s)) is None:
                sec.pending[s] = 0
                continue
            if sec.pending[s] == 1:
                st = self.sender.send_key(s, now)
                if st > QUEUED:
                    continue
                self._key_noted(s, "sent", "update")
                sec.pending[s] = 2
            if self.sender.send_switch(s, now) <= QUEUED:
                sec.pending[s] = 0

    # --- frames -------------------------------------------------------------------------------

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def _decide(self, n):
        # A MAC frame the framer built, or -1: the joining policy's answer.
        if n < 0:
            return NOTHING
        return self.out.transmit(self.framer.tx, n, TX_HAN)

    def on_header(self, buf, r, now):
        # A frame the hub's mac.route found is the HAN's to drop (r: its verdict, HAN_DROP or
        # lower; self.route, the mac.Route it used, names the source), counted as on_frame
        # counts it: another device's, or addressed wrongly; an association request from an
        # EUI-64 not in the device log is refused or dropped by its budget (Joining.stranger).
        # (route itself counts a frame from a source no member has.)
        if r == ASSOC_STRANGER:
            r = self.joining.stranger(buf, self.route.src, now)
            return NOTHING if r < 0 else self._decide(r)
        self.rejected[rj.NOT_FOR_US if r == HAN_NOT_FOR_US else rj.BAD_COMMAND] += 1
        return NOTHING

    def on_frame(self, buf, f, now, lqi=-1):
        # (The frame's time and LQI are kept in self for the handlers below: fewer arguments
        # keep their call frames within 11 words, off the heap.)
        self.uptime.advance(now)
        self._now = now
        self._lqi = lqi
        if f.ftype == mac.COMMAND:
            return self._command(buf, f)
        if f.ftype == mac.DATA:
            return self._data(buf, f)
        return NOT_MINE

    def on_nwk(self, buf, f, now, lqi):
        # A member's secured NWK frame (f: the MacFrame) that the hub's mac.route passed on
        # everything its header decides (_data's, _nwk_header's and NwkSecurity.check's checks,
        # made natively; its drops counted there), and Hub.on_frame on the CCM* budget's inline
        # test: the budget and CCM*. A few a second (the budget's), so the member and the
        # auxiliary header are found again here. (lqi, now reused: 11 words.)
        self.uptime.advance(now)
        self._now = now
        self._lqi = lqi
        lqi = self.table.find_short(f.src_short)
        nwk.parse_nwk(buf, f.payload_off, f.payload_end, self.nh)
        now = self.security.passed(lqi, buf, f, now)
        return self._member(lqi, buf, now)

    def _command(self, buf, f):
        cmd = buf[f.payload_off]
        if cmd == mac.CMD_ASSOC_REQ:
            return self._associate(buf, f, self._now)
        if cmd == mac.CMD_DATA_REQ:
            return self._data_request(buf, f)
        if cmd == CMD_ORPHAN:
            return self._orphan(buf, f)
        return NOT_MINE

    def _orphan(self, buf, f):
        return self._decide(self.joining.orphan(buf, f))

    def _associate(self, buf, f, now):
        n = self.joining.association(buf, f, now)
        s = self.joining.admitted
        if s >= 0:
            if self.joining.fresh:
                self.security.joined(s)
            self._give_key(s, now)
        return self._decide(n)

    def _data_request(self, buf, f):
        if not self.joining.to_coordinator(buf, f):
            return self._drop(rj.NOT_FOR_US)
        if f.src_mode == mac.ADDR_SHORT:
            s = self.table.find_short(f.src_short)
            if s < 0:
                return self._drop(rj.NOT_MEMBER)
            self.table.saw(s, self.uptime.s, self._lqi)
            self.polls += 1
            return self._deliver(s, self._now)
        if f.src_mode == mac.ADDR_EXT:
            return self._decide(self.joining.repeat(buf, f))
        return self._drop(rj.BAD_COMMAND)

    def _deliver(self, s, now):
        # The poll's answer: the oldest held frame, with frame pending set when more wait. The
        # sim has no hardware ACK, so "nothing pending" (an ACK with frame pending clear on real
        # air) is silence, and the delivered frame's own FCF carries the pending bit.
        n = self.indirect.pending(s, now)
        if n == 0:
            return NOTHING  # (the common case: a frame of its own, kept small)
        return self._held(s, n, now)

    def _held(self, s, n, now):
        tx = self.framer.tx
        p = self.framer.data_header(tx, self.table.short(s), n > 1)
        return self._decide(p + self.indirect.take_into(s, now, tx, p))

    def _data(self, buf, f):
        # A ZigBee NWK frame from a member: short MAC addresses on both ends, as ZigBee uses.
        if f.src_mode != mac.ADDR_SHORT or f.dst_mode != mac.ADDR_SHORT:
            return NOT_MINE
        if f.dst_short != COORD and f.dst_short != mac.BROADCAST:
            return self._drop(rj.NOT_FOR_US)
        s = self.table.find_short(f.src_short)
        if s < 0:
            return self._drop(rj.NOT_MEMBER)
        return self._member_data(s, buf, f)

    def _member_data(self, s, buf, f):
        # The NWK frame from the member in slot s, the full way (the hub's own frames go by
        # on_nwk: tests_device/test_route.py holds the two together).
        end = self._unprotect(s, buf, f)
        return self._member(s, buf, end)

    def _member(self, s, buf, end):
        # The end of the member's plaintext APS frame, or minus why the frame is dropped.
        if end < 0:
            return self._drop(-end)
        self.table.saw(s, self.uptime.s, self._lqi)  # authenticated: it was the member
        return self._aps(s, buf, end)

    def _unprotect(self, s, buf, f):
        # The end of the member's plaintext APS frame, or minus why the frame is dropped.
        why = self._nwk_header(buf, f)
        if why >= 0:
            return -why
        return self.security.unprotect(s, buf, f, self._now)

    def _nwk_header(self, buf, f):
        # The NWK header's checks, before any AES work: -1, or why the frame is dropped.
        h = self.nh
        r = nwk.parse_nwk(buf, f.payload_off, f.payload_end, h)
        if r != nwk.SECURED:
            return rj.UNSECURED if r == nwk.OK else rj.BAD_NWK
        if h.src != f.src_short:
            return rj.BAD_NWK  # one hop: a child's NWK source is its MAC source
        if h.dst != nwk.COORDINATOR and h.dst < nwk.BROADCAST_MIN:
            return rj.NOT_FOR_US
        if h.ftype != nwk.FT_DATA:
            return rj.NOT_DATA
        return -1

    def _aps(self, s, buf, end):
        # The decrypted APS frame, buf[security.nwk.aux.end:end]. (The checks and the ZCL
        # frame's handling in methods of their own, now in self._now: frames of 11 words at
        # most stay off the heap.)
        why = self._aps_check(buf, end)
        if why:
            return self._drop(why)
        self.frames_in += 1
        return self._zcl(s, buf, end)

    def _aps_check(self, buf, end):
        a = self.ah
        r = nwk.parse_aps(buf, self.security.nwk.aux.end, end, a)
        if r != nwk.OK:
            return rj.NOT_DATA if r == nwk.NOT_DATA else rj.BAD_APS
        if a.profile != nwk.PROFILE_SE:
            return rj.WRONG_PROFILE
        return rj.BAD_ZCL if zcl.parse(buf, a.payload_off, end, self.zh) else 0

    def _zcl(self, s, buf, end):
        # A member's ZCL frame: a reading is kept; a GBCS command or an answer goes to the
        # command layer's handler.
        z = self.zh
        if self.ah.cluster == zcl.METERING:
            p = summation_in(buf, z, end)
            if p >= 0:
                self._keep_reading(s, buf, p)
            if z.command == REPORT_ATTRS:
                return NOTHING  # a routine report: kept above, nobody waits for it
        return self._answer(s, buf, end)

    def _answer(self, s, buf, end):
        a = self.ah
        z = self.zh
        now = self._now
        eui = self.table.eui(s)
        if (
            a.cluster == zcl.TUNNELING
            and z.command == TUNNEL_TRANSFER_DATA
            and not z.fc & zcl.SERVER_TO_CLIENT
            and self.on_command is not None
        ):
            self.on_command(eui, z, buf, end, now)  # a GBCS command from the member
        elif self.on_response is not None:
            self.on_response(eui, a, z, buf, end, now)
        else:
            self.out.note(
                "meter_response",
                guid=to_guid(eui),
                cluster="0x%04X" % a.cluster,
                command=z.command,
                data=bytes(buf[z.payload_off : end]).hex(),
            )
        return NOTHING

    def _keep_reading(self, s, buf, p):
        self.readings.keep(s, buf, p)
        p = self.uptime.s  # (p reused)
        if self._reading_note[s] < 0 or p - self._reading_note[s] >= _READING_NOTE_S:
            self._note_reading(s, p)

    def _note_reading(self, s, up):
        self._reading_note[s] = up
        self.out.note(
            "meter_reading",
            guid=to_guid(self.table.eui(s)),
            kind=KINDS[self.table.kind(s)],
            summation=self.readings.reading(s)[0],
        )

    # --- reports ------------------------------------------------------------------------------

    def status(self, now):
        self.uptime.advance(now)
        t = self.table
        up = self.uptime.s
        members = []
        for s in t.slots():
            m = self.joining.member(s)
            m["last_heard_s"] = up - t.heard[s] if t.heard[s] >= 0 else None
            m["lqi"] = t.lqi[s] if t.lqi[s] >= 0 else None
            m["queued"] = self.indirect.pending(s, now)
            m["key_seq"] = self.security.incoming.key_seq(s)  # -1: nothing secured heard yet
            m["install_code"] = self.log.link_key(t.eui(s)) is not None
            r = self.readings.reading(s)
            m["summation"] = r[0] if r else None
            m["reading_age_s"] = r[1] if r else None
            if self.budget.enabled(s):
                for o in (battery.INTERPAN, battery.WAN):
                    m["budget_" + battery.ORIGINS[o]] = self.budget.used(s, o, now)[0]
            members.append(m)
        j = self.joining
        return {
            "members": members,
            "capacity": t.capacity,
            "permit_join": j.joining_open(),
            "joins": j.joins,
            "polls": self.polls,
            "frames_in": self.frames_in,
            "cached_answers": self.readings.answers,
            "indirect": {
                "queued": self.indirect.queued,
                "delivered": self.indirect.delivered,
                "expired": self.indirect.expired,
                "held": self.indirect.used,
            },
            "budget_rejected": {battery.ORIGINS[o]: self.budget.rejected[o] for o in (0, 1)},
            "refused": {REFUSAL_NAMES[i]: n for i, n in enumerate(j.refusals) if n},
            "security": self.security.status(),
            "rejected": {rj.NAMES[i]: n for i, n in enumerate(self.rejected) if n},
        }
