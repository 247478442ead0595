# In-process 802.15.4 air for tests: every FakeRadio attached to a Medium hears every other one
# tuned to the same channel, instantly and losslessly, until its inbox is full (then frames are
# dropped and counted, like a radio's RX FIFO overflowing). inject() lets a test put arbitrary
# octets on a radio's input, bad FCS included; `sent` keeps every PSDU a radio transmitted.

from contract.crc16 import append_fcs, fcs_ok
from contract.frame import PSDU_MAX
from hal.radio import Radio


class Medium:
    def __init__(self):
        self.radios = []

    def attach(self, radio):
        self.radios.append(radio)

    def detach(self, radio):
        if radio in self.radios:
            self.radios.remove(radio)

    def deliver(self, sender, psdu, channel, lqi=255):
        for r in self.radios:
            if r is not sender and r.channel == channel:
                r.inject(psdu, lqi)


class FakeRadio(Radio):
    HEADROOM = 0

    def __init__(self, medium=None, inbox_max=16):
        self.medium = medium
        self.inbox_max = inbox_max
        self.inbox = []  # (psdu bytes, lqi), oldest first
        self.sent = []  # PSDUs transmitted, FCS included
        self.channel = 0
        self.pan_id = 0xFFFF
        self.short_addr = 0xFFFF
        self.ext_addr = bytes(8)
        self.stats = {"rx": 0, "rx_dropped": 0, "tx": 0, "tx_fail": 0}
        if medium is not None:
            medium.attach(self)

    def configure(self, channel, pan_id, short_addr, ext_addr):
        self.channel = channel
        self.pan_id = pan_id
        self.short_addr = short_addr
        self.ext_addr = bytes(ext_addr)

    def send(self, buf, n):
        if n < 0 or n + 2 > PSDU_MAX:
            self.stats["tx_fail"] += 1
            return False
        psdu = bytearray(n + 2)
        psdu[0:n] = buf[0:n]
        append_fcs(psdu, n)
        psdu = bytes(psdu)
        self.sent.append(psdu)
        self.stats["tx"] += 1
        if self.medium is not None:
            self.medium.deliver(self, psdu, self.channel)
        return True

    def inject(self, psdu, lqi=255):
        # Returns False when the inbox was full and the frame was dropped.
        if len(psdu) > PSDU_MAX:
            raise ValueError("no 802.15.4 PHY carries a %d-octet PSDU" % len(psdu))
        if len(self.inbox) >= self.inbox_max:
            self.stats["rx_dropped"] += 1
            return False
        self.inbox.append((bytes(psdu), lqi))
        return True

    def recv(self, frame):
        if not self.inbox:
            return False
        psdu, lqi = self.inbox.pop(0)
        n = len(psdu)
        buf = frame.buf
        for i in range(n):
            buf[i] = psdu[i]
        frame.off = 0
        frame.n = n
        frame.lqi = lqi
        frame.rssi = (lqi >> 2) - 100
        frame.crc_ok = fcs_ok(buf, 0, n)
        self.stats["rx"] += 1
        return True

    def hello(self):
        # The ZEP radio announces itself to its medium; the in-process air needs no such thing.
        return True

    async def wait_rx(self):
        # Frames arrive synchronously in send()/inject(); just let the other tasks run. Imported
        # here so synchronous tests need no asyncio on the path.
        import asyncio

        await asyncio.sleep(0)
