# A received IEEE 802.15.4 frame, as every radio fills it and the core reads it.
#
# Receive is allocation-free: the caller owns an RxFrame and the radio fills it in place, so the
# PSDU (FCS included) is frame.buf[frame.off:frame.off + frame.n]. The offset lets a transport
# with its own header (ZEP) land the datagram in the same buffer without a copy.


PSDU_MAX = const(127)  # aMaxPHYPacketSize, IEEE 802.15.4-2006 6.4.1


class RxFrame:
    def __init__(self, headroom=0):
        self.buf = bytearray(headroom + PSDU_MAX)
        self.off = 0
        self.n = 0  # PSDU length including the 2-octet FCS
        self.lqi = 0  # 0..255
        self.rssi = 0  # dBm
        self.crc_ok = False
        # No channel: a radio hands over only frames heard on the channel it is tuned to, its
        # own `channel` (six attributes keep each slot's attribute table at 6 entries, not 8).
