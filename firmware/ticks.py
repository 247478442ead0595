# Wraparound-safe millisecond ticks with the ESP32's period (2**30 ms, about 12.4 days).
#
# The unix port's time.ticks_* wrap at 2**62, so it would never exercise the wrap; every timer
# in the core uses these functions on ticks that the HAL clock already reduced modulo PERIOD.
# Same semantics as MicroPython's time.ticks_add / time.ticks_diff (docs/library/time.rst).

from firmware.compat import const

PERIOD = const(0x40000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def ticks_add(t, delta):
    return (t + delta) & _MASK


def ticks_diff(a, b):
    # Signed distance a - b, valid while the true distance is under PERIOD / 2.
    return ((a - b + _HALF) & _MASK) - _HALF


def expired(now, deadline):
    return ticks_diff(now, deadline) >= 0
