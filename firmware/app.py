# The imperative shell: wires a board's HAL to the functional core with asyncio tasks.
#   receive      radio -> Hub.on_frame -> radio.send, drained per wake-up
#   housekeeping every log.counters_interval_s: aggregated drop counters, radio hello, gc
#   supervise    feeds the watchdog only while the other tasks are alive and checking in
# A board object provides: name, clock, radio, storage, watchdog, indicators, events.

import asyncio
import gc

from firmware import reject
from firmware.eui64 import to_guid
from firmware.hub import TRANSMIT, TX_BEACON, Hub
from firmware.settings import Settings
from hal.radio import RxFrame

VERSION = "0.1.0"


class App:
    def __init__(self, board, overrides=()):
        self.board = board
        self.clock = board.clock
        self.radio = board.radio
        self.events = board.events
        self.settings = Settings(board.storage, overrides)
        self.hub = Hub(self.settings)
        self.frame = RxFrame(board.radio.HEADROOM)
        self._reported = [0] * reject.COUNT
        self._tasks = ()
        self._beat = 0

    def report_rejects(self):
        # One line per reason that moved since the last report, never one per frame.
        rejected = self.hub.rejected
        seen = self._reported
        for code in range(1, reject.COUNT):
            n = rejected[code]
            if n != seen[code]:
                self.events.emit(
                    "frame_rejected", reason=reject.NAMES[code], count=n - seen[code], total=n
                )
                seen[code] = n

    async def _receive(self):
        radio = self.radio
        hub = self.hub
        frame = self.frame
        clock = self.clock
        while True:
            await radio.wait_rx()
            while radio.recv(frame):
                if hub.on_frame(frame, clock.ticks_ms()) == TRANSMIT:
                    radio.send(hub.tx_buf, hub.tx_len)
                    if hub.tx_kind == TX_BEACON:
                        self.events.emit(
                            "beacon_tx", seq=hub.tx_buf[2], permit_join=hub.permit_join
                        )

    async def _housekeeping(self):
        interval = self.settings["log.counters_interval_s"] * 1000
        while True:
            self.radio.hello()
            self.report_rejects()
            gc.collect()  # at an idle point, so a collection never lands inside a burst
            self._beat = self.clock.uptime_ms()
            await self.clock.sleep_ms(interval)

    def healthy(self):
        interval = self.settings["log.counters_interval_s"] * 1000
        if self.clock.uptime_ms() - self._beat > 3 * interval:
            return False
        for t in self._tasks:
            if t.done():
                return False
        return True

    async def _supervise(self):
        s = self.settings
        if not s["watchdog.enabled"]:
            return
        timeout = s["watchdog.timeout_s"] * 1000
        wd = self.board.watchdog
        wd.start(timeout)
        while True:
            if self.healthy():
                wd.feed()
            await self.clock.sleep_ms(timeout // 4)

    def _on_exception(self, loop, context):
        self.events.emit("fatal", error=repr(context.get("exception")))
        raise SystemExit(1)

    async def main(self):
        s = self.settings
        h = self.hub
        self.radio.configure(h.channel, h.pan_id, 0x0000, h.eui)
        asyncio.get_event_loop().set_exception_handler(self._on_exception)
        self.events.emit(
            "started",
            version=VERSION,
            board=self.board.name,
            guid=to_guid(h.eui),
            channel=h.channel,
            pan_id="0x%04X" % h.pan_id,
            permit_join=h.permit_join,
            ticks=self.clock.ticks_ms(),
            settings_load_errors=s.load_errors,
        )
        self.board.indicators.set("power", True)
        self._tasks = (
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._housekeeping()),
        )
        await self._supervise()
        await asyncio.gather(*self._tasks)
