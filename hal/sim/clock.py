# A simulation clock that can run faster than real time and start at any tick, e.g. 10 s
# before the 2**30 ms wraparound, so hours of hub life and the ESP32's 12.4-day wrap happen in
# seconds. Integer arithmetic only: ticks_ms() is read per frame and must not allocate.

import time

from contract.ticks import PERIOD
from hal.clock import Clock

try:
    _real_ms = time.ticks_ms  # MicroPython (the unix port's ticks wrap at 2**62)
    _real_diff = time.ticks_diff
except AttributeError:  # CPython

    def _real_ms():
        return int(time.monotonic() * 1000)

    def _real_diff(a, b):
        return a - b


class FastClock(Clock):
    def __init__(self, speed=1, start_ticks=0):
        self._milli = int(speed * 1000)  # speed in thousandths, so no float per read
        if self._milli <= 0:
            raise ValueError("speed must be positive")
        self._start = start_ticks % PERIOD
        self._t0 = _real_ms()

    def ticks_ms(self):
        return (self._start + _real_diff(_real_ms(), self._t0) * self._milli // 1000) % PERIOD

    async def sleep_ms(self, ms):
        await Clock.sleep_ms(self, ms * 1000 // self._milli)
