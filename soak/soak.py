# Soak: days of lab life in seconds, on the MicroPython unix port (or CPython). The real shell
# (firmware.app.App: the same handle() and tick() the asyncio tasks call) on a board of fakes,
# with a manual clock that starts 10 s before the 2**30 ms ticks wraparound, so a 14-day run
# crosses it twice. Every simulated second the shell ticks; around it:
#   meters    the GSME polls every 30 s and reports every 30 min; the ESME reports every 10 min
#             (NWK-secured: their counters persisted ahead, a write every 8 reports)
#   WAN       heard every 30 s, except a 2-hour outage every third day
#   HHT       a visit every second day (inter-PAN closed: dropped unparsed) and one inside each
#             WAN outage (held open: the three commands of its service request run)
#   attacker  every day, 2,000 forged inter-PAN commands (TransferData, the wrong key) from spoofed
#             sources and 500 beacon requests in a burst
# Measured: the heap after a collection every simulated hour, how late every inter-PAN and WAN
# deadline fired, and whether everything queued for the head-end was delivered or accounted for.
#   micropython -X heapsize=110wK soak/soak.py [days]        (make soak)

import gc
import json
import sys

from boards.fake import FakeBoard
from contract.ticks import PERIOD
from firmware import cmd_catalogue as cat
from firmware.app import App
from firmware.cmd_pipeline import TUNNEL_TRANSFER_DATA
from hal.fake.clock import ManualClock
from hal.radio import Radio
from tests_device import interpan_frames as ipf
from tests_device import vectors
from tests_device.han_frames import (
    CAP_ESME,
    CAP_GSME,
    ESME_CODE,
    ESME_EUI,
    GSME_CODE,
    GSME_EUI,
    assoc_request,
    data_request,
    summation_report,
)
from tests_device.han_meter import Meter
from tests_device.test_commands import KEYS, SUPPLIER, command

DAY = 86400
HOUR = 3600


class CountingRadio(Radio):
    HEADROOM = 0

    def __init__(self):
        self.sent = 0
        self.stats = {"rx": 0}

    def configure(self, channel, pan_id, short_addr, ext_addr):
        pass

    def send(self, buf, n):
        self.sent += 1
        return True


class Soak:
    def __init__(self):
        self.clock = ManualClock(PERIOD - 10000)
        self.events = {}
        # Deadlines are checked as events arrive, keeping nothing per event: the heap series
        # must measure the firmware, not this harness.
        self.countdown_from = 0  # uptime s when the last countdown started
        self.outage_at = None
        self.late = [0, 0]  # max lateness (s) of: inter-PAN OFF, WAN lost
        self.early = 0  # deadlines that fired too soon
        self.checked = 0
        self.changes = 0
        self.board = FakeBoard(CountingRadio(), self.clock, self._sink)
        self.app = App(
            self.board,
            (
                "hub.eui64=00-23-7E-00-00-12-D6-87",
                "radio.pan_id=0x1A2B",
                "han.devices=00-23-7E-00-00-00-00-01:esme:%s,00-23-7E-00-00-00-00-02:gsme:%s"
                % (ESME_CODE.hex(), GSME_CODE.hex()),
            ),
        )
        p = self.app.parties
        p.add(SUPPLIER, "supplier", KEYS[SUPPLIER])
        self.frame = self.app.frame
        self.delivered = 0
        self.counter = 1000
        self.heap_range = [0, 0]  # min, max of the hourly samples after the first day
        self.daily = None  # preallocated in run(): no harness list may grow during the soak

    def _sink(self, line):
        ev = json.loads(line)
        name = ev["event"]
        self.events[name] = self.events.get(name, 0) + 1
        u = self.clock.uptime_ms() // 1000
        if name == "interpan":
            self.changes += 1
            if ev["state"] == "on" and ev["seconds_left"] is not None:
                self.countdown_from = u
            elif ev["state"] == "off":
                self._deadline(0, u - (self.countdown_from + 3600))
        elif name == "wan" and ev["state"] == "lost":
            # Loss counts from the last message heard: up to one 30 s beat before the outage.
            self._deadline(1, u - (self.outage_at - 30 + self.app.settings["wan.loss_after_s"]))

    def _deadline(self, which, lateness):
        self.checked += 1
        if lateness < 0:
            self.early += 1
        elif lateness > self.late[which]:
            self.late[which] = lateness

    def rx(self, psdu):
        vectors.load(self.frame, psdu)
        self.app.handle(self.frame)

    def run(self, days):
        app = self.app
        clock = self.clock
        app.hub.power_up(clock.ticks_ms())
        app.han.start(clock.ticks_ms())
        app.drain()
        self.rx(assoc_request(ESME_EUI, CAP_ESME))
        self.rx(assoc_request(GSME_EUI, CAP_GSME))
        esme = app.han.table.short(app.han.table.find(ESME_EUI))
        gsme = app.han.table.short(app.han.table.find(GSME_EUI))
        # The meters' ends of NWK security, with the network key the hub sent them.
        hs = app.han.security
        self.meters = (Meter(ESME_EUI, hs.key, hs.seq), Meter(GSME_EUI, hs.key, hs.seq))
        outage = None
        self.daily = [0] * days
        for t in range(1, days * DAY + 1):
            day, sec = divmod(t, DAY)
            if outage is not None and t == outage[0]:
                self._link(app.monitor.link_down(clock.ticks_ms()))  # the uplink saw it drop
            if outage is not None and t == outage[1]:
                self._link(app.monitor.link_up(clock.ticks_ms()))  # and come back
            if sec % 30 == 0:
                self.rx(data_request(gsme))
                if outage is None or not outage[0] <= t < outage[1]:
                    self._link(app.monitor.heard(clock.ticks_ms()))
                    self._deliver()
            if sec % 1800 == 0:
                self.rx(self.meters[1].secure(summation_report(gsme, t)))
            if sec % 600 == 0:
                self.rx(self.meters[0].secure(summation_report(esme, t * 3)))
            if day % 3 == 2 and sec == 3 * HOUR:
                outage = (t, t + 2 * HOUR)
                self.outage_at = t
            if day % 2 == 1 and sec == 10 * HOUR:
                self._visit()  # inter-PAN long closed: every frame dropped unparsed
            if day % 3 == 2 and sec == 4 * HOUR:
                self._visit()  # inside the outage: held open, the commands run
            if sec == 20 * HOUR:
                self._attack(day)
            clock.advance(1000)
            app.tick(clock.ticks_ms())
            if sec % HOUR == 0:
                gc.collect()
                h = gc.mem_alloc()
                if sec == 0:
                    self.daily[day - 1] = h
                if t >= DAY:
                    r = self.heap_range
                    r[0] = h if not r[0] or h < r[0] else r[0]
                    r[1] = h if h > r[1] else r[1]
        return self._report(days)

    def _link(self, ev):
        if ev is not None:
            self.app._on_wan(ev)

    def _deliver(self):
        ob = self.app.outbox
        while ob.peek() is not None:
            ob.pop()
            self.delivered += 1

    def _visit(self):
        self.rx(ipf.get_details())
        for code in (cat.READ_HUB_STATUS, cat.READ_HUB_STATUS, cat.READ_HUB_STATUS):
            self.counter += 1
            msg = command(SUPPLIER, self.counter, code)
            self.rx(ipf.tunnel(b"\x00\x00" + msg, command=TUNNEL_TRANSFER_DATA))

    def _attack(self, day):
        for i in range(2000):
            src = bytes((0x66, day & 0xFF, i >> 8, i & 0xFF, 1, 2, 3, 4))
            self.rx(
                ipf.tunnel(
                    b"\x00\x00" + command(SUPPLIER, 5, cat.INTERPAN_OFF, key=b"x" * 32),
                    command=TUNNEL_TRANSFER_DATA,
                    src=src,
                )
            )
        for _ in range(500):
            self.rx(vectors.BEACON_REQUEST)

    def _report(self, days):
        ob = self.app.outbox
        return {
            "days": days,
            "ticks_start": PERIOD - 10000,
            "ticks_end": self.clock.ticks_ms(),
            "wraps": (PERIOD - 10000 + days * DAY * 1000) // PERIOD,
            "heap_bytes_min_max_after_day1": self.heap_range,
            "heap_bytes_daily": self.daily,
            "deadlines_checked": self.checked,
            "deadlines_early": self.early,
            "lateness_s_max_interpan_off_wan_lost": self.late,
            "interpan_changes": self.changes,
            "radio_frames_sent": self.board.radio.sent,
            "events": self.events,
            "commands_executed": self.app.commands.counts.get("executed", 0),
            "outbox_delivered": self.delivered,
            "outbox_left": len(ob),
            "outbox_dropped": ob.dropped,
            "storage_writes": self.board.storage.writes,
            "rejected": self.app.hub.status(self.clock.ticks_ms())["rejected"],
        }


if __name__ == "__main__":
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 14
    print(json.dumps(Soak().run(days)))
