# WAN link interface: a message-oriented connection to the head-end. The WAN monitor above it
# (heartbeats, loss/restore hysteresis, reconnect back-off) is the same code on every board; a
# board supplies the transport (TCP in simulation, WiFi + TCP on the ESP32).


class WanLink:
    async def connect(self):
        # Try once; True when connected.
        raise NotImplementedError

    def is_connected(self):
        raise NotImplementedError

    async def send(self, msg):
        # Send one message (bytes). Returns False when the link is down. Several tasks may send
        # at once (the uplink's reader and its session): each message goes out whole, in turn.
        raise NotImplementedError

    async def recv(self):
        # Next message (bytes), or None when the link closed.
        raise NotImplementedError

    async def close(self):
        # Releases the connection (socket and buffers) before it returns.
        raise NotImplementedError
