# Simulated 802.15.4 radio: ZEP v2 datagrams over UDP to a medium (tools/medium.py, or RIOT's
# zep_dispatch), so Wireshark can dissect live traffic on the loopback interface.
#
# Receive allocates nothing. MicroPython's socket has readinto but no recv_into, and its
# readinto keeps reading until the buffer is full or the socket would block, so several queued
# datagrams arrive back to back in one call. Datagrams are therefore read in batches into a
# private buffer and split on the ZEP length octet; a datagram cut short by the end of the
# buffer is lost and counted as an overrun (a real chip's RX FIFO overflows the same way). A
# malformed datagram loses its batch's framing, so the rest of that batch is dropped as junk;
# the medium never relays junk, so that only happens with a misbehaving peer. CPython reads one
# datagram per call and checks every length exactly.

import socket
import time

from contract.crc16 import crc16, fcs_ok
from contract.frame import PSDU_MAX
from hal.radio import Radio
from hal.sim import aio, zep

_HDR = const(32)  # zep.HEADER_LEN
_RX_BUF = const(4096)
_NTP_UNIX = const(2208988800)  # seconds from 1900 (NTP era 0) to 1970
_EAGAIN = const(11)
_ECONNREFUSED = const(111)

_STATS = (
    "rx",  # good frames handed to the MAC (FCS errors included: the MAC counts those)
    "rx_other_channel",
    "rx_hello",
    "rx_junk",
    "rx_overrun",
    "rx_refused",  # ICMP port unreachable: no medium listening
    "tx",
    "tx_fail",
)
# One counter per reject reason, keyed without building a string on the receive path.
_REJECT_KEYS = tuple("rx_" + name for name in zep.REASONS)


def _addr(host, port):
    return socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]


def _is_blocking_error(e):
    return e.args and e.args[0] == _EAGAIN


class ZepRadio(Radio):
    HEADROOM = _HDR

    def __init__(
        self,
        medium_port=zep.PORT,
        local_port=0,
        medium_host="127.0.0.1",
        local_host="127.0.0.1",
        rx_buf=_RX_BUF,
    ):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(_addr(local_host, local_port))
            s.connect(_addr(medium_host, medium_port))
            s.setblocking(False)
        except Exception:
            s.close()
            raise
        self.sock = s
        # MicroPython's socket cannot report an ephemeral port (no getsockname).
        if local_port == 0 and hasattr(s, "getsockname"):
            local_port = s.getsockname()[1]
        self.local_port = local_port or None
        self.device_id = local_port & 0xFFFF
        self._exact = hasattr(s, "recv_into")  # one datagram per read (CPython)
        self._rx = bytearray(max(rx_buf, zep.DATAGRAM_MAX))
        self._rx_end = 0
        self._rx_pos = 0
        self._tx = bytearray(_HDR + PSDU_MAX)
        self._tx_mv = memoryview(self._tx)
        self._seq = 0
        self.channel = 0
        self.pan_id = 0xFFFF
        self.short_addr = 0xFFFF
        self.ext_addr = bytes(8)
        self.stats = {}
        for k in _STATS + _REJECT_KEYS:
            self.stats[k] = 0

    def configure(self, channel, pan_id, short_addr, ext_addr):
        self.channel = channel
        self.pan_id = pan_id
        self.short_addr = short_addr
        self.ext_addr = bytes(ext_addr)
        if self.local_port is None:
            # Only a label in Wireshark; the medium tells nodes apart by UDP address.
            self.device_id = (ext_addr[6] << 8) | ext_addr[7]

    def _ntp(self):
        ns = time.time_ns()
        s = ns // 1000000000
        return (s + _NTP_UNIX) & 0xFFFFFFFF, ((ns - s * 1000000000) << 32) // 1000000000

    def _write(self, n):
        # False when the datagram could not be handed to the kernel.
        try:
            if self._exact:
                sent = self.sock.send(self._tx_mv[:n])
            else:
                sent = self.sock.write(self._tx, n)  # MicroPython: no slice, None on EAGAIN
        except OSError as e:
            # ECONNREFUSED here reports an earlier datagram that found no medium.
            if e.args and e.args[0] in (_EAGAIN, _ECONNREFUSED):
                sent = None
            else:
                raise
        return sent == n

    def send(self, buf, n, lqi=255):
        # lqi: what the datagram reports (tools/bridge.py passes on a real radio's).
        if n < 0 or n + 2 > PSDU_MAX:
            self.stats["tx_fail"] += 1
            return False
        tx = self._tx
        for i in range(n):
            tx[_HDR + i] = buf[i]
        c = crc16(tx, _HDR, _HDR + n)
        tx[_HDR + n] = c & 0xFF
        tx[_HDR + n + 1] = c >> 8
        ntp_s, ntp_frac = self._ntp()
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        # LQI 255 as RIOT sends it: the medium, not the sender, would degrade it.
        zep.write_header(tx, self.channel, self.device_id, lqi, self._seq, n + 2, ntp_s, ntp_frac)
        if self._write(_HDR + n + 2):
            self.stats["tx"] += 1
            return True
        self.stats["tx_fail"] += 1
        return False

    def hello(self):
        # Sent at start and every few seconds, so a restarted medium relearns this node.
        n = zep.write_hello(self._tx, self.device_id)
        return self._write(n)

    def _fill(self):
        # Refills the batch buffer; returns the octet count (0 when nothing is pending).
        try:
            if self._exact:
                n = self.sock.recv_into(self._rx)
            else:
                n = self.sock.readinto(self._rx)  # None when it would block
        except OSError as e:
            if _is_blocking_error(e):
                return 0
            if e.args and e.args[0] == _ECONNREFUSED:
                self.stats["rx_refused"] += 1
                return 0
            raise
        if not n:
            return 0
        self._rx_pos = 0
        self._rx_end = n
        return n

    def recv(self, frame):
        rx = self._rx
        stats = self.stats
        while True:
            p = self._rx_pos
            avail = self._rx_end - p
            if avail <= 0:
                if not self._fill():
                    return False
                continue
            dn = avail
            if not self._exact:
                if avail >= _HDR:
                    dn = _HDR + rx[p + 31]
                if (dn > avail or avail < _HDR) and self._rx_end == len(rx):
                    # Only a full buffer can have cut the last datagram short.
                    stats["rx_overrun"] += 1
                    self._rx_pos = self._rx_end
                    continue
                if dn > avail:
                    dn = avail  # claims more than arrived: parse() says which way it is bad
            r = zep.parse(rx, p, dn)
            if r != zep.OK:
                if r == zep.HELLO:
                    stats["rx_hello"] += 1  # a peer connected directly, not via a medium
                    self._rx_pos = p + dn
                else:
                    stats["rx_junk"] += 1
                    stats[_REJECT_KEYS[r]] += 1
                    self._rx_pos = self._rx_end  # framing lost for the rest of the batch
                continue
            self._rx_pos = p + dn
            if rx[p + 4] != self.channel:
                stats["rx_other_channel"] += 1  # a tuned receiver never hears it
                continue
            n = dn - _HDR
            buf = frame.buf
            if len(buf) < _HDR + n:
                raise ValueError("RxFrame needs ZepRadio.HEADROOM")
            q = p + _HDR
            for i in range(n):
                buf[_HDR + i] = rx[q + i]
            frame.off = _HDR
            frame.n = n
            lqi = rx[p + 8]
            frame.lqi = lqi
            frame.rssi = (lqi >> 2) - 100  # -100 dBm at LQI 0 to -37 dBm at 255
            frame.crc_ok = fcs_ok(buf, _HDR, n)  # the chip's hardware FCS check
            stats["rx"] += 1
            return True

    async def wait_rx(self):
        if self._rx_pos < self._rx_end:
            return  # frames already batched in user space: the socket may never wake us
        await aio.wait_readable(self.sock)

    def close(self):
        self.sock.close()
