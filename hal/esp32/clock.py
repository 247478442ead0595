# The ESP32's clock: ticks from time.ticks_ms, wall time kept by the RTC.
#
# On the ESP32 time.ticks_ms() already wraps at 2**30 ms (small ints are 31-bit, so
# TICKS_PERIOD = 2**30, about 12.4 days), which is exactly hal.clock's contract; the mask below
# is a no-op there and makes the same class right on the unix port (2**62) for tests.
#
# Wall time: hal.clock keeps it as an offset from uptime. set_time() also writes the RTC, which
# keeps counting across soft resets, machine.reset() and watchdog resets (not power loss), so
# after such a reset the hub starts with the time it had. An RTC reading before 2024 means it
# was never set since power-up (it starts at 2000-01-01) and is ignored.

import time

from hal.clock import Clock

_MASK = const(0x3FFFFFFF)

try:
    _ticks_ms = time.ticks_ms
except AttributeError:  # CPython, for host tests of the boards

    def _ticks_ms():
        return int(time.monotonic() * 1000)


EPOCH_2000 = 946684800  # the ESP32 port's time epoch, in Unix seconds
_PLAUSIBLE = 1704067200  # 2024-01-01T00:00:00Z


def days_from_civil(y, m, d):
    # Days since 1970-01-01 of a proleptic Gregorian date (years counted from March).
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    # (year, month, day) of a day count since 1970-01-01; inverse of days_from_civil.
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (yoe + era * 400 + (1 if m <= 2 else 0), m, d)


def to_datetime(epoch_s):
    # Unix seconds -> machine.RTC.datetime() tuple (year, month, day, weekday Mon=0, h, m, s, us).
    days = epoch_s // 86400
    s = epoch_s - days * 86400
    y, m, d = civil_from_days(days)
    return (y, m, d, (days + 3) % 7, s // 3600, (s // 60) % 60, s % 60, 0)


def from_datetime(dt):
    return days_from_civil(dt[0], dt[1], dt[2]) * 86400 + dt[4] * 3600 + dt[5] * 60 + dt[6]


class Esp32Clock(Clock):
    def __init__(self, rtc=None, ticks_ms=None):
        # rtc: a machine.RTC(), or None to keep wall time in RAM only.
        self._ticks = ticks_ms or _ticks_ms
        self._rtc = rtc
        self.rtc_restored = False
        if rtc is not None:
            s = from_datetime(rtc.datetime())
            if s >= _PLAUSIBLE:
                Clock.set_time(self, s)
                self.rtc_restored = True

    def ticks_ms(self):
        return self._ticks() & _MASK

    def set_time(self, epoch_s):
        Clock.set_time(self, epoch_s)
        if self._rtc is not None:
            self._rtc.datetime(to_datetime(int(epoch_s)))
