# `make bringup`: the MRF24J40 on a board checked step by step, on the board itself (run by
# tools/bringup.py through mpremote, on the deployed firmware's pin map). Each step prints one
# JSON line: {"step", "ok", ...details, "hint"}; a failed step's hint says what it most likely
# means. Nothing here runs in the hub; the machine module and the pin map are passed in, so the
# host tests run every step against the register fake with faults wired in.

import gc
import json
import time

from contract.frame import RxFrame
from hal.esp32 import mrf24j40 as drv

# Registers and the values the driver's initialisation leaves (3.2, Example 3-1).
EXPECTED = (
    ("RXMCR", 0x00, 0x08),
    ("TXMCR", 0x11, 0x1C),
    ("ACKTMOUT", 0x12, 0x39),
    ("PACON2", 0x18, 0x98),
    ("TXSTBL", 0x2E, 0x95),
    ("INTCON", 0x32, 0xE6),
    ("BBREG2", 0x3A, 0x80),
    ("BBREG6", 0x3E, 0x40),
    ("CCAEDTH", 0x3F, 0x60),
    ("RFCON1", 0x201, 0x01),
    ("RFCON2", 0x202, 0x80),
    ("RFCON6", 0x206, 0x90),
    ("RFCON7", 0x207, 0x80),
    ("RFCON8", 0x208, 0x10),
    ("SLPCON1", 0x220, 0x21),
)
_ORDER = 0x10  # reset value 0xFF, which a hardware reset must restore
_ACKTMOUT = 0x12  # reset value 0x39: with ORDER, tells a reset chip from a silent one (0xFF)
_EADR0 = 0x05
_BEACON_REQUEST = b"\x03\x08\x00\xff\xff\xff\xff\x07"  # IEEE 802.15.4-2006 7.3.7
_HHT_EUI = b"\x00\x23\x7e\xff\xfe\x00\x00\x01"

try:
    _sleep_ms = time.sleep_ms
except AttributeError:  # CPython, for host tests

    def _sleep_ms(ms):
        time.sleep(ms / 1000)


def _print_json(rec):
    print(json.dumps(rec))


class Checks:
    def __init__(self, machine, pins, baudrate, channel=11, out=None, listen_ms=1000):
        self.machine = machine
        self.pins = pins
        self.baudrate = baudrate
        self.channel = channel
        self.out = out or _print_json
        self.sleep_ms = _sleep_ms
        self.listen_ms = listen_ms
        self.radio = None
        self.failed = 0

    def step(self, name, ok, hint="", **detail):
        rec = {"step": name, "ok": bool(ok)}
        rec.update(detail)
        if not ok:
            rec["hint"] = hint
            self.failed += 1
        self.out(rec)
        return ok

    def run(self):
        if self.spi():
            for check in (self.registers, self.reset_line, self.rf_state, self.rssi, self.beacon):
                check()
        self.step("heap", True, free=gc.mem_free() if hasattr(gc, "mem_free") else None)
        if self.radio is not None:
            self.radio.close()
        return self.failed

    def spi(self):
        from boards.esp32_common import make_radio, radio_bus

        p = self.pins
        try:
            self.radio = make_radio(self.machine, p, self.baudrate)
            return self.step("spi", True, sck=p["sck"], mosi=p["mosi"], miso=p["miso"], cs=p["cs"])
        except OSError as e:
            spi, cs, _, _, _ = radio_bus(self.machine, p, self.baudrate)
            b = bytearray(2)
            b[0] = (_ORDER << 1) & 0x7E
            cs(0)
            spi.write_readinto(b, b)
            cs(1)
            if b[1] == 0xFF:
                why = "every read is 0xFF: nothing drives MISO. Check 3V3 and GND at the module,"
                why += " CS on GPIO %d and SDO on GPIO %d" % (p["cs"], p["miso"])
            elif b[1] == 0x00:
                why = "every read is 0x00: MISO held low. Check SDO on GPIO %d, and that the"
                why = why % p["miso"] + " module is powered (an unpowered chip pulls it down)"
            else:
                why = "reads are not what was written: SCK/SDI swapped or the SPI too fast for"
                why += " the wires; check SCK GPIO %d, SDI GPIO %d, or lower SPI_BAUDRATE" % (
                    p["sck"],
                    p["mosi"],
                )
            why += " (the pin map is the board module's PINS)"
            return self.step("spi", False, why, error=str(e))

    def registers(self):
        r = self.radio
        bad = {}
        for name, addr, want in EXPECTED:
            got = r.read_register(addr)
            if got != want:
                bad[name] = "0x%02X (want 0x%02X)" % (got, want)
        want = ((self.radio.channel - 11) << 4) | 0x03
        got = r.read_register(0x200)
        if got != want:
            bad["RFCON0"] = "0x%02X (want 0x%02X)" % (got, want)
        # The extended address registers take any pattern: every data bit both ways.
        for pattern in (0x55, 0xAA, 0x00, 0xFF):
            r._wr(_EADR0, pattern)
            got = r.read_register(_EADR0)
            if got != pattern:
                bad["EADR0"] = "wrote 0x%02X, read 0x%02X" % (pattern, got)
                break
        return self.step(
            "registers",
            not bad,
            "writes do not stick: a bad SDI (MOSI) connection, noise on long wires, or the SPI"
            " clock too fast for them (lower SPI_BAUDRATE in the board module)",
            mismatches=bad,
        )

    def reset_line(self):
        # A non-reset value in ORDER, a pulse on RESET: a wired RESET brings back 0xFF (the
        # check MiWi's own board test makes).
        r = self.radio
        r._wr(_ORDER, 0x22)
        r._wr(_ACKTMOUT, 0x3A)
        rst = self.machine.Pin(self.pins["reset"])
        rst(0)
        drv._sleep_us(20000)  # the driver's pulse and oscillator start-up (sleep_us is exact)
        rst(1)
        drv._sleep_us(2000)
        ok = r.read_register(_ORDER) == 0xFF and r.read_register(_ACKTMOUT) == 0x39
        r.reset()  # initialise again, whatever happened
        return self.step(
            "reset_line",
            ok,
            "the RESET pulse on GPIO %d did not reset the chip: RESET not wired to it, or held"
            " high; a hung chip then needs a power cycle" % self.pins["reset"],
            gpio=self.pins["reset"],
        )

    def rf_state(self):
        r = self.radio
        r.configure(self.channel, 0xFFFF, 0xFFFF, _HHT_EUI)
        r.set_rx_mode(False, False)  # hear every coordinator's beacon (PAN ID 0xFFFF)
        return self.step(
            "rf_state",
            r.rf_state == 0xA0,
            "the RF state machine never reached RX after its reset: the 20 MHz crystal or the"
            " 3V3 supply (decoupling close to the module) is the usual cause",
            rfstate="0x%02X" % (r.rf_state & 0xFF),
            channel=self.channel,
        )

    def rssi(self):
        raw = self.radio.measure_rssi()
        ok = raw >= 0
        dbm = drv.rssi_dbm(raw) if ok else None
        rec = {"raw": raw, "dbm": dbm, "channel": self.channel}
        if ok and dbm > -60:
            rec["note"] = "strong energy on the channel: WiFi or another transmitter nearby"
        return self.step(
            "rssi", ok, "RSSIRDY never came: the baseband is not running (see rf_state)", **rec
        )

    def beacon(self):
        # A beacon request on air, then listen_ms for beacons: any hub or coordinator in range
        # answers it.
        r = self.radio
        irqs = r.irqs
        r.send(_BEACON_REQUEST, len(_BEACON_REQUEST))
        f = RxFrame()
        beacons = []
        for _ in range(self.listen_ms // 10):
            r._irq = True  # service INTSTAT whether or not INT works: the INT check is apart
            while r.recv(f):
                if f.n >= 9 and f.buf[0] & 7 == 0:
                    pan = f.buf[3] | (f.buf[4] << 8)
                    beacons.append({"pan_id": "0x%04X" % pan, "lqi": f.lqi, "dbm": f.rssi})
            self.sleep_ms(10)
        st = r.tx_status
        names = {drv.TX_OK: "ok", drv.TX_CCA_FAIL: "cca_fail", drv.TX_PENDING: "no_txnif"}
        sent = self.step(
            "transmit",
            st == drv.TX_OK,
            "the channel was busy for every CSMA attempt (interference, or energy detection"
            " mis-set)"
            if st == drv.TX_CCA_FAIL
            else "the chip never reported the transmission done: it is not running (see"
            " rf_state and reset_line)",
            status=names.get(st, st),
        )
        self.step(
            "int_line",
            r.irqs != irqs,
            "no interrupt edge on GPIO %d although the chip raised one: INT not wired there, or"
            " the pull-up missing; the hub would then hear frames only every poll (50 ms)"
            % self.pins["int"],
            gpio=self.pins["int"],
        )
        return (
            self.step(
                "beacon_reply",
                bool(beacons),
                "no beacon came back on channel %d: no hub or coordinator in range there (a second"
                " hub, or a hub behind a bridge board, answers), or the antenna side is dead if"
                " one is known to be there" % self.channel,
                beacons=beacons[:4],
            )
            and sent
        )


def main(board="esp32_devkitc", channel=11):
    # On the board: mpremote exec "from boards import bringup; bringup.main()"
    import machine

    mod = __import__("boards." + board, None, None, ["PINS"])
    rate = getattr(mod, "SPI_BAUDRATE", 8000000)
    return Checks(machine, mod.PINS, rate, channel).run()
