# ESP32-C3-DevKitM-1 with the same MRF24J40MA radio: a second pin map, and its one RGB LED
# (a WS2812 on GPIO8) standing in for the four indicator LEDs. Nothing outside boards/ changes.
# Not main.py's default: deploy with `make deploy BOARD_MODULE=esp32_c3_devkitm` (docs/esp32.md).

from boards import esp32_common
from hal.indicators import Indicators

PINS = {
    # SPI(1) = SPI2, the C3's only general-purpose SPI, routed through the GPIO matrix (GPIO2,
    # the IO_MUX MISO, is a strapping pin and is left alone)
    "spi": 1,
    "sck": 6,
    "mosi": 7,
    "miso": 5,
    "cs": 10,
    "reset": 4,
    "int": 3,
    "wake": 1,
    "safe_boot": 9,  # BOOT button
    "wdt_off": 0,
    "rgb": 8,  # on-board WS2812
}
SPI_BAUDRATE = 8000000

# Colour per state, highest priority first; dim, it sits on the desk.
_OFF = (0, 0, 0)
_INTERPAN = (0, 0, 24)  # blue: an HHT may talk to the hub
_JOIN = (24, 12, 0)  # amber: joining permitted
_WAN = (0, 24, 0)  # green: head-end reachable
_NO_WAN = (24, 0, 0)  # red: powered, no WAN


class RgbIndicators(Indicators):
    def __init__(self, pixel):
        Indicators.__init__(self)
        self._np = pixel
        self._paint()

    def _show(self, name, on):
        self._paint()

    def _paint(self):
        s = self.state
        if not s.get("power"):
            c = _OFF
        elif s.get("interpan"):
            c = _INTERPAN
        elif s.get("join"):
            c = _JOIN
        elif s.get("wan"):
            c = _WAN
        else:
            c = _NO_WAN
        self._np[0] = c
        self._np.write()


class Board(esp32_common.Esp32Board):
    name = "esp32-c3-devkitm"

    def __init__(self, machine, network=None, neopixel=None, pins=PINS, **kw):
        esp32_common.Esp32Board.__init__(self, machine, network, **kw)
        if neopixel is None:
            import neopixel
        Pin = machine.Pin
        self.radio_and_watchdog(machine, pins, SPI_BAUDRATE)
        self.indicators = RgbIndicators(neopixel.NeoPixel(Pin(pins["rgb"], Pin.OUT), 1))


def main(argv=(), machine=None, network=None):
    if machine is None:
        import machine
    return esp32_common.run(lambda: Board(machine, network), machine, argv)
