# Test fake: an MRF24J40 at register level behind a fake SPI bus and fake pins, for host tests
# of hal/esp32/mrf24j40.py on CPython and the MicroPython unix port (datasheet DS39776C).
#
# Every SPI transaction (CS low ... CS high) is decoded as the chip's serial interface defines:
# short address 0AAAAAAW then one data octet; long address 1AAAAAAA AAAWxxxx then data octets,
# the address incrementing over a burst. With record=True each transaction is logged as
# (op, addr, data) with op "SR"/"SW"/"LR"/"LW". The fake keeps register and FIFO memory, resets
# on SOFTRST or the RESET pin, clears INTSTAT when it is read, captures the TX normal FIFO on
# TXNTRIG (and completes the transmission with a chosen TXSTAT), applies normal-mode receive
# filtering (3.11.1.1) to injected frames, lays them out in the RX FIFO as the chip does
# (length, PSDU with FCS, LQI, RSSI) and drives INT low while an enabled interrupt is pending.
# With record=False nothing is allocated per transaction, so allocation tests can run through it.

from contract.crc16 import crc16

# Register addresses and bits this fake gives meaning to (the driver keeps its own copies).
RXMCR = 0x00
PANIDL = 0x01
PANIDH = 0x02
SADRL = 0x03
SADRH = 0x04
EADR0 = 0x05
RXFLUSH = 0x0D
ORDER = 0x10
TXMCR = 0x11
ACKTMOUT = 0x12
PACON2 = 0x18
TXNCON = 0x1B
TXSTAT = 0x24
SOFTRST = 0x2A
TXSTBL = 0x2E
INTSTAT = 0x31
INTCON = 0x32
RFCTL = 0x36
BBREG1 = 0x39
BBREG2 = 0x3A
BBREG6 = 0x3E
CCAEDTH = 0x3F
RFCON0 = 0x200
RFCON1 = 0x201
RFCON2 = 0x202
RFCON6 = 0x206
RFCON7 = 0x207
RFCON8 = 0x208
SLPCON0 = 0x211
SLPCON1 = 0x220
TX_NORMAL_FIFO = 0x000
RX_FIFO = 0x300

_PROMI = 0x01
_ERRPKT = 0x02
_PANCOORD = 0x08
_NOACKRSP = 0x20
_TXNTRIG = 0x01
_TXNACKREQ = 0x04
_TXNIF = 0x01
_RXIF = 0x08
_RXDECINV = 0x04
_INTEDGE = 0x02

SHORT_NAMES = {
    RXMCR: "RXMCR",
    PANIDL: "PANIDL",
    PANIDH: "PANIDH",
    SADRL: "SADRL",
    SADRH: "SADRH",
    RXFLUSH: "RXFLUSH",
    ORDER: "ORDER",
    TXMCR: "TXMCR",
    ACKTMOUT: "ACKTMOUT",
    PACON2: "PACON2",
    TXNCON: "TXNCON",
    TXSTAT: "TXSTAT",
    SOFTRST: "SOFTRST",
    TXSTBL: "TXSTBL",
    INTSTAT: "INTSTAT",
    INTCON: "INTCON",
    RFCTL: "RFCTL",
    BBREG1: "BBREG1",
    BBREG2: "BBREG2",
    BBREG6: "BBREG6",
    CCAEDTH: "CCAEDTH",
}
for _i in range(8):
    SHORT_NAMES[EADR0 + _i] = "EADR%d" % _i
LONG_NAMES = {
    RFCON0: "RFCON0",
    RFCON1: "RFCON1",
    RFCON2: "RFCON2",
    RFCON6: "RFCON6",
    RFCON7: "RFCON7",
    RFCON8: "RFCON8",
    SLPCON0: "SLPCON0",
    SLPCON1: "SLPCON1",
    TX_NORMAL_FIFO: "TXNFIFO",
    RX_FIFO: "RXFIFO",
}


class FakePin:
    # machine.Pin's interface as the driver and the board use it; constants have the ESP32
    # port's values. An output the code drives calls on_change; an input the test (or the fake
    # chip) drives calls the irq handler on a matching edge, synchronously.
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id=None, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._v = 1 if value is None else (1 if value else 0)
        self.handler = None
        self.trigger = 0
        self.on_change = None
        self.writes = 0

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if pull != -1:
            self.pull = pull
        if value is not None:
            self._set(value)

    def value(self, v=None):
        if v is None:
            return self._v
        self.writes += 1
        self._set(v)

    def __call__(self, v=None):
        if v is None:
            return self._v
        self.writes += 1
        self._set(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def drive(self, v):
        # The outside world (a button, the chip's INT output) moves the level.
        self._set(v)

    def irq(self, handler=None, trigger=3, wake=None):
        self.handler = handler
        self.trigger = trigger

    def _set(self, v):
        v = 1 if v else 0
        old = self._v
        if v == old:
            return
        self._v = v
        if self.on_change is not None:
            self.on_change(v)
        h = self.handler
        if h is not None:
            if (v == 0 and self.trigger & 2) or (v == 1 and self.trigger & 1):
                h(self)


class FakeSPI:
    def __init__(self, chip):
        self._chip = chip
        self.config = None

    def init(self, *args, **kw):
        self.config = (args, kw)

    def deinit(self):
        pass

    def write(self, buf):
        chip = self._chip
        for i in range(len(buf)):
            chip.byte(buf[i])

    def readinto(self, buf, write=0):
        chip = self._chip
        for i in range(len(buf)):
            buf[i] = chip.byte(write)

    def read(self, n, write=0):
        b = bytearray(n)
        self.readinto(b, write)
        return bytes(b)

    def write_readinto(self, wbuf, rbuf):
        # Octet by octet, so wbuf and rbuf may be the same buffer, as on the real bus.
        chip = self._chip
        for i in range(len(wbuf)):
            rbuf[i] = chip.byte(wbuf[i])


class FakeMRF24J40:
    # TXSTAT outcomes for complete_tx(): success, no ACK after 3 retries, CCA failure.
    TX_OK = 0x00
    TX_NO_ACK = 0xC1
    TX_CCA_FAIL = 0x21

    def __init__(self, record=True):
        self.short = bytearray(0x40)
        self.long = bytearray(0x400)
        self.spi = FakeSPI(self)
        self.cs = FakePin("cs", FakePin.OUT, value=1)
        self.cs.on_change = self._cs_changed  # bound once
        self.reset_pin = FakePin("reset", FakePin.OUT, value=1)
        self.reset_pin.on_change = self._reset_changed
        self.int_pin = FakePin("int", FakePin.IN, FakePin.PULL_UP, value=1)
        self.wake = FakePin("wake", FakePin.OUT, value=0)
        self.record = record
        self.log = []
        self.sent = []  # (header length, MPDU bytes, TXNACKREQ) per TXNTRIG
        self.auto_complete = True
        self.tx_outcome = self.TX_OK
        self.errors = 0  # transactions outside the serial interface's rules
        self.resets = 0
        self.acks_sent = 0
        self.rx_missed = 0  # arrived while RXDECINV was set
        self.rx_bad_fcs = 0
        self.rx_filtered = 0
        self.rx_overwritten = 0  # arrived before the previous frame was read
        self.rx_flushes = 0
        self._pos = 0
        self._long = False
        self._write = 0
        self._addr = 0
        self._start = 0
        self._n = 0
        self._data = bytearray(160)
        self._por()

    # --- power-on state ------------------------------------------------------------------

    def _por(self):
        for i in range(len(self.short)):
            self.short[i] = 0
        for i in range(len(self.long)):
            self.long[i] = 0
        # Reset values the driver's behaviour depends on.
        self.short[INTCON] = 0xFF  # every interrupt disabled
        self.short[ORDER] = 0xFF
        self.short[TXMCR] = 0x1C
        self.short[ACKTMOUT] = 0x39
        self.resets += 1
        self._update_int()

    def _reset_changed(self, v):
        if v == 0:
            self._por()

    # --- SPI decoding --------------------------------------------------------------------

    def _cs_changed(self, v):
        if v == 0:
            self._pos = 0
            self._n = 0
            return
        if self.record and self._pos:
            if self._long:
                op = "LW" if self._write else "LR"
            else:
                op = "SW" if self._write else "SR"
            self.log.append((op, self._start, bytes(self._data[: self._n])))

    def byte(self, b):
        if self.cs._v:
            self.errors += 1  # clocked without chip select
            return 0xFF
        p = self._pos
        self._pos = p + 1
        if p == 0:
            if b & 0x80:
                self._long = True
                self._addr = (b & 0x7F) << 3
            else:
                self._long = False
                self._addr = (b >> 1) & 0x3F
                self._write = b & 1
                self._start = self._addr
            return 0
        if self._long and p == 1:
            self._addr |= b >> 5
            self._write = (b >> 4) & 1
            self._start = self._addr
            return 0
        a = self._addr
        if self._long:
            self._addr = a + 1
            out = 0
            if self._write:
                self._wl(a, b)
            else:
                out = self.long[a] if a < 0x400 else 0
        else:
            if p > 1:
                self.errors += 1  # short registers are one octet per transaction
                return 0
            out = 0
            if self._write:
                self._ws(a, b)
            else:
                out = self._rs(a)
        if self._n < len(self._data):
            self._data[self._n] = b if self._write else out
            self._n += 1
        return out

    def _rs(self, a):
        v = self.short[a]
        if a == INTSTAT:
            self.short[a] = 0  # cleared by the read, which releases INT
            self._update_int()
        return v

    def _ws(self, a, v):
        if a == SOFTRST:
            if v & 0x07:
                self._por()  # the RSTPWR/RSTBB/RSTMAC bits clear themselves
            return
        if a == INTSTAT or a == TXSTAT:
            return  # read-only
        if a == TXNCON:
            self.short[a] = v & ~_TXNTRIG & 0xFF
            if v & _TXNTRIG:
                self._transmit(v & _TXNACKREQ)
            return
        if a == RXFLUSH:
            if v & 1:
                self.rx_flushes += 1
                self.long[RX_FIFO] = 0
            self.short[a] = v & 0xFE
            return
        self.short[a] = v
        if a == INTCON:
            self._update_int()

    def _wl(self, a, v):
        if a < 0x400:
            self.long[a] = v
        if a == SLPCON0:
            self._update_int()

    def _update_int(self):
        pending = self.short[INTSTAT] & ~self.short[INTCON] & 0xFF
        active_high = self.long[SLPCON0] & _INTEDGE
        level = (1 if pending else 0) if active_high else (0 if pending else 1)
        self.int_pin.drive(level)

    # --- transmit ------------------------------------------------------------------------

    def _transmit(self, ack_req):
        n = self.long[1]
        self.sent.append((self.long[0], bytes(self.long[2 : 2 + n]), bool(ack_req)))
        if self.auto_complete:
            self.complete_tx()

    def complete_tx(self, txstat=None):
        self.short[TXSTAT] = self.tx_outcome if txstat is None else txstat
        self.short[INTSTAT] |= _TXNIF
        self._update_int()

    # --- receive -------------------------------------------------------------------------

    def pan_id(self):
        return self.short[PANIDL] | (self.short[PANIDH] << 8)

    def short_addr(self):
        return self.short[SADRL] | (self.short[SADRH] << 8)

    def ext_addr(self):
        # Most significant octet first, as hal.radio passes it.
        return bytes(self.short[EADR0 + 7 - i] for i in range(8))

    def channel(self):
        return (self.long[RFCON0] >> 4) + 11

    def accepts(self, psdu):
        # Normal-mode filtering, 3.11.1.1 (IEEE 802.15.4 section 7.5.6.2).
        n = len(psdu) - 2  # without the FCS
        if n < 3:
            return False
        fc0 = psdu[0]
        fc1 = psdu[1]
        ftype = fc0 & 7
        if ftype > 3:
            return False  # 1. illegal frame type
        dm = (fc1 >> 2) & 3
        sm = (fc1 >> 6) & 3
        if dm == 1 or sm == 1:
            return False  # reserved addressing mode: treated as malformed here
        pan = self.pan_id()
        p = 3
        dpan = -1
        if dm:
            if p + (4 if dm == 2 else 10) > n:
                return False
            dpan = psdu[p] | (psdu[p + 1] << 8)
            p += 2
            if dpan != pan and dpan != 0xFFFF:
                return False  # 3. destination PAN
            if dm == 2:
                d = psdu[p] | (psdu[p + 1] << 8)
                p += 2
                if d != self.short_addr() and d != 0xFFFF:
                    return False  # 4. short destination
            else:
                for i in range(8):
                    if psdu[p + i] != self.short[EADR0 + i]:
                        return False  # 4. extended destination
                p += 8
        span = dpan
        if sm and not (dm and fc0 & 0x40):
            if p + 2 > n:
                return False
            span = psdu[p] | (psdu[p + 1] << 8)
        if ftype == 0 and pan != 0xFFFF and span != pan:
            return False  # 2. beacon from another PAN
        if not dm and (ftype == 1 or ftype == 3):
            if not (self.short[RXMCR] & _PANCOORD and span == pan):
                return False  # 5. source addressing only
        return True

    def inject(self, psdu, lqi=0xFF, rssi=0xC8):
        # A frame arriving off air on the tuned channel; psdu includes the FCS. Returns True
        # when it lands in the RX FIFO.
        n = len(psdu)
        if n < 3 or n > 127:
            raise ValueError("no 802.15.4 PHY carries a %d-octet PSDU" % n)
        if self.short[BBREG1] & _RXDECINV:
            self.rx_missed += 1
            return False
        rxmcr = self.short[RXMCR]
        if not rxmcr & _ERRPKT and crc16(psdu, 0, n) != 0:
            self.rx_bad_fcs += 1
            return False
        if not rxmcr & _PROMI and not self.accepts(psdu):
            self.rx_filtered += 1
            return False
        if self.short[INTSTAT] & _RXIF:
            self.rx_overwritten += 1
        m = self.long
        m[RX_FIFO] = n
        for i in range(n):
            m[RX_FIFO + 1 + i] = psdu[i]
        m[RX_FIFO + 1 + n] = lqi
        m[RX_FIFO + 2 + n] = rssi
        if psdu[0] & 0x20 and not rxmcr & _NOACKRSP:
            self.acks_sent += 1  # auto-ACK, 3.13
        self.short[INTSTAT] |= _RXIF
        self._update_int()
        return True

    # --- log helpers ---------------------------------------------------------------------

    def writes(self):
        # [(register name, value)] of every register write, in order; FIFO bursts as one entry.
        out = []
        for op, addr, data in self.log:
            if op == "SW":
                out.append((SHORT_NAMES.get(addr, "0x%02X" % addr), data[0] if data else None))
            elif op == "LW":
                name = LONG_NAMES.get(addr, "0x%03X" % addr)
                out.append((name, data[0] if len(data) == 1 else bytes(data)))
        return out

    def clear_log(self):
        self.log = []
