# The ESP32's WAN link: WiFi station (network.WLAN) under the board-neutral TCP link
# (hal.tcp_wan.TcpWan, framed by contract.wan_msg). connect() brings WiFi up if it is down,
# then connects TCP; everything else is the TCP link's. The WAN monitor above (heartbeats,
# loss/restore hysteresis, back-off) is the same code as in simulation, so a WiFi outage is just
# a WAN loss to the hub. Credentials come from the settings store, passed in by the board.

from contract.compat import sleep_ms


class WifiWan:
    # A hal.wan.WanLink, not subclassed (see hal/tcp_wan.py).
    def __init__(self, wlan, ssid, password, host, port, join_timeout_ms=15000, link=None):
        # wlan: network.WLAN(network.STA_IF). link: a WanLink to use instead of TcpWan (tests).
        self._wlan = wlan
        self._ssid = ssid
        self._password = password
        self.host = host
        self.port = port
        self._join_ms = join_timeout_ms
        self._link = link
        self.joins = 0
        self.last_error = None

    def _tcp(self):
        if self._link is None:
            # Imported here so the board module loads (and shows its REPL) without it.
            from hal.tcp_wan import TcpWan

            self._link = TcpWan(self.host, self.port)
        return self._link

    async def _join(self):
        w = self._wlan
        if w.isconnected():
            return True
        if not self._ssid:
            self.last_error = "no wifi.ssid set"
            return False
        w.active(True)
        w.connect(self._ssid, self._password)
        self.joins += 1
        waited = 0
        while not w.isconnected():
            if waited >= self._join_ms:
                self.last_error = "wifi join timed out (status %s)" % (w.status(),)
                w.disconnect()  # stop the driver retrying in the background
                return False
            await sleep_ms(100)
            waited += 100
        self.last_error = None
        return True

    async def connect(self):
        if not await self._join():
            return False
        ok = await self._tcp().connect()
        if not ok:
            self.last_error = "head-end %s:%d refused or unreachable" % (self.host, self.port)
        return ok

    def is_connected(self):
        link = self._link
        return link is not None and self._wlan.isconnected() and link.is_connected()

    async def send(self, msg):
        link = self._link
        if link is None or not self._wlan.isconnected():
            return False
        return await link.send(msg)

    async def recv(self):
        link = self._link
        if link is None:
            return None
        return await link.recv()

    async def close(self):
        if self._link is not None:
            await self._link.close()

    def ifconfig(self):
        return self._wlan.ifconfig() if self._wlan.isconnected() else None
