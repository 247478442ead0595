# The command layer: GBCS-structured commands from the WAN or from inter-PAN (SE Tunneling
# cluster), whichever arrives first. Each goes through, in order:
#   1. parse the grouping header            malformed   -> counted, noted, no answer
#   2. a command (CRA 1) from a provisioned party     else -> counted, noted, no answer
#   3. authenticate (firmware.cmd_auth)          bad tag     -> counted, noted, no answer
#   4. the anti-replay window, keyed by (originator, counter), never by channel:
#        duplicate / stale / table full      -> answered with that status on its own channel
#   5. admissible: a message this hub knows, from a role allowed to send it, on a channel that
#      may carry it, with valid content, for a target this hub serves (itself, or a member of
#      its HAN)                             else -> answered with the reason; nothing recorded
#   6. accepted: the window and an ACCEPTED log entry are persisted BEFORE anything runs
#   7. execute on the hub, or forward to the meter; the outcome and the response's WAN copy are
#      persisted together, so a power cut between them cannot lose the copy
#   8. a signed response on the channel the command came from, and a copy queued for the WAN
# Only step 6 onwards is "accepted": only that moves a window (RFC 4303 section 3.4.3: the
# window is updated only for a packet whose integrity was verified and that was accepted) and
# only that keeps inter-PAN alive. A command rejected before step 6, signed or not, leaves no
# trace in the replay state: a captured command replayed at the wrong hub, or with content
# this hub refuses, cannot push an originator's window past its genuine commands.

from contract import wan_msg
from contract.native import load
from firmware import cmd_ber as ber
from firmware import cmd_catalogue as cat
from firmware import cmd_execlog as execlog
from firmware import cmd_first_wins as replay
from firmware import cmd_gbcs as gbcs
from firmware import sec_install_code as install_code
from firmware import zb_zcl as zcl
from firmware.cmd_auth import HmacSha256
from firmware.decision import CMD_ACCEPTED, CMD_ANSWERED, CMD_REJECTED, TX_REPLY
from firmware.dos_limits import Gcra
from firmware.eui64 import read_le, to_guid
from firmware.han_device_log import KINDS

WAN = "wan"
INTERPAN = "interpan"
HAN = "han"

TUNNEL_TRANSFER_DATA = zcl.TRANSFER_DATA  # SE Tunneling, client -> server
TUNNEL_TRANSFER_DATA_RSP = const(0x01)  # SE Tunneling, server -> client
_PENDING_MAX = const(8)  # forwarded commands awaiting their meter's answer
QUERY_MAX = const(2)  # counters per executed-query: the command still fits one inter-PAN frame
_REFUSAL_NOTES_PER_S = const(1)  # inter-PAN command refusals noted one by one, at most
_REFUSAL_NOTES_BURST = const(5)
_MASK = const(0x3FFFFFFF)  # contract.ticks' (tests_host/test_hub_constants.py holds it)

# The provisioned parties' search (firmware.cmd_parties.Parties.find's native code), asked
# directly on the path of every command the limiter admits.
_find8 = load("firmware.ipan_octets").find8
_REFUSED = (False, None)  # process()'s answer to a refused command: one tuple, not one a call


def signed(cra, counter, orig, recip, code, content, key, auth=None):
    # A complete GBCS message with its authentication tag: hub responses, HHT and head-end
    # commands all come from here.
    auth = auth or HmacSha256()
    part = gbcs.signed_part(cra, counter, orig, recip, code, content)
    return part + bytes((auth.TAG_LEN,)) + auth.tag(key, part)


def _u32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


class Commands:
    # Collaborators, each as narrow as the rules need: the provisioned parties and the command
    # store; the wall clock (set_hub_clock); the shared Outputs (notes, the transmit slot, WAN
    # copies, frames for the radio); the hub's EUI-64; the inter-PAN flag (firmware.ipan_flag); the
    # device log; the HAN (membership and forwarding; None on a hub without one, when the device
    # log decides membership); the inter-PAN replier (firmware.zb_interpan).
    def __init__(
        self, parties, store, clock, out, eui, flag, device_log, replier, han=None, settings=None
    ):
        self.parties = parties
        self.store = store
        self.clock = clock
        self.out = out
        self.eui = bytes(eui)
        self.flag = flag
        self.device_log = device_log
        self.replier = replier
        self.han = han
        self.members = han if han is not None else device_log
        self.settings = settings
        self.auth = HmacSha256()
        self.h = gbcs.GbcsHeader()
        if han is not None:
            han.register(on_command=self.on_han, on_response=self.on_meter_response)
        self.pending = []  # [meter, zcl seq, originator, counter, code, channel, key, reply_to]
        self.counts = {}
        # Notes of refused inter-PAN commands: at most 5, then 1 a second (_refused); ticked with
        # the hub's DoS budgets.
        self.refusal_notes = Gcra(_REFUSAL_NOTES_PER_S, _REFUSAL_NOTES_BURST)
        self.refusals_unnoted = 0
        # The inter-PAN frame in hand (buffer, addressing, ZCL header), for _reply_target.
        self._in_buf = self._in_f = self._in_zh = None
        self._now = 0  # the time of the message in hand (for the refusals' budget)

    @staticmethod
    def _guid(buf, h):
        return to_guid(gbcs.eui(buf, h.orig_off))

    def _count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    # --- channels ----------------------------------------------------------------------------

    def on_interpan(self, buf, f, zh, now):
        # From the hub for the SE Tunneling cluster: CMD_REJECTED, _ANSWERED or _ACCEPTED; an
        # answer goes in the Outputs' transmit slot. Steps 1-3 (_authentic) first, so a command
        # refused there allocates nothing (11 words of frame state here and there, f reused).
        if zh.command != TUNNEL_TRANSFER_DATA or f.payload_end - zh.payload_off < 2:
            return CMD_REJECTED
        self._in_buf = buf
        self._in_f = f
        self._in_zh = zh
        self._now = now
        f = self._authentic(INTERPAN, buf, zh.payload_off + 2, f.payload_end)
        if f < 0:
            return CMD_REJECTED
        return self._interpan_authenticated(f)

    def _interpan_authenticated(self, who):
        accepted, rsp = self._authenticated(INTERPAN, self._in_buf, who, self._now)
        tx = self.replier.buf
        n = self._tunnel_frame(tx, self._reply_target(), rsp)
        if n:
            self.out.transmit(tx, n, TX_REPLY)
        return CMD_ACCEPTED if accepted else CMD_ANSWERED

    def _reply_target(self):
        # (HHT EUI-64, its PAN, ZCL seq, tunnel ID) of the inter-PAN frame in hand: built only
        # for an answer (allocates), never for a command refused before one.
        buf = self._in_buf
        t = self._in_zh.payload_off
        eui = read_le(buf, self._in_f.src_ext_off)
        return (eui, self._in_f.src_pan, self._in_zh.seq, buf[t] | buf[t + 1] << 8)

    def _tunnel_frame(self, tx, reply_to, rsp):
        # An SE Tunneling TransferData (server to client) carrying rsp to an HHT; its length,
        # or 0 when it does not fit (the copy queued for the WAN still goes).
        eui, pan, zseq, tunnel = reply_to
        p = self.replier.header(tx, eui, pan, zcl.TUNNELING)
        fc = zcl.CLUSTER_SPECIFIC | zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        p = zcl.write(tx, p, fc, zseq, TUNNEL_TRANSFER_DATA_RSP)
        tx[p] = tunnel & 0xFF
        tx[p + 1] = tunnel >> 8
        p += 2
        if p + len(rsp) > len(tx) - 2:
            self._count("response_too_long")
            return 0
        tx[p : p + len(rsp)] = rsp
        return p + len(rsp)

    def on_wan(self, msg, now):
        # msg: a GBCS message from the head-end. Returns the response for the WAN, or None.
        return self.process(WAN, msg, 0, len(msg), now)[1]

    # --- the pipeline --------------------------------------------------------------------------

    def _refused(self, channel, why):
        # Counts a refusal; True when it is to be noted too. The note of a refused inter-PAN
        # command becomes a log line and a persisted item for the head-end: a flood of forged
        # commands must not turn into as many flash writes, nor push genuine items out of a
        # full outbox. So past a budget (5, then 1 a second) one is only counted, and decided
        # before its note is built (docs/dos.md). Every command the limiter admits that fails
        # authentication meets this: _count inline, and the budget's refusal tested inline
        # (Gcra.open_at and wait: exactly allow()'s), two calls fewer past the budget.
        c = self.counts
        c[why] = c.get(why, 0) + 1
        if channel != INTERPAN:
            return True
        c = self.refusal_notes
        if (c.open_at - 1 - self._now) & _MASK >= c.wait and c.allow(self._now):
            return True
        self.refusals_unnoted += 1
        return False

    def _reject(self, channel, why, buf, r):
        # The note of a command refused before authentication (allocates: within the budget).
        h = self.h
        if why == "malformed":
            fields = {"detail": gbcs.REASONS[r]}
        elif why == "not_a_command":
            fields = {}
        elif why == "unknown_originator":
            fields = {"originator": self._guid(buf, h)}
        else:
            fields = {"originator": self._guid(buf, h), "counter": gbcs.counter(buf, h)}
        self.out.note("command_rejected", channel=channel, reason=why, **fields)

    def process(self, channel, buf, off, end, now):
        # (accepted, the signed response or None): the pipeline for a message at buf[off:end].
        self._now = now
        end = self._authentic(channel, buf, off, end)  # reused: the party, or -1
        if end < 0:
            return _REFUSED
        return self._authenticated(channel, buf, end, now)

    def _authentic(self, channel, buf, off, end):
        # Steps 1-3: the index of the provisioned party whose key authenticates the command at
        # buf[off:end], or -1 (counted; noted within the budget, at self._now). Every command
        # the inter-PAN budget admits, forged or not, meets this: it allocates nothing, in 11
        # words of frame state (end reused, self.h read where it is needed).
        end = gbcs.parse_header(buf, off, end, self.h)  # reused: the parse's status
        if end != gbcs.OK:
            if self._refused(channel, "malformed"):
                self._reject(channel, "malformed", buf, end)
            return -1
        if self.h.cra != gbcs.COMMAND:
            if self._refused(channel, "not_a_command"):
                self._reject(channel, "not_a_command", buf, 0)
            return -1
        # reused: the party (Parties.find's native search asked here, a call fewer)
        end = _find8(self.parties.table, self.parties.count, buf, self.h.orig_off)
        if end < 0:
            if self._refused(channel, "unknown_originator"):
                self._reject(channel, "unknown_originator", buf, 0)
            return -1
        if not self.auth.check(self.parties.key(end), buf, off, self.h):
            if self._refused(channel, "bad_tag"):
                self._reject(channel, "bad_tag", buf, 0)
            return -1
        return end

    def _authenticated(self, channel, buf, who, now):
        # Steps 4-8, for a command _authentic passed (its header in self.h): every outcome is
        # answered.
        h = self.h
        key = self.parties.key(who)
        mv = memoryview(buf)
        orig = gbcs.eui(buf, h.orig_off)
        counter = h.counter = gbcs.counter(buf, h)
        code = h.msg_code
        recip = gbcs.eui(buf, h.recip_off)
        fields = ber.fields(mv[h.content_off : h.content_off + h.content_len])
        store = self.store
        verdict = store.replay.check(orig, counter)
        if verdict != replay.NEW:
            status = (cat.ST_OK, cat.ST_DUPLICATE, cat.ST_STALE, cat.ST_TABLE_FULL)[verdict]
        else:
            status = self._admissible(channel, who, orig, recip, code, fields)
        if status != cat.ST_OK:
            # Answered, and nothing recorded: the window has not moved.
            self._count(cat.STATUS[status])
            return False, self._respond(channel, key, orig, recip, counter, code, status)
        store.replay.accept(orig, counter)
        store.log.add(orig, counter, code)
        try:
            store.save()  # persisted before anything runs: a power cut never runs it twice
        except (OSError, MemoryError):  # a full heap fails the write as a full flash does
            self._count("store_write_failed")
            store.reload()  # back to what is on flash: the command did not happen
            return False, self._respond(channel, key, orig, recip, counter, code, cat.ST_FAILED)
        status, data = self._execute(channel, who, orig, recip, code, fields, now)
        if status == cat.ST_FORWARDED:
            self._await_meter(recip, orig, counter, code, channel, key)
        store.log.done(orig, counter, status)
        rsp = self._respond(channel, key, orig, recip, counter, code, status, data)
        store.keep_copy(rsp)  # with the outcome, in one record: the WAN copy survives a cut
        try:
            store.save()
        except OSError:
            self._count("store_write_failed")  # the entry stays ACCEPTED: "may have run"
        self._count("executed")
        return True, rsp

    def _respond(self, channel, key, orig, recip, counter, code, status, data=b""):
        # Every answered command is noted (the log and the head-end see each outcome), and
        # answered signed with the originator's key, from the device that was addressed.
        self.out.note(
            "command",
            channel=channel,
            originator=to_guid(orig),
            counter=counter,
            message=cat.name(code),
            status=cat.STATUS[status],
        )
        rsp = signed(
            gbcs.RESPONSE, counter, recip, orig, code, ber.response(status, data), key, self.auth
        )
        if channel != WAN:
            self.out.to_wan(wan_msg.GBCS_COPY, rsp)  # a copy for the head-end
        return rsp

    # --- execution -----------------------------------------------------------------------------

    def _admissible(self, channel, who, orig, recip, code, fields):
        # ST_OK when the command may be accepted, else the reason it is refused. Decided from
        # the message alone, before the window moves; nothing here changes any state.
        m = cat.message(code)
        if m is None:
            return cat.ST_UNKNOWN_MESSAGE
        _, name, target, roles, _ = m
        if self.parties.role(who) not in roles:
            return cat.ST_NOT_PERMITTED
        if fields is None:
            return cat.ST_BAD_CONTENT
        n = len(fields)
        if target == cat.METER:
            if recip == self.eui or any(len(x) > 255 for x in fields):
                return cat.ST_BAD_CONTENT
            if self.han is None or not self.han.is_member(recip):
                return cat.ST_UNKNOWN_DEVICE
            return cat.ST_OK
        if recip != self.eui:
            return cat.ST_UNKNOWN_DEVICE
        if code == cat.SET_HUB_CLOCK:
            ok = n == 1 and len(fields[0]) == 4
        elif code == cat.INTERPAN_ENABLE:
            # From a meter that is a member of this hub's HAN (its installer-PIN menu).
            if not self.members.is_member(orig):
                return cat.ST_NOT_PERMITTED
            ok = True
        elif code == cat.DEVICE_LOG_ADD:
            # EUI-64, kind, and optionally the device's install code (its CRC checked here).
            ok = 2 <= n <= 3 and len(fields[0]) == 8 and len(fields[1]) == 1
            ok = ok and fields[1][0] < len(KINDS)
            if ok and n == 3 and install_code.check(fields[2]) != install_code.OK:
                return cat.ST_BAD_INSTALL_CODE
        elif code == cat.DEVICE_LOG_REMOVE:
            ok = n == 1 and len(fields[0]) == 8
        elif code == cat.EXECUTED_QUERY:
            # The originator whose commands are asked about, then up to QUERY_MAX counters.
            ok = 1 < n <= QUERY_MAX + 1 and all(len(x) == 8 for x in fields)
        elif code == cat.NWK_KEY_UPDATE:
            # The head-end's: the WAN only. The hub makes the key; none travels in the command.
            if channel != WAN:
                return cat.ST_NOT_PERMITTED
            if self.han is None:
                return cat.ST_UNKNOWN_MESSAGE
            ok = n == 0
        elif code == cat.SET_SETTING:
            # A setting may be a secret (the WiFi password): the WAN only, never the air.
            if channel != WAN:
                return cat.ST_NOT_PERMITTED
            ok = n == 2 and self.settings is not None
            ok = ok and self.settings.valid(fields[0], fields[1]) and fields[0] != b"hub.eui64"
        elif code == cat.PARTY_REKEY:
            # A key travels in it: the WAN only, never the air.
            if channel != WAN:
                return cat.ST_NOT_PERMITTED
            ok = n == 2 and len(fields[0]) == 8 and 16 <= len(fields[1]) <= 64
            if ok and self.parties.find(fields[0], 0) < 0:
                return cat.ST_UNKNOWN_DEVICE
        else:
            ok = True
        return cat.ST_OK if ok else cat.ST_BAD_CONTENT

    def _execute(self, channel, who, orig, recip, code, fields, now):
        # An admissible, accepted command runs: (status, response data).
        if cat.message(code)[2] == cat.METER:
            return self.han.forward(channel, orig, recip, code, fields, now)
        flag = self.flag
        if code == cat.READ_HUB_STATUS:
            secs = flag.seconds_left(now)
            state = 0 if not flag.is_on() else (2 if secs is None else 1)
            return cat.ST_OK, (
                bytes((state,))
                + _u32(0xFFFFFFFF if secs is None else secs)
                + bytes((1 if flag.wan_present else 0, len(self.device_log)))
                + _u32(self.clock.time())
            )
        if code == cat.SET_HUB_CLOCK:
            epoch = int.from_bytes(fields[0], "big")
            self.clock.set_time(epoch)
            self.out.note("time_set", epoch=epoch, source=channel)
            return cat.ST_OK, b""
        if code == cat.INTERPAN_OFF:
            flag.off(now)
            return cat.ST_OK, b""
        if code == cat.INTERPAN_ENABLE:
            flag.trusted_enable(now)
            return cat.ST_OK, b""
        if code == cat.DEVICE_LOG_ADD:
            key = install_code.link_key(fields[2]) if len(fields) == 3 else None
            if not self.device_log.add(fields[0], fields[1][0], key):
                return cat.ST_FAILED, b""
            if self.han is not None:
                self.han.sync(now)  # joining opens for the new entry
            self.out.note(
                "device_log",
                change="added",
                guid=to_guid(fields[0]),
                kind=KINDS[fields[1][0]],
                install_code=key is not None,
                source=channel,
            )
            return cat.ST_OK, b""
        if code == cat.DEVICE_LOG_REMOVE:
            if not self.device_log.remove(fields[0]):
                return cat.ST_UNKNOWN_DEVICE, b""
            if self.han is not None:
                self.han.sync(now)  # a member no longer in the log leaves
            self.out.note("device_log", change="removed", guid=to_guid(fields[0]), source=channel)
            return cat.ST_OK, b""
        if code == cat.EXECUTED_QUERY:
            whose = fields[0]
            return cat.ST_OK, bytes(
                self.executed(whose, int.from_bytes(x, "big")) for x in fields[1:]
            )
        if code == cat.PARTY_REKEY:
            return self._rekey(channel, fields[0], fields[1])
        if code == cat.SET_SETTING:
            key = fields[0].decode()
            try:
                self.settings.set(key, fields[1].decode())
            except OSError:
                return cat.ST_FAILED, b""
            self.out.note("setting_changed", key=key, source=channel)  # never the value
            return cat.ST_OK, b""
        if code == cat.NWK_KEY_UPDATE:
            return (cat.ST_OK if self.han.update_key(now) else cat.ST_FAILED), b""
        return cat.ST_UNKNOWN_MESSAGE, b""

    def _rekey(self, channel, party, key):
        # The recovery for an originator whose window is pushed out of reach (a counter of
        # 2^64-1 signed by its own key, through a bug or a leaked key): a new key, and with it
        # a fresh window. Nothing signed with the old key authenticates again, so forgetting
        # the old window lets no old command run twice.
        try:
            self.parties.rekey(party, key)
        except OSError:
            return cat.ST_FAILED, b""
        self.store.replay.forget(party)
        self.out.note("party_rekeyed", guid=to_guid(party), source=channel)
        return cat.ST_OK, b""

    def executed(self, orig, counter):
        # The resume query's answer for one of the originator's counters.
        e = self.store.log.find(orig, counter)
        if e is not None:
            return cat.Q_EXECUTED if e[3] == execlog.DONE else cat.Q_ACCEPTED
        v = self.store.replay.check(orig, counter)
        if v == replay.STALE or v == replay.DUPLICATE:
            return cat.Q_UNKNOWN  # aged out of the log; its counter can never run again
        return cat.Q_NOT_EXECUTED

    def on_han(self, member, z, buf, end, now):
        # The HAN layer's hook for a GBCS command a member sends (SE Tunneling TransferData:
        # tunnel ID, then the message), e.g. a meter's installer-PIN menu enabling inter-PAN.
        # The answer goes back to the member over the HAN; a copy is queued for the WAN.
        if end - z.payload_off < 2:
            return
        accepted, rsp = self.process(HAN, buf, z.payload_off + 2, end, now)
        if rsp is None:
            return
        head = bytes(
            (
                zcl.CLUSTER_SPECIFIC | zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE,
                z.seq,
                TUNNEL_TRANSFER_DATA_RSP,
                buf[z.payload_off],
                buf[z.payload_off + 1],
            )
        )
        self.han.send_to_device(member, zcl.TUNNELING, head + rsp, "wan", now)

    # --- meters' answers ----------------------------------------------------------------------

    def _await_meter(self, meter, orig, counter, code, channel, key):
        if len(self.pending) >= _PENDING_MAX:
            self.pending.pop(0)  # the oldest waits longest: its originator has the "forwarded"
            self._count("pending_dropped")
        seq = self.han.forward_seq
        reply_to = self._reply_target() if channel == INTERPAN else None
        self.pending.append([meter, seq, orig, counter, code, channel, key, reply_to])

    def on_meter_response(self, meter, aps, z, buf, end, now):
        # The HAN layer's hook for a meter's ZCL frame: the answer to a forwarded command goes
        # back on that command's channel, signed, with a copy for the WAN.
        i = len(self.pending) - 1
        while i >= 0 and not (self.pending[i][0] == meter and self.pending[i][1] == z.seq):
            i -= 1
        if i < 0:
            self.out.note(
                "meter_response",
                guid=to_guid(meter),
                cluster="0x%04X" % aps.cluster,
                command=z.command,
            )
            return
        meter, _, orig, counter, code, channel, key, reply_to = self.pending.pop(i)
        data = bytes(buf[z.payload_off : end])
        rsp = signed(
            gbcs.RESPONSE,
            counter,
            meter,
            orig,
            code,
            ber.response(cat.ST_OK, data),
            key,
            self.auth,
        )
        # The head-end gets every response: its own command's answer, or a copy.
        self.out.to_wan(wan_msg.GBCS if channel == WAN else wan_msg.GBCS_COPY, rsp)
        if channel == INTERPAN and reply_to is not None:
            tx = self.out.radio.claim()
            if tx is not None:
                n = self._tunnel_frame(tx, reply_to, rsp)
                if n:
                    self.out.radio.push(n)
        self.out.note(
            "command_response",
            channel=channel,
            originator=to_guid(orig),
            counter=counter,
            message=cat.name(code),
            device=to_guid(meter),
        )
