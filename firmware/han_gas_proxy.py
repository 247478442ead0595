# The gas proxy: the hub's copy of each member's last CurrentSummationDelivered (the SE
# Metering cluster's uint48, ZigBee Smart Energy 1.1 D.3.2.2.1), taken from its reports and
# read answers, so that a read of the battery gas meter is answered without waking it.
# Allocation-free except where an answer is built.

from firmware import zb_zcl as zcl

SUMMATION = const(0x0000)  # CurrentSummationDelivered, uint48
_UINT48 = const(0x25)
READ_ATTRS = const(0x00)
_READ_ATTRS_RESP = const(0x01)
REPORT_ATTRS = const(0x0A)


def _type_len(t, buf, p, end):
    # Length of a ZCL attribute value of type t at buf[p], or -1 for a type not handled here
    # (ZCL specification 07-5123, table 2-10).
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
    # (with_status False) or Read Attributes Response payload (True), or -1. (Few locals: a
    # frame of more than 11 words would go on the heap at every call.)
    while p + 2 <= end:
        attr = buf[p] | (buf[p + 1] << 8)
        p += 2
        if with_status:
            if p >= end:
                return -1
            p += 1
            if buf[p - 1]:
                continue  # a failed record has no type and no value
        if p >= end:
            return -1
        if attr == SUMMATION and buf[p] == _UINT48:
            return p + 1 if p + 7 <= end else -1
        attr = _type_len(buf[p], buf, p + 1, end)  # (attr reused: the value's length)
        p += 1
        if attr < 0 or p + attr > end:
            return -1
        p += attr
    return -1


def summation_in(buf, z, end):
    # Offset of the summation a member's Metering frame carries (a report, or an answer to a
    # read), or -1.
    fc = z.fc
    if not fc & zcl.SERVER_TO_CLIENT or fc & 0x07:
        return -1
    if z.command == REPORT_ATTRS:
        return find_summation(buf, z.payload_off, end, False)
    if z.command == _READ_ATTRS_RESP:
        return find_summation(buf, z.payload_off, end, True)
    return -1


class Readings:
    def __init__(self, slots, uptime):
        self.uptime = uptime
        self._values = bytearray(6 * slots)  # air order, as the meter sent it
        self._at = [-1] * slots  # uptime s when cached, -1 none
        self.answers = 0

    def keep(self, s, buf, p):
        # The summation at buf[p:p+6] from member slot s.
        self._at[s] = self.uptime.s
        v = self._values
        b = 6 * s
        s = b + 6  # (s reused, and no range loop: 11 words of frame at most)
        while b < s:
            v[b] = buf[p]
            b += 1
            p += 1

    def forget(self, s):
        self._at[s] = -1

    def reading(self, s):
        # (CurrentSummationDelivered, age in seconds) of the member's last report, or None.
        at = self._at[s]
        if at < 0:
            return None
        b = 6 * s
        return int.from_bytes(bytes(self._values[b : b + 6]), "little"), self.uptime.s - at

    def answer(self, s, data):
        # The ZCL Read Attributes Response to `data` from the copy, when `data` reads
        # CurrentSummationDelivered alone and the copy exists; else None (it goes to the meter).
        if self._at[s] < 0 or len(data) != 5:
            return None
        if data[0] & 0x0F or data[2] != READ_ATTRS or data[3] | data[4] != 0:
            return None  # not a plain client-to-server global command for attribute 0x0000
        b = 6 * s
        out = bytearray(13)
        out[0] = zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        out[1] = data[1]  # the reader's transaction sequence number
        out[2] = _READ_ATTRS_RESP
        # out[3:5] attribute 0x0000, out[5] status SUCCESS
        out[6] = _UINT48
        for j in range(6):
            out[7 + j] = self._values[b + j]
        self.answers += 1
        return bytes(out)
