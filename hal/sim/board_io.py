# The simulated board's watchdog and indicators.

import sys

from hal.indicators import Indicators
from hal.watchdog import Watchdog


class SimWatchdog(Watchdog):
    # Emulates a hardware watchdog's reset: a feed that comes later than the timeout (the
    # supervisor stalled) ends the process with status 3, as a reset would end the firmware.
    def __init__(self, clock, on_expire=None):
        self._clock = clock
        self._on_expire = on_expire
        self._timeout = 0
        self._last = 0

    def start(self, timeout_ms):
        self._timeout = timeout_ms
        self._last = self._clock.uptime_ms()

    def feed(self):
        now = self._clock.uptime_ms()
        if self._timeout and now - self._last > self._timeout:
            if self._on_expire:
                self._on_expire(now - self._last)
            sys.exit(3)
        self._last = now


class EventIndicators(Indicators):
    # LEDs as event lines: {"event": "indicator", "led": ..., "on": ...}.
    def __init__(self, emit):
        Indicators.__init__(self)
        self._emit = emit

    def _show(self, name, on):
        self._emit("indicator", led=name, on=on)
