# Microchip MRF24J40 IEEE 802.15.4 transceiver on SPI (the MRF24J40MA module), as a
# hal.radio.Radio. Section numbers are those of the datasheet, DS39776C; "Linux" is the kernel's
# drivers/net/ieee802154/mrf24j40.c, "RIOT" is RIOT-OS drivers/mrf24j40/, "MiWi" is
# Microchip's own MRF24J40.c of its MiWi stack.
#
# In the style of micropython-lib's lora drivers: the board injects machine.SPI (mode 0, MSB
# first, at most 10 MHz) and machine.Pin objects, so no pin or bus number lives here; register
# addresses are _const()s; every buffer is allocated in __init__.
#
# The chip does the MAC work MicroPython is too slow for (3.12, 3.13): FCS generation and
# check, unslotted CSMA-CA, auto-ACK of frames addressed to us, and up to three retransmissions
# of an unacknowledged frame. It runs in normal reception mode (3.11.1.1), which filters in
# hardware, so the hub only sees frames with a good FCS that pass IEEE 802.15.4 filtering:
#   - a destination PAN ID, when present, must be ours or the broadcast PAN 0xFFFF;
#   - a short destination must be ours or 0xFFFF, an extended one must be our EUI-64;
#   - a beacon must come from our PAN (while our PAN ID is not 0xFFFF);
#   - a frame with only a source address is kept only by a PAN coordinator (RXMCR.PANCOORD, which
#     this driver sets) for its own PAN.
# So beacon requests (PAN 0xFFFF, short 0xFFFF) and inter-PAN frames sent to our EUI-64 or to
# the broadcast address, on PAN 0xFFFF or on ours, all arrive, which is what the HHT uses. What
# the filter costs: an inter-PAN frame addressed to some other PAN ID is dropped in the chip
# (it was never for us), neighbours' beacons are never seen (no PAN ID conflict detection
# without switching to promiscuous mode), and frames with a bad FCS or for other nodes never
# reach the hub's reject counters. Since the chip passes only good-FCS frames, crc_ok is True.
# A frame with the MAC security bit raises SECIF first and waits for the host's decision
# (3.17); with no keys here the driver answers SECIGNORE, as Linux does, and the frame then
# arrives undecrypted for the MAC layer to reject and count (ZigBee never secures at the MAC).
#
# Interrupts. INT is edge-triggered here (the ESP32 has no level-triggered pin IRQ; Linux warns
# that edges race) and ESP32 pin IRQs are soft: the edge queues the handler on MicroPython's
# scheduler (8 deep), and an edge that finds the queue full is lost, leaving INT low with no
# further edge. So the handler is attached before the interrupts are armed, INTSTAT is read just
# before arming (RIOT), wait_rx() returns at once while INT is low whatever the edges did, and a
# poll every poll_ms (50 ms) reads the INT *level* (a GPIO read, no SPI) to catch an edge lost
# while the receive task sleeps: worst-case latency one poll, not a second. MiWi likewise
# re-raises its interrupt flag whenever it finds the INT pin low. The handler only sets an
# asyncio.ThreadSafeFlag (stored once: a bound method made per interrupt would allocate).
#
# Transmission never blocks the event loop. send() loads the TX normal FIFO and triggers it when
# the chip is idle; while a transmission is in progress it queues the frame (tx_queue frames,
# preallocated; refused and counted when full). The TXNIF interrupt (serviced by the receive
# task through recv()) completes it and starts the next; a TXNIF that never comes is declared
# lost after tx_wait_ms by the poll, and the queue moves on.
#
# recv() allocates nothing: the FIFO is read in one burst of fixed size into a preallocated
# buffer (a short burst first, which holds every frame the hub must answer fast; the full FIFO
# only for longer frames) and copied into the caller's RxFrame by index. Bursts rely on the
# address auto-increment during a long-address access, which Linux and RIOT also rely on
# although the datasheet only draws single-byte accesses.
#
# Not implemented: security (3.17), beacon-enabled mode, sleep and the WAKE pin (driven low: the
# hub is mains powered), TX power (RFCON3 stays at its reset value, full power), the MRF24J40MC's
# external PA/LNA; frame-pending in auto-ACKs is one global bit (set_frame_pending).

import asyncio

from contract.compat import sleep_ms
from contract.frame import PSDU_MAX
from contract.ring import SlotRing
from contract.ticks import ticks_diff

# Short-address registers (6-bit addresses).
_RXMCR = const(0x00)
_PANIDL = const(0x01)
_PANIDH = const(0x02)
_SADRL = const(0x03)
_SADRH = const(0x04)
_EADR0 = const(0x05)  # EADR0..EADR7 = 0x05..0x0C, EADR0 the least significant octet
_RXFLUSH = const(0x0D)
_ORDER = const(0x10)
_TXMCR = const(0x11)
_ACKTMOUT = const(0x12)
_PACON2 = const(0x18)
_TXNCON = const(0x1B)
_TXSTAT = const(0x24)
_SOFTRST = const(0x2A)
_SECCON0 = const(0x2C)
_TXSTBL = const(0x2E)
_INTSTAT = const(0x31)
_INTCON = const(0x32)
_RFCTL = const(0x36)
_BBREG1 = const(0x39)
_BBREG2 = const(0x3A)
_BBREG6 = const(0x3E)
_CCAEDTH = const(0x3F)

# Long-address registers and FIFOs (10-bit addresses).
_TXNFIFO = const(0x000)  # TX normal FIFO: header length, frame length, MHR + payload
_RFCON0 = const(0x200)
_RFCON1 = const(0x201)
_RFCON2 = const(0x202)
_RFCON6 = const(0x206)
_RFCON7 = const(0x207)
_RFCON8 = const(0x208)
_RFSTATE = const(0x20F)
_RSSI = const(0x210)
_SLPCON1 = const(0x220)
_RXFIFO = const(0x300)  # frame length, PSDU (FCS included), LQI, RSSI

# Bits.
_PROMI = const(0x01)  # RXMCR
_PANCOORD = const(0x08)  # RXMCR
_NOACKRSP = const(0x20)  # RXMCR
_TXNTRIG = const(0x01)  # TXNCON
_TXNACKREQ = const(0x04)  # TXNCON
_TXNSTAT = const(0x01)  # TXSTAT: 1 = failed
_CCAFAIL = const(0x20)  # TXSTAT
_TXNIF = const(0x01)  # INTSTAT
_RXIF = const(0x08)  # INTSTAT
_SECIF = const(0x10)  # INTSTAT
_SECIGNORE = const(0x80)  # SECCON0
_RXDECINV = const(0x04)  # BBREG1
_RFRST = const(0x04)  # RFCTL
_RSSIMODE1 = const(0x80)  # BBREG6: one RSSI measurement on request
_RSSIMODE2 = const(0x40)  # BBREG6: RSSI appended to each received frame
_RSSIRDY = const(0x01)  # BBREG6
_RF_MASK = const(0xE0)  # RFSTATE<7:5>
_RF_RX = const(0xA0)
_FCF_AR = const(0x20)  # frame control, first octet: acknowledgment request

# Values from the initialisation example (3.2, Example 3-1) and the register descriptions.
_INTCON_ARM = const(0xE6)  # 0 enables: SECIE (bit 4), RXIE (bit 3), TXNIE (bit 0), as Linux
_TXMCR_CSMA = const(0x1C)  # unslotted CSMA-CA, macMinBE 3, macMaxCSMABackoffs 4
_ACKTMOUT_MAWD = const(0x39)  # MAWD 57 symbols >= macAckWaitDuration (54); DRPACK = 0

# Timing. The datasheet gives no minimum width for the RESET pulse (RIOT: "not specified"); a
# long one costs 20 ms once per boot and still resets a module whose RESET line is slowed by a
# pull-up and long jumper wires, so hold it as RIOT does (20 ms), not MiWi's few hundred loop
# turns. After release the 20 MHz oscillator needs about 2 ms before SPI (3.1; RIOT, MiWi).
_RESET_LOW_MS = const(20)
_OSC_START_MS = const(2)
# SOFTRST's bits clear themselves when the reset is done; RIOT and MiWi poll them before the
# next write (a write during the reset is lost). Bounded: a dead bus must not hang the boot.
_SOFTRST_POLLS = const(50)
_SOFTRST_POLL_US = const(20)
# After the RF state machine reset: 192 us for the PLL (Example 3-1 step 20; Linux waits just
# that), then RFSTATE is polled for RX (RIOT did; RIOT PR 12431 dropped its loop because it hung
# boards whose chip never showed RX, the datasheet not specifying RFSTATE after a reset). Here
# the poll is bounded to 2 ms: a slow PLL is waited for, one that never locks is counted
# (rf_not_rx, shown by `make bringup`) and never hangs the boot.
_RF_CAL_US = const(192)
_RF_POLLS = const(40)
_RF_POLL_US = const(50)

# Burst sizes: 2 command octets, then the FIFO contents.
_RX_SHORT_PSDU = const(40)  # beacon requests, association and data requests, ACKs
_RX_SHORT = const(45)  # cmd 2 + length 1 + PSDU 40 + LQI + RSSI
_RX_FULL = const(132)  # cmd 2 + length 1 + PSDU 127 + LQI + RSSI: stays inside 0x300-0x38F
_TX_SHORT_MPDU = const(40)
_TX_SHORT = const(44)  # cmd 2 + header length + frame length + MPDU 40
_TX_FULL = const(129)  # ... + MPDU 125 (127 less the FCS the chip appends): 0x000-0x07E
_MPDU_MAX = const(125)
_PSDU_MIN = const(5)  # FCF, sequence number, FCS: an ACK

# tx_status values.
TX_OK = const(0)
TX_NO_ACK = const(1)  # acknowledgment requested, none after the retransmissions
TX_CCA_FAIL = const(2)  # channel busy: CSMA-CA gave up
TX_PENDING = const(3)
TX_NONE = const(4)  # nothing sent yet
TX_LOST = const(5)  # no TXNIF within tx_wait_ms

_STATS = (
    "wake",  # wait_rx() woken by the flag (INT edge or poll)
    "wake_level",  # wait_rx() found INT already low: its edge not (yet) handled
    "poll",
    "poll_level",  # a poll found INT low: an edge lost while the receive task slept
    "rx",
    "rx_bad_len",
    "rx_secured",  # SECIF: answered SECIGNORE, the frame follows for the MAC to reject
    "rf_not_rx",  # the RF state machine not in RX 2 ms after its reset
    "tx",
    "tx_ok",
    "tx_no_ack",
    "tx_cca_fail",
    "tx_timeout",  # no TXNIF within tx_wait_ms: declared lost, the queue moved on
    "tx_queued",  # sent while another transmission was in progress
    "tx_queue_full",  # refused: tx_queue frames already waiting
    "tx_refused",  # MPDU too long or too short for the TX normal FIFO
)

try:  # imported by name: `time` itself is not a global of this module on the board
    from time import sleep_us as _sleep_us
    from time import ticks_ms as _ticks_ms
except ImportError:  # CPython, for host tests
    import time

    def _sleep_us(us):
        time.sleep(us / 1000000)

    def _ticks_ms():
        return time.monotonic_ns() // 1000000


_ThreadSafeFlag = getattr(asyncio, "ThreadSafeFlag", None)
if _ThreadSafeFlag is None:  # CPython (defined only there: a class costs heap on the board)

    class _Flag:
        # CPython stand-in for asyncio.ThreadSafeFlag (host tests call the handler on the loop's
        # thread). Self-clearing after wait(), like the real one.
        def __init__(self):
            self.state = False
            self._ev = None

        def set(self):
            self.state = True
            if self._ev is not None:
                self._ev.set()

        async def wait(self):
            while not self.state:
                self._ev = asyncio.Event()
                await self._ev.wait()
            self._ev = None
            self.state = False

    _ThreadSafeFlag = _Flag


def mhr_len(fcf0, fcf1):
    # MAC header length from the frame control field (no security): what the TX FIFO's header
    # length octet holds. The chip only uses it for security (3.12.1) but it is filled in right.
    n = 3
    dm = (fcf1 >> 2) & 3
    sm = (fcf1 >> 6) & 3
    if dm:
        n += 4 if dm == 2 else 10
    if sm:
        if not (dm and fcf0 & 0x40):  # no PAN ID compression: source PAN ID present
            n += 2
        n += 2 if sm == 2 else 8
    return n


def rssi_dbm(raw):
    # The RSSI octet (0..255) as dBm: a straight line through the datasheet's RSSI curve,
    # 0 -> -90 dBm and 255 -> -35 dBm, within about 2 dB in between.
    return (raw * 55) // 255 - 90


def _tx_buffer(size):
    b = bytearray(size)
    b[0] = 0x80 | (_TXNFIFO >> 3)  # long write at the TX normal FIFO
    b[1] = ((_TXNFIFO << 5) & 0xE0) | 0x10
    return b


class MRF24J40:
    # The hal.radio.Radio interface, not subclassed: on the board a class whose methods only
    # raise costs RAM for nothing (tests_host/test_hal_interfaces.py checks the methods).
    HEADROOM = 0

    def __init__(
        self,
        spi,
        cs,
        reset=None,
        int_pin=None,
        wake=None,
        poll_ms=50,
        tx_wait_ms=20,
        coordinator=True,
        tx_queue=4,
        sleep_us=None,
    ):
        # cs, reset and wake: output Pins (cs idle high); int_pin: an input Pin, pulled up (INT
        # is active low after reset, SLPCON0.INTEDGE = 0). Without int_pin the radio is polled
        # every poll_ms (at most 5). sleep_us: the blocking delay used during reset (tests pass
        # the fake chip's clock). Raises OSError when the chip does not answer on SPI.
        self._spi = spi
        self._cs = cs
        self._reset_pin = reset
        self._int = int_pin
        self._delay = sleep_us or _sleep_us
        self._poll_ms = poll_ms if int_pin is not None else min(poll_ms, 5)
        self._tx_wait_ms = tx_wait_ms
        self._coordinator = coordinator
        self._b2 = bytearray(2)
        self._b3 = bytearray(3)
        self._rx_s = bytearray(_RX_SHORT)
        self._rx_l = bytearray(_RX_FULL)
        self._tx_s = _tx_buffer(_TX_SHORT)
        self._tx_l = _tx_buffer(_TX_FULL)
        self._txq = SlotRing([_tx_buffer(_TX_FULL) for _ in range(tx_queue)])
        self.stats = {}
        for k in _STATS:
            self.stats[k] = 0
        self.channel = 11
        self.rf_state = -1  # RFSTATE<7:5> after the last RF state machine reset
        self.tx_status = TX_NONE
        self.tx_retries = 0
        self.last_rssi_raw = 0
        self.on_tx = None  # called with tx_status as each transmission ends (the bridge)
        self.irqs = 0  # INT edges handled, modulo 2**16
        self._irq = False  # INT seen (or poll due): INTSTAT must be read
        self._rx_ready = False  # RXIF seen, RX FIFO not yet read
        self._tx_busy = False
        self._tx_t0 = 0
        self._kicker = None
        self._flag = _ThreadSafeFlag()
        cs(1)
        if wake is not None:
            wake(0)
        if int_pin is not None:
            # Before reset() arms the chip's interrupts, so no edge can come unseen.
            # One bound method for the life of the driver, held by the pin.
            int_pin.irq(handler=self._isr, trigger=int_pin.IRQ_FALLING)
        self.reset()

    # --- SPI access (serial interface: short 0AAAAAAW; long 1AAAAAAA AAAW0000) -------------

    def _rd(self, addr):
        b = self._b2
        b[0] = (addr << 1) & 0x7E
        b[1] = 0
        self._cs(0)
        self._spi.write_readinto(b, b)
        self._cs(1)
        return b[1]

    def _wr(self, addr, value):
        b = self._b2
        b[0] = ((addr << 1) & 0x7E) | 1
        b[1] = value
        self._cs(0)
        self._spi.write(b)
        self._cs(1)

    def _rd_long(self, addr):
        b = self._b3
        b[0] = 0x80 | (addr >> 3)
        b[1] = (addr << 5) & 0xE0
        b[2] = 0
        self._cs(0)
        self._spi.write_readinto(b, b)
        self._cs(1)
        return b[2]

    def _wr_long(self, addr, value):
        b = self._b3
        b[0] = 0x80 | (addr >> 3)
        b[1] = ((addr << 5) & 0xE0) | 0x10
        b[2] = value
        self._cs(0)
        self._spi.write(b)
        self._cs(1)

    def read_register(self, addr):
        # Any register by address (short below 0x40, long from 0x200): for `make bringup`.
        return self._rd(addr) if addr < 0x40 else self._rd_long(addr)

    # --- reset and initialisation --------------------------------------------------------

    def reset(self):
        # Hardware reset (3.1) when the RESET pin is wired; software reset, RX FIFO flush, then
        # the initialisation of 3.2, Example 3-1, in its order, for a nonbeacon-enabled PAN
        # coordinator (3.8); interrupts armed last.
        r = self._reset_pin
        d = self._delay
        if r is not None:
            r(0)
            d(_RESET_LOW_MS * 1000)
            r(1)
            d(_OSC_START_MS * 1000)
        w = self._wr
        wl = self._wr_long
        w(_SOFTRST, 0x07)  # 1. reset power, baseband and MAC
        self._soft_reset_done()
        w(_RXFLUSH, 0x01)  # nothing from before the reset is read as a frame (RIOT, MiWi)
        w(_PACON2, 0x98)  # 2. FIFOEN = 1, TXONTS = 0x6
        w(_TXSTBL, 0x95)  # 3. RFSTBL = 0x9
        wl(_RFCON0, 0x03)  # 4. RFOPT = 0x03
        wl(_RFCON1, 0x01)  # 5. VCOOPT (the example writes 0x01; its text says 0x02)
        wl(_RFCON2, 0x80)  # 6. PLLEN = 1
        wl(_RFCON6, 0x90)  # 7. TXFIL = 1, 20MRECVR = 1
        wl(_RFCON7, 0x80)  # 8. SLPCLKSEL = 0x2, the 100 kHz internal oscillator
        wl(_RFCON8, 0x10)  # 9. RFVCO = 1
        wl(_SLPCON1, 0x21)  # 10. CLKOUT disabled, SLPCLKDIV = 0x01
        # 11. Nonbeacon-enabled network (3.8): PAN coordinator, unslotted CSMA-CA with the
        # 802.15.4 defaults, beacon and superframe order 15. Normal reception mode
        # (RXMCR<1:0> = 00, 3.11.1.1) and auto-ACK on (NOACKRSP = 0).
        w(_RXMCR, _PANCOORD if self._coordinator else 0)
        w(_TXMCR, _TXMCR_CSMA)
        w(_ORDER, 0xFF)
        # Acknowledgment wait (3.13); retransmissions are fixed at 3. DRPACK = 0: ACKs to data
        # requests never announce pending data (no indirect transmission).
        w(_ACKTMOUT, _ACKTMOUT_MAWD)
        w(_BBREG2, 0x80)  # 12. CCA mode 1, energy above threshold
        w(_CCAEDTH, 0x60)  # 13. energy detection threshold, about -69 dBm
        w(_BBREG6, _RSSIMODE2)  # 14. append each frame's RSSI in the RX FIFO
        self.set_channel(self.channel)  # 16. channel (3.4), then 18-20: RF state machine reset
        if self._rd(_PACON2) != 0x98:
            raise OSError("MRF24J40 not answering on SPI (check wiring, CS and power)")
        self._irq = self._rx_ready = self._tx_busy = False
        self._txq.clear()
        self.tx_status = TX_NONE
        # 15. Interrupts (3.3), last: INTSTAT read first so no flag from before or during the
        # initialisation is pending (RIOT), then TX, RX and security unmasked (Linux).
        self._rd(_INTSTAT)
        w(_INTCON, _INTCON_ARM)

    def _soft_reset_done(self):
        for _ in range(_SOFTRST_POLLS):
            if not self._rd(_SOFTRST) & 0x07:
                return
            self._delay(_SOFTRST_POLL_US)
        raise OSError("MRF24J40 not answering on SPI: SOFTRST never cleared (check wiring, CS)")

    def set_channel(self, channel):
        # 3.4: RFCON0<7:4> = channel - 11 (2405 + 5 * (channel - 11) MHz), RFOPT kept at 0x3;
        # then reset the RF state machine, wait for the PLL and see it reach RX.
        if not 11 <= channel <= 26:
            raise ValueError("802.15.4 channel %d: the MRF24J40 covers 11..26" % channel)
        self.channel = channel
        self._wr_long(_RFCON0, ((channel - 11) << 4) | 0x03)
        self._wr(_RFCTL, _RFRST)
        self._wr(_RFCTL, 0x00)
        self._delay(_RF_CAL_US)
        st = 0
        for _ in range(_RF_POLLS):
            st = self._rd_long(_RFSTATE) & _RF_MASK
            if st == _RF_RX:
                break
            self._delay(_RF_POLL_US)
        else:
            self.stats["rf_not_rx"] += 1
        self.rf_state = st

    def configure(self, channel, pan_id, short_addr, ext_addr):
        # Addresses the hardware filter and auto-ACK match; ext_addr most significant first,
        # EADR0 holds the least significant octet (the one sent first on air).
        w = self._wr
        w(_PANIDL, pan_id & 0xFF)
        w(_PANIDH, (pan_id >> 8) & 0xFF)
        w(_SADRL, short_addr & 0xFF)
        w(_SADRH, (short_addr >> 8) & 0xFF)
        for i in range(8):
            w(_EADR0 + i, ext_addr[7 - i])
        self.set_channel(channel)

    def set_rx_mode(self, promiscuous=False, coordinator=True):
        # Normal mode (3.11.1.1) as a PAN coordinator or not, or promiscuous (3.11.1.2): every
        # frame with a good FCS, and no auto-ACK (NOACKRSP), as Linux's promiscuous mode; for
        # the bridge, which listens for other nodes.
        self._coordinator = coordinator
        if promiscuous:
            self._wr(_RXMCR, _PROMI | _NOACKRSP)
        else:
            self._wr(_RXMCR, _PANCOORD if coordinator else 0)

    def set_frame_pending(self, on):
        # ACKTMOUT.DRPACK: the frame-pending bit of the chip's auto-ACKs to data request
        # commands, for indirect transmission to sleepy devices. One bit for every device (no
        # per-source table in this chip), so a device with nothing queued may stay awake for
        # nothing while another has frames held. Meaning assumed from the register description;
        # not exercised on hardware.
        self._wr(_ACKTMOUT, _ACKTMOUT_MAWD | (0x80 if on else 0))

    def measure_rssi(self):
        # The energy on the channel now: an RSSI measurement on request (BBREG6.RSSIMODE1, wait
        # for RSSIRDY, read the RSSI register), as MiWi's channel assessment does; then back to
        # an RSSI appended to each frame. Returns the raw octet (rssi_dbm() converts), or -1
        # when RSSIRDY never came. For `make bringup`, never on the frame path.
        self._wr(_BBREG6, _RSSIMODE1)
        raw = -1
        for _ in range(_RF_POLLS):
            if self._rd(_BBREG6) & _RSSIRDY:
                raw = self._rd_long(_RSSI)
                break
            self._delay(_RF_POLL_US)
        self._wr(_BBREG6, _RSSIMODE2)
        return raw

    # --- interrupt -----------------------------------------------------------------------

    def _isr(self, pin):
        # Scheduled (ESP32) or hard IRQ context: no allocation, no SPI.
        self._irq = True
        self.irqs = (self.irqs + 1) & 0xFFFF  # wraps: stays a small int (`make bringup`)
        self._flag.set()

    def _service(self):
        # Reading INTSTAT clears every flag and releases INT, so each event is latched here.
        s = self._rd(_INTSTAT)
        if s & _SECIF:
            self._wr(_SECCON0, _SECIGNORE)  # no keys: RXIF follows with the frame as it came
            self.stats["rx_secured"] += 1
        if s & _TXNIF:
            self._tx_done()
        elif self._tx_busy and ticks_diff(_ticks_ms(), self._tx_t0) >= self._tx_wait_ms:
            self.stats["tx_timeout"] += 1
            self._tx_end(TX_LOST)
        if s & _RXIF:
            self._rx_ready = True
        return s

    async def _kick(self):
        # Ends when close() drops it (no cancel(): the task may belong to a finished loop).
        # With INT wired, a poll costs a GPIO read unless INT is low or a transmission is out.
        me = self._kicker
        pin = self._int
        st = self.stats
        while me is not None and self._kicker is me:
            await sleep_ms(self._poll_ms)
            st["poll"] += 1
            if pin is not None and pin():
                if not self._tx_busy:
                    continue
            elif pin is not None:
                st["poll_level"] += 1
            self._irq = True
            self._flag.set()

    # --- Radio interface -------------------------------------------------------------------

    async def wait_rx(self):
        if self._irq or self._rx_ready:
            return
        pin = self._int
        if pin is not None and not pin():
            # INT is low: an event the handler has not seen (an edge lost or still queued).
            self._irq = True
            self.stats["wake_level"] += 1
            return
        if self._kicker is None:
            self._kicker = asyncio.create_task(self._kick())
        await self._flag.wait()
        self.stats["wake"] += 1

    def recv(self, frame):
        # Small functions on this path: a frame of more than a few words of locals would be
        # allocated on the heap for every call.
        if self._irq:
            self._irq = False
            self._service()
        if not self._rx_ready:
            return False
        self._rx_ready = False
        return self._read_fifo(frame)

    def _read_fifo(self, frame):
        # The RX FIFO read of 3.11: stop the baseband writing the FIFO, read the length, the
        # PSDU, LQI and RSSI, let reception resume.
        self._wr(_BBREG1, _RXDECINV)
        rx = self._rx_s
        while True:
            # Into rx in place, as the register reads above: the read command in its first two
            # octets, then what rx still holds of the last frame goes out on SDI while the chip
            # shifts the FIFO out (a read takes only its command from SDI; assumed from the
            # datasheet's read sequence, not exercised on hardware): no padded command buffer.
            rx[0] = 0x80 | (_RXFIFO >> 3)
            rx[1] = (_RXFIFO << 5) & 0xE0
            self._cs(0)
            self._spi.write_readinto(rx, rx)
            self._cs(1)
            n = rx[2]
            if n <= _RX_SHORT_PSDU or rx is self._rx_l:
                break
            rx = self._rx_l  # a longer frame: the whole FIFO
        if n < _PSDU_MIN or n > PSDU_MAX:
            self._wr(_RXFLUSH, 0x01)
            self._wr(_BBREG1, 0)
            self.stats["rx_bad_len"] += 1
            return False
        self._wr(_BBREG1, 0)
        _copy_in(frame, rx, n)
        self.last_rssi_raw = rx[4 + n]
        self.stats["rx"] += 1
        return True

    def send(self, buf, n):
        # 3.12.2: load the TX normal FIFO (header length, frame length, MPDU; the chip appends
        # the FCS), then TXNTRIG, with TXNACKREQ when the frame asks for an acknowledgment.
        # Returns at once: True when the frame was started or queued behind the one on air.
        # tx_status follows when TXNIF is serviced (TX_PENDING until then).
        if n < 3 or n > _MPDU_MAX:
            self.stats["tx_refused"] += 1
            return False
        if self._tx_busy:
            tx = self._txq.claim()
            if tx is None:
                self.stats["tx_queue_full"] += 1
                return False
            _fill(tx, buf, n)
            self._txq.push(n)
            self.stats["tx_queued"] += 1
            return True
        tx = self._tx_s if n <= _TX_SHORT_MPDU else self._tx_l
        _fill(tx, buf, n)
        self._start(tx)
        return True

    def _start(self, tx):
        # Writing the FIFO during a transmission would corrupt it: only ever called idle.
        self._cs(0)
        self._spi.write(tx)  # octets past the frame length are ignored by the chip
        self._cs(1)
        self._tx_busy = True
        self._tx_t0 = _ticks_ms()
        self.tx_status = TX_PENDING
        self.stats["tx"] += 1
        self._wr(_TXNCON, _TXNTRIG | (_TXNACKREQ if tx[4] & _FCF_AR else 0))

    def _tx_done(self):
        t = self._rd(_TXSTAT)
        self.tx_retries = t >> 6
        st = self.stats
        if not t & _TXNSTAT:
            st["tx_ok"] += 1
            self._tx_end(TX_OK)
        elif t & _CCAFAIL:
            st["tx_cca_fail"] += 1
            self._tx_end(TX_CCA_FAIL)
        else:
            st["tx_no_ack"] += 1
            self._tx_end(TX_NO_ACK)

    def _tx_end(self, status):
        self.tx_status = status
        self._tx_busy = False
        cb = self.on_tx
        if cb is not None:
            cb(status)
        if self._txq.pop():
            self._start(self._txq.buf)

    def hello(self):
        pass  # on real air there is no one to announce to

    def tx_pending(self):
        # Frames not yet finished: the one on air and those queued behind it.
        return len(self._txq) + (1 if self._tx_busy else 0)

    def close(self):
        # Also needed before the driver is used under another event loop: the poll task
        # belongs to the loop that was running when wait_rx() first ran.
        if self._int is not None:
            self._int.irq(handler=None)
        self._kicker = None


def _copy_in(frame, rx, n):
    # FIFO image (after 2 command octets and the length) into the caller's RxFrame.
    buf = frame.buf
    for i in range(n):
        buf[i] = rx[3 + i]
    frame.off = 0
    frame.n = n
    frame.lqi = rx[3 + n]
    frame.rssi = (rx[4 + n] * 55) // 255 - 90  # rssi_dbm(), inlined
    frame.crc_ok = True


def _fill(tx, buf, n):
    # TX FIFO image after the 2 command octets: header length, frame length, MPDU.
    tx[2] = mhr_len(buf[0], buf[1])
    tx[3] = n
    for i in range(n):
        tx[4 + i] = buf[i]
