# A WAN link over TCP to the head-end, framed as contract.wan_msg describes. Board-neutral: the
# sim board uses it on loopback, the ESP32 board under WiFi (hal/esp32/wan_wifi.py).
#
# On MicroPython a TCP connect is non-blocking and "succeeds" before the peer has answered; a
# refused connection shows up on the first read. So a link is only trusted once the head-end has
# been heard (firmware.wan_monitor counts from the first message, not from connect()).
#
# Closing is close() then await wait_closed(), on both interpreters. On MicroPython
# Stream.close() does nothing and wait_closed() is what closes the socket
# (extmod/asyncio/stream.py); without it every reconnect leaked a socket and its buffers.
# CPython's close() starts closing the transport and wait_closed() waits for it.
#
# One message at a time: the uplink's reader answers requests while its session task delivers
# the outbox and heartbeats, and MicroPython's Stream allows a single drain (extmod/asyncio/
# stream.py: a second one resends the first's buffer, or fails on the IO queue's one writer
# per socket), which broke the framing under load. A lock holds write and drain together.

import asyncio

from contract import wan_msg


class TcpWan:
    # The hal.wan.WanLink interface, not subclassed: on the board (under WiFi) a class whose
    # methods only raise costs RAM for nothing (tests_host/test_hal_interfaces.py checks them).
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self._r = None
        self._w = None
        self._sending = asyncio.Lock()
        self.protocol_errors = 0

    async def connect(self):
        await self.close()
        try:
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self._r = self._w = None
            return False
        return True

    def is_connected(self):
        return self._w is not None

    async def send(self, msg):
        # msg: one whole message as wan_msg.encode() built it (header included).
        async with self._sending:
            w = self._w  # after the wait: the link may have closed meanwhile
            if w is None:
                return False
            try:
                w.write(msg)
                await w.drain()
                return True
            except OSError:
                if self._w is w:  # not a newer link that connect() made meanwhile
                    await self.close()
                return False

    async def recv(self):
        # Next message (type octet + body), or None when the link closed or broke protocol.
        r = self._r
        if r is None:
            return None
        try:
            n = wan_msg.length(await r.readexactly(wan_msg.HEADER_LEN))
            if n < 0:
                self.protocol_errors += 1
                if self._r is r:
                    await self.close()
                return None
            return await r.readexactly(n)
        except (OSError, EOFError):  # CPython's IncompleteReadError is an EOFError
            if self._r is r:  # not a newer link that connect() made meanwhile
                await self.close()
            return None

    async def close(self):
        w = self._w
        self._r = self._w = None  # first: a task running while we wait sees the link down
        if w is not None:
            try:
                w.close()
                await w.wait_closed()
            except OSError:  # a reset peer: the socket is closed all the same
                pass
