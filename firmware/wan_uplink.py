# The WAN side of the shell: keeps the head-end link up (reconnecting with back-off), sends
# heartbeats, delivers the outbox in order, feeds the WAN monitor, and hands the head-end's
# requests to the app. The decisions (loss/restore hysteresis, back-off, heartbeat timing, what
# to drop when the queue is full) are the pure cores' (firmware.wan_monitor, firmware.wan_outbox).

import asyncio

from contract import wan_msg

_POLL_MS = const(200)  # how often a session looks at the outbox and the heartbeat clock


class Uplink:
    def __init__(self, link, monitor, outbox, clock, on_wan, on_message, hello, on_link=None):
        # on_wan(event) gets wan_monitor.LOST / RESTORED; on_message(msg) gets each message
        # other than a heartbeat and returns an encoded reply or None; hello() returns the JSON
        # object the hub introduces itself with on every connect. on_link(up) hears each
        # session begin (the head-end answered) and end, before the monitor's hysteresis.
        self.link = link
        self.monitor = monitor
        self.outbox = outbox
        self.clock = clock
        self._on_wan = on_wan
        self._on_message = on_message
        self._hello = hello
        self._on_link = on_link
        self.connects = 0
        self.sessions = 0  # connects on which the head-end was heard

    def _event(self, ev):
        if ev is not None:
            self._on_wan(ev)

    async def run(self):
        link = self.link
        mon = self.monitor
        clock = self.clock
        while True:
            self.connects += 1
            if await link.connect():
                await self._session()
            await link.close()
            was_up = mon.is_connected()
            self._event(mon.link_down(clock.ticks_ms()))
            if was_up and self._on_link is not None:
                self._on_link(False)
            await clock.sleep_ms(mon.next_connect_delay_ms())

    async def _send(self, msg):
        ok = await self.link.send(msg)
        if ok and self.monitor.is_connected():
            self.monitor.heartbeat_sent(self.clock.ticks_ms())
        return ok

    async def _session(self):
        if not await self._send(wan_msg.encode_json(self._hello())):
            return
        reader = asyncio.create_task(self._read())
        try:
            while self.link.is_connected() and not reader.done():
                if self.monitor.is_connected():
                    if not await self._deliver():
                        break
                    if self.monitor.heartbeat_due(self.clock.ticks_ms()):
                        await self._send(wan_msg.encode(wan_msg.HEARTBEAT))
                await self.clock.sleep_ms(_POLL_MS)
        finally:
            reader.cancel()

    async def _deliver(self):
        # The outbox in order: an item leaves the queue only once the link took it.
        ob = self.outbox
        while True:
            item = ob.peek()
            if item is None:
                return True
            if not await self._send(item[1]):
                return False
            ob.pop()

    async def _read(self):
        mon = self.monitor
        clock = self.clock
        while True:
            msg = await self.link.recv()
            if msg is None:
                return
            now = clock.ticks_ms()
            if not mon.is_connected():
                self.sessions += 1  # the head-end answered: only now is the link trusted
                self._event(mon.link_up(now))
                if self._on_link is not None:
                    self._on_link(True)
            self._event(mon.heard(now))
            if msg[0] != wan_msg.HEARTBEAT:
                reply = self._on_message(msg)
                if reply is not None:
                    await self._send(reply)
