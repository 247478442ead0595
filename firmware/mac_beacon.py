# The hub's beacon: an 802.15.4 beacon (source short address 0x0000, non-beacon superframe)
# carrying the 15-octet ZigBee PRO beacon payload whose Extended PAN ID is the hub's EUI-64, as
# GBCS requires, so an HHT's active scan lists hubs by GUID. IEEE 802.15.4-2006 7.2.2.1;
# ZigBee specification 05-3474 3.6.7 (the beacon payload).

from firmware import mac
from firmware.eui64 import write_le

ZB_PAYLOAD_LEN = const(15)
STACK_PROFILE_PRO = const(2)
_PROTOCOL_VERSION = const(2)
_COORDINATOR_SHORT = const(0x0000)
_BEACON_PSDU = const(28)  # MHR 7 + superframe/GTS/pending 4 + ZigBee payload 15 + FCS 2


def zigbee_payload(epid, router_capacity=True, end_device_capacity=True, depth=0, update_id=0):
    # epid: 8 bytes, most significant first (written little-endian).
    b = bytearray(ZB_PAYLOAD_LEN)
    b[0] = 0  # protocol ID
    b[1] = STACK_PROFILE_PRO | (_PROTOCOL_VERSION << 4)
    b[2] = (0x04 if router_capacity else 0) | ((depth & 0xF) << 3)
    b[2] |= 0x80 if end_device_capacity else 0
    write_le(b, 3, epid)
    b[11] = b[12] = b[13] = 0xFF  # tx offset: none in a non-beacon network
    b[14] = update_id
    return bytes(b)


def superframe(permit):
    sf = mac.SF_NON_BEACON | mac.SF_PAN_COORD
    return sf | mac.SF_PERMIT if permit else sf


class Beacon:
    # Both beacon variants (joining open / closed) are built once; a reply only stamps the
    # beacon sequence number, so answering a beacon request allocates nothing.
    def __init__(self, pan_id, eui):
        payload = zigbee_payload(eui)
        self.frames = []
        self.length = 0
        for permit in (False, True):
            buf = bytearray(_BEACON_PSDU)  # MPDU + room for the FCS
            self.length = mac.build_beacon(
                buf, 0, pan_id, _COORDINATOR_SHORT, superframe(permit), payload
            )
            self.frames.append(buf)
        self.bsn = 0

    def next(self, permit):
        # The frame to transmit (MPDU length self.length), with the next sequence number.
        buf = self.frames[1 if permit else 0]
        buf[2] = self.bsn
        self.bsn = (self.bsn + 1) & 0xFF
        return buf
