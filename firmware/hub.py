# The hub's functional core for radio frames: a received frame and the time in, a decision out
# (firmware.decision: nothing, or transmit the Outputs' tx slot). No I/O; no allocation on any
# path that drops a frame or answers a beacon request. Drops are counted per reason in
# self.rejected (indexed by firmware.hub_reject codes). What the shell must log or report goes in
# the shared Outputs' notes.
#
# The dispatcher: beacon requests and inter-PAN frames are recognised from fixed header octets;
# inter-PAN frames meet the gate (the flag, the destination, the DoS budgets) before any parse
# and are dropped at once while the flag is OFF, so the hub then answers no inter-PAN frame at
# all; discovery is answered here, SE Tunneling goes to the command layer; every other frame
# goes to the HAN layer. Only a command the command layer accepts keeps the flag alive.
#
# What an inter-PAN frame for this hub is, is decided from its octets before any budget is
# spent (classify): a discovery request is answered by broadcast from its own budget, like a
# beacon; a command must be well-formed to spend the limiter's budget, and from a provisioned
# originator to keep it and reach authentication; anything else is dropped. docs/dos.md.

from firmware import dos_limits as ratelimit
from firmware import hub_reject as reject
from firmware import ipan_discovery as discovery
from firmware import mac
from firmware import zb_interpan as interpan_frame
from firmware import zb_zcl as zcl
from firmware.decision import (
    CMD_REJECTED,
    TRANSMIT,
    TX_BEACON,
    TX_DISCOVERY,
)
from firmware.eui64 import read_le
from firmware.mac import route
from firmware.mac_beacon import Beacon
from firmware.zb_interpan import classify, find8, parse_at

# Other modules' constants the per-frame paths compare with, repeated here because const()
# inlines only a module's own (each would otherwise cost a dictionary lookup per use);
# tests_host/test_hub_constants.py holds each to its source. contract.ticks's mask and half
# period; ipan_rules.CLOSED, the flag's closes_at while OFF; decision.NOTHING; route()'s
# verdicts (firmware.octets via firmware.mac); han_reject.RATE_ASSOC and SEC_BUSY; the
# hub_reject codes counted on the flood paths; classify's DISCOVERY (firmware.zb_interpan); the
# command layer's verdicts (decision.CMD_*, decision.TRANSMIT); and dos_limits.ALERT.
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_CLOSED = const(-1)
NOTHING = const(0)
COUNTED = const(-2)
BEACON_REQUEST = const(-3)
NOT_FOR_US = const(-4)
UNHANDLED = const(-5)
NWK = const(-7)
HAN_DROP = const(-11)
ASSOC_STRANGER = const(-13)
RATE_ASSOC = const(17)
SEC_BUSY = const(16)
BAD_FCS = const(2)
INTERPAN_OFF = const(11)
RATE_BEACON = const(21)
_UNAUTHENTICATED = const(16)
_RATE_GLOBAL = const(17)
_RATE_DISCOVERY = const(18)
_UNKNOWN_ORIGINATOR = const(20)
_DISCOVERY = const(-2)
_TRANSMIT = const(1)
_CMD_REJECTED = const(0)
_CMD_ACCEPTED = const(2)
_ALERT = const(1)

_DETAILS_FC = zcl.CLUSTER_SPECIFIC | zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE


class Unauthenticated:
    # The command layer until one is provisioned: every command fails authentication, so nothing
    # is executed and nothing keeps inter-PAN alive.
    def on_interpan(self, buf, f, zh, now):
        return CMD_REJECTED


class _Fixed:
    def __init__(self, permit_join):
        self.permit_join = permit_join


class Hub:
    # Collaborators: the settings (addresses, the DoS budgets); the shared Outputs; the device
    # log (discovery lists it); the inter-PAN flag (firmware.ipan_flag); the inter-PAN replier;
    # the command layer (Tunneling frames); the HAN layer (every other frame), or None.
    def __init__(self, settings, out, device_log, flag, replier, commands=None, han=None):
        self.eui = settings.eui64()
        self.pan_id = settings["radio.pan_id"]
        self.channel = settings["radio.channel"]
        self.beacon = Beacon(self.pan_id, self.eui)
        self.out = out
        self.notes = out.notes  # the same list: what this hub and its collaborators noted
        self.device_log = device_log
        self.interpan = flag
        self._rules = flag.rules
        self.replier = replier
        self.commands = commands or Unauthenticated()
        # The provisioned parties, for the originator check before any budget (None: no check).
        self.parties = getattr(commands, "parties", None)
        self.han = han
        # Whose permit_join attribute is the beacon's association-permit bit: the HAN layer's
        # (whether a new member could join now), or the setting's on a hub with no HAN.
        self.joining = han.joining if han is not None else _Fixed(settings["join.permit"])
        # The destination an inter-PAN frame for us carries: our PAN ID, then our EUI-64, as
        # they are on air (classify compares them in place).
        self._me = bytes((self.pan_id & 0xFF, self.pan_id >> 8)) + read_le(self.eui, 0)
        self.interpan_gate = ratelimit.gate_from_settings(settings, ratelimit.seed())
        self.beacon_budget = ratelimit.beacon_budget_from_settings(settings)
        self.discovery_budget = ratelimit.discovery_budget_from_settings(settings)
        self._page = 0  # the device-log page the next discovery reply carries
        # The command layer's budget for the notes of refused commands, ticked with the others.
        self._refusal_notes = getattr(commands, "refusal_notes", None)
        self.rx = mac.MacFrame()
        # route()'s PAN ID and the source it names (the HAN reads that source in on_header)
        self._route = han.route if han is not None else mac.Route(self.pan_id)
        self.iph = interpan_frame.InterPanHeader()
        self.rejected = [0] * reject.COUNT

    # --- time and link events (called by the shell) --------------------------------------

    def power_up(self, now):
        self.interpan.power_up(now)

    def tick(self, now):
        self.interpan.tick(now)

    def dos_tick(self, now):
        # Once a second from the shell (not per frame): the limiter's sweep and calm-down.
        if self.interpan_gate.tick(now) == ratelimit.CALM:
            self._dos_alert("end")
        self.beacon_budget.tick(now)
        self.discovery_budget.tick(now)
        if self._refusal_notes is not None:
            self._refusal_notes.tick(now)

    def wan_lost(self, now):
        self.interpan.wan_lost(now)

    def wan_restored(self, now):
        self.interpan.wan_restored(now)

    # --- frames ---------------------------------------------------------------------------

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def on_frame(self, frame, now, src=-2):
        # src: interpan_frame.header_source() of the frame when the caller already has it
        # (the shell classifies each frame to park inter-PAN work); -1 or -2 to have it found.
        # This and the gate keep to 11 words of frame state (locals and stack): MicroPython puts
        # a larger frame on the GC heap at every call (py/objfun.c, VM_MAX_STATE_ON_STACK).
        if not frame.crc_ok:
            return self._drop(BAD_FCS)
        if src < 0:
            # What the frame is, from its header octets before any parse (native code): the
            # cheapest floods, and a stranger's HAN frames, are decided here.
            src = route(frame.buf, frame.off, frame.n, self._route)
            if src < 0:
                if src == COUNTED:  # a stranger's HAN frame, dropped and counted by the HAN's
                    return NOTHING  # rules (mac.Route)
                if src == BEACON_REQUEST:  # a request flood must not keep the radio busy
                    # The beacon budget's refusal tested inline (dos_limits.Gcra.open_at and
                    # wait: exactly allow()'s), a call fewer on the cheapest flood.
                    r = self.beacon_budget
                    if (r.open_at - 1 - now) & _MASK < r.wait or not r.allow(now):
                        self.rejected[RATE_BEACON] += 1  # (no _drop: a call fewer)
                        return NOTHING
                    return self._beacon_reply()
                if src == NWK:  # a member's NWK frame its header passed: then CCM*, whose
                    # budget's refusal is tested inline too (the HAN's, counted as it counts it)
                    r = self._route.ccm
                    if (r.open_at - 1 - now) & _MASK < r.wait:
                        self._route.counts[SEC_BUSY] += 1
                        return NOTHING
                    return self._other(frame, src, now)
                if src <= HAN_DROP and self.han is not None:  # the HAN's drops
                    if src == ASSOC_STRANGER:  # Joining.stranger's budget refusal, inline
                        r = self._route.assoc
                        if (r.open_at - 1 - now) & _MASK < r.wait:
                            self._route.counts[RATE_ASSOC] += 1  # the HAN's counter
                            return NOTHING
                    return self.han.on_header(frame.buf, src, now)
                return self._other(frame, src, now)
        # Not even the limiter sees inter-PAN frames while the flag is OFF. The state machine's
        # closes_at is read inline (no call per frame): CLOSED while OFF; a deadline that has
        # passed since the shell's last tick (ticks_diff(now, deadline) >= 0) ends the countdown
        # here, exactly as the state machine's tick() would, and is noted.
        r = self._rules.closes_at
        if r == _CLOSED:
            self.rejected[INTERPAN_OFF] += 1  # (no _drop: a call fewer on a flood path)
            return NOTHING
        if r >= 0 and (now - r) & _MASK < _HALF and self.interpan.noted(self._rules.tick(now)):
            return self._drop(INTERPAN_OFF)  # (tick() decides: the frame goes on if it is ON)
        # An inter-PAN frame while the flag is ON, decided from its octets before any parse
        # (classify, native code): the destination (our PAN or 0xFFFF, our EUI-64 or
        # broadcast), then what the frame is. Anything but a command or a discovery request is
        # counted here (its reject code, negated), a call fewer on the junk floods.
        r = classify(frame.buf, frame.off, frame.n, src, self._me)
        if r < 0 and r != _DISCOVERY:
            self.rejected[-r] += 1
            return NOTHING
        return self._interpan_in(frame, src, r, now)

    def _interpan_in(self, frame, src, off, now):
        # An inter-PAN command (off: its GBCS block) or discovery request (off: DISCOVERY), for
        # us while the flag is ON, and its budget: a discovery request spends the
        # discovery-reply budget; a command the limiter's, and is refunded unless its
        # originator is a provisioned party. Drops are counted in place (a call fewer on every
        # flood path); five locals and the calls' stack keep the frame within 11 words.
        if off >= 0:  # a command: off is its GBCS block
            # The limiter's window in which it refuses every frame, tested inline (Gate.open_at
            # and wait, which allow() tests first): a call fewer on most frames of a flood.
            if (self.interpan_gate.open_at - 1 - now) & _MASK < self.interpan_gate.wait or (
                self.interpan_gate.allow(frame.buf, src, now)
            ):
                self.rejected[_RATE_GLOBAL] += 1
                return NOTHING
            # Parties.find's native search asked here (a call fewer); the originator's EUI-64 is
            # 12 octets into the GBCS block (DF 09 CRA counter(8) 08).
            if self.parties is not None and (
                find8(self.parties.table, self.parties.count, frame.buf, off + 12) < 0
            ):
                self.interpan_gate.refund()  # checked after the budget: most of a flood never is
                self.rejected[_UNKNOWN_ORIGINATOR] += 1
                return NOTHING
        elif (
            self.discovery_budget.open_at - 1 - now
        ) & _MASK < self.discovery_budget.wait or not self.discovery_budget.allow(now):
            # The budget's refusal tested inline (Gcra.open_at and wait: exactly allow()'s), a
            # call fewer on most of a flood's frames.
            self.rejected[_RATE_DISCOVERY] += 1
            return NOTHING
        # Past the gate (on, for us, within budget): parsed from the octets the gate read
        # (parse_at: MAC, stub APS and ZCL headers into self.iph, no general MAC parse, and what
        # the frame asks of the hub), then handed to the command layer (SE Tunneling) or
        # answered (discovery).
        off = parse_at(frame.buf, frame.off, frame.n, src, self.iph)  # reused for the verdict
        if off == 0:
            return self._command(frame.buf, src, now)
        if off == _DISCOVERY:
            return self._discovery(self.iph, now)
        return self._drop(off)

    def _other(self, frame, r, now):
        # Every frame that is not inter-PAN nor the beacon request, with route()'s verdict r:
        # the hub's drops it names; else parsed, then the HAN layer's. (r reused, no local for
        # frame.buf: 11 words of frame state at most.)
        if r == NOT_FOR_US or r == UNHANDLED:
            return self._drop(reject.NOT_FOR_US if r == NOT_FOR_US else reject.UNHANDLED)
        f = self.rx
        if r == NWK:  # a member's NWK frame that passed every check its header decides (route)
            mac.parse(frame.buf, frame.off, frame.n, f)
            return self.han.on_nwk(frame.buf, f, now, frame.lqi)
        r = mac.parse(frame.buf, frame.off, frame.n, f)
        if r:
            return self._drop(r)
        if f.dst_mode and f.dst_pan != mac.BROADCAST and f.dst_pan != self.pan_id:
            return self._drop(reject.NOT_FOR_US)
        if f.ftype == mac.COMMAND and frame.buf[f.payload_off] == mac.CMD_BEACON_REQ:
            # Only the canonical request (route's BEACON_REQUEST) is answered.
            return self._drop(reject.NOT_FOR_US)
        if self.han is not None:
            r = self.han.on_frame(frame.buf, f, now, frame.lqi)
            if r >= 0:
                return r
        return self._drop(reject.UNHANDLED)

    def _beacon_reply(self):
        # A beacon request within the beacon budget is answered.
        out = self.out
        out.tx_buf = self.beacon.next(self.joining.permit_join)
        out.tx_len = self.beacon.length
        out.tx_kind = TX_BEACON
        return TRANSMIT

    def _command(self, buf, src, now):
        # An SE Tunneling frame for the command layer (its addressing and ZCL header in
        # self.iph; src: its source's offset), and what its verdict means here. (The command
        # layer keeps the notes of refused commands to a budget of its own:
        # cmd_pipeline.Commands._refused.)
        self.out.tx_len = 0  # the command layer writes a reply, or not
        v = self.iph
        v = self.commands.on_interpan(buf, v, v, now)
        if v == _CMD_REJECTED:
            # The gate's failure counter: a failure is counted, never held against the address
            # it came from (docs/dos.md).
            if self.interpan_gate.failures.failure(now) == _ALERT:
                self._dos_alert("start")
            self.rejected[_UNAUTHENTICATED] += 1
            return NOTHING
        # CMD_ANSWERED (a duplicate): neither a failure nor trust-earning success.
        if v == _CMD_ACCEPTED:
            self.interpan_gate.auth_ok(buf, src, now)
            # The keep-alive: authenticated, accepted commands only. The state machine itself is
            # asked, as on_frame asks it (a call fewer); a change is noted.
            v = self._rules.command_accepted(now)
            if v is not None:
                self.interpan.noted(v)
        return _TRANSMIT if self.out.tx_len else NOTHING

    def _dos_alert(self, state):
        self.out.note("dos_alert", state=state, **self.interpan_gate.status())

    def _discovery(self, zh, now):
        # Answered to the inter-PAN broadcast address, as a beacon answers every scanner: one
        # reply serves every HHT listening, so a flood of requests that spends the reply budget
        # cannot keep the details from a new HHT, and no MAC retries go to spoofed addresses.
        # The device log's pages take turns (the request's start index is not needed): every
        # listener collects them all, whatever start the requests name. Written in place, in
        # parts whose call frames stay within 11 words: nothing is allocated.
        p = self.replier.broadcast_header(self.replier.buf, discovery.CLUSTER)
        p = zcl.write(self.replier.buf, p, _DETAILS_FC, zh.seq, discovery.CMD_DETAILS)
        return self.out.transmit(self.replier.buf, self._details(p, now), TX_DISCOVERY)

    def _details(self, p, now):
        p = discovery.write_identity(self.replier.buf, p, self.eui, self.pan_id, self.channel)
        p = discovery.write_state(
            self.replier.buf, p, self.interpan.seconds_left(now), self.interpan.wan_present
        )
        return discovery.write_page(self.replier.buf, p, self.device_log.euis(), self._next_page())

    def _next_page(self):
        start = self._page if self._page < len(self.device_log) else 0
        self._page = start + discovery.PAGE
        return start

    def status(self, now):
        # The hub's state as a dict, for the head-end and the log.
        secs = self.interpan.seconds_left(now)
        return {
            "interpan": discovery.STATES[
                (2 if secs is None else 1) if self.interpan.is_on() else 0
            ],
            "interpan_seconds_left": secs,
            "wan_present": self.interpan.wan_present,
            "device_log": len(self.device_log),
            "rejected": {reject.NAMES[i]: n for i, n in enumerate(self.rejected) if n},
            "rejections_unnoted": getattr(self.commands, "refusals_unnoted", 0),
            "han": self.han.status(now) if self.han is not None else None,
            "dos": self.interpan_gate.status(),
        }
