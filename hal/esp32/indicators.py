# LEDs on GPIO pins, one per indicator ("power", "join", "interpan", "wan"). The board passes
# output Pins already built; an indicator with no LED is ignored. active_low for LEDs wired
# from 3V3 to the pin.

from hal.indicators import Indicators


class PinIndicators(Indicators):
    def __init__(self, pins, active_low=False):
        Indicators.__init__(self)
        self._pins = pins
        self._low = active_low
        for p in pins.values():
            p(1 if active_low else 0)

    def _show(self, name, on):
        p = self._pins.get(name)
        if p is not None:
            p(0 if on == self._low else 1)
