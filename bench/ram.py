# The RAM benchmark (make ram; tools/ram.py runs it on each interpreter and prints the table):
# the heap in use, after a collection, on the MicroPython unix port, at each stage:
#   imports   what main.py imports on a board: firmware.app, then the ESP32 board modules, and
#             what the running board loads on top (asyncio's streams, the TCP link)
#   app       the hub built on a bench board (file storage, manual clock, the ESP32 radio
#             driver on a simulated chip and the ESP32 WAN link, as on the board; the frames
#             are handed to the app, and a scripted radio counts what it sends)
#   live      the most in use, collected after every event, while a recorded scenario plays
#             (bench/ram_scenario.py: a lab minute, a line-rate flood, a burst of WAN traffic)
#
#   micropython -X heapsize=110wK -m bench.ram imports
#   micropython -X heapsize=110wK -m bench.ram peak|run SCENARIO STATE_DIR
# "run" plays the scenario without the per-event collections (tools/ram.py searches the smallest
# heap it completes in). It prints "ram key=value ...", in bytes. This module's own code and the
# bench board's test doubles ("harness", measured) are left out of every figure but "heap".
#
# Driver is the one way the scenario reaches the app; bench/ram_scenario.py records through it
# under CPython, so what is replayed here is what was recorded, event for event.

import gc

gc.collect()
# Before this module's own code, which is harness too (0 on CPython: bench/ram_scenario.py
# imports the Driver from here).
_TOP = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0

import sys  # noqa: E402

# Record kinds of a scenario file: u32 LE time (ms since start), u8 kind, u16 LE length, payload.
SETTING = 0x53  # "S": a settings override, before any other record
PARTY = 0x50  # "P": eui (8) + key (32) + role
RECORD = 0x52  # "R": a storage record the hub finds at boot: name, NUL, data (its network key)
FRAME = 0x46  # "F": a PSDU with its FCS, as the radio hands it over
WAN = 0x57  # "W": a head-end message (type octet + body)
LINK = 0x4C  # "L": the uplink saw the link go down (0), come up (1), or heard the head-end (2)
DELIVER = 0x44  # "D": the uplink delivered everything queued
END = 0x45  # "E": the scenario is over; the clock stops at its time


class Driver:
    def __init__(self, app, now_ms=0):
        self.app = app
        self.clock = app.clock
        self.t = 0  # scenario ms
        self.delivered = 0
        self.replies = 0
        app.recover_commands()  # as App.main starts the hub
        app.hub.power_up(now_ms)
        app.han.start(now_ms)
        app.drain()

    def advance_to(self, t):
        # The timers task: one tick per whole second of scenario time; and the housekeeping
        # task's work every log.counters_interval_s (App._housekeeping: counters, collection).
        app = self.app
        every = app.settings["log.counters_interval_s"]
        while (self.t // 1000 + 1) * 1000 <= t:
            step = (self.t // 1000 + 1) * 1000 - self.t
            self.clock.advance(step)
            self.t += step
            app.tick(self.clock.ticks_ms())
            if self.t // 1000 % every == 0:
                app.report_rejects()
                gc.collect()
        if t > self.t:
            self.clock.advance(t - self.t)
            self.t = t

    def frame(self, psdu, n):
        fr = self.app.frame
        fr.buf[0:n] = memoryview(psdu)[0:n]
        fr.off = 0
        fr.n = n
        fr.crc_ok = True
        self.app.radio.stats["rx"] += 1
        self.app.handle(fr)
        self.app.drain()

    def wan(self, msg):
        if self.app.on_message(msg) is not None:
            self.replies += 1

    def link(self, what):
        mon = self.app.monitor
        now = self.clock.ticks_ms()
        ev = mon.link_down(now) if what == 0 else mon.link_up(now) if what == 1 else mon.heard(now)
        if ev is not None:
            self.app._on_wan(ev)

    def deliver(self):
        ob = self.app.outbox
        while ob.peek() is not None:
            ob.pop()
            self.delivered += 1

    def summary(self):
        app = self.app
        hub = app.hub
        han = app.han
        fmt = "rx=%d tx=%d rejected=%d han_rejected=%d keys=%d outbox=%d delivered=%d replies=%d"
        return fmt % (
            app.radio.stats["rx"],
            app.radio.sent,
            sum(hub.rejected),
            sum(han.rejected),
            han.security.status()["keys"]["sent"],  # the members the hub secures frames with
            len(app.outbox),
            self.delivered,
            self.replies,
        )


def _u16(b, i):
    return b[i] | b[i + 1] << 8


def read_setup(f):
    # The settings overrides, parties and storage records at the head of a scenario file; the
    # file is left at the first other record.
    hdr = bytearray(7)
    overrides = []
    parties = []
    records = []
    while True:
        pos = f.tell()
        if f.readinto(hdr) != 7 or hdr[4] not in (SETTING, PARTY, RECORD):
            f.seek(pos)
            return overrides, parties, records
        body = f.read(_u16(hdr, 5))
        if hdr[4] == SETTING:
            overrides.append(body.decode())
        elif hdr[4] == RECORD:
            i = body.index(b"\x00")
            records.append((body[:i].decode(), body[i + 1 :]))
        else:
            parties.append((body[:8], body[40:].decode(), body[8:40]))


def play(f, drv, sample, base):
    # Every record after the set-up, in order. With sample, returns the most heap in use after
    # any event, collected, less base (the collections alter nothing but the heap's layout).
    hdr = bytearray(7)
    psdu = bytearray(127)
    mv = memoryview(psdu)
    live = 0
    while f.readinto(hdr) == 7:
        kind = hdr[4]
        n = _u16(hdr, 5)
        drv.advance_to(hdr[0] | hdr[1] << 8 | hdr[2] << 16 | hdr[3] << 24)
        if kind == FRAME:
            f.readinto(mv[:n])
            drv.frame(psdu, n)
        elif kind == WAN:
            drv.wan(f.read(n))
        elif kind == LINK:
            drv.link(f.read(1)[0])
        elif kind == DELIVER:
            drv.deliver()
        elif kind == END:
            break
        else:
            raise ValueError("unknown record kind %d" % kind)
        if sample:
            gc.collect()
            used = gc.mem_alloc() - base
            live = used if used > live else live
    return live


class ScriptedRadio:
    # The scenario hands frames to the app directly; this radio only counts what the hub sends.
    HEADROOM = 0

    def __init__(self):
        self.sent = 0
        self.stats = {"rx": 0}  # the scenario's frames, handed over as recv() would

    def configure(self, channel, pan_id, short_addr, ext_addr):
        pass

    def send(self, buf, n):
        self.sent += 1
        return True

    def hello(self):
        return True


class BenchBoard:
    name = "bench"

    def __init__(self, state_dir, clock, radio, indicators, chip):
        from firmware.events import Events
        from hal.esp32.mrf24j40 import MRF24J40
        from hal.esp32.wan_wifi import WifiWan
        from hal.file_storage import FileStorage
        from hal.tcp_wan import TcpWan

        self.clock = clock
        self.radio = radio
        self.storage = FileStorage(state_dir)
        self.events = Events(lambda line: None, clock)
        self.indicators = indicators
        self.watchdog = None
        # What the ESP32 board holds besides: its radio driver (its buffers and transmit
        # queue; the scripted radio stands in for its send()) and its WAN link, whose uplink
        # the app builds (never connected here: the scenario plays the head-end's messages).
        self.driver = MRF24J40(
            chip.spi,
            chip.cs,
            reset=chip.reset_pin,
            int_pin=chip.int_pin,
            wake=chip.wake,
            sleep_us=chip.sleep_us,
        )
        self.wan = WifiWan(None, "lab", "", "192.0.2.1", 17760, link=TcpWan("192.0.2.1", 17760))


def chip():
    # The simulated MRF24J40 the bench board's driver talks to: harness, measured as such.
    from hal.fake.mrf24j40 import FakeMRF24J40

    return FakeMRF24J40(record=False, realtime=False)


def build(app_cls, state_dir, overrides=(), parties=(), records=(), radio_chip=None):
    from boards.fake import SilentIndicators
    from hal.fake.clock import ManualClock

    radio_chip = radio_chip or chip()
    board = BenchBoard(state_dir, ManualClock(), ScriptedRadio(), SilentIndicators(), radio_chip)
    for name, data in records:
        board.storage.write(name, data)
    app = app_cls(board, overrides)
    for eui, role, key in parties:
        app.parties.add(eui, role, key)
    return app


def main(argv):
    stage = argv[0] if argv else "imports"
    gc.collect()
    base = gc.mem_alloc()
    from firmware import app as appmod
    from firmware.app import App

    gc.collect()
    app_imports = gc.mem_alloc() - base
    from asyncio import StreamReader  # noqa: F401  (the TCP link's streams: loaded on first use)

    from boards import esp32_devkitc  # noqa: F401  (what main.py imports on a board)
    from hal import tcp_wan  # noqa: F401  (hal.esp32.wan_wifi's, once WiFi is up)

    gc.collect()
    imports = gc.mem_alloc() - base
    out = "ram imports=%d app_imports=%d src=%s" % (imports, app_imports, appmod.__file__)
    if stage == "imports":
        print(out)
        return 0
    from boards import fake  # noqa: F401  (the harness: counted, then left out)
    from hal.fake import clock  # noqa: F401

    radio_chip = chip()
    gc.collect()
    fakes = gc.mem_alloc() - base - imports
    harness = base - _TOP + fakes  # this module and the fakes: below base from here on
    base += fakes
    out += " harness=%d" % harness
    with open(argv[1], "rb") as f:
        overrides, parties, records = read_setup(f)
        drv = Driver(build(App, argv[2], overrides, parties, records, radio_chip))
        gc.collect()
        built = gc.mem_alloc() - base - imports
        live = play(f, drv, stage == "peak", base)
    gc.collect()
    end = gc.mem_alloc() - base
    heap = gc.mem_alloc() + gc.mem_free()
    out += " app=%d live=%d end=%d heap=%d " % (built, live, end, heap)
    print(out + drv.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
