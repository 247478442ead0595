# Wraparound-safe millisecond ticks with the ESP32's period (2**30 ms, about 12.4 days).
#
# The unix port's time.ticks_* wrap at 2**62, so it would never exercise the wrap; every timer
# in the core uses these functions on ticks that the HAL clock already reduced modulo PERIOD.
# Same semantics as MicroPython's time.ticks_add / time.ticks_diff (docs/library/time.rst).


PERIOD = const(0x40000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


# Every intermediate stays inside [-2**30, 2**30) so it is a small int on the ESP32 (31-bit
# small ints): these run per frame, and a big-int intermediate would allocate. PERIOD itself
# (2**30) is not a small int there, so the arithmetic uses _HALF twice instead.


def ticks_add(t, delta):
    # delta: -PERIOD/2 .. PERIOD/2
    t = t - _HALF - _HALF + (delta & _MASK)
    if t < 0:
        t = t + _HALF + _HALF
    return t


def ticks_diff(a, b):
    # Signed distance a - b, valid while the true distance is under PERIOD / 2.
    d = (a - b) & _MASK
    return d - _HALF - _HALF if d >= _HALF else d


def expired(now, deadline):
    return ticks_diff(now, deadline) >= 0


class Uptime:
    # Whole seconds since the first advance(), from wrapping ticks: for ages and note rates that
    # must outlast the ticks' period. advance() must come more often than every PERIOD / 2.
    def __init__(self):
        self.s = 0
        self._ms = 0
        self._last = -1

    def advance(self, now):
        if self._last < 0:
            self._last = now
            return
        d = ticks_diff(now, self._last)
        if d <= 0:
            return
        self._last = now
        ms = self._ms + d
        if ms >= 1000:
            self.s += ms // 1000
            ms %= 1000
        self._ms = ms
