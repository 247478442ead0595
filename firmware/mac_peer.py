# The other side of firmware.mac and firmware.mac_beacon: the MAC frames the hub's peers send
# (an HHT's beacon request, a meter's association and data requests, data frames, ACKs) and
# what they read from the hub's beacon. The hub never builds or reads these, so the board never
# imports this module (every function costs RAM there, even frozen: docs/performance.md, "RAM");
# the lab's HHT and meters (tools/), the fuzz seeds and the tests do. Same conventions as
# firmware.mac: builders write the MPDU without its FCS and return its length; addresses are
# None, an int (short address) or 8 bytes (an EUI-64, most significant octet first).

from firmware.mac import ACK, BROADCAST, CMD_BEACON_REQ, COMMAND, DATA, put, write_header
from firmware.mac_beacon import ZB_PAYLOAD_LEN


def command_id(buf, f):
    return buf[f.payload_off]


def build_ack(buf, seq, pending=False):
    return write_header(buf, ACK, seq, 0, None, 0, None, pending=pending)


def build_beacon_request(buf, seq):
    p = write_header(buf, COMMAND, seq, BROADCAST, BROADCAST, 0, None)
    buf[p] = CMD_BEACON_REQ
    return p + 1


def build_command(buf, seq, dst_pan, dst, src_pan, src, cmd, args=b"", ack_req=True):
    p = write_header(buf, COMMAND, seq, dst_pan, dst, src_pan, src, ack_req=ack_req)
    buf[p] = cmd
    return put(buf, p + 1, args)


def build_data(buf, seq, dst_pan, dst, src_pan, src, payload, ack_req=False, pending=False):
    p = write_header(buf, DATA, seq, dst_pan, dst, src_pan, src, ack_req, pending)
    return put(buf, p, payload)


# --- a beacon heard (IEEE 802.15.4-2006 7.2.2.1; ZigBee 05-3474 3.6.7) -----------------------


def beacon_superframe(buf, f):
    p = f.payload_off
    return buf[p] | (buf[p + 1] << 8)


def beacon_payload_off(buf, f):
    # Offset of the beacon payload, after the GTS and pending-address lists. -1 if truncated.
    p = f.payload_off + 2
    gts = buf[p] & 7
    p += 1
    if gts:
        p += 1 + 3 * gts
    if p >= f.payload_end:
        return -1
    pend = buf[p]
    p += 1 + 2 * (pend & 7) + 8 * ((pend >> 4) & 7)
    return p if p <= f.payload_end else -1


def parse_zigbee_payload(buf, off, end):
    # For tools and tests (allocates): a dict of the fields, or None if it is not one.
    if end - off < ZB_PAYLOAD_LEN - 4 or buf[off] != 0:
        return None
    out = {
        "stack_profile": buf[off + 1] & 0x0F,
        "protocol_version": buf[off + 1] >> 4,
        "router_capacity": bool(buf[off + 2] & 0x04),
        "depth": (buf[off + 2] >> 3) & 0x0F,
        "end_device_capacity": bool(buf[off + 2] & 0x80),
        "epid": bytes(buf[off + 10 - i] for i in range(8)),
    }
    if end - off >= ZB_PAYLOAD_LEN:
        out["tx_offset"] = buf[off + 11] | (buf[off + 12] << 8) | (buf[off + 13] << 16)
        out["update_id"] = buf[off + 14]
    return out
