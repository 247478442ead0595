# The coordinator's MAC frames to its HAN, built in place: association responses, coordinator
# realignments and the data frame header, with the hub's MAC sequence number (one per device,
# IEEE 802.15.4-2006 7.2.1.2). The association response and the realignment copy the device's
# EUI-64 from the received frame in air order at fixed offsets: mac.write_header takes it most
# significant first, which would need a copy per refused request.

from contract.frame import PSDU_MAX
from firmware import mac
from firmware.eui64 import read_le

COORD = const(0x0000)
CMD_ORPHAN = const(0x06)
_CMD_REALIGN = const(0x08)
_FCF_ASSOC_RESP = const(0xCC63)  # command, ACK request, PAN ID compression, dst/src extended
_FCF_REALIGN = const(0xCC23)  # command, ACK request, dst/src extended, both PAN IDs


def _copy8(dst, p, src, q):
    # An EUI-64 as it is, in place: a slice would allocate.
    for j in range(8):
        dst[p + j] = src[q + j]


class Framer:
    def __init__(self, eui, pan_id, channel):
        self.pan_id = pan_id
        self.channel = channel
        self.eui_le = read_le(eui, 0)  # air order
        self.tx = bytearray(PSDU_MAX)  # the frame of the receive decision in hand
        self._dsn = 0

    def next_dsn(self):
        self._dsn = (self._dsn + 1) & 0xFF
        return self._dsn

    def assoc_response(self, buf, src, short, status):
        # 802.15.4-2006 7.3.2 to the device whose EUI-64 is at buf[src] (air order), in self.tx;
        # returns its length. (No loop here: 11 words of frame state at most, off the heap.)
        tx = self.tx
        tx[0] = _FCF_ASSOC_RESP & 0xFF
        tx[1] = _FCF_ASSOC_RESP >> 8
        tx[2] = self.next_dsn()
        tx[3] = self.pan_id & 0xFF
        tx[4] = self.pan_id >> 8
        _copy8(tx, 5, buf, src)
        _copy8(tx, 13, self.eui_le, 0)
        tx[21] = mac.CMD_ASSOC_RESP
        tx[22] = short & 0xFF
        tx[23] = short >> 8
        tx[24] = status
        return 25

    def realign(self, buf, src, short):
        # 802.15.4-2006 7.3.8, the coordinator realignment that answers an orphan notification.
        tx = self.tx
        tx[0] = _FCF_REALIGN & 0xFF
        tx[1] = _FCF_REALIGN >> 8
        tx[2] = self.next_dsn()
        tx[3] = 0xFF
        tx[4] = 0xFF
        _copy8(tx, 5, buf, src)
        _copy8(tx, 15, self.eui_le, 0)
        tx[13] = self.pan_id & 0xFF
        tx[14] = self.pan_id >> 8
        tx[23] = _CMD_REALIGN
        tx[24] = self.pan_id & 0xFF
        tx[25] = self.pan_id >> 8
        tx[26] = COORD & 0xFF
        tx[27] = COORD >> 8
        tx[28] = self.channel
        tx[29] = short & 0xFF
        tx[30] = short >> 8
        return 31

    def data_header(self, tx, short, pending):
        # A data frame from the coordinator to a member's short address (ACK requested, PAN ID
        # compression); returns where the NWK frame goes.
        pan = self.pan_id
        return mac.write_header(
            tx, mac.DATA, self.next_dsn(), pan, short, pan, COORD, ack_req=True, pending=pending
        )
