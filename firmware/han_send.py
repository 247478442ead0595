# Sending to the HAN's members: ZCL frames in ZigBee NWK/APS data frames, NWK-secured
# (firmware.han_security), straight out through the Outputs' radio ring to a member whose
# receiver is on, or held for a sleepy member's next poll (firmware.han_indirect) within its
# battery budget (firmware.han_battery), which is charged with the secured frame's length; a
# read of a sleepy meter's summation is answered from the gas proxy's copy instead. And
# forward(): a command the command layer accepted, as the frames its meter understands; and the
# trust centre's key frames (Transport-Key, Switch-Key), the same two ways.
#
# A held frame is secured when it is queued, not when it is delivered: its key and frame
# counter are fixed in the order the frames were made, so a sleepy member gets a key update's
# Transport-Key and Switch-Key, and the frames around them, each under a key it holds.

from contract.frame import PSDU_MAX
from firmware import cmd_catalogue as cat
from firmware import han_battery as battery
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zcl
from firmware.eui64 import to_guid
from firmware.han_gas_proxy import READ_ATTRS, SUMMATION
from firmware.han_security import OVERHEAD

TUNNEL_TRANSFER_DATA = const(0x02)  # client to server
_TUNNEL_ID = const(0x0001)

# send_to_device results
SENT = const(0)  # in the Outputs' radio ring (rx-on-when-idle device)
QUEUED = const(1)  # held for the sleepy device's next poll
CACHED = const(2)  # answered from the hub's copy (gas proxy): the ZCL reply is in self.reply
NOT_JOINED = const(3)
QUEUE_FULL = const(4)
OVER_BUDGET = const(5)  # battery protection: an alert was noted (once per device per window)
TOO_BIG = const(6)
BUSY = const(7)  # the Outputs' radio ring is full
NO_SECURITY = const(8)  # it could not be secured (no frame counter: firmware.sec_counters)
STATUS = (
    "sent",
    "queued",
    "cached",
    "not_joined",
    "queue_full",
    "over_budget",
    "too_big",
    "busy",
    "no_security",
)


def origin_code(origin):
    if origin in battery.ORIGINS:
        return battery.ORIGINS.index(origin)
    if origin in (battery.INTERPAN, battery.WAN):
        return origin
    raise ValueError("origin must be 'interpan' or 'wan'")


class Sender:
    # Collaborators: the device table, the indirect queue, the battery budget, the gas proxy's
    # readings, the shared Outputs, the MAC framer, sleepy(slot) (the joining policy's), the
    # HAN's uptime and its security (firmware.han_security).
    def __init__(self, table, indirect, budget, readings, out, framer, sleepy, uptime, security):
        self.table = table
        self.security = security
        self.uptime = uptime
        self.indirect = indirect
        self.budget = budget
        self.readings = readings
        self.out = out
        self.framer = framer
        self.sleepy = sleepy
        self.reply = None  # after CACHED: the ZCL reply built from the hub's copy
        self.forward_seq = 0  # the ZCL sequence of the last forward (the meter's answer has it)
        self._scratch = bytearray(PSDU_MAX)
        self._nwk_seq = 0
        self._aps_ctr = 0
        self._zcl_seq = 0

    def forward(self, channel, orig, recip, code, fields, now):
        # A meter-targeted message (firmware.cmd_catalogue) that the command layer accepted:
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
        self.forward_seq = self._zcl_seq
        if code == cat.READ_GAS or code == cat.READ_METER:
            cluster = zcl.METERING
            data = bytes((0x00, self._zcl_seq, READ_ATTRS, SUMMATION & 0xFF, SUMMATION >> 8))
        else:
            cluster = zcl.TUNNELING
            out = bytearray((zcl.CLUSTER_SPECIFIC, self._zcl_seq, TUNNEL_TRANSFER_DATA))
            out += bytes((_TUNNEL_ID & 0xFF, _TUNNEL_ID >> 8, code >> 8, code & 0xFF))
            out += orig
            for x in fields:
                if len(x) > 255:
                    return cat.ST_BAD_CONTENT, b""
                out.append(len(x))
                out += x
            data = bytes(out)
        st = self.send_to_device(recip, cluster, data, origin, now)
        if st == CACHED:
            value, age = self.readings.reading(self.table.find(recip))
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
        return cat.ST_FAILED, b""  # queue full, ring busy, no counter: the originator may retry

    def send_to_device(self, eui, cluster, data, origin, now):
        # Sends the ZCL frame `data` to the member eui (8 bytes, most significant first) on
        # `cluster`, on behalf of origin "interpan" or "wan". Returns a status (STATUS names).
        self.uptime.advance(now)
        o = origin_code(origin)
        self.reply = None
        s = self.table.find(eui)
        if s < 0:
            return NOT_JOINED
        n = len(data)
        body = nwk.NWK_HEADER_LEN + nwk.APS_HEADER_LEN + n + OVERHEAD
        psdu = nwk.MAC_HEADER_LEN + body + 2
        if psdu > PSDU_MAX:
            return TOO_BIG
        short = self.table.short(s)
        if self.sleepy(s):
            if cluster == zcl.METERING:
                self.reply = self.readings.answer(s, data)
                if self.reply is not None:
                    return CACHED
            if self.indirect.room(s, body):
                return QUEUE_FULL  # checked first: a refused frame must not spend the budget
            if self.budget.admit(s, o, psdu, now):
                if self.budget.alert:
                    self._budget_alert(s, o, now)
                return OVER_BUDGET
            b = self._scratch
            end = self.security.protect(b, 0, self._body(b, 0, short, cluster, data))
            if end < 0:
                return NO_SECURITY
            self.indirect.put(s, b, end, now)
            return QUEUED
        b = self.out.radio.claim()
        if b is None:
            return BUSY
        p = self.framer.data_header(b, short, False)
        end = self.security.protect(b, p, self._body(b, p, short, cluster, data))
        if end < 0:
            return NO_SECURITY
        self.out.radio.push(end)
        return SENT

    # --- the trust centre's frames -------------------------------------------------------------

    def send_key(self, s, now):
        # The network key to the member in slot s, in an APS Transport-Key under its
        # key-transport key, in a NWK frame that is not NWK-secured (firmware.han_security).
        b = self._scratch
        p = self._nwk_header(b, 0, self.table.short(s))
        self._aps_ctr = (self._aps_ctr + 1) & 0xFF
        end = self.security.write_key(s, b, p, self._aps_ctr)
        return self._out(s, b, end, now) if end > 0 else NO_SECURITY

    def send_switch(self, s, now):
        # Switch-Key: use the network key now in force (NWK-secured).
        b = self._scratch
        p = self._nwk_header(b, 0, self.table.short(s))
        self._aps_ctr = (self._aps_ctr + 1) & 0xFF
        end = self.security.protect(b, 0, self.security.write_switch(b, p, self._aps_ctr))
        return self._out(s, b, end, now) if end > 0 else NO_SECURITY

    def _out(self, s, frame, n, now):
        # A NWK frame built in frame[0:n], to member s: held for its poll, or sent. Key frames
        # are the trust centre's, not a party's: no battery budget (han_security spaces them).
        if self.sleepy(s):
            if self.indirect.put(s, frame, n, now):
                return QUEUE_FULL
            return QUEUED
        b = self.out.radio.claim()
        if b is None:
            return BUSY
        p = self.framer.data_header(b, self.table.short(s), False)
        b[p : p + n] = frame[:n]
        self.out.radio.push(p + n)
        return SENT

    def _budget_alert(self, s, o, now):
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

    def _nwk_header(self, b, p, short):
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        return nwk.write_nwk(b, p, short, nwk.COORDINATOR, self._nwk_seq)

    def _body(self, b, p, short, cluster, data):
        p = self._nwk_header(b, p, short)
        self._aps_ctr = (self._aps_ctr + 1) & 0xFF
        p = nwk.write_aps(b, p, cluster, self._aps_ctr)
        for j in range(len(data)):
            b[p + j] = data[j]
        return p + len(data)
