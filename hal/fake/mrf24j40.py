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
#
# What the references rely on, modelled with knobs so a test can choose the chip it meets:
#   - time: a virtual clock in microseconds, advanced by every SPI octet (byte_us, 1 us at
#     8 MHz) and by sleep_us()/sleep_ms(), which a test hands to the driver as its delay; with
#     realtime=True (the default, for board tests using real sleeps) wall time is added too;
#   - the RESET pin: a pulse shorter than reset_min_us does not reset the chip; after release
#     the chip ignores SPI (reads 0xFF) until osc_start_us have passed (3.1: the 20 MHz
#     oscillator's start-up, about 2 ms);
#   - SOFTRST: the RSTPWR/RSTBB/RSTMAC bits read back set for softrst_us and writes to other
#     registers are lost meanwhile (the Linux, RIOT and Microchip MiWi drivers agree the bits
#     clear themselves; RIOT and MiWi poll them, which is what the delay here exercises);
#   - RFSTATE (0x20F): RESET while RFCTL.RFRST is held, then the calibration states, then RX
#     (0xA0) rf_cal_us after the release (Example 3-1 waits 192 us); rf_stuck keeps it out of
#     RX for ever (a PLL that never locks); frames arriving outside RX are missed;
#   - SECIF: a frame with the MAC security bit that passes the filter raises SECIF and holds
#     the receiver (one RX FIFO) until the host writes SECCON0: SECIGNORE or SECSTART, and only
#     then RXIF (3.17 and the MiWi driver's flow). Frames arriving meanwhile are lost;
#   - RSSI on request (BBREG6.RSSIMODE1, then RSSIRDY and the RSSI register 0x210): energy;
#   - the ESP32's soft pin IRQs: with a FakeScheduler on the INT pin each edge queues the
#     handler, and a full queue (or a test's drop_next) loses the edge, as mp_sched_schedule
#     does; the handler runs when the test calls scheduler.run().
# None of these timings is in the datasheet as a number except where cited; the defaults are
# benign and tests set the knobs to the chips the references warn about.

import time

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
SECCON0 = 0x2C
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
RFSTATE = 0x20F
RSSI = 0x210
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
_SECIF = 0x10
_SECIGNORE = 0x80
_SECSTART = 0x40
_RXDECINV = 0x04
_RFRST = 0x04
_INTEDGE = 0x02
_RSSIMODE1 = 0x80
_RSSIRDY = 0x01
_FCF_SECURITY = 0x08

# RFSTATE<7:5> values (register 0x20F), as the RIOT driver's header lists them.
RF_RESET = 0x00
RF_CALFIL = 0x20
RF_CALVCO = 0x60
RF_RX = 0xA0

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
    SECCON0: "SECCON0",
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
    RFSTATE: "RFSTATE",
    RSSI: "RSSI",
    SLPCON0: "SLPCON0",
    SLPCON1: "SLPCON1",
    TX_NORMAL_FIFO: "TXNFIFO",
    RX_FIFO: "RXFIFO",
}

try:
    _ticks_us = time.ticks_us
    _ticks_diff = time.ticks_diff
except AttributeError:  # CPython

    def _ticks_us():
        return time.monotonic_ns() // 1000

    def _ticks_diff(a, b):
        return a - b


class FakeScheduler:
    # micropython.schedule() as the ESP32 port runs a pin IRQ that is not hard: the GPIO
    # interrupt queues the handler and the VM runs it later; the queue holds 8
    # (MICROPY_SCHEDULER_DEPTH in ports/esp32/mpconfigport.h) and an edge that finds it full is
    # lost. drop_next loses the next n edges whatever the queue holds.
    def __init__(self, depth=8):
        self.depth = depth
        self.queue = []
        self.dropped = 0
        self.drop_next = 0

    def schedule(self, fn, arg):
        if self.drop_next > 0 or len(self.queue) >= self.depth:
            if self.drop_next > 0:
                self.drop_next -= 1
            self.dropped += 1
            return False
        self.queue.append((fn, arg))
        return True

    def run(self):
        # What the VM does between bytecodes: every queued handler, oldest first.
        n = 0
        while self.queue:
            fn, arg = self.queue.pop(0)
            fn(arg)
            n += 1
        return n


class FakePin:
    # machine.Pin's interface as the driver and the board use it; constants have the ESP32
    # port's values. An output the code drives calls on_change; an input the test (or the fake
    # chip) drives calls the irq handler on a matching edge: synchronously, or through the
    # scheduler when one is set (the ESP32's soft IRQs).
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
        self.scheduler = None
        self.writes = 0
        self.edges = 0

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

    def irq(self, handler=None, trigger=3, wake=None, hard=False):
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
                self.edges += 1
                if self.scheduler is not None:
                    self.scheduler.schedule(h, self)
                else:
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

    def __init__(self, record=True, realtime=True):
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
        self.sent = []  # (header length, MPDU bytes, TXNACKREQ) per TXNTRIG, when recording
        self.tx_count = 0
        self.auto_complete = True
        self.tx_outcome = self.TX_OK
        self.on_transaction = None  # test hook: called with (op, address) after each one
        self.on_transmit = None  # the air: called with (buf, off, n) on each TXNTRIG
        # Timing knobs (microseconds); see the header.
        self.realtime = realtime
        self.byte_us = 1
        self.reset_min_us = 0
        self.osc_start_us = 2000
        self.softrst_us = 0
        self.rf_cal_us = 192
        self.rf_stuck = False
        self.energy = 0  # what the RSSI register reads on request: the channel's energy
        # Counters.
        self.errors = 0  # transactions outside the serial interface's rules
        self.resets = 0
        self.short_pulses = 0  # RESET pulses too short to reset the chip
        self.early_access = 0  # SPI octets while held in reset or before the oscillator ran
        self.lost_writes = 0  # register writes during a SOFTRST, which the chip ignores
        self.acks_sent = 0
        self.rx_missed = 0  # arrived while RXDECINV was set or the RF was not in RX
        self.rx_bad_fcs = 0
        self.rx_filtered = 0
        self.rx_overwritten = 0  # arrived before the previous frame was read
        self.rx_blocked = 0  # arrived while a secured frame waited for SECCON0
        self.rx_flushes = 0
        self.sec_ignored = 0
        self.sec_started = 0
        self._vt = 0
        self._rt = 0
        self._last = _ticks_us()
        self._ready_at = 0
        self._reset_low_at = None
        self._softrst_until = 0
        self._rf_held = False
        self._rf_rx_at = 0
        self._sec_wait = False
        self._pos = 0
        self._long = False
        self._write = 0
        self._addr = 0
        self._start = 0
        self._n = 0
        self._data = bytearray(160)
        self._por()

    # --- time ----------------------------------------------------------------------------

    def now_us(self):
        if self.realtime:
            t = _ticks_us()
            self._rt += _ticks_diff(t, self._last)
            self._last = t
        return self._vt + self._rt

    def sleep_us(self, us):
        # The driver's delay in tests: time passes for the chip, instantly for the test.
        self._vt += us

    def sleep_ms(self, ms):
        self._vt += ms * 1000

    # --- power-on state ------------------------------------------------------------------

    def _por(self):
        for i in range(len(self.short)):
            self.short[i] = 0
        for i in range(len(self.long)):
            self.long[i] = 0
        self._registers_reset()

    def _registers_reset(self):
        # Reset values the driver's behaviour depends on (FIFO memory is not touched).
        s = self.short
        for i in range(len(s)):
            s[i] = 0
        for a in (RFCON0, RFCON1, RFCON2, RFCON6, RFCON7, RFCON8, SLPCON0, SLPCON1):
            self.long[a] = 0
        s[INTCON] = 0xFF  # every interrupt disabled
        s[ORDER] = 0xFF
        s[TXMCR] = 0x1C
        s[ACKTMOUT] = 0x39
        self._sec_wait = False
        self._rf_held = False
        self._rf_rx_at = self.now_us() + self.rf_cal_us
        self.resets += 1
        self._update_int()

    def _reset_changed(self, v):
        t = self.now_us()
        if v == 0:
            self._reset_low_at = t
            return
        low = self._reset_low_at
        self._reset_low_at = None
        if low is None:
            return
        if t - low < self.reset_min_us:
            self.short_pulses += 1  # too short: the chip carries on as it was
            return
        self._por()
        self._ready_at = t + self.osc_start_us

    def _held(self):
        # In reset, or the oscillator still starting: the serial interface is dead.
        return self._reset_low_at is not None or self.now_us() < self._ready_at

    # --- SPI decoding --------------------------------------------------------------------

    def _cs_changed(self, v):
        if v == 0:
            self._pos = 0
            self._n = 0
            return
        if self._pos and (self.record or self.on_transaction is not None):
            if self._long:
                op = "LW" if self._write else "LR"
            else:
                op = "SW" if self._write else "SR"
            if self.record:
                self.log.append((op, self._start, bytes(self._data[: self._n])))
            if self.on_transaction is not None:
                self.on_transaction(op, self._start)

    def byte(self, b):
        if self.cs._v:
            self.errors += 1  # clocked without chip select
            return 0xFF
        self._vt += self.byte_us
        p = self._pos
        self._pos = p + 1
        if self._held():
            self.early_access += 1
            return 0xFF
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
                out = self._rl(a)
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

    def _in_softrst(self):
        return self.short[SOFTRST] and self.now_us() < self._softrst_until

    def _rs(self, a):
        if a == SOFTRST and not self._in_softrst():
            self.short[SOFTRST] = 0  # the bits clear themselves when the reset is done
        v = self.short[a]
        if a == INTSTAT:
            self.short[a] = 0  # cleared by the read, which releases INT
            self._update_int()
        elif a == BBREG6 and v & _RSSIMODE1:
            v |= _RSSIRDY
        return v

    def _rl(self, a):
        if a == RFSTATE:
            return self.rf_state()
        if a == RSSI:
            return self.energy
        return self.long[a] if a < 0x400 else 0

    def _ws(self, a, v):
        if self._in_softrst():
            self.lost_writes += 1
            return
        if a == SOFTRST:
            if v & 0x07:
                self._registers_reset()  # RSTPWR/RSTBB/RSTMAC
                self.short[SOFTRST] = v & 0x07
                self._softrst_until = self.now_us() + self.softrst_us
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
                self.rx_flushes += 1  # the RX FIFO pointer back to 0: nothing to read
                self.long[RX_FIFO] = 0
            self.short[a] = v & 0xFE
            return
        if a == SECCON0:
            if self._sec_wait and v & (_SECIGNORE | _SECSTART):
                self._sec_wait = False
                if v & _SECIGNORE:
                    self.sec_ignored += 1
                else:
                    self.sec_started += 1  # decryption is not modelled: delivered as it came
                self.short[INTSTAT] |= _RXIF
                self._update_int()
            self.short[a] = v & 0x3F  # SECIGNORE and SECSTART clear themselves
            return
        if a == RFCTL:
            if v & _RFRST:
                self._rf_held = True
            elif self._rf_held:
                self._rf_held = False
                self._rf_rx_at = self.now_us() + self.rf_cal_us
            self.short[a] = v
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

    def rf_state(self):
        # RFSTATE<7:5>: RESET while RFRST is held, calibrating, then RX.
        if self._rf_held:
            return RF_RESET
        left = self._rf_rx_at - self.now_us()
        if self.rf_stuck or left > self.rf_cal_us // 2:
            return RF_CALVCO
        return RF_CALFIL if left > 0 else RF_RX

    # --- transmit ------------------------------------------------------------------------

    def _transmit(self, ack_req):
        n = self.long[1]
        self.tx_count += 1
        if self.record:
            self.sent.append((self.long[0], bytes(self.long[2 : 2 + n]), bool(ack_req)))
        if self.on_transmit is not None:
            self.on_transmit(self.long, 2, n)  # the MPDU is long[2:2 + n]; the air adds the FCS
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
        if self.short[BBREG1] & _RXDECINV or self._held() or self.rf_state() != RF_RX:
            self.rx_missed += 1
            return False
        if self._sec_wait:
            self.rx_blocked += 1
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
        if psdu[0] & _FCF_SECURITY:
            self._sec_wait = True  # 3.17: the host decides before RXIF
            self.short[INTSTAT] |= _SECIF
        else:
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
