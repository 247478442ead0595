# Test fakes for the ESP32 board modules: stand-ins for the `machine`, `network` and `neopixel`
# modules, passed to a board by constructor (no sys.modules tricks). FakeMachine wires the pin
# numbers a board uses for the radio to a FakeMRF24J40, so the board's real driver resets and
# configures the fake chip through its SPI transactions.

from hal.fake.mrf24j40 import FakeMRF24J40, FakePin


class _PinFactory:
    # machine.Pin: calling it with a GPIO number returns that GPIO's (single) FakePin.
    IN = FakePin.IN
    OUT = FakePin.OUT
    OPEN_DRAIN = FakePin.OPEN_DRAIN
    PULL_UP = FakePin.PULL_UP
    PULL_DOWN = FakePin.PULL_DOWN
    IRQ_RISING = FakePin.IRQ_RISING
    IRQ_FALLING = FakePin.IRQ_FALLING

    def __init__(self, pins):
        self._pins = pins

    def __call__(self, id, mode=-1, pull=-1, value=None):
        p = self._pins.get(id)
        if p is None:
            p = self._pins[id] = FakePin(id, mode, pull, value)
        else:
            p.init(mode, pull, value)
        return p


class FakeWDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        FakeWDT.instances.append(self)

    def feed(self):
        self.feeds += 1


FakeWDT.instances = []


class FakeRTC:
    def __init__(self, dt=(2000, 1, 1, 5, 0, 0, 0, 0)):
        self.dt = dt

    def datetime(self, dt=None):
        if dt is None:
            return self.dt
        self.dt = tuple(dt)


class FakeMachine:
    PWRON_RESET = 1
    HARD_RESET = 2
    WDT_RESET = 3
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5

    def __init__(self, pins=None, chip=None, cause=1, rtc=None):
        # pins: the board's PINS; its "cs", "reset", "int" and "wake" GPIOs become the chip's.
        self.chip = chip if chip is not None else FakeMRF24J40()
        self.gpio = {}
        if pins:
            self.gpio[pins["cs"]] = self.chip.cs
            self.gpio[pins["reset"]] = self.chip.reset_pin
            self.gpio[pins["int"]] = self.chip.int_pin
            if pins.get("wake") is not None:
                self.gpio[pins["wake"]] = self.chip.wake
        self.spi_id = pins["spi"] if pins else None
        self.Pin = _PinFactory(self.gpio)
        self.WDT = FakeWDT
        FakeWDT.instances = []
        self._rtc = rtc if rtc is not None else FakeRTC()
        self.cause = cause
        self.resets = 0
        self.spi_args = None

    def SPI(self, id, *args, **kw):
        if id != self.spi_id:
            raise ValueError("no fake device on SPI(%r)" % (id,))
        self.spi_args = (id, args, kw)
        return self.chip.spi

    def RTC(self):
        return self._rtc

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1


class FakeWLAN:
    def __init__(self, iface=0, join_after=1):
        # join_after: isconnected() polls before the join succeeds; None never joins.
        self.iface = iface
        self._active = False
        self._connected = False
        self.join_after = join_after
        self._polls = 0
        self.joined = []  # (ssid, password) per connect()

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def connect(self, ssid, password=None):
        self.joined.append((ssid, password))
        self._polls = 0

    def disconnect(self):
        self._connected = False

    def isconnected(self):
        if not self._connected and self.joined and self.join_after is not None:
            self._polls += 1
            if self._polls > self.join_after:
                self._connected = True
        return self._connected

    def status(self, *args):
        return 1010 if self._connected else 1001

    def ifconfig(self):
        return ("192.0.2.10", "255.255.255.0", "192.0.2.1", "192.0.2.1")


class FakeNetwork:
    STA_IF = 0
    AP_IF = 1

    def __init__(self, join_after=1):
        self.wlan = FakeWLAN(0, join_after)

    def WLAN(self, iface=0):
        return self.wlan


class FakeNeoPixel:
    def __init__(self, pin, n):
        self.pin = pin
        self.pixels = [(0, 0, 0)] * n
        self.writes = 0

    def __setitem__(self, i, rgb):
        self.pixels[i] = tuple(rgb)

    def __getitem__(self, i):
        return self.pixels[i]

    def write(self):
        self.writes += 1


class FakeNeoPixelModule:
    NeoPixel = FakeNeoPixel


def scratch_dir(name):
    # A directory for a test's flash files: /tmp on the unix port; on a board (make
    # device-test) there is no /tmp, so the flash root.
    import sys

    return ("/tmp/" if sys.platform in ("linux", "darwin") else "/") + name


def rmtree(path):
    import os

    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        if os.stat(p)[0] & 0x4000:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)
