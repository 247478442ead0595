# The home area network, as seen from the hub (the PAN coordinator). Its concerns, each in a
# module of its own:
#   firmware.han_join    MAC association against the device log, realignment, the permit bit
#   firmware.han_send    frames to members: direct, or held for a sleepy one's poll, budgeted
#   firmware.gas_proxy   the copy of each member's last meter reading
#   firmware.han_mac     the coordinator's MAC frames
#   firmware.device_table, device_log, indirect, battery: the tables and queues they share
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
# Allocation: every path that drops or refuses a frame, answers a poll or realigns an orphan
# works on preallocated objects and small ints. Notes (which allocate) are only made for events
# that are rare by construction (a new member) or rate-limited (refusals, rejoins, readings).

from contract.compat import const
from contract.ticks import Uptime
from firmware import battery, install_code, mac, nwk, zcl
from firmware import han_reject as rj
from firmware.battery import BatteryBudget
from firmware.decision import NOT_MINE, NOTHING, TX_HAN
from firmware.device_log import KINDS
from firmware.device_table import DeviceTable
from firmware.eui64 import parse as parse_eui
from firmware.eui64 import to_guid
from firmware.gas_proxy import REPORT_ATTRS, Readings, summation_in
from firmware.han_join import REFUSAL_NAMES, Joining
from firmware.han_mac import CMD_ORPHAN, COORD, Framer
from firmware.han_send import TUNNEL_TRANSFER_DATA, Sender
from firmware.indirect import Indirect

_READING_NOTE_S = const(10)  # per member


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
        airtime_ms_h=(30, 120),
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
        )
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
        self.nh = nwk.NwkHeader()
        self.ah = nwk.ApsHeader()
        self.zh = zcl.ZclHeader()
        self._reading_note = [-1] * table_max
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
        self.sync(now)
        self.joining.tick()

    # --- frames -------------------------------------------------------------------------------

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def _decide(self, n):
        # A MAC frame the framer built, or -1: the joining policy's answer.
        if n < 0:
            return NOTHING
        return self.out.transmit(self.framer.tx, n, TX_HAN)

    def on_frame(self, buf, f, now, lqi=-1):
        self.uptime.advance(now)
        if f.ftype == mac.COMMAND:
            cmd = buf[f.payload_off]
            if cmd == mac.CMD_ASSOC_REQ:
                return self._decide(self.joining.association(buf, f))
            if cmd == mac.CMD_DATA_REQ:
                return self._data_request(buf, f, now, lqi)
            if cmd == CMD_ORPHAN:
                return self._decide(self.joining.orphan(buf, f))
            return NOT_MINE
        if f.ftype == mac.DATA:
            return self._data(buf, f, now, lqi)
        return NOT_MINE

    def _data_request(self, buf, f, now, lqi):
        if not self.joining.to_coordinator(buf, f):
            return self._drop(rj.NOT_FOR_US)
        if f.src_mode == mac.ADDR_SHORT:
            s = self.table.find_short(f.src_short)
            if s < 0:
                return self._drop(rj.NOT_MEMBER)
            self.table.saw(s, self.uptime.s, lqi)
            self.polls += 1
            return self._deliver(s, now)
        if f.src_mode == mac.ADDR_EXT:
            return self._decide(self.joining.repeat(buf, f))
        return self._drop(rj.BAD_COMMAND)

    def _deliver(self, s, now):
        # The poll's answer: the oldest held frame, with frame pending set when more wait. The
        # sim has no hardware ACK, so "nothing pending" (an ACK with frame pending clear on real
        # air) is silence, and the delivered frame's own FCF carries the pending bit.
        n = self.indirect.pending(s, now)
        if n == 0:
            return NOTHING
        tx = self.framer.tx
        p = self.framer.data_header(tx, self.table.short(s), n > 1)
        return self._decide(p + self.indirect.take_into(s, now, tx, p))

    def _data(self, buf, f, now, lqi):
        # A ZigBee NWK frame from a member: short MAC addresses on both ends, as ZigBee uses.
        if f.src_mode != mac.ADDR_SHORT or f.dst_mode != mac.ADDR_SHORT:
            return NOT_MINE
        if f.dst_short != COORD and f.dst_short != mac.BROADCAST:
            return self._drop(rj.NOT_FOR_US)
        s = self.table.find_short(f.src_short)
        if s < 0:
            return self._drop(rj.NOT_MEMBER)
        end = f.payload_end
        h = self.nh
        r = nwk.parse_nwk(buf, f.payload_off, end, h)
        if r != nwk.OK:
            return self._drop(rj.NWK_SECURED if r == nwk.SECURED else rj.BAD_NWK)
        if h.src != f.src_short:
            return self._drop(rj.BAD_NWK)  # one hop: a child's NWK source is its MAC source
        if h.dst != nwk.COORDINATOR and h.dst < nwk.BROADCAST_MIN:
            return self._drop(rj.NOT_FOR_US)
        self.table.saw(s, self.uptime.s, lqi)
        if h.ftype != nwk.FT_DATA:
            return self._drop(rj.NOT_DATA)
        a = self.ah
        r = nwk.parse_aps(buf, h.payload_off, end, a)
        if r == nwk.NOT_DATA:
            return self._drop(rj.NOT_DATA)
        if r != nwk.OK:
            return self._drop(rj.BAD_APS)
        if a.profile != nwk.PROFILE_SE:
            return self._drop(rj.WRONG_PROFILE)
        z = self.zh
        if zcl.parse(buf, a.payload_off, end, z):
            return self._drop(rj.BAD_ZCL)
        self.frames_in += 1
        return self._zcl(s, a, z, buf, end, now)

    def _zcl(self, s, a, z, buf, end, now):
        # A member's ZCL frame: a reading is kept; a GBCS command or an answer goes to the
        # command layer's handler.
        if a.cluster == zcl.METERING:
            p = summation_in(buf, z, end)
            if p >= 0:
                self._keep_reading(s, buf, p)
            if z.command == REPORT_ATTRS:
                return NOTHING  # a routine report: kept above, nobody waits for it
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
        last = self._reading_note[s]
        up = self.uptime.s
        if last < 0 or up - last >= _READING_NOTE_S:
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
            "rejected": {rj.NAMES[i]: n for i, n in enumerate(self.rejected) if n},
        }
