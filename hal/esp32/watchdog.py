# The hardware watchdog, machine.WDT (the ESP-IDF task watchdog on the ESP32).
#
# Once started it cannot be stopped or deinitialised, and it survives a soft reset: an armed
# WDT keeps running under an mpremote session (which soft-resets into the raw REPL without
# running main.py) and resets the board mid-session. So it is only ever started by the app's
# supervisor when the "watchdog.enabled" setting asks for it (off by default), and a board may
# veto it with a jumper (enabled=False): start() then does nothing and says why. The ESP32's
# minimum timeout is 1 s. Only the supervisor task calls feed(), and only while every other
# task is alive (firmware/app.py).

_MIN_MS = const(1000)


class Esp32Watchdog:
    # The hal.watchdog.Watchdog interface, not subclassed: on the board a class whose methods
    # only raise costs RAM for nothing (tests_host/test_hal_interfaces.py checks them).
    def __init__(self, wdt_class, enabled=True, on_start=None):
        # wdt_class: machine.WDT (injected so tests pass a fake). on_start(timeout_ms, started)
        # lets the board log the decision.
        self._cls = wdt_class
        self._wdt = None
        self.enabled = enabled
        self.timeout_ms = 0
        self._on_start = on_start

    def start(self, timeout_ms):
        t = max(int(timeout_ms), _MIN_MS)
        if self.enabled and self._wdt is None:
            self._wdt = self._cls(timeout=t)
            self.timeout_ms = t
        if self._on_start is not None:
            self._on_start(t, self._wdt is not None)

    def started(self):
        return self._wdt is not None

    def feed(self):
        w = self._wdt
        if w is not None:
            w.feed()
