# ESP32-DevKitC (ESP32-WROOM-32) with a Microchip MRF24J40MA 802.15.4 module on VSPI. Every
# GPIO the board uses is in PINS and nowhere else; the wiring table is in docs/esp32.md.
#
#   main.py -> boards.esp32_devkitc.main()    (boot.py has already run esp32_common.boot())

from boards import esp32_common
from hal.esp32.indicators import PinIndicators

PINS = {
    # MRF24J40MA on SPI(2) = VSPI/SPI3, on its IO_MUX pins (no GPIO-matrix delay)
    "spi": 2,
    "sck": 18,
    "mosi": 23,  # module SDI
    "miso": 19,  # module SDO
    "cs": 5,
    "reset": 4,
    "int": 27,  # active low after reset; input, pulled up
    "wake": 26,  # held low: sleep is not used
    # BOOT button (GPIO0): safe boot when held just after reset (esp32_common.boot)
    "safe_boot": 0,
    # Jumper to GND: the watchdog is never armed, whatever the settings say (lab benches)
    "wdt_off": 13,
    # LEDs, anode to the GPIO through ~330 ohm
    "led_power": 2,
    "led_join": 25,
    "led_interpan": 32,
    "led_wan": 33,
}
SPI_BAUDRATE = 8000000  # the MRF24J40 allows 10 MHz; margin for jumper wires


class Board(esp32_common.Esp32Board):
    name = "esp32-devkitc"

    def __init__(self, machine, network=None, pins=PINS, **kw):
        esp32_common.Esp32Board.__init__(self, machine, network, **kw)
        Pin = machine.Pin
        self.radio_and_watchdog(machine, pins, SPI_BAUDRATE)
        leds = {}
        for name in ("power", "join", "interpan", "wan"):
            leds[name] = Pin(pins["led_" + name], Pin.OUT, value=0)
        self.indicators = PinIndicators(leds)


def main(argv=(), machine=None, network=None):
    if machine is None:
        import machine
    return esp32_common.run(lambda: Board(machine, network), machine, argv)
