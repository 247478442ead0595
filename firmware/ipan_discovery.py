# Hub discovery over inter-PAN, so an installer picks the right hub: an HHT asks, the hub answers
# with its identity and state. A manufacturer-specific cluster in the Smart Energy profile (the
# SE clusters define no such query); cluster-specific ZCL commands, layout in docs/protocol.md.
#
# Get Hub Details (client -> server, command 0x00): u8 start index into the device log.
# Hub Details (server -> client, command 0x00), little-endian like ZigBee:
#   EUI-64 (8) | PAN ID (2) | channel (1) | inter-PAN state (1) | seconds left (4) |
#   WAN present (1) | devices in log (1) | start (1) | n (1) | n x EUI-64 (8)

from firmware.eui64 import write_le

CLUSTER = const(0xFC00)
CMD_GET_DETAILS = const(0x00)
CMD_DETAILS = const(0x00)
PAGE = const(8)  # device EUIs per answer: keeps the frame inside 127 octets

# The inter-PAN flag's states by their code (also read_hub_status's): one vocabulary for the
# event log, the head-end's status and the HHT.
STATES = ("off", "on", "on_no_timeout")
_STATE_COUNTDOWN = const(1)
_STATE_NO_TIMEOUT = const(2)  # held open while the WAN is lost
NO_TIMEOUT = const(0xFFFFFFFF)
_FIXED = const(20)


def _le(buf, p, v, n):
    for i in range(n):
        buf[p + i] = (v >> (8 * i)) & 0xFF
    return p + n


def _eui_le(buf, p, eui):
    write_le(buf, p, eui)
    return p + 8


# The reply is written in three parts, each with few arguments, so the hub's per-reply code keeps
# its call frames within 11 words (off the heap) and copies nothing.


def write_identity(buf, p, eui, pan_id, channel):
    p = _eui_le(buf, p, eui)
    p = _le(buf, p, pan_id, 2)
    buf[p] = channel
    return p + 1


def write_state(buf, p, seconds_left, wan_present):
    # The hub answers only while inter-PAN is ON: held open with no timeout (seconds_left None),
    # or counting down.
    buf[p] = _STATE_NO_TIMEOUT if seconds_left is None else _STATE_COUNTDOWN
    p = _le(buf, p + 1, NO_TIMEOUT if seconds_left is None else seconds_left, 4)
    buf[p] = 1 if wan_present else 0
    return p + 1


def write_page(buf, p, euis, start):
    # euis: the device log's EUI-64s (a list, read in place); at most PAGE of them from start.
    if start > len(euis):
        start = len(euis)
    n = min(PAGE, len(euis) - start)
    buf[p] = len(euis)
    buf[p + 1] = start
    buf[p + 2] = n
    p += 3
    while n:
        p = _eui_le(buf, p, euis[start])
        start += 1
        n -= 1
    return p


def write_details(buf, p, eui, pan_id, channel, seconds_left, wan_present, euis, start):
    # The whole reply (tools and tests); seconds_left None = no timeout. The end offset.
    p = write_identity(buf, p, eui, pan_id, channel)
    p = write_state(buf, p, seconds_left, wan_present)
    return write_page(buf, p, euis, start)


def parse_details(buf, off, end):
    # For tools and tests (allocates): a dict, or None if malformed.
    if end - off < _FIXED:
        return None

    def le(p, n):
        return sum(buf[p + i] << (8 * i) for i in range(n))

    def eui(p):
        return bytes(buf[p + 7 - i] for i in range(8))

    n = buf[off + 19]
    if end - off < _FIXED + 8 * n:
        return None
    secs = le(off + 12, 4)
    return {
        "guid": eui(off),
        "pan_id": le(off + 8, 2),
        "channel": buf[off + 10],
        "interpan_state": STATES[min(buf[off + 11], 2)],
        "seconds_left": None if secs == NO_TIMEOUT else secs,
        "wan_present": bool(buf[off + 16]),
        "devices_total": buf[off + 17],
        "start": buf[off + 18],
        "devices": [eui(off + _FIXED + 8 * i) for i in range(n)],
    }
