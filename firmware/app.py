# The imperative shell: wires a board's HAL to the functional core with asyncio tasks.
#   receive      radio -> Hub.on_frame -> radio.send; the core's Outputs drained per wake-up
#   timers       every second: the inter-PAN countdown and the WAN monitor
#   uplink       the head-end link (firmware.wan_uplink), when the board has a WAN
#   housekeeping every log.counters_interval_s: aggregated drop counters, radio hello, gc
#   supervise    feeds the watchdog only while the other tasks are alive and checking in
# A board object provides: name, clock, radio, storage, watchdog, indicators, events, and wan
# (a hal.wan.WanLink, or None for a hub with no WAN configured).
#
# What the core notes (inter-PAN flag changes, WAN loss and restore, device-log changes) is
# written to the event log and queued for the head-end; drops are only counted and summarised.
# The core hands everything to the shell through one firmware.decision.Outputs, drained by
# drain() in one way: notes to the log and the outbox, WAN copies to the outbox, frames to the
# radio.

import asyncio
import gc

from contract import wan_msg
from contract.compat import MICROPYTHON
from contract.frame import RxFrame
from firmware import cmd_catalogue as catalogue
from firmware import han as hanmod
from firmware import han_reject, wan_monitor, wan_outbox
from firmware import hub_reject as reject
from firmware import zb_interpan as interpan_frame
from firmware.cmd_parties import Parties
from firmware.cmd_store import CommandStore
from firmware.core import Core
from firmware.decision import TRANSMIT, TX_BEACON, TX_DISCOVERY
from firmware.eui64 import to_guid
from firmware.settings import Settings
from firmware.wan_uplink import Uplink

VERSION = "0.2.0"
_TICK_MS = const(1000)
# Frames handled per wake-up before the receive task yields: under a flood the radio always has
# another frame, and the timers, the uplink and the watchdog's supervisor must still run.
_RX_PER_WAKE = const(8)
_ROUTINE = ("device_log", "time_set")  # queued LOW: dropped first when the outbox is full
# Logged but not queued for the head-end: frequent, and the head-end reads meters by command;
# queuing each would write the persisted outbox twice per reading (flash wear).
_LOG_ONLY = ("meter_reading",)
# Operations an unsigned head-end request names that the hub only takes signed (as GBCS
# set_hub_clock, device_log_add, device_log_remove, set_setting): refused with that reason.
_SIGNED_ONLY = ("set_time", "device_log_add", "device_log_remove", "set_setting")
_OP_MAX = const(32)
_ID_LIMIT = const(0x40000000)  # a small int on every port


def _is_name(s):
    # A short name of lower-case letters, digits and underscores.
    if not isinstance(s, str) or not 0 < len(s) <= _OP_MAX:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


class App:
    def __init__(self, board, overrides=()):
        self.board = board
        self.clock = board.clock
        self.radio = board.radio
        self.events = board.events
        s = self.settings = Settings(board.storage, overrides)
        self.parties = Parties(board.storage)
        store = CommandStore(
            board.storage,
            originators=s["commands.originators_max"],
            window=s["commands.replay_window"],
            log_max=s["commands.log_max"],
        )
        core = self.core = Core(s, board.storage, self.parties, store, self.clock, han=True)
        self.out = core.out
        self.commands = core.commands
        self.hub = core.hub
        self.han = core.han
        hanmod.provision(core.device_log, s["han.devices"])
        self.outbox = wan_outbox.Outbox(
            board.storage, "outbox", s["wan.outbox_items"], s["wan.outbox_bytes"]
        )
        self.monitor = wan_monitor.WanMonitor(
            s["wan.loss_after_s"],
            s["wan.restore_after_s"],
            s["wan.heartbeat_s"],
            s["wan.backoff_min_s"],
            s["wan.backoff_max_s"],
        )
        self.uplink = None
        if getattr(board, "wan", None) is not None:
            self.uplink = Uplink(
                board.wan,
                self.monitor,
                self.outbox,
                self.clock,
                self._on_wan,
                self.on_message,
                self._hello,
                self._on_link,
            )
        # Receive slots: a wake-up's inter-PAN frames are parked in theirs (no copy) until the
        # wake-up's other frames (meter polls, HAN traffic, beacons) have been served. A frame
        # is read into the slot after the parked ones, so a wake-up's _RX_PER_WAKE frames
        # need that many slots.
        self.frames = [RxFrame(board.radio.HEADROOM) for _ in range(_RX_PER_WAKE)]
        self.frame = self.frames[0]
        self._srcs = [0] * _RX_PER_WAKE  # each parked frame's source offset
        self._reported = [0] * reject.COUNT
        self._han_reported = [0] * len(han_reject.NAMES)
        self._tasks = ()
        self._beat = 0
        self.wan_refused = 0  # unsigned requests to change state, or unknown ones
        self.wan_errors = 0  # messages whose handling raised (none expected: a backstop)

    # --- reporting -------------------------------------------------------------------------

    def report(self, event, **fields):
        # Into the event log, and queued for the head-end (delivered in order when it is up).
        self.events.emit(event, **fields)
        if event in _LOG_ONLY:
            return
        fields["msg"] = "event"
        fields["event"] = event
        fields["t"] = self.clock.time()
        urgency = wan_outbox.LOW if event in _ROUTINE else wan_outbox.HIGH
        dropped = self.outbox.put(urgency, wan_msg.encode_json(fields))
        if dropped:
            self.events.emit("outbox_overflow", dropped=dropped, total=self.outbox.dropped)

    def drain(self):
        # Everything the core left in the Outputs: notes to the log and the head-end, GBCS
        # copies to the outbox, frames to the radio.
        out = self.out
        notes = out.notes
        while notes:
            event, fields = notes.pop(0)
            if event == "interpan":  # the LEDs show what an installer needs to see
                self.board.indicators.set("interpan", fields["state"] != "off")
            elif event == "join_permit":
                self.board.indicators.set("join", fields["open"])
            self.report(event, **fields)
        wan = out.wan
        while wan:  # response copies, and meters' answers to the head-end's commands
            kind, msg = wan.pop(0)
            self.outbox.put(wan_outbox.HIGH, wan_msg.encode(kind, msg))
        store = self.commands.store
        if store.copies and not self.outbox.dirty:
            store.release_copies()  # the outbox holds them (or the link had the answer)
        radio = self.radio
        while True:
            n = out.radio.pop()
            if not n:
                break
            radio.send(out.radio.buf, n)

    def recover_commands(self):
        # At boot: what a power cut left between the command store and the outbox. Response
        # copies the store kept with their outcome go to the outbox unless it holds them
        # already (at least once: the head-end matches responses by originator and counter);
        # commands accepted whose outcome was never written are reported as such, once.
        store = self.commands.store
        unsettled = store.log.settle()
        if not store.copies and not unsettled:
            return
        n = 0
        for rsp in store.copies:
            m = wan_msg.encode(wan_msg.GBCS_COPY, rsp)
            if not self.outbox.holds(m):
                self.outbox.put(wan_outbox.HIGH, m)
                n += 1
        for e in unsettled:
            self.report(
                "command_outcome_unknown",
                originator=to_guid(e[0]),
                counter=e[1],
                message=catalogue.name(e[2]),
            )
        if n:
            self.report("responses_requeued", count=n)
        store.release_copies()
        try:
            store.save()
        except OSError:
            self.events.emit("store_write_failed", record="commands")

    def report_rejects(self):
        # One line per reason that moved since the last report, never one per frame. The hub's
        # code 0 is "not rejected"; the HAN's is a reason (han_not_member).
        for names, counts, seen, first in (
            (reject.NAMES, self.hub.rejected, self._reported, 1),
            (han_reject.NAMES, self.han.rejected, self._han_reported, 0),
        ):
            for code in range(first, len(names)):
                n = counts[code]
                if n != seen[code]:
                    self.events.emit(
                        "frame_rejected", reason=names[code], count=n - seen[code], total=n
                    )
                    seen[code] = n

    def _on_wan(self, ev):
        now = self.clock.ticks_ms()
        if ev == wan_monitor.LOST:
            self.hub.wan_lost(now)
        else:
            self.hub.wan_restored(now)
        self.board.indicators.set("wan", ev == wan_monitor.RESTORED)
        self.report("wan", state="lost" if ev == wan_monitor.LOST else "present")
        self.drain()

    def _on_link(self, up):
        # The head-end session itself, seen at once; "wan" follows after the hysteresis.
        self.events.emit("wan_link", state="up" if up else "down", sessions=self.uplink.sessions)

    # --- head-end requests -----------------------------------------------------------------

    def _hello(self):
        return {"msg": "hello", "guid": to_guid(self.hub.eui), "version": VERSION}

    def on_message(self, msg):
        # A message from the head-end: a GBCS command, or a JSON request. The encoded reply.
        # Every field is checked where it is used; the catch is a backstop, so that a bug
        # reached from the WAN costs one message, not a reboot (which would reopen inter-PAN).
        try:
            if msg[0] == wan_msg.GBCS:
                rsp = self.commands.on_wan(msg[1:], self.clock.ticks_ms())
                self.drain()
                return wan_msg.encode(wan_msg.GBCS, rsp) if rsp is not None else None
            req = wan_msg.decode_json(msg)
            if req is None:
                return None
            reply = self.request(req)
            self.drain()
            return wan_msg.encode_json(reply)
        except Exception as e:
            self.wan_errors += 1
            self.events.emit("wan_message_error", error=type(e).__name__, total=self.wan_errors)
            return None

    def request(self, req):
        # Unsigned JSON may only ask. Anything that would change the hub's state (clock, device
        # log, settings, parties, inter-PAN) must come as a signed GBCS command, through the
        # same authentication and first-wins filter as every other channel. A small integer
        # "id" is echoed, so that a head-end can match replies to requests.
        op = req.get("op")
        if not _is_name(op):
            op = None  # echoed and logged: only a plain name, never whatever the peer sent
        reply = {"msg": "reply", "op": op, "ok": op == "status"}
        rid = req.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < _ID_LIMIT:
            reply["id"] = rid
        if op == "status":
            reply.update(self.status())
            return reply
        why = "unsigned" if op in _SIGNED_ONLY else "unknown_op"
        self.wan_refused += 1
        self.report("wan_request_refused", op=op, reason=why, total=self.wan_refused)
        reply["error"] = (
            "send state changes as signed GBCS commands"
            if why == "unsigned"
            else "unknown op (unsigned requests: status)"
        )
        return reply

    def status(self):
        h = self.hub
        st = h.status(self.clock.ticks_ms())
        st.update(
            guid=to_guid(h.eui),
            pan_id="0x%04X" % h.pan_id,
            channel=h.channel,
            time=self.clock.time(),
            uptime_s=self.clock.uptime_ms() // 1000,
            rx_frames=self.radio.stats["rx"],
            outbox=len(self.outbox),
            devices=[to_guid(e) for e, _ in h.device_log.entries()],
        )
        return st

    # --- tasks -----------------------------------------------------------------------------

    def handle(self, frame, src=-2):
        # One received frame: the core's decision and its transmission (src: Hub.on_frame's).
        if self.hub.on_frame(frame, self.clock.ticks_ms(), src) == TRANSMIT:
            out = self.out
            self.radio.send(out.tx_buf, out.tx_len)
            if out.tx_kind == TX_BEACON:
                self.events.emit(
                    "beacon_tx", seq=out.tx_buf[2], permit_join=self.hub.joining.permit_join
                )
            elif out.tx_kind == TX_DISCOVERY:
                self.events.emit("discovery_tx", length=out.tx_len)

    def receive_batch(self):
        # Up to _RX_PER_WAKE frames from the radio; inter-PAN work comes last (docs/dos.md:
        # HAN traffic keeps priority). Returns how many frames were read.
        radio = self.radio
        frames = self.frames
        srcs = self._srcs
        parked = 0
        n = 0
        while n < _RX_PER_WAKE:
            fr = frames[parked]
            if not radio.recv(fr):
                break
            n += 1
            src = interpan_frame.header_source(fr.buf, fr.off, fr.n)
            if src >= 0:
                srcs[parked] = src
                parked += 1  # keep it in its slot; the next frame goes to the next one
            else:
                self.handle(fr, src)  # -1: classified, not inter-PAN
        self.drain()  # the meters' frames go out before any inter-PAN work
        for i in range(parked):
            self.handle(frames[i], srcs[i])
        self.drain()
        return n

    async def _receive(self):
        while True:
            await self.radio.wait_rx()
            if self.receive_batch() == _RX_PER_WAKE:
                await self.clock.sleep_ms(0)  # let the other tasks run, then drain on

    def tick(self, now):
        # Once a second: the WAN monitor, the inter-PAN countdown, the HAN's timers.
        ev = self.monitor.tick(now)
        if ev is not None:
            self._on_wan(ev)
        self.hub.tick(now)
        self.hub.dos_tick(now)
        self.han.tick(now)  # expiry, joining state (allocates: not per frame)
        self.drain()

    async def _timers(self):
        while True:
            self.tick(self.clock.ticks_ms())
            await self.clock.sleep_ms(_TICK_MS)

    async def _housekeeping(self):
        interval = self.settings["log.counters_interval_s"] * 1000
        while True:
            self.radio.hello()
            self.report_rejects()
            gc.collect()  # at an idle point, so a collection never lands inside a burst
            if MICROPYTHON:
                self.events.emit(
                    "stats",
                    rx_frames=self.radio.stats["rx"],
                    radio=self.radio.stats,
                    heap_used=gc.mem_alloc(),
                    heap_free=gc.mem_free(),
                )
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
            permit_join=h.joining.permit_join,
            ticks=self.clock.ticks_ms(),
            wan=self.uplink is not None,
            outbox=len(self.outbox),
            settings_load_errors=s.load_errors,
            device_log_corrupt=h.device_log.corrupt,
            parties=len(self.parties),
            parties_errors=self.parties.errors,
            outbox_corrupt=self.outbox.corrupt,
        )
        self.board.indicators.set("power", True)
        self.board.indicators.set("join", h.joining.permit_join)
        if self.commands.store.corrupt:
            self.report("replay_state_lost")  # a failing flash: the head-end must know
        self.recover_commands()
        h.power_up(self.clock.ticks_ms())
        self.han.start(self.clock.ticks_ms())
        self.drain()
        tasks = [self._receive(), self._timers(), self._housekeeping()]
        if self.uplink is not None:
            tasks.append(self.uplink.run())
        self._tasks = [asyncio.create_task(t) for t in tasks]
        await self._supervise()
        # The tasks run for the hub's life; the first to end with an exception ends the app (the
        # board logs it and resets). On MicroPython a task nobody awaits hands its exception to
        # the loop's handler (_on_exception) at once, so awaiting the tasks in turn does that
        # without asyncio.gather, whose module would cost the board 0.4 KB; CPython reports such
        # an exception only when the task is collected, so there gather waits on them all.
        if MICROPYTHON:
            for t in self._tasks:
                await t
        else:
            await asyncio.gather(*self._tasks)
