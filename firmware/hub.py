# The hub's functional core for radio frames: a received frame and the time in, a decision out
# (nothing, or transmit self.tx_buf[0:self.tx_len]). No I/O; no allocation on any path that
# drops a frame or answers a beacon request. Drops are counted per reason in self.rejected
# (indexed by firmware.reject codes). Things the shell must log or report (inter-PAN flag
# changes) are appended to self.notes as (event, fields) and drained by the shell.
#
# Inter-PAN frames are recognised from the first two payload octets and dropped at once while
# the flag is OFF, before anything else is parsed: the hub then answers no inter-PAN frame at
# all. Only a command the command layer accepts (authenticated) keeps the flag alive.

from contract.compat import const
from contract.frame import PSDU_MAX
from firmware import discovery, interpan_frame, mac, ratelimit, reject, zcl
from firmware.beacon import Beacon
from firmware.device_log import DeviceLog
from firmware.eui64 import read_le
from firmware.interpan import InterPan

NOTHING = const(0)
TRANSMIT = const(1)

# What a TRANSMIT decision sends, for the shell's log.
TX_BEACON = const(1)
TX_DISCOVERY = const(2)
TX_REPLY = const(3)
TX_HAN = const(4)  # built by firmware.han

TUNNELING_CLUSTER = const(0x0704)  # SE Tunneling: GBCS commands over inter-PAN

# What the command layer made of an inter-PAN command (Commands.on_interpan).
CMD_REJECTED = const(0)  # failed authentication (or junk): counted, never answered
CMD_ANSWERED = const(1)  # authenticated but not accepted (duplicate, stale...): answered only
CMD_ACCEPTED = const(2)  # authenticated and accepted: answered, and a keep-alive
_NOTES_MAX = const(32)
_GATE_REJECT = (
    reject.OK,
    reject.RATE_GLOBAL,
    reject.RATE_SOURCE,
    reject.RATE_OVERFLOW,
    reject.AUTH_BACKOFF,
)


class Unauthenticated:
    # The command layer until one is provisioned: every command fails authentication, so nothing
    # is executed and nothing keeps inter-PAN alive.
    def on_interpan(self, hub, buf, f, zh, now):
        return CMD_REJECTED


class Hub:
    def __init__(self, settings, storage=None, commands=None, han=None):
        self.eui = settings.eui64()
        self._eui_air = bytes(self.eui[7 - i] for i in range(8))  # as it is on air
        self.pan_id = settings["radio.pan_id"]
        self.channel = settings["radio.channel"]
        self.permit_join = settings["join.permit"]
        self.beacon = Beacon(self.pan_id, self.eui)
        self.device_log = DeviceLog(storage, capacity=settings["han.device_log_max"])
        self.interpan = InterPan(settings["interpan.keepalive_s"], settings["interpan.max_open_s"])
        self.commands = commands or Unauthenticated()
        self.han = han  # HAN membership and traffic to joined devices (firmware.han)
        self.interpan_gate = ratelimit.gate_from_settings(settings)
        self.beacon_budget = ratelimit.beacon_budget_from_settings(settings)
        self.wan_present = True
        self.rx = mac.MacFrame()
        self.iph = interpan_frame.InterPanHeader()
        self.zh = zcl.ZclHeader()
        self.rejected = [0] * reject.COUNT
        self.rx_frames = 0
        self.notes = []
        self.notes_dropped = 0
        self.tx_buf = None
        self.tx_len = 0
        self.tx_kind = 0
        self.reply_buf = bytearray(PSDU_MAX)
        self._seq = 0

    # --- notes for the shell -------------------------------------------------------------

    def note(self, event, **fields):
        if len(self.notes) >= _NOTES_MAX:
            self.notes_dropped += 1  # the shell drains every wake-up; this is a backstop
            return
        self.notes.append((event, fields))

    def _flag(self, change):
        if change is None:
            return
        if change.prior is not None:
            self._flag(change.prior)
        self.note("interpan", **change.to_dict())

    # --- time and link events (called by the shell) --------------------------------------

    def power_up(self, now):
        self._flag(self.interpan.power_up(now))

    def tick(self, now):
        self._flag(self.interpan.tick(now))

    def dos_tick(self, now):
        # Once a second from the shell (not per frame): the limiter's sweep and calm-down.
        if self.interpan_gate.tick(now) == ratelimit.CALM:
            self.note("dos_alert", state="end", **self.interpan_gate.status())
        self.beacon_budget.tick(now)

    def wan_lost(self, now):
        self.wan_present = False
        self._flag(self.interpan.wan_lost(now))

    def wan_restored(self, now):
        self.wan_present = True
        self._flag(self.interpan.wan_restored(now))

    # Called by the command layer for authenticated commands (firmware.commands).
    def interpan_off(self, now):
        self._flag(self.interpan.off_command(now))

    def trusted_enable(self, now):
        self._flag(self.interpan.trusted_enable(now))

    # --- frames ---------------------------------------------------------------------------

    def _drop(self, why):
        self.rejected[why] += 1
        return NOTHING

    def on_frame(self, frame, now, src=-2):
        # src: interpan_frame.header_source() of the frame when the caller already has it
        # (the shell classifies each frame to park inter-PAN work); -2 to have it computed.
        self.rx_frames += 1
        if not frame.crc_ok:
            return self._drop(reject.BAD_FCS)
        buf = frame.buf
        # The cheapest floods are decided from fixed header octets, before any parse.
        if mac.is_beacon_request(buf, frame.off, frame.n):
            return self._beacon_reply(now)
        if src == -2:
            src = interpan_frame.header_source(buf, frame.off, frame.n)
        if src >= 0:
            why = self._interpan_gate(buf, frame.off, src, now)
            if why:
                return self._drop(why)
        f = self.rx
        why = mac.parse(buf, frame.off, frame.n, f)
        if why:
            return self._drop(why)
        if src >= 0:
            return self._interpan(buf, f, now)
        if f.dst_mode and f.dst_pan != mac.BROADCAST and f.dst_pan != self.pan_id:
            return self._drop(reject.NOT_FOR_US)
        if f.ftype == mac.COMMAND and buf[f.payload_off] == mac.CMD_BEACON_REQ:
            # Only the canonical request (mac.is_beacon_request, above) is answered.
            return self._drop(reject.NOT_FOR_US)
        if self.han is not None:
            r = self.han.on_frame(self, buf, f, now, frame.lqi)
            if r >= 0:
                return r
        return self._drop(reject.UNHANDLED)

    def _beacon_reply(self, now):
        if not self.beacon_budget.allow(now):  # a request flood must not keep the radio busy
            return self._drop(reject.RATE_BEACON)
        self.tx_buf = self.beacon.next(self.permit_join)
        self.tx_len = self.beacon.length
        self.tx_kind = TX_BEACON
        return TRANSMIT

    def _interpan_gate(self, buf, off, src, now):
        # From the header octets of an inter-PAN frame: a reject code, or 0 to go on. OFF
        # first (not even the limiter sees those frames), then the destination (our PAN or
        # 0xFFFF; our EUI-64 or broadcast), then the budgets.
        ip = self.interpan
        if not ip.is_on():
            return reject.INTERPAN_OFF
        change = ip.tick(now)  # a countdown that ran out since the shell's last tick ends here
        if change is not None:
            self._flag(change)
            return reject.INTERPAN_OFF
        pan = buf[off + 3] | (buf[off + 4] << 8)
        if pan != mac.BROADCAST and pan != self.pan_id:
            return reject.NOT_FOR_US
        if src == off + 15:  # a 64-bit destination at off + 5
            if not buf.startswith(self._eui_air, off + 5):  # C compare, no allocation
                return reject.NOT_FOR_US
        elif buf[off + 5] != 0xFF or buf[off + 6] != 0xFF:
            return reject.NOT_FOR_US
        return _GATE_REJECT[self.interpan_gate.allow(buf, src, now)]

    def _interpan(self, buf, f, now):
        # An inter-PAN frame past the gate (on, for us, within budget): parse the rest.
        ip = self.interpan
        h = self.iph
        if interpan_frame.parse(buf, f, h):
            return self._drop(reject.BAD_APS)
        if h.profile != interpan_frame.PROFILE_SE:
            return self._drop(reject.WRONG_PROFILE)
        zh = self.zh
        if zcl.parse(buf, h.zcl_off, f.payload_end, zh):
            return self._drop(reject.BAD_ZCL)
        to_server = not zh.fc & zcl.SERVER_TO_CLIENT
        if h.cluster == discovery.CLUSTER and zh.command == discovery.CMD_GET_DETAILS:
            if to_server and zh.fc & zcl.CLUSTER_SPECIFIC:
                return self._discovery(buf, f, zh, now)
        elif h.cluster == TUNNELING_CLUSTER and to_server:
            self.tx_len = 0  # the command layer writes a reply, or not
            verdict = self.commands.on_interpan(self, buf, f, zh, now)
            if verdict == CMD_REJECTED:
                if self.interpan_gate.auth_failed(buf, f.src_ext_off, now) == ratelimit.ALERT:
                    self.note("dos_alert", state="start", **self.interpan_gate.status())
                return self._drop(reject.UNAUTHENTICATED)
            # CMD_ANSWERED (a duplicate): neither a failure nor trust-earning success.
            if verdict == CMD_ACCEPTED:
                self.interpan_gate.auth_ok(buf, f.src_ext_off, now)
                # The keep-alive: authenticated, accepted commands only.
                self._flag(ip.command_accepted(now))
            return TRANSMIT if self.tx_len else NOTHING
        return self._drop(reject.UNKNOWN_COMMAND)

    def reply_header(self, buf, f, cluster, tx=None):
        # Start an inter-PAN unicast reply to the sender of f; returns the ZCL offset.
        return self.interpan_header(
            tx or self.reply_buf, read_le(buf, f.src_ext_off), f.src_pan, cluster
        )

    def interpan_header(self, tx, dst_eui, dst_pan, cluster):
        self._seq = (self._seq + 1) & 0xFF
        return interpan_frame.write_header(
            tx, self._seq, dst_pan, dst_eui, self.pan_id, self.eui, cluster
        )

    def _discovery(self, buf, f, zh, now):
        start = buf[zh.payload_off] if zh.payload_off < f.payload_end else 0
        tx = self.reply_buf
        p = self.reply_header(buf, f, discovery.CLUSTER)
        fc = zcl.CLUSTER_SPECIFIC | zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        p = zcl.write(tx, p, fc, zh.seq, discovery.CMD_DETAILS)
        secs = self.interpan.seconds_left(now)
        state = discovery.STATE_NO_TIMEOUT if secs is None else discovery.STATE_COUNTDOWN
        euis = [e for e, _ in self.device_log.entries()]
        self.tx_len = discovery.write_details(
            tx, p, self.eui, self.pan_id, self.channel, state, secs, self.wan_present, euis, start
        )
        self.tx_buf = tx
        self.tx_kind = TX_DISCOVERY
        return TRANSMIT

    def is_member(self, eui):
        # A device of this hub's HAN: joined (when the HAN layer runs), else in the device log.
        if self.han is not None:
            return self.han.is_joined(eui)
        return self.device_log.kind(eui) >= 0

    def status(self, now):
        # The hub's state as a dict, for the head-end and the log.
        secs = self.interpan.seconds_left(now)
        return {
            "interpan": discovery.STATES[
                (2 if secs is None else 1) if self.interpan.is_on() else 0
            ],
            "interpan_seconds_left": secs,
            "wan_present": self.wan_present,
            "device_log": len(self.device_log),
            "rx_frames": self.rx_frames,
            "rejected": {reject.NAMES[i]: n for i, n in enumerate(self.rejected) if n},
            "han": self.han.status(now) if self.han is not None else None,
            "dos": self.interpan_gate.status(),
        }
