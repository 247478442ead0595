# Test fake: a clock that moves only when the test says so.

from contract.ticks import PERIOD
from hal.clock import Clock


class ManualClock(Clock):
    def __init__(self, start_ticks=0):
        self.now = start_ticks % PERIOD

    def ticks_ms(self):
        return self.now

    def advance(self, ms):
        self.now = (self.now + ms) % PERIOD
        return self.now

    async def sleep_ms(self, ms):
        self.advance(ms)
