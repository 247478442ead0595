# What every ESP32 board module shares: boot.py's safe-boot check and reset-cause record, the
# event log on flash, the WAN link built from the settings store, and main()'s run loop, which
# writes an uncaught exception to flash before machine.reset(). Board modules (esp32_devkitc,
# esp32_c3_devkitm) only say which pins go where. Every machine/network object is passed in,
# so host tests drive all of this with the fakes in hal/fake/esp32.py.

import asyncio
import json
import os
import sys

from firmware.events import Events
from hal.esp32.clock import Esp32Clock
from hal.esp32.mrf24j40 import MRF24J40
from hal.esp32.wan_wifi import WifiWan
from hal.esp32.watchdog import Esp32Watchdog
from hal.file_storage import FileStorage

# Private constants (folded by the compiler, no globals on the board); each is the default of
# the parameter that tests override.
_STATE_DIR = const("/state")  # hal.file_storage records (settings, outbox, device log), littlefs
_LOG_FILE = const("/events.log")  # event lines, also on the console; rotated to events.log.1
_LOG_MAX = const(32768)
_RESET_FILE = const("/reset_cause.json")
_CRASH_FILE = const("/crash.log")  # the last uncaught exception: `mpremote cat :crash.log`
_BRIDGE_FILE = const("/bridge")  # present: the board boots as a bridge (firmware/bridge.py)
_CRASH_DELAY_MS = const(5000)  # before machine.reset(): Ctrl-C reaches the REPL, flash spared
_SAFE_BOOT_WINDOW_MS = const(1000)

# Set by boot() (boot.py); main() starts nothing while it is True. Module state lives until the
# next soft reset, which is also what ends a safe boot (Ctrl-D then runs main.py as usual).
safe_boot = False
reset_cause = None

_CAUSES = (
    ("PWRON_RESET", "power-on"),
    ("HARD_RESET", "hard"),  # machine.reset(), a panic
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep-sleep"),
    ("SOFT_RESET", "soft"),  # Ctrl-D, mpremote
)

try:  # by name: `time` itself is not a global of this module on the board
    from time import sleep_ms as _sleep_ms
except ImportError:  # CPython
    import time

    def _sleep_ms(ms):
        time.sleep(ms / 1000)


def cause_name(machine, code):
    for attr, name in _CAUSES:
        if getattr(machine, attr, None) == code:
            return name
    return "unknown(%s)" % (code,)


def boot_button():
    # The BOOT button is the chip's boot strapping pin: GPIO0 on the ESP32, S2 and S3, GPIO9 on
    # the RISC-V parts (C3, C6, H2). The same on every Espressif devkit, so boot.py needs no
    # board module.
    m = getattr(sys.implementation, "_machine", "")
    for chip in ("ESP32C3", "ESP32C6", "ESP32H2"):
        if chip in m:
            return 9
    return 0


def _read_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def boot(machine=None, pin=None, window_ms=_SAFE_BOOT_WINDOW_MS, path=_RESET_FILE, sleep_ms=None):
    # Called by boot.py. Records the reset cause (and a boot count) in a file, then, after a
    # power-on or hard reset only, gives the engineer window_ms to hold the BOOT button for a
    # safe boot. GPIO0 is sampled as a strapping pin while reset is released, so the button must
    # be pressed after releasing EN/RST, not before (that is the ROM download mode).
    global safe_boot, reset_cause
    if machine is None:
        import machine
    sleep = sleep_ms or _sleep_ms
    code = machine.reset_cause()
    reset_cause = cause_name(machine, code)
    prev = _read_json(path)
    boots = prev.get("boots", 0) + 1 if isinstance(prev, dict) else 1
    try:
        with open(path, "w") as f:
            f.write(json.dumps({"cause": reset_cause, "code": code, "boots": boots}))
    except OSError:
        pass  # a full or read-only filesystem must not stop the boot
    safe_boot = False
    if reset_cause in ("power-on", "hard") and window_ms > 0:
        Pin = machine.Pin
        button = Pin(boot_button() if pin is None else pin, Pin.IN, Pin.PULL_UP)
        print("commshub: hold BOOT now for a safe boot (REPL only)")
        for _ in range(window_ms // 50):
            if button.value() == 0:
                safe_boot = True
                break
            sleep(50)
    if safe_boot:
        print("commshub: safe boot, the hub is not started; Ctrl-D or reset runs it")
    return safe_boot


class EventLog:
    # The event sink on a board: each JSON line to the console and appended to a file on flash,
    # rotated at max_bytes so flash use is bounded. A failing write (flash full) is counted,
    # never raised: the hub must not stop for a log line.
    def __init__(self, path=_LOG_FILE, max_bytes=_LOG_MAX, out=None):
        self.path = path
        self.max_bytes = max_bytes
        self._out = out if out is not None else sys.stdout
        self.errors = 0
        try:
            self._size = os.stat(path)[6]
        except OSError:
            self._size = 0

    def write(self, line):
        self._out.write(line)
        try:
            if self._size + len(line) > self.max_bytes:
                os.rename(self.path, self.path + ".1")
                self._size = 0
            with open(self.path, "a") as f:
                f.write(line)
            self._size += len(line)
        except OSError:
            self.errors += 1


def _persisted(storage):
    try:
        raw = storage.read("settings")
        rec = json.loads(raw) if raw else {}
        return rec if isinstance(rec, dict) else {}
    except ValueError:
        return {}


def wan_settings(storage):
    # "wifi.ssid", "wifi.password" and "wan.headend" (HOST:PORT, as the sim board's --headend):
    # through firmware.settings when it defines the key, else straight from the persisted
    # settings record, so provisioning works either way (docs/esp32.md).
    out = {"wifi.ssid": "", "wifi.password": "", "wan.headend": ""}
    from firmware import settings

    known = [k for k in out if settings.known(k)]
    if known:
        try:
            s = settings.Settings(storage)
            for k in known:
                out[k] = s[k]
        except ValueError:
            pass
    rec = _persisted(storage)
    for k in out:
        if k not in known and k in rec:
            out[k] = str(rec[k])
    return out


def make_wan(storage, network=None):
    # None when no head-end is configured (as the sim board without --headend); otherwise WiFi
    # + TCP, which simply fails to connect (a WAN loss) while WiFi is unprovisioned.
    cfg = wan_settings(storage)
    host, sep, port = cfg["wan.headend"].rpartition(":")
    if not sep or not host:
        return None
    if network is None:
        import network
    wlan = network.WLAN(network.STA_IF)
    return WifiWan(wlan, cfg["wifi.ssid"], cfg["wifi.password"], host, int(port))


def last_crash(path=_CRASH_FILE):
    # The last line of the last crash's traceback (the exception), or None.
    try:
        with open(path) as f:
            lines = [s for s in f.read().split("\n") if s]
        return lines[-1] if lines else None
    except OSError:
        return None


def radio_bus(machine, pins, baudrate):
    # The MRF24J40's SPI bus and pins from a board's pin map: (spi, cs, reset, int, wake).
    Pin = machine.Pin
    spi = machine.SPI(
        pins["spi"],
        baudrate=baudrate,
        polarity=0,
        phase=0,
        sck=Pin(pins["sck"]),
        mosi=Pin(pins["mosi"]),
        miso=Pin(pins["miso"]),
    )
    return (
        spi,
        Pin(pins["cs"], Pin.OUT, value=1),
        Pin(pins["reset"], Pin.OUT, value=1),
        Pin(pins["int"], Pin.IN, Pin.PULL_UP),
        Pin(pins["wake"], Pin.OUT, value=0),
    )


def make_radio(machine, pins, baudrate):
    # The board's radio (also what `make bringup` checks). Raises OSError when the chip does
    # not answer on SPI.
    spi, cs, reset, int_pin, wake = radio_bus(machine, pins, baudrate)
    return MRF24J40(spi, cs, reset=reset, int_pin=int_pin, wake=wake)


class Esp32Board:
    # The parts every ESP32 board builds the same way; a board module adds radio, watchdog and
    # indicators from its pin map. App needs: name, clock, radio, storage, watchdog, indicators,
    # events, wan.
    name = "esp32"

    def __init__(self, machine, network=None, state_dir=_STATE_DIR, log=None):
        self.machine = machine
        self.clock = Esp32Clock(machine.RTC())
        self.log = log if log is not None else EventLog()
        self.events = Events(self.log.write, self.clock)
        self.storage = FileStorage(state_dir)
        self.wan = make_wan(self.storage, network)

    def radio_and_watchdog(self, machine, pins, baudrate):
        # What every board with an MRF24J40 on SPI does with its pin map: the radio on its bus
        # and pins, and the watchdog, vetoed while the jumper pulls its pin low.
        Pin = machine.Pin
        self.radio = make_radio(machine, pins, baudrate)
        jumper = Pin(pins["wdt_off"], Pin.IN, Pin.PULL_UP)
        self.watchdog = Esp32Watchdog(
            machine.WDT, enabled=jumper.value() == 1, on_start=self._watchdog_started
        )

    def _watchdog_started(self, timeout_ms, started):
        if started:
            self.events.emit("watchdog", state="armed", timeout_ms=timeout_ms)
        else:
            self.events.emit("watchdog", state="vetoed", reason="wdt_off jumper fitted")

    def announce(self):
        self.events.emit(
            "boot",
            board=self.name,
            reset_cause=reset_cause,
            last_crash=last_crash(),
            rtc_time_restored=self.clock.rtc_restored,
            watchdog_allowed=self.watchdog.enabled,
            wan=self.wan is not None,
        )


def overrides(argv):
    # "--set key=value" pairs, as the sim board takes them (sys.argv is empty on a board).
    out = []
    i = 0
    while i + 1 < len(argv):
        if argv[i] == "--set":
            out.append(argv[i + 1])
        i += 2 if argv[i] == "--set" else 1
    return out


def log_crash(exc, path=_CRASH_FILE):
    try:
        with open(path, "w") as f:
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc, f)
            else:  # CPython
                import traceback

                traceback.print_exception(type(exc), exc, exc.__traceback__, file=f)
    except OSError:
        pass


def bridge_mode(path=_BRIDGE_FILE):
    # `mpremote connect PORT fs touch :bridge + reset` makes a board a bridge for
    # tools/bridge.py; `fs rm :bridge` makes it a hub again.
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def run(
    make_board,
    machine,
    argv=(),
    crash_path=_CRASH_FILE,
    delay_ms=_CRASH_DELAY_MS,
    bridge_path=_BRIDGE_FILE,
    streams=(),
):
    # main() of a board module. Returns (to the REPL) after a safe boot or Ctrl-C; any other
    # way out of the app is a crash: logged to flash, then machine.reset() after delay_ms.
    # In bridge mode the board's radio serves tools/bridge.py on the USB serial line (streams:
    # its input and output, sys.stdin/stdout's buffers unless a test passes others).
    if safe_boot:
        return None
    board = None
    try:
        board = make_board()
        if bridge_mode(bridge_path):
            from firmware import bridge

            asyncio.run(bridge.run(board.radio, *streams))
            return board
        board.announce()
        from firmware.app import App

        app = App(board, overrides(argv))
        asyncio.run(app.main())
    except KeyboardInterrupt:
        if board is not None:
            board.events.emit("stopped", reason="interrupt")
        return board
    except BaseException as e:  # SystemExit from the app's fatal-exception handler included
        log_crash(e, crash_path)
        sys.stdout.write("commshub: crashed, see %s; reset in %d ms\n" % (crash_path, delay_ms))
        try:
            _sleep_ms(delay_ms)
        except KeyboardInterrupt:
            return board
        machine.reset()
    return board
