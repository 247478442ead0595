# Clock interface: monotonic ticks for every timer, settable wall time for humans and records.
#
# ticks_ms() returns milliseconds in [0, contract.ticks.PERIOD) and wraps like the ESP32's
# (2**30 ms); compare ticks only with contract.ticks.ticks_diff. Uptime accumulates tick
# differences on every read, so it survives any number of wraps provided it is read at least
# once per PERIOD / 2 (6.2 days); the hub reads it every few seconds. Wall time is uptime plus
# an offset fixed when the time is set (from the WAN or an authenticated HHT command).

from contract import compat
from contract.ticks import ticks_diff


class Clock:
    _last = None
    _up_ms = 0
    _wall_offset_ms = None

    def ticks_ms(self):
        raise NotImplementedError

    async def sleep_ms(self, ms):
        # Sleep for ms of *this clock's* time; a fast sim clock overrides it to sleep less.
        await compat.sleep_ms(ms)

    def uptime_ms(self):
        now = self.ticks_ms()
        if self._last is not None:
            self._up_ms += ticks_diff(now, self._last)
        self._last = now
        return self._up_ms

    def time(self):
        # Wall clock, whole seconds since 1970-01-01 UTC; 0 while it has never been set.
        if self._wall_offset_ms is None:
            return 0
        return (self._wall_offset_ms + self.uptime_ms()) // 1000

    def set_time(self, epoch_s):
        self._wall_offset_ms = int(epoch_s) * 1000 - self.uptime_ms()

    def time_is_set(self):
        return self._wall_offset_ms is not None
