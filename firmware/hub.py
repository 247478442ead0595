# The hub's functional core for radio frames: a received frame and the time in, a decision out
# (nothing, or transmit self.tx_buf[0:self.tx_len]). No I/O and no allocation on any path that
# drops a frame or answers a beacon request; the shell (firmware.app) does the sending and the
# logging. Drops are counted per reason in self.rejected (indexed by firmware.reject codes).

from firmware import mac, reject
from firmware.beacon import Beacon
from firmware.compat import const

NOTHING = const(0)
TRANSMIT = const(1)

# What a TRANSMIT decision sends, for the shell's log.
TX_BEACON = const(1)


class Hub:
    def __init__(self, settings):
        self.eui = settings.eui64()
        self.pan_id = settings["radio.pan_id"]
        self.channel = settings["radio.channel"]
        self.permit_join = settings["join.permit"]
        self.beacon = Beacon(self.pan_id, self.eui)
        self.rx = mac.MacFrame()
        self.rejected = [0] * reject.COUNT
        self.rx_frames = 0
        self.tx_buf = None
        self.tx_len = 0
        self.tx_kind = 0

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def on_frame(self, frame, now):
        self.rx_frames += 1
        if not frame.crc_ok:
            return self._drop(reject.BAD_FCS)
        buf = frame.buf
        f = self.rx
        why = mac.parse(buf, frame.off, frame.n, f)
        if why:
            return self._drop(why)
        if f.dst_mode and f.dst_pan != mac.BROADCAST and f.dst_pan != self.pan_id:
            return self._drop(reject.NOT_FOR_US)
        if f.ftype == mac.COMMAND and buf[f.payload_off] == mac.CMD_BEACON_REQ:
            return self._beacon_request(f)
        return self._drop(reject.UNHANDLED)

    def _beacon_request(self, f):
        # A beacon request is broadcast to PAN 0xFFFF, address 0xFFFF (802.15.4-2006 7.3.7).
        if f.dst_pan != mac.BROADCAST or f.dst_short != mac.BROADCAST or f.src_mode:
            return self._drop(reject.NOT_FOR_US)
        self.tx_buf = self.beacon.next(self.permit_join)
        self.tx_len = self.beacon.length
        self.tx_kind = TX_BEACON
        return TRANSMIT
