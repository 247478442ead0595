# A board for firmware.app.App with no I/O (manual clock, memory storage, silent
# indicators, events to a callable), for tests, the soak and the RAM bench.

from firmware.events import Events
from hal.fake.clock import ManualClock
from hal.fake.medium import FakeRadio
from hal.fake.storage import MemoryStorage
from hal.indicators import Indicators


class SilentIndicators(Indicators):
    def _show(self, name, on):
        pass


class FakeBoard:
    name = "fake"

    def __init__(self, radio=None, clock=None, sink=None):
        self.clock = clock or ManualClock()
        self.radio = radio or FakeRadio(inbox_max=32)
        self.storage = MemoryStorage()
        self.events = Events(sink or (lambda line: None), self.clock)
        self.indicators = SilentIndicators()
        self.watchdog = None
        self.wan = None
