# Bridge mode: a second ESP32 + MRF24J40 (the same board module and driver as the hub) that
# passes frames between the air and its USB serial, where tools/bridge.py joins them to the ZEP
# medium of the host tools. Every frame the radio hears goes up as an AIR frame; every SEND from
# the host goes on air, and its outcome comes back as a STATUS (firmware/bridge_link.py).
#
# The radio hears what its receive mode lets through: by default normal mode with the address
# the host configures (tools/bridge.py uses the HHT's EUI-64), so the chip acknowledges in
# hardware the frames a hub sends to that node, within the 802.15.4 ACK time no serial link
# could meet; promiscuous mode hears everything but acknowledges nothing (a sniffer).
#
# A board boots into this mode when the file /bridge exists (boards/esp32_common.run); on the
# unix port tools/fake_bridge_board.py runs the same code with the register fake on a ZEP "air".

import asyncio
import select
import sys

from contract.frame import RxFrame
from firmware import bridge_link as link

_STATS = ("air", "sent", "refused", "bad_command", "configs")


class Bridge:
    def __init__(self, radio, out):
        # radio: hal.esp32.mrf24j40.MRF24J40 (or any Radio with its on_tx and set_rx_mode);
        # out: a binary stream (the board's sys.stdout.buffer).
        self.radio = radio
        self.out = out
        self.frame = RxFrame(radio.HEADROOM)
        self.decoder = link.Decoder()
        self.body = bytearray(link.BODY_MAX)
        self.wire = bytearray(link.wire_size())
        self.wire_mv = memoryview(self.wire)
        self.tx = bytearray(link.BODY_MAX)
        self.flags = 0
        self.stats = {}
        for k in _STATS:
            self.stats[k] = 0
        radio.on_tx = self._tx_done

    def _emit(self, n):
        k = link.encode(self.body, n, self.wire)
        self.out.write(self.wire_mv[:k])

    def _tx_done(self, status):
        self.body[0] = link.STATUS
        self.body[1] = status
        self._emit(2)

    def info(self):
        b = self.body
        b[0] = link.INFO
        b[1] = link.VERSION
        b[2] = self.radio.channel
        b[3] = getattr(self.radio, "rf_state", 0) & 0xFF
        b[4] = self.flags
        self._emit(5)

    def air(self):
        # Everything the radio has: up the line, one AIR frame each.
        radio, f, b = self.radio, self.frame, self.body
        while radio.recv(f):
            n = f.n
            b[0] = link.AIR
            b[1] = radio.channel  # the only channel a tuned radio hears
            b[2] = f.lqi
            b[3] = getattr(radio, "last_rssi_raw", 0)
            src = f.buf
            off = f.off
            for i in range(n):
                b[4 + i] = src[off + i]
            self._emit(4 + n)
            self.stats["air"] += 1

    def command(self, n):
        # The decoder's good frame buf[0:n] from the host.
        d = self.decoder.buf
        t = d[0]
        if t == link.SEND:
            tx = self.tx
            m = n - 1
            for i in range(m):
                tx[i] = d[1 + i]
            if self.radio.send(tx, m):
                self.stats["sent"] += 1
            else:
                self.stats["refused"] += 1
                self._tx_done(link.REFUSED)
        elif t == link.CONFIG and n == link.CONFIG_LEN:
            self.configure(d)
        elif t == link.INFO:
            self.info()
        else:
            self.stats["bad_command"] += 1

    def configure(self, d):
        ext = bytes(d[6:14])
        flags = d[14]
        ch = d[1]
        if not 11 <= ch <= 26:
            self.stats["bad_command"] += 1
            return
        self.radio.configure(ch, d[2] | (d[3] << 8), d[4] | (d[5] << 8), ext)
        self.radio.set_rx_mode(bool(flags & link.PROMISCUOUS), bool(flags & link.COORDINATOR))
        self.flags = flags
        self.stats["configs"] += 1
        self.info()

    def feed(self, data, n):
        dec = self.decoder
        for i in range(n):
            k = dec.feed(data[i])
            if k:
                self.command(k)

    async def run_air(self):
        while True:
            await self.radio.wait_rx()
            self.air()

    async def run_serial(self, inp):
        # The board's sys.stdin.buffer.read(n) waits for all n octets (as does a pty's on the
        # unix port; MicroPython's shared/runtime/sys_stdio_mphal.c), so one octet through
        # asyncio, then the rest one by one while poll() says more is there.
        reader = asyncio.StreamReader(inp)
        ready = select.poll()
        ready.register(inp, select.POLLIN)
        while True:
            data = await reader.read(1)
            while data:
                self.feed(data, 1)
                data = inp.read(1) if ready.poll(0) else None
            if data is not None:
                return  # end of input: the host end closed (unix port); a board's USB never does


async def run(radio, inp=None, out=None):
    # Until the serial input ends; on a board, for ever (Ctrl-C stops it: 0x03 is never sent
    # unescaped by tools/bridge.py, so a Ctrl-C on the line is the engineer's).
    inp = inp or sys.stdin.buffer
    out = out or sys.stdout.buffer
    b = Bridge(radio, out)
    b.info()
    air = asyncio.create_task(b.run_air())
    try:
        await b.run_serial(inp)
    finally:
        air.cancel()
    return b
