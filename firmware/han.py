# The home area network, as seen from the hub (the PAN coordinator): MAC association against the
# device log (the allow-list), the persisted device table, ZigBee NWK/APS/ZCL traffic with the
# joined meters, indirect transmission to the sleepy gas meter with its battery budget, and the
# gas proxy's cache of the GSME's last reading. Functional core: frames, time and requests in;
# decisions, notes and frames to send out. docs/han.md describes the behaviour and the defaults.
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
from contract.frame import PSDU_MAX
from contract.ticks import ticks_diff
from firmware import battery, mac, nwk, zcl
from firmware import catalogue as cat
from firmware.battery import BatteryBudget
from firmware.decision import NOT_MINE, NOTHING, TX_HAN
from firmware.device_log import GSME, KINDS
from firmware.device_table import DeviceTable
from firmware.eui64 import equals_le, read_le, to_guid
from firmware.eui64 import parse as parse_eui
from firmware.indirect import Indirect

# 802.15.4-2006 MAC commands and association status (7.3.1-7.3.8, table 83)
CMD_ORPHAN = const(0x06)
CMD_REALIGN = const(0x08)
ASSOC_SUCCESS = const(0x00)
ASSOC_AT_CAPACITY = const(0x01)
ASSOC_DENIED = const(0x02)
ASSOC_STATUS = ("success", "pan_at_capacity", "access_denied")

_COORD = const(0x0000)
_FCF_ASSOC_RESP = const(0xCC63)  # command, ACK request, PAN ID compression, dst/src extended
_FCF_REALIGN = const(0xCC23)  # command, ACK request, dst/src extended, both PAN IDs
_FCF_DATA = const(0x8861)  # data, ACK request, PAN ID compression, dst/src short
_FCF_PENDING = const(0x0010)

# ZCL: the Smart Energy metering cluster's attribute the gas proxy keeps
METERING = zcl.METERING
TUNNELING = zcl.TUNNELING
SUMMATION = const(0x0000)  # CurrentSummationDelivered, uint48
_UINT48 = const(0x25)
_READ_ATTRS = const(0x00)
_READ_ATTRS_RESP = const(0x01)
_REPORT_ATTRS = const(0x0A)
TUNNEL_TRANSFER_DATA = const(0x02)  # client to server
TUNNEL_ID = const(0x0001)

# send_to_device results
SENT = const(0)  # in the Outputs' radio ring (rx-on-when-idle device)
QUEUED = const(1)  # held for the sleepy device's next poll
CACHED = const(2)  # answered from the hub's copy (gas proxy): the ZCL reply is in self.reply
NOT_JOINED = const(3)
QUEUE_FULL = const(4)
OVER_BUDGET = const(5)  # battery protection: an alert was noted (once per device per window)
TOO_BIG = const(6)
BUSY = const(7)  # the Outputs' radio ring is full
STATUS = (
    "sent",
    "queued",
    "cached",
    "not_joined",
    "queue_full",
    "over_budget",
    "too_big",
    "busy",
)

# Why a frame was dropped (counted in self.rejected; names in REJECT_NAMES)
R_NOT_MEMBER = const(0)  # from a short address or EUI-64 that is not in the device table
R_BAD_COMMAND = const(1)  # a MAC command with the wrong addressing or too short
R_NOT_FOR_US = const(2)  # addressed to another device or NWK destination (the hub routes nothing)
R_BAD_NWK = const(3)
R_NWK_SECURED = const(4)  # NWK security is the documented gap (firmware/nwk.py)
R_BAD_APS = const(5)
R_NOT_DATA = const(6)  # well-formed NWK commands, APS commands or acknowledgements: ignored
R_WRONG_PROFILE = const(7)
R_BAD_ZCL = const(8)
REJECT_NAMES = (
    "han_not_member",
    "han_bad_command",
    "han_not_for_us",
    "han_bad_nwk",
    "han_nwk_secured",
    "han_bad_aps",
    "han_not_data",
    "han_wrong_profile",
    "han_bad_zcl",
)

# Why an association was refused (counted in self.refusals)
NOT_IN_LOG = const(0)
CLOSED = const(1)
TABLE_FULL = const(2)
STORAGE = const(3)
REFUSAL_NAMES = ("not_in_device_log", "joining_closed", "table_full", "storage_error")

_REFUSE_NOTE_S = const(10)  # at most one join_refused note per this many seconds, with a count
_REJOIN_NOTE_S = const(60)  # per member
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
    # Adds "GUID:kind[,GUID:kind...]" (kind esme, gsme or other) to the device log, for the lab
    # (the WAN manages the log in the field). Returns the number of entries; ValueError if bad.
    n = 0
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        guid, _, kind = item.rpartition(":")
        eui = parse_eui(guid)
        if eui is None or kind.lower() not in KINDS:
            raise ValueError("han.devices: %r is not GUID:esme|gsme|other" % item)
        if not device_log.add(eui, KINDS.index(kind.lower())):
            raise ValueError("han.devices: the device log is full")
        n += 1
    return n


def origin_code(origin):
    if origin in battery.ORIGINS:
        return battery.ORIGINS.index(origin)
    if origin in (battery.INTERPAN, battery.WAN):
        return origin
    raise ValueError("origin must be 'interpan' or 'wan'")


def _type_len(t, buf, p, end):
    # Length of a ZCL attribute value of type t at buf[p], or -1 for a type not handled here.
    if 0x08 <= t <= 0x0F:
        return t - 0x07  # data8..data64
    if 0x18 <= t <= 0x2F:
        return (t & 7) + 1  # bitmap8..64, uint8..64, int8..64
    if t == 0x10 or t == 0x30:
        return 1  # boolean, enum8
    if t == 0x31 or t == 0x38 or t == 0xE8 or t == 0xE9:
        return 2  # enum16, semi-float, cluster id, attribute id
    if t == 0x39 or 0xE0 <= t <= 0xE2 or t == 0xEA:
        return 4  # float, time of day, date, UTC time, BACnet OID
    if t == 0x3A or t == 0xF0:
        return 8  # double, IEEE address
    if t == 0xF1:
        return 16  # security key
    if t == 0x41 or t == 0x42:
        if p >= end:
            return -1
        n = buf[p]
        return 1 if n == 0xFF else 1 + n  # 0xFF: the invalid string, no octets
    return -1


def find_summation(buf, p, end, with_status):
    # Offset of the uint48 CurrentSummationDelivered value in a ZCL Report Attributes payload
    # (with_status False) or Read Attributes Response payload (True), or -1.
    while p + 2 <= end:
        attr = buf[p] | (buf[p + 1] << 8)
        p += 2
        if with_status:
            if p >= end:
                return -1
            status = buf[p]
            p += 1
            if status:
                continue  # a failed record has no type and no value
        if p >= end:
            return -1
        t = buf[p]
        p += 1
        n = _type_len(t, buf, p, end)
        if n < 0 or p + n > end:
            return -1
        if attr == SUMMATION and t == _UINT48:
            return p
        p += n
    return -1


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
        self.eui = bytes(eui)
        self.pan_id = pan_id
        self.channel = channel
        self.join_permit = join_permit
        self.permit_join = join_permit  # what the beacon's association-permit bit says
        self.join_auto = join_auto
        self.table = DeviceTable(storage, table_max)
        self.indirect = Indirect(
            table_max, indirect_slots, indirect_per_device, indirect_expiry_s * 1000
        )
        self.budget = BatteryBudget(table_max, frames_h, airtime_ms_h)
        for s in self.table.slots():
            if self.sleepy(s):
                self.budget.enable(s)
        self.nh = nwk.NwkHeader()
        self.ah = nwk.ApsHeader()
        self.zh = zcl.ZclHeader()
        self._eui_le = bytearray(8)
        for i in range(8):
            self._eui_le[i] = self.eui[7 - i]
        self._tx = bytearray(PSDU_MAX)
        self._scratch = bytearray(PSDU_MAX)
        self.reply = None  # after CACHED: the ZCL reply built from the hub's copy
        # Handlers the command layer registers: on_response(eui, aps, zcl, buf, end, now) for
        # ZCL frames from meters, on_command(eui, zcl, buf, end, now) for GBCS commands a member
        # sends (its installer-PIN menu).
        self.on_response = None
        self.on_command = None
        self.forward_seq = 0  # the ZCL sequence of the last forward (the meter's answer has it)
        self._readings = bytearray(6 * table_max)  # air order, as the meter sent it
        self._reading_at = [-1] * table_max  # uptime s when cached, -1 none
        self._reading_note = [-1] * table_max
        self._rejoin_note = [-1] * table_max
        self.rejected = [0] * len(REJECT_NAMES)
        self.refusals = [0] * len(REFUSAL_NAMES)
        self._ref_eui = bytearray(8)  # last refused EUI, air order
        self._ref_status = 0
        self._ref_why = 0
        self._ref_pending = 0
        self._ref_note_s = -1
        self.joins = 0
        self.polls = 0
        self.frames_in = 0
        self.cached_answers = 0
        self._dsn = 0
        self._nwk_seq = 0
        self._aps_ctr = 0
        self._zcl_seq = 0
        self._unjoined = 0
        self._open = None
        self.up_s = 0  # hub uptime in seconds, from the ticks the hub passes in
        self._up_ms = 0
        self._last = -1

    # --- time -----------------------------------------------------------------------------

    def _advance(self, now):
        if self._last < 0:
            self._last = now
            return
        d = ticks_diff(now, self._last)
        if d <= 0:
            return
        self._last = now
        ms = self._up_ms + d
        if ms >= 1000:
            self.up_s += ms // 1000
            ms %= 1000
        self._up_ms = ms

    # --- membership policy -----------------------------------------------------------------

    def sleepy(self, s):
        # A GSME is battery powered whatever its capability octet says.
        return self.table.kind(s) == GSME or not self.table.rx_on_idle(s)

    def joining_open(self):
        # What the beacon's association-permit bit says: a new member could join now.
        if len(self.table) >= self.table.capacity:
            return False
        return self.join_permit or (self.join_auto and self._unjoined > 0)

    def register(self, on_command=None, on_response=None):
        self.on_command = on_command
        self.on_response = on_response

    def is_member(self, eui):
        return self.table.find(eui) >= 0

    def start(self, now):
        # At power-up: the permit bit, and the members restored from storage in the log.
        self._advance(now)
        self.sync(now)
        self.out.note(
            "han",
            members=len(self.table),
            capacity=self.table.capacity,
            permit_join=self.permit_join,
            devices=[self._member(s) for s in self.table.slots()],
            table_corrupt=self.table.corrupt,
        )

    def sync(self, now):
        # Reconciles the table with the device log (the WAN edits it): members removed from the
        # log leave, kinds follow the log, and the permit bit is recomputed. Allocates; run by
        # tick() and by whoever edits the log.
        entries = self.log.entries()
        unjoined = 0
        for eui, kind in entries:
            s = self.table.find(eui)
            if s < 0:
                unjoined += 1
            elif self.table.kind(s) != kind:
                self.table.set_kind(s, kind)
                if self.sleepy(s):
                    self.budget.enable(s)
        for s in self.table.slots():
            if self.log.kind(self.table.eui(s)) < 0:
                guid = to_guid(self.table.eui(s))
                self._leave(s)
                self.out.note("device_removed", guid=guid, reason="not_in_device_log")
        self._unjoined = unjoined
        self._set_permit()

    def _set_permit(self):
        permit = self.joining_open()
        self.permit_join = permit
        if permit != self._open:
            if self._open is not None:
                self.out.note("join_permit", open=permit, members=len(self.table))
            self._open = permit

    def _leave(self, s):
        self.indirect.flush(s)
        self.budget.disable(s)
        self._reading_at[s] = -1
        self.table.remove(s)

    def tick(self, now):
        # Housekeeping, every few seconds from the shell: expiry, budget windows, device log.
        self._advance(now)
        self.indirect.expire(now)
        self.budget.prune(now)
        self.sync(now)
        if self._ref_pending and self.up_s - self._ref_note_s >= _REFUSE_NOTE_S:
            self._note_refusals()

    # --- frames ---------------------------------------------------------------------------

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def on_frame(self, buf, f, now, lqi=-1):
        self._advance(now)
        if f.ftype == mac.COMMAND:
            cmd = buf[f.payload_off]
            if cmd == mac.CMD_ASSOC_REQ:
                return self._association(buf, f)
            if cmd == mac.CMD_DATA_REQ:
                return self._data_request(buf, f, now, lqi)
            if cmd == CMD_ORPHAN:
                return self._orphan(buf, f)
            return NOT_MINE
        if f.ftype == mac.DATA:
            return self._data(buf, f, now, lqi)
        return NOT_MINE

    def _to_coordinator(self, buf, f):
        if f.dst_mode == mac.ADDR_SHORT:
            return f.dst_short == _COORD and f.dst_pan == self.pan_id
        if f.dst_mode == mac.ADDR_EXT:
            return f.dst_pan == self.pan_id and equals_le(buf, f.dst_ext_off, self.eui)
        return f.src_pan == self.pan_id  # no destination: the coordinator of the source's PAN

    def _association(self, buf, f):
        p = f.payload_off
        if f.src_mode != mac.ADDR_EXT or f.payload_end - p < 2 or not self._to_coordinator(buf, f):
            return self._drop(R_BAD_COMMAND)
        src = f.src_ext_off
        in_log = self.log.find_le(buf, src) >= 0
        s = self.table.find_le(buf, src)
        if s >= 0 and in_log:
            # A member re-associating (it lost its state): same slot, same address, nothing
            # written, so a spoofed stream of these costs no flash.
            self._rejoined(s, "association")
            return self._assoc_response(buf, f, self.table.short(s), ASSOC_SUCCESS)
        if not in_log:
            return self._refuse(buf, f, ASSOC_DENIED, NOT_IN_LOG)
        if len(self.table) >= self.table.capacity:
            return self._refuse(buf, f, ASSOC_AT_CAPACITY, TABLE_FULL)
        if not self.joining_open():
            return self._refuse(buf, f, ASSOC_DENIED, CLOSED)
        # Admission: rare (bounded by the device log), so it may allocate.
        eui = read_le(buf, src)
        kind = self.log.kind(eui)
        s = self.table.join(eui, kind, buf[p + 1])
        if s < 0:
            return self._refuse(buf, f, ASSOC_AT_CAPACITY, STORAGE)
        if self.sleepy(s):
            self.budget.enable(s)
        self.joins += 1
        self._unjoined = max(0, self._unjoined - 1)
        self.out.note("device_joined", rejoin=False, **self._member(s))
        self._set_permit()
        return self._assoc_response(buf, f, self.table.short(s), ASSOC_SUCCESS)

    def _refuse(self, buf, f, status, why):
        # No slot, no allocation: counters, the last refused EUI kept in place, and a note at
        # most every _REFUSE_NOTE_S seconds carrying how many were refused since the last one.
        self.refusals[why] += 1
        off = f.src_ext_off
        e = self._ref_eui
        for j in range(8):
            e[j] = buf[off + j]
        self._ref_status = status
        self._ref_why = why
        self._ref_pending += 1
        if self._ref_note_s < 0 or self.up_s - self._ref_note_s >= _REFUSE_NOTE_S:
            self._note_refusals()
        return self._assoc_response(buf, f, 0xFFFF, status)

    def _note_refusals(self):
        self.out.note(
            "join_refused",
            guid=to_guid(read_le(self._ref_eui, 0)),
            status=ASSOC_STATUS[self._ref_status],
            reason=REFUSAL_NAMES[self._ref_why],
            count=self._ref_pending,
        )
        self._ref_pending = 0
        self._ref_note_s = self.up_s

    def _rejoined(self, s, how):
        last = self._rejoin_note[s]
        if last < 0 or self.up_s - last >= _REJOIN_NOTE_S:
            self._rejoin_note[s] = self.up_s
            self.out.note("device_joined", rejoin=True, via=how, **self._member(s))

    def _next_dsn(self):
        self._dsn = (self._dsn + 1) & 0xFF
        return self._dsn

    def _decide(self, n):
        return self.out.transmit(self._tx, n, TX_HAN)

    def _assoc_response(self, buf, f, short, status):
        # 802.15.4-2006 7.3.2, sent at once rather than held for the device's data request: a
        # refusal then needs no state at all (docs/han.md).
        tx = self._tx
        tx[0] = _FCF_ASSOC_RESP & 0xFF
        tx[1] = _FCF_ASSOC_RESP >> 8
        tx[2] = self._next_dsn()
        tx[3] = self.pan_id & 0xFF
        tx[4] = self.pan_id >> 8
        src = f.src_ext_off
        e = self._eui_le
        for j in range(8):
            tx[5 + j] = buf[src + j]
            tx[13 + j] = e[j]
        tx[21] = mac.CMD_ASSOC_RESP
        tx[22] = short & 0xFF
        tx[23] = short >> 8
        tx[24] = status
        return self._decide(25)

    def _data_request(self, buf, f, now, lqi):
        if not self._to_coordinator(buf, f):
            return self._drop(R_NOT_FOR_US)
        if f.src_mode == mac.ADDR_SHORT:
            s = self.table.find_short(f.src_short)
            if s < 0:
                return self._drop(R_NOT_MEMBER)
            self.table.saw(s, self.up_s, lqi)
            self.polls += 1
            return self._deliver(s, now)
        if f.src_mode == mac.ADDR_EXT:
            # A device polling for its association response (802.15.4's indirect way): repeat
            # it for a member; a stranger gets nothing.
            s = self.table.find_le(buf, f.src_ext_off)
            if s < 0:
                return self._drop(R_NOT_MEMBER)
            return self._assoc_response(buf, f, self.table.short(s), ASSOC_SUCCESS)
        return self._drop(R_BAD_COMMAND)

    def _data_header(self, tx, short, pending):
        fcf = _FCF_DATA | _FCF_PENDING if pending else _FCF_DATA
        tx[0] = fcf & 0xFF
        tx[1] = fcf >> 8
        tx[2] = self._next_dsn()
        tx[3] = self.pan_id & 0xFF
        tx[4] = self.pan_id >> 8
        tx[5] = short & 0xFF
        tx[6] = short >> 8
        tx[7] = _COORD & 0xFF
        tx[8] = _COORD >> 8
        return nwk.MAC_HEADER_LEN

    def _deliver(self, s, now):
        # The poll's answer: the oldest held frame, with frame pending set when more wait. The
        # sim has no hardware ACK, so "nothing pending" (an ACK with frame pending clear on real
        # air) is silence, and the delivered frame's own FCF carries the pending bit.
        n = self.indirect.pending(s, now)
        if n == 0:
            return NOTHING
        tx = self._tx
        p = self._data_header(tx, self.table.short(s), n > 1)
        return self._decide(p + self.indirect.take_into(s, now, tx, p))

    def _orphan(self, buf, f):
        # 802.15.4-2006 7.5.2.1.4: a member that lost its coordinator (or restarted) sends an
        # orphan notification; the coordinator realigns it with its short address. Strangers
        # get nothing.
        if f.src_mode != mac.ADDR_EXT:
            return self._drop(R_BAD_COMMAND)
        src = f.src_ext_off
        s = self.table.find_le(buf, src)
        if s < 0 or self.log.find_le(buf, src) < 0:
            return self._drop(R_NOT_MEMBER)
        tx = self._tx
        short = self.table.short(s)
        tx[0] = _FCF_REALIGN & 0xFF
        tx[1] = _FCF_REALIGN >> 8
        tx[2] = self._next_dsn()
        tx[3] = 0xFF
        tx[4] = 0xFF
        e = self._eui_le
        for j in range(8):
            tx[5 + j] = buf[src + j]
            tx[15 + j] = e[j]
        tx[13] = self.pan_id & 0xFF
        tx[14] = self.pan_id >> 8
        tx[23] = CMD_REALIGN
        tx[24] = self.pan_id & 0xFF
        tx[25] = self.pan_id >> 8
        tx[26] = _COORD & 0xFF
        tx[27] = _COORD >> 8
        tx[28] = self.channel
        tx[29] = short & 0xFF
        tx[30] = short >> 8
        self._rejoined(s, "orphan")
        return self._decide(31)

    def _data(self, buf, f, now, lqi):
        # A ZigBee NWK frame from a member: short MAC addresses on both ends, as ZigBee uses.
        if f.src_mode != mac.ADDR_SHORT or f.dst_mode != mac.ADDR_SHORT:
            return NOT_MINE
        if f.dst_short != _COORD and f.dst_short != mac.BROADCAST:
            return self._drop(R_NOT_FOR_US)
        s = self.table.find_short(f.src_short)
        if s < 0:
            return self._drop(R_NOT_MEMBER)
        end = f.payload_end
        h = self.nh
        r = nwk.parse_nwk(buf, f.payload_off, end, h)
        if r != nwk.OK:
            return self._drop(R_NWK_SECURED if r == nwk.SECURED else R_BAD_NWK)
        if h.src != f.src_short:
            return self._drop(R_BAD_NWK)  # one hop: a child's NWK source is its MAC source
        if h.dst != nwk.COORDINATOR and h.dst < nwk.BROADCAST_MIN:
            return self._drop(R_NOT_FOR_US)
        self.table.saw(s, self.up_s, lqi)
        if h.ftype != nwk.FT_DATA:
            return self._drop(R_NOT_DATA)
        a = self.ah
        r = nwk.parse_aps(buf, h.payload_off, end, a)
        if r == nwk.NOT_DATA:
            return self._drop(R_NOT_DATA)
        if r != nwk.OK:
            return self._drop(R_BAD_APS)
        if a.profile != nwk.PROFILE_SE:
            return self._drop(R_WRONG_PROFILE)
        z = self.zh
        if zcl.parse(buf, a.payload_off, end, z):
            return self._drop(R_BAD_ZCL)
        self.frames_in += 1
        fc = z.fc
        if a.cluster == METERING and fc & zcl.SERVER_TO_CLIENT and not fc & 0x07:
            if z.command == _REPORT_ATTRS:
                self._cache(s, find_summation(buf, z.payload_off, end, False), buf)
            elif z.command == _READ_ATTRS_RESP:
                self._cache(s, find_summation(buf, z.payload_off, end, True), buf)
        if a.cluster == METERING and z.command == _REPORT_ATTRS:
            pass  # a routine report: cached above, nobody waits for it
        elif (
            a.cluster == TUNNELING
            and z.command == TUNNEL_TRANSFER_DATA
            and not fc & zcl.SERVER_TO_CLIENT
            and self.on_command is not None
        ):
            self.on_command(self.table.eui(s), z, buf, end, now)  # a GBCS command from it
        elif self.on_response is not None:
            self.on_response(self.table.eui(s), a, z, buf, end, now)
        else:
            self.out.note(
                "meter_response",
                guid=to_guid(self.table.eui(s)),
                cluster="0x%04X" % a.cluster,
                command=z.command,
                data=bytes(buf[z.payload_off : end]).hex(),
            )
        return NOTHING

    # --- the gas proxy's copy ---------------------------------------------------------------

    def _cache(self, s, p, buf):
        if p < 0:
            return
        r = self._readings
        for j in range(6):
            r[6 * s + j] = buf[p + j]
        self._reading_at[s] = self.up_s
        last = self._reading_note[s]
        if last < 0 or self.up_s - last >= _READING_NOTE_S:
            self._reading_note[s] = self.up_s
            self.out.note(
                "meter_reading",
                guid=to_guid(self.table.eui(s)),
                kind=KINDS[self.table.kind(s)],
                summation=self.reading(s)[0],
            )

    def reading(self, s):
        # (CurrentSummationDelivered, age in seconds) of the member's last report, or None.
        at = self._reading_at[s]
        if at < 0:
            return None
        b = 6 * s
        return int.from_bytes(bytes(self._readings[b : b + 6]), "little"), self.up_s - at

    def _answer_from_cache(self, s, data):
        # A ZCL Read Attributes of CurrentSummationDelivered alone, answered from the copy:
        # True with self.reply set, or False when it has to go to the meter.
        if self._reading_at[s] < 0 or len(data) != 5:
            return False
        if data[0] & 0x0F or data[2] != _READ_ATTRS or data[3] | data[4] != 0:
            return False  # not a plain client-to-server global command for attribute 0x0000
        b = 6 * s
        out = bytearray(13)
        out[0] = zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        out[1] = data[1]  # the reader's transaction sequence number
        out[2] = _READ_ATTRS_RESP
        # out[3:5] attribute 0x0000, out[5] status SUCCESS
        out[6] = _UINT48
        for j in range(6):
            out[7 + j] = self._readings[b + j]
        self.reply = bytes(out)
        self.cached_answers += 1
        return True

    # --- the command layer's interface -----------------------------------------------------

    def forward(self, channel, orig, recip, code, fields, now):
        # A meter-targeted message (firmware.catalogue) that the command layer accepted:
        # (status, response data). Reads go as ZCL Read Attributes of CurrentSummationDelivered
        # (read_gas is answered from the hub's copy when it has one: 6 octets of reading and 4
        # of age in seconds, big-endian as GBCS); other messages go in an SE Tunneling
        # TransferData: tunnel 1, message code (2, big-endian), originator (8), then each field
        # as a length octet and its octets (docs/han.md). Budgets: the WAN's share for WAN
        # commands, the inter-PAN share for everything else.
        if self.table.find(recip) < 0:
            return cat.ST_UNKNOWN_DEVICE, b""
        origin = battery.WAN if channel == "wan" else battery.INTERPAN
        self._zcl_seq = (self._zcl_seq + 1) & 0xFF
        self.forward_seq = self._zcl_seq  # the meter's answer carries it (Commands matches it)
        if code == cat.READ_GAS or code == cat.READ_METER:
            cluster = METERING
            data = bytes((0x00, self._zcl_seq, _READ_ATTRS, SUMMATION & 0xFF, SUMMATION >> 8))
        else:
            cluster = TUNNELING
            out = bytearray((zcl.CLUSTER_SPECIFIC, self._zcl_seq, TUNNEL_TRANSFER_DATA))
            out += bytes((TUNNEL_ID & 0xFF, TUNNEL_ID >> 8, code >> 8, code & 0xFF))
            out += orig
            for x in fields:
                if len(x) > 255:
                    return cat.ST_BAD_CONTENT, b""
                out.append(len(x))
                out += x
            data = bytes(out)
        st = self.send_to_device(recip, cluster, data, origin, now)
        if st == CACHED:
            value, age = self.reading(self.table.find(recip))
            return cat.ST_OK, value.to_bytes(6, "big") + age.to_bytes(4, "big")
        if st == SENT or st == QUEUED:
            self.out.note(
                "forwarded",
                guid=to_guid(recip),
                code="0x%04X" % code,
                channel=channel,
                delivery=STATUS[st],
            )
            return cat.ST_FORWARDED, b""
        if st == OVER_BUDGET:
            return cat.ST_OVER_BUDGET, b""
        if st == NOT_JOINED:
            return cat.ST_UNKNOWN_DEVICE, b""
        if st == TOO_BIG:
            return cat.ST_BAD_CONTENT, b""
        return cat.ST_FAILED, b""  # queue full or ring busy: the originator may retry

    # --- sending to a member ---------------------------------------------------------------

    def send_to_device(self, eui, cluster, data, origin, now):
        # Sends the ZCL frame `data` to the member eui (8 bytes, most significant first) on
        # `cluster`, on behalf of origin "interpan" or "wan". Returns a status (STATUS names).
        self._advance(now)
        o = origin_code(origin)
        self.reply = None
        s = self.table.find(eui)
        if s < 0:
            return NOT_JOINED
        n = len(data)
        body = nwk.NWK_HEADER_LEN + nwk.APS_HEADER_LEN + n
        psdu = nwk.MAC_HEADER_LEN + body + 2
        if psdu > PSDU_MAX:
            return TOO_BIG
        short = self.table.short(s)
        if self.sleepy(s):
            if cluster == METERING and self._answer_from_cache(s, data):
                return CACHED
            if self.indirect.room(s, body):
                return QUEUE_FULL  # checked first: a refused frame must not spend the budget
            if self.budget.admit(s, o, psdu, now):
                if self.budget.alert:
                    used, air = self.budget.used(s, o, now)
                    lim_f, lim_air = self.budget.limits(o)
                    self.out.note(
                        "battery_budget",
                        guid=to_guid(self.table.eui(s)),
                        origin=battery.ORIGINS[o],
                        frames=used,
                        airtime_us=air,
                        limit_frames=lim_f,
                        limit_airtime_us=lim_air,
                        refused=self.budget.take_suppressed(s, o),
                    )
                return OVER_BUDGET
            b = self._scratch
            self._body(b, 0, short, cluster, data)
            self.indirect.put(s, b, body, now)
            return QUEUED
        b = self.out.radio_slot()
        if b is None:
            return BUSY
        p = self._data_header(b, short, False)
        self.out.radio_push(self._body(b, p, short, cluster, data))
        return SENT

    def _body(self, b, p, short, cluster, data):
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        self._aps_ctr = (self._aps_ctr + 1) & 0xFF
        p = nwk.write_nwk(b, p, short, nwk.COORDINATOR, self._nwk_seq)
        p = nwk.write_aps(b, p, cluster, self._aps_ctr)
        for j in range(len(data)):
            b[p + j] = data[j]
        return p + len(data)

    # --- reports ----------------------------------------------------------------------------

    def _member(self, s):
        t = self.table
        return {
            "guid": to_guid(t.eui(s)),
            "short": "0x%04X" % t.short(s),
            "kind": KINDS[t.kind(s)] if t.kind(s) < len(KINDS) else "other",
            "sleepy": self.sleepy(s),
        }

    def status(self, now):
        self._advance(now)
        t = self.table
        members = []
        for s in t.slots():
            m = self._member(s)
            m["last_heard_s"] = self.up_s - t.heard[s] if t.heard[s] >= 0 else None
            m["lqi"] = t.lqi[s] if t.lqi[s] >= 0 else None
            m["queued"] = self.indirect.pending(s, now)
            r = self.reading(s)
            m["summation"] = r[0] if r else None
            m["reading_age_s"] = r[1] if r else None
            if self.budget.enabled(s):
                for o in (battery.INTERPAN, battery.WAN):
                    m["budget_" + battery.ORIGINS[o]] = self.budget.used(s, o, now)[0]
            members.append(m)
        return {
            "members": members,
            "capacity": t.capacity,
            "permit_join": self.joining_open(),
            "joins": self.joins,
            "polls": self.polls,
            "frames_in": self.frames_in,
            "cached_answers": self.cached_answers,
            "indirect": {
                "queued": self.indirect.queued,
                "delivered": self.indirect.delivered,
                "expired": self.indirect.expired,
                "held": self.indirect.used,
            },
            "budget_rejected": {battery.ORIGINS[o]: self.budget.rejected[o] for o in (0, 1)},
            "refused": {REFUSAL_NAMES[i]: n for i, n in enumerate(self.refusals) if n},
            "rejected": {REJECT_NAMES[i]: n for i, n in enumerate(self.rejected) if n},
        }
