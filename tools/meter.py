"""ESME and GSME simulators: electricity and gas meters that join a hub over the ZEP medium.

    python tools/meter.py --kind esme|gsme --eui 00-23-7E-00-00-00-00-01
                          [--medium 127.0.0.1:17754] [--channels 11-26] [--hub GUID]
                          [--state DIR] [--poll-s 7.5] [--report-s 30] [--reading N]
                          [--rate 1] [--battery-s 60] [--listen-ms 60]

The meter does what a ZigBee end device does on 802.15.4:
  * joins: an active scan (beacon requests), the beacon of a hub that permits joining (--hub
    picks one by GUID), a MAC association request with its capability (ESME: mains powered,
    receiver on when idle; GSME: battery, receiver off), and the association response;
  * is commissioned with an install code (--install-code, else its entry in the provisioning
    file): after associating it waits for the hub's APS Transport-Key (a GSME polls for it),
    opens it with the key-transport key of its install-code link key and so learns the network
    key; a meter that gets no key it can open associates again later;
  * secures every NWK frame it sends (ZigBee NWK security, level 5) and accepts from the hub
    only frames secured with a network key it holds and a fresh frame counter; it takes a key
    update (a Transport-Key of a new key, then a Switch-Key) as a ZigBee device does;
  * keeps its membership in --state (hub, PAN, channel, short address, network key, reading)
    and its frame counters (persisted ahead, as the hub's: it never reuses a counter after a
    restart): a restarted meter sends an orphan notification and the hub realigns it with the
    same address, so it rejoins without a new association; it associates afresh only when the
    hub does not know it (or it has no network key);
  * talks ZigBee NWK + APS + ZCL (Smart Energy profile, metering cluster 0x0702): it reports
    CurrentSummationDelivered to the hub every --report-s seconds (the hub keeps the GSME's for
    its gas proxy), answers Read Attributes, and acknowledges other commands with a ZCL Default
    Response (the command layer's meter commands plug in at Meter.execute);
  * GSME only: sleeps, waking every --poll-s seconds to poll the hub with a MAC data request,
    listening --listen-ms for a frame, and polling again while the hub says more are pending.
    Frames that arrive while it sleeps are lost, as on a radio that is off.

A battery model counts every wake, poll, frame received and sent, the time awake and the time
on air, and estimates the charge drawn (receive 19 mA, transmit 23 mA, sleep 2 uA: typical of
an 802.15.4 transceiver such as the MRF24J40; the MCU is not modelled). It is printed as a
"battery" event every --battery-s seconds and at exit.

Events are JSON lines on stdout like the hub's: started, scan, joined, join_refused, key
(learned, switched, or why not), poll, frame_rx, frame_dropped, report_tx, battery, stopped.
SIGINT or SIGTERM stops the meter cleanly (exit 0).

--impostor makes it what an attacker would build: a meter that sends its reports whether or not
it learned the network key (in the clear when it did not), for the lab's attacker recipes.
"""

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract.crc16 import crc16  # noqa: E402
from contract.frame import (
    PSDU_MAX,  # noqa: E402
    RxFrame,  # noqa: E402
)
from firmware import cmd_ber as ber  # noqa: E402
from firmware import cmd_catalogue as catalogue  # noqa: E402
from firmware import hub_reject as reject  # noqa: E402
from firmware import mac  # noqa: E402
from firmware import mac_beacon as beacon  # noqa: E402
from firmware import mac_peer as peer  # noqa: E402
from firmware import sec_install_code as install_code  # noqa: E402
from firmware import sec_mmo as mmo  # noqa: E402
from firmware import sec_nwk as nsec  # noqa: E402
from firmware import sec_transport_key as transport_key  # noqa: E402
from firmware import zb_nwk as nwk  # noqa: E402
from firmware import zb_zcl as zcl  # noqa: E402
from firmware.cmd_catalogue import INTERPAN_ENABLE  # noqa: E402
from firmware.cmd_pipeline import signed  # noqa: E402
from firmware.eui64 import equals_le, to_guid  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from firmware.sec_counters import IncomingCounters, OutgoingCounter  # noqa: E402
from hal.file_storage import FileStorage  # noqa: E402
from hal.sim.radio_zep import ZepRadio  # noqa: E402
from tools import cli, provisioning  # noqa: E402

CAP_ESME = 0x8C  # allocate address | receiver on when idle | mains powered (802.15.4 7.3.1.2)
CAP_GSME = 0x80  # allocate address; battery powered, receiver off when idle
CMD_ORPHAN = 0x06
CMD_REALIGN = 0x08
METERING = 0x0702
TUNNELING = 0x0704
TUNNEL_TRANSFER_DATA = 0x02  # client to server: how the hub forwards a command (docs/han.md)
SUMMATION = 0x0000
UINT48 = 0x25
ZCL_READ = 0x00
ZCL_READ_RESP = 0x01
ZCL_REPORT = 0x0A
ZCL_DEFAULT_RESP = 0x0B
UNSUPPORTED_ATTRIBUTE = 0x86
ASSOC_STATUS = {0: "success", 1: "pan_at_capacity", 2: "access_denied"}

KEY_WAIT_S = 2.0  # after associating: how long to wait for the Transport-Key

I_RX_MA = 19.0
I_TX_MA = 23.0
I_SLEEP_MA = 0.002


def channels(spec):
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


class Battery:
    """What the meter's radio spent: counters and an estimated charge."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.wakes = 0
        self.polls = 0
        self.frames_rx = 0
        self.frames_tx = 0
        self.missed_asleep = 0
        self.tx_us = 0
        self.rx_us = 0
        self.awake_s = 0.0
        self._since = None

    def wake(self):
        self.wakes += 1
        self._since = time.monotonic()

    def sleep(self):
        if self._since is not None:
            self.awake_s += time.monotonic() - self._since
            self._since = None

    def report(self, always_on):
        now = time.monotonic()
        awake = self.awake_s + (now - self._since if self._since is not None else 0.0)
        total = now - self.t0
        if always_on:
            awake = total
        asleep = max(0.0, total - awake)
        tx_s = self.tx_us / 1e6
        mas = awake * I_RX_MA + tx_s * (I_TX_MA - I_RX_MA) + asleep * I_SLEEP_MA
        return {
            "wakes": self.wakes,
            "polls": self.polls,
            "frames_rx": self.frames_rx,
            "frames_tx": self.frames_tx,
            "missed_asleep": self.missed_asleep,
            "awake_ms": int(awake * 1000),
            "tx_airtime_us": self.tx_us,
            "rx_airtime_us": self.rx_us,
            "charge_uah": round(mas / 3.6, 3),
            "elapsed_s": round(total, 3),
        }


class Hub:
    """The meter's one neighbour, for its NWK security's member lookup (the hub's EUI-64)."""

    def __init__(self):
        self.eui = None

    def find_le(self, buf, off):
        return 0 if self.eui is not None and equals_le(buf, off, self.eui, 0) else -1


class Security:
    """The meter's end of ZigBee security: its link key (from its install code), the network
    key(s) it was handed, and its frame counters, persisted ahead in its state directory."""

    def __init__(self, eui, code, storage):
        self.link = install_code.link_key(code) if code is not None else None
        self.ktk = mmo.key_transport_key(self.link) if self.link is not None else None
        name = eui.hex().upper()
        self.outgoing = OutgoingCounter(storage, "nwk_counter-" + name)
        self.incoming = IncomingCounters(1, storage, "nwk_incoming-" + name)
        self.hub = Hub()
        self.nwk = nsec.NwkSecurity(eui, self.hub, self.incoming, self.outgoing)
        self.key = None  # the network key in use, and its sequence number
        self.seq = 0
        self.pending = None  # (key, seq) handed over for a key update, until the Switch-Key

    def set_hub(self, guid):
        self.hub.eui = parse_eui(guid)
        self.incoming.assign(0, self.hub.eui)

    def use(self, key, seq):
        # The network key to send with (a join, a Switch-Key, or the state file).
        self.nwk.set_key(key, seq)
        self.nwk.switch_key(seq)
        self.nwk.drop_old()
        self.key = bytes(key)
        self.seq = seq

    def hold(self, key, seq):
        # A new network key, accepted on receive, sent with only after its Switch-Key.
        self.nwk.set_key(key, seq)
        self.pending = (bytes(key), seq)

    def switch(self, seq):
        if self.pending is not None and self.pending[1] == seq:
            self.use(*self.pending)
            self.pending = None
            return True
        return self.key is not None and seq == self.seq

    def open_key(self, buf, off, end):
        # A Transport-Key at buf[off:end]: a TransportedKey, or the reason it is not one.
        if self.ktk is None:
            return "no_install_code"
        tk = transport_key.TransportedKey()
        r = transport_key.parse(buf, off, end, self.ktk, tk)
        return tk if r == transport_key.OK else transport_key.NAMES[r]


class Meter:
    def __init__(self, args, out=sys.stdout):
        self.args = args
        self.out = out
        self.kind = args.kind
        self.sleepy = args.kind == "gsme"
        self.eui = args.eui
        host, _, port = args.medium.rpartition(":")
        self.radio = ZepRadio(medium_port=int(port), medium_host=host or "127.0.0.1")
        self.frame = RxFrame(self.radio.HEADROOM)
        self.f = mac.MacFrame()
        self.nh = nwk.NwkHeader()
        self.ah = nwk.ApsHeader()
        self.zh = zcl.ZclHeader()
        self.tx = bytearray(PSDU_MAX)
        self.battery = Battery()
        self.stop = False
        self.hub = None  # GUID of the hub it belongs to
        self.pan_id = 0xFFFF
        self.channel = 0
        self.short = 0xFFFF
        self.reading = args.reading
        self.credit = 0  # prepayment credit, pence: what a top-up adds to
        self.pin_enable = False  # SIGUSR1: the installer-PIN menu's "enable inter-PAN"
        self.tariff = None  # the last tariff set (hex of its field)
        self._mac_seq = crc16(self.eui, 0, 8) & 0xFF
        self._nwk_seq = 0
        self._aps_ctr = 0
        self._zcl_seq = 0
        self.state_path = None
        storage = None
        if args.state:
            os.makedirs(args.state, exist_ok=True)
            name = "meter-%s.json" % self.eui.hex().upper()
            self.state_path = os.path.join(args.state, name)
            storage = FileStorage(args.state)
        self.sec = Security(self.eui, args.install_code, storage)
        self._load()

    # --- output and state -------------------------------------------------------------------

    def emit(self, event, **fields):
        line = {"event": event, "t": round(time.time(), 3), "meter": self.kind}
        line.update(fields)
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    def _load(self):
        if not self.state_path or not os.path.exists(self.state_path):
            return
        try:
            with open(self.state_path) as fh:
                st = json.load(fh)
            self.hub = st["hub"]
            self.pan_id = int(st["pan_id"])
            self.channel = int(st["channel"])
            self.short = int(st["short"])
            if self.args.reading_given is False:
                self.reading = int(st.get("reading", self.reading))
            self.credit = int(st.get("credit", 0))
            self.tariff = st.get("tariff")
            if st.get("network_key"):
                self.sec.set_hub(self.hub)
                self.sec.use(bytes.fromhex(st["network_key"]), int(st["key_seq"]))
                if st.get("pending_key"):
                    self.sec.hold(bytes.fromhex(st["pending_key"]), int(st["pending_seq"]))
        except (ValueError, KeyError, TypeError):
            self.hub = None  # a damaged state file: join afresh

    def _save(self):
        if not self.state_path:
            return
        st = {
            "hub": self.hub,
            "pan_id": self.pan_id,
            "channel": self.channel,
            "short": self.short,
            "reading": self.reading,
            "credit": self.credit,
            "tariff": self.tariff,
            "network_key": self.sec.key.hex() if self.sec.key else None,
            "key_seq": self.sec.seq,
            "pending_key": self.sec.pending[0].hex() if self.sec.pending else None,
            "pending_seq": self.sec.pending[1] if self.sec.pending else None,
        }
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(st, fh)
        os.replace(tmp, self.state_path)

    # --- radio ------------------------------------------------------------------------------

    def _seq(self):
        self._mac_seq = (self._mac_seq + 1) & 0xFF
        return self._mac_seq

    def send(self, n):
        if self.radio.send(self.tx, n):
            self.battery.frames_tx += 1
            self.battery.tx_us += (6 + n + 2) * 32
            return True
        return False

    def _for_me(self, buf, f):
        if f.dst_mode == mac.ADDR_EXT:
            return equals_le(buf, f.dst_ext_off, self.eui, 0)
        if f.dst_mode == mac.ADDR_SHORT:
            return f.dst_short == self.short and f.dst_pan == self.pan_id and self.short < 0xFFF8
        return False

    def frames(self, seconds, beacons=False):
        """Yield (buf, f) for each good frame addressed to this meter (or each beacon) that
        arrives within `seconds`; the parsed MacFrame is only valid until the next one."""
        deadline = time.monotonic() + seconds
        fr = self.frame
        f = self.f
        while not self.stop:
            if self.radio.recv(fr):
                if not fr.crc_ok or mac.parse(fr.buf, fr.off, fr.n, f) != reject.OK:
                    continue
                if beacons:
                    if f.ftype == mac.BEACON:
                        yield fr.buf, f
                elif self._for_me(fr.buf, f):
                    self.battery.frames_rx += 1
                    self.battery.rx_us += (6 + fr.n) * 32
                    yield fr.buf, f
                continue
            if time.monotonic() >= deadline:
                return
            time.sleep(0.002)

    def drain_asleep(self):
        # The radio was off: whatever the socket holds never reached the meter.
        while self.radio.recv(self.frame):
            if (
                self.frame.crc_ok
                and mac.parse(self.frame.buf, self.frame.off, self.frame.n, self.f) == reject.OK
                and self._for_me(self.frame.buf, self.f)
            ):
                self.battery.missed_asleep += 1

    def nap(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.stop:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    # --- joining ----------------------------------------------------------------------------

    def scan(self):
        tx = self.tx
        found = []
        for ch in channels(self.args.channels):
            if self.stop:
                break
            self.radio.configure(ch, 0xFFFF, 0xFFFF, self.eui)
            self.send(peer.build_beacon_request(tx, self._seq()))
            for buf, f in self.frames(self.args.scan_wait, beacons=True):
                p = peer.beacon_payload_off(buf, f)
                zb = p > 0 and peer.parse_zigbee_payload(buf, p, f.payload_end)
                if not zb or zb["stack_profile"] != beacon.STACK_PROFILE_PRO:
                    continue
                guid = to_guid(zb["epid"])
                if self.args.hub and guid != self.args.hub:
                    continue
                permit = bool(peer.beacon_superframe(buf, f) & mac.SF_PERMIT)
                if [h for h in found if h["guid"] == guid and h["channel"] == ch]:
                    continue  # another node's scan made the hub beacon again
                found.append(
                    {
                        "guid": guid,
                        "pan_id": f.src_pan,
                        "channel": ch,
                        "coord": f.src_short,
                        "lqi": self.frame.lqi,
                        "permit_join": permit,
                    }
                )
        self.emit(
            "scan",
            hubs=[dict(h, pan_id="0x%04X" % h["pan_id"]) for h in found],
        )
        # (an impostor associates whatever the permit bit says: the hub lets a member rejoin)
        ok = [h for h in found if (h["permit_join"] or self.args.impostor) and h["coord"] >= 0]
        open_hubs = ok
        open_hubs.sort(key=lambda h: -h["lqi"])
        return open_hubs[0] if open_hubs else None

    def _assoc_response(self, seconds):
        for buf, f in self.frames(seconds):
            p = f.payload_off
            if f.ftype == mac.COMMAND and buf[p] == mac.CMD_ASSOC_RESP and f.payload_end - p >= 4:
                return buf[p + 1] | (buf[p + 2] << 8), buf[p + 3]
        return None

    def associate(self, hub):
        self.radio.configure(hub["channel"], hub["pan_id"], 0xFFFF, self.eui)
        self.pan_id = hub["pan_id"]
        cap = CAP_GSME if self.sleepy else CAP_ESME
        tx = self.tx
        n = peer.build_command(
            tx,
            self._seq(),
            hub["pan_id"],
            hub["coord"],
            0xFFFF,
            self.eui,
            mac.CMD_ASSOC_REQ,
            bytes([cap]),
        )
        self.send(n)
        got = self._assoc_response(self.args.response_wait)
        if got is None:
            # 802.15.4's way: poll the coordinator for the response it holds.
            n = peer.build_command(
                tx,
                self._seq(),
                hub["pan_id"],
                hub["coord"],
                hub["pan_id"],
                self.eui,
                mac.CMD_DATA_REQ,
            )
            self.send(n)
            got = self._assoc_response(self.args.response_wait)
        return got

    def realign(self):
        # After a restart: an orphan notification on the remembered channel.
        self.radio.configure(self.channel, 0xFFFF, 0xFFFF, self.eui)
        tx = self.tx
        p = mac.write_header(tx, mac.COMMAND, self._seq(), 0xFFFF, 0xFFFF, 0xFFFF, self.eui)
        tx[p] = CMD_ORPHAN
        self.send(p + 1)
        for buf, f in self.frames(self.args.response_wait):
            p = f.payload_off
            if f.ftype == mac.COMMAND and buf[p] == CMD_REALIGN and f.payload_end - p >= 8:
                pan = buf[p + 1] | (buf[p + 2] << 8)
                short = buf[p + 6] | (buf[p + 7] << 8)
                return pan, buf[p + 5], short
        return None

    def wait_key(self, hub_guid):
        """After associating: the hub's Transport-Key, opened with this meter's install code.
        A GSME polls for it. True when the meter has a network key."""
        self.sec.set_hub(hub_guid)
        deadline = time.monotonic() + self.args.key_wait
        while not self.stop and time.monotonic() < deadline:
            if self.sleepy:
                self._poll_once()
            for buf, f in self.frames(0.05):
                got = self._key_frame(buf, f)
                if got is not None:
                    return got
        self.emit("key", result="none_received")
        return False

    def _key_frame(self, buf, f):
        # A Transport-Key for this meter: True (learned), False (cannot open it), None (not one).
        h = self.nh
        end = f.payload_end
        if f.ftype != mac.DATA or nwk.parse_nwk(buf, f.payload_off, end, h) != nwk.OK:
            return None
        if end - h.payload_off < 2 or buf[h.payload_off] & 0x03 != nwk.APS_COMMAND:
            return None
        tk = self.sec.open_key(buf, h.payload_off, end)
        if isinstance(tk, str):
            self.emit("key", result=tk)
            return False
        if tk.dst != self.eui or tk.src != self.sec.hub.eui:
            self.emit("key", result="not_for_me")
            return False
        if self.sec.key is None:
            self.sec.use(tk.key, tk.key_seq)
            self.emit("key", result="learned", key_seq=tk.key_seq)
        elif tk.key_seq != self.sec.seq:
            self.sec.hold(tk.key, tk.key_seq)
            self.emit("key", result="received", key_seq=tk.key_seq)
        self._save()
        return True

    def join(self):
        backoff = 1.0
        while not self.stop:
            if self.hub is not None and self.sec.key is not None:
                got = self.realign()
                if got is not None:
                    self.pan_id, self.channel, self.short = got
                    self.radio.configure(self.channel, self.pan_id, self.short, self.eui)
                    self._save()
                    self.emit("joined", rejoin=True, via="orphan", **self._where())
                    return True
            hub = self.scan()
            if hub is not None:
                got = self.associate(hub)
                if got is not None and got[1] == 0:
                    self.channel = hub["channel"]
                    self.short = got[0]
                    self.radio.configure(self.channel, self.pan_id, self.short, self.eui)
                    self.hub = hub["guid"]
                    self.sec.key = None  # the hub sends the key in force after association
                    if self.wait_key(self.hub) or self.args.impostor:
                        self._save()
                        self.emit("joined", rejoin=False, via="association", **self._where())
                        return True
                    self.nap(backoff)
                    backoff = min(backoff * 2, self.args.retry_max_s)
                    continue
                self.emit(
                    "join_refused",
                    hub=hub["guid"],
                    status=ASSOC_STATUS.get(got[1], got[1]) if got else "no_response",
                )
            self.nap(backoff)
            backoff = min(backoff * 2, self.args.retry_max_s)
        return False

    def _where(self):
        return {
            "hub": self.hub,
            "pan_id": "0x%04X" % self.pan_id,
            "channel": self.channel,
            "short": "0x%04X" % self.short,
        }

    # --- ZigBee traffic ---------------------------------------------------------------------

    def _zcl_frame(self, cluster, payload):
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        self._aps_ctr = (self._aps_ctr + 1) & 0xFF
        tx = self.tx
        p = nwk.write_frame(
            tx,
            self._seq(),
            self.pan_id,
            nwk.COORDINATOR,
            self.short,
            self._nwk_seq,
            self._aps_ctr,
            cluster,
        )
        for i, b in enumerate(payload):
            tx[p + i] = b
        end = p + len(payload)
        if self.sec.key is not None:
            end = self.sec.nwk.protect(tx, nwk.MAC_HEADER_LEN, p - nwk.APS_HEADER_LEN, end)
            if end < 0:
                self.emit("frame_dropped", reason="cannot_secure")  # no frame counter left
                return False
        elif not self.args.impostor:
            self.emit("frame_dropped", reason="no_network_key")
            return False
        return self.send(end)

    def send_pin_enable(self):
        # The installer-PIN menu's "enable inter-PAN": a GBCS command signed with this
        # meter's own key (provisioning file), sent to the hub over the HAN in an SE Tunneling
        # TransferData. The hub accepts it only from a member of its HAN.
        self.pin_enable = False
        try:
            eui, key = provisioning.party(
                provisioning.load(self.args.provisioning), to_guid(self.eui)
            )
        except cli.Fail:
            self.emit("pin_enable_refused", reason="no key for this meter")
            return
        msg = signed(
            1,
            time.time_ns() // 1000000,
            eui,
            parse_eui(self.hub),
            INTERPAN_ENABLE,
            ber.sequence(),
            key,
        )
        self._zcl_seq = (self._zcl_seq + 1) & 0xFF
        self._zcl_frame(
            TUNNELING,
            bytes((zcl.CLUSTER_SPECIFIC, self._zcl_seq, TUNNEL_TRANSFER_DATA, 0, 0)) + msg,
        )
        self.emit("pin_enable_tx")

    def report(self):
        self.reading = (self.reading + self.args.rate) % (1 << 48)
        self._zcl_seq = (self._zcl_seq + 1) & 0xFF
        fc = zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        payload = bytes([fc, self._zcl_seq, ZCL_REPORT, 0x00, 0x00, UINT48])
        payload += self.reading.to_bytes(6, "little")
        self._zcl_frame(METERING, payload)
        self.emit("report_tx", summation=self.reading)

    def execute(self, cluster, command, payload):
        """A cluster-specific command addressed to the meter: the ZCL status to answer with.
        Forwarded GBCS commands arrive in an SE Tunneling TransferData; the meter executes the
        ones it knows: a prepayment top-up (one field: the amount, pence, big-endian) adds to
        its credit, a tariff update replaces its tariff. Both persist with its state."""
        about = {}
        status = 0x00  # SUCCESS
        if cluster == TUNNELING and command == TUNNEL_TRANSFER_DATA:
            about = describe_tunnelled(payload)
            code, fields = tunnelled_fields(payload)
            if code == catalogue.PREPAY_TOPUP:
                if len(fields) == 1 and 0 < len(fields[0]) <= 4:
                    self.credit += int.from_bytes(fields[0], "big")
                    self._save()
                    self.emit("topup_applied", credit=self.credit)
                else:
                    status = 0x85  # ZCL INVALID_FIELD
            elif code == catalogue.TARIFF_UPDATE and fields:
                self.tariff = fields[0].hex()
                self._save()
                self.emit("tariff_updated")
        self.emit("command_rx", cluster="0x%04X" % cluster, command=command, **about)
        return status

    def handle(self, buf, f):
        """A frame addressed to the meter: returns True when the hub said more are pending."""
        pending = f.pending()
        end = f.payload_end
        r = nwk.parse_nwk(buf, f.payload_off, end, self.nh) if f.ftype == mac.DATA else -1
        if r == nwk.OK:
            if self._key_frame(buf, f) is None:  # a Transport-Key is the one clear NWK frame
                self.emit("frame_dropped", reason="unsecured", pending=pending)
            return pending
        if r != nwk.SECURED:
            self.emit("frame_rx", kind="other", pending=pending)
            return pending
        end = self.sec.nwk.unprotect(buf, f.payload_off, self.nh.payload_off, end)
        if end < 0:
            self.emit("frame_dropped", reason=nsec.NAMES[-end], pending=pending)
            return pending
        a = self.ah
        aps = self.sec.nwk.aux.end
        r = nwk.parse_aps(buf, aps, end, a)
        if r == nwk.NOT_DATA:
            self._switch(transport_key.parse_switch(buf, aps, end))
            return pending
        if r != nwk.OK:
            self.emit("frame_rx", kind="other", pending=pending)
            return pending
        z = self.zh
        if zcl.parse(buf, a.payload_off, end, z):
            self.emit("frame_rx", cluster="0x%04X" % a.cluster, zcl="bad", pending=pending)
            return pending
        payload = bytes(buf[z.payload_off : end])
        self.emit(
            "frame_rx",
            cluster="0x%04X" % a.cluster,
            command=z.command,
            specific=bool(z.fc & zcl.CLUSTER_SPECIFIC),
            seq=z.seq,
            pending=pending,
        )
        if z.fc & zcl.SERVER_TO_CLIENT:
            return pending  # a response to the meter as a client: nothing to answer
        if not z.fc & zcl.CLUSTER_SPECIFIC and z.command == ZCL_READ:
            self._answer_read(a.cluster, z.seq, payload)
        elif z.fc & zcl.CLUSTER_SPECIFIC:
            status = self.execute(a.cluster, z.command, payload)
            if not z.fc & zcl.DISABLE_DEFAULT_RESPONSE:
                fc = zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
                self._zcl_frame(a.cluster, bytes([fc, z.seq, ZCL_DEFAULT_RESP, z.command, status]))
        return pending

    def _switch(self, seq):
        # Switch-Key: the network key it was handed becomes the one it sends with.
        if seq < 0 or not self.sec.switch(seq):
            self.emit("key", result="switch_refused", key_seq=seq)
            return
        self._save()
        self.emit("key", result="switched", key_seq=seq)

    def _answer_read(self, cluster, seq, payload):
        fc = zcl.SERVER_TO_CLIENT | zcl.DISABLE_DEFAULT_RESPONSE
        out = bytearray([fc, seq, ZCL_READ_RESP])
        for i in range(0, len(payload) - 1, 2):
            attr = payload[i] | (payload[i + 1] << 8)
            out += payload[i : i + 2]
            if cluster == METERING and attr == SUMMATION:
                out += bytes([0x00, UINT48]) + self.reading.to_bytes(6, "little")
            else:
                out.append(UNSUPPORTED_ATTRIBUTE)
        self._zcl_frame(cluster, bytes(out))

    def _poll_once(self):
        n = peer.build_command(
            self.tx,
            self._seq(),
            self.pan_id,
            nwk.COORDINATOR,
            self.pan_id,
            self.short,
            mac.CMD_DATA_REQ,
        )
        self.send(n)
        self.battery.polls += 1

    def poll_cycle(self):
        """GSME: one wake-up: a data request, then more while the hub has frames pending."""
        got = 0
        for _ in range(self.args.max_polls):
            self._poll_once()
            more = False
            for buf, f in self.frames(self.args.listen_ms / 1000.0):
                got += 1
                more = self.handle(buf, f)
                break  # one frame per data request; the pending bit says whether to ask again
            if not more:
                break
        return got

    # --- main loops -------------------------------------------------------------------------

    def battery_report(self):
        self.emit("battery", **self.battery.report(always_on=not self.sleepy))

    def run(self):
        self.emit(
            "started",
            guid=to_guid(self.eui),
            sleepy=self.sleepy,
            poll_s=self.args.poll_s if self.sleepy else None,
            state=self.state_path,
            member_of=self.hub,
        )
        self.radio.hello()
        self.battery.wake()
        joined = self.join()
        now = time.monotonic()
        next_report = now if joined else None
        next_battery = now + self.args.battery_s
        next_hello = now
        polls = 0
        while joined and not self.stop:
            now = time.monotonic()
            if self.pin_enable:
                self.send_pin_enable()
            if now >= next_hello:
                self.radio.hello()  # the medium forgets nodes it has not heard from
                next_hello = now + 5
            if self.sleepy:
                if self.battery._since is None:
                    self.drain_asleep()
                    self.battery.wake()
                polls += 1
                got = self.poll_cycle()
                if now >= next_report:
                    self.report()
                    next_report = now + self.args.report_s
                self.emit("poll", n=polls, frames=got)
                self.battery.sleep()
                if now >= next_battery:
                    self.battery_report()
                    next_battery = now + self.args.battery_s
                self.nap(self.args.poll_s)
            else:
                for buf, f in self.frames(0.05):
                    self.handle(buf, f)
                if now >= next_report:
                    self.report()
                    next_report = now + self.args.report_s
                if now >= next_battery:
                    self.battery_report()
                    next_battery = now + self.args.battery_s
        self.battery.sleep()
        self.battery_report()
        self._save()
        self.emit("stopped", reason="signal" if self.stop else "not_joined")
        self.radio.close()
        return 0


def tunnelled_fields(payload):
    """(message code, [field bytes]) of a forwarded command, or (None, []) if malformed."""
    if len(payload) < 12:
        return None, []
    fields = []
    p = 12
    while p < len(payload):
        n = payload[p]
        if p + 1 + n > len(payload):
            return None, []
        fields.append(bytes(payload[p + 1 : p + 1 + n]))
        p += 1 + n
    return payload[2] << 8 | payload[3], fields


def describe_tunnelled(payload):
    """What a forwarded command says: tunnel id (2, LE), message code (2, BE), originator (8),
    then length-prefixed fields. Fields of sensitive messages are not shown."""
    if len(payload) < 12:
        return {"payload": payload.hex()}
    code, raw = tunnelled_fields(payload)
    fields = [f.hex() for f in raw]
    code = code if code is not None else payload[2] << 8 | payload[3]
    entry = catalogue.message(code)
    sensitive = entry is not None and entry[4]
    return {
        "tunnel": payload[0] | payload[1] << 8,
        "code": "0x%04X" % code,
        "message": catalogue.name(code),
        "originator": to_guid(payload[4:12]),
        "fields": "redacted" if sensitive else fields,
    }


def install_code_of(args):
    """The meter's install code (octets, CRC checked): --install-code, else the provisioning
    file's device-log entry for its GUID; None when it has none."""
    text = args.install_code
    if text is None:
        try:
            conf = provisioning.load(args.provisioning)
        except cli.Fail:
            return None
        mine = [d for d in conf.get("device_log", []) if parse_eui(d.get("guid", "")) == args.eui]
        text = mine[0].get("install_code") if mine else None
        if text is None:
            return None
    code = install_code.parse(text)
    why = install_code.check(code) if code is not None else install_code.BAD_LENGTH
    if why:
        raise cli.Fail(
            cli.USAGE,
            "install code %s: %s (the hex printed on the meter: 8, 10, 14 or 18 octets, CRC last)"
            % (text, install_code.NAMES[why]),
        )
    return code


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="meter", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--kind", required=True, choices=("esme", "gsme"))
    ap.add_argument("--eui", required=True, help="the meter's GUID, e.g. 00-23-7E-00-00-00-00-01")
    ap.add_argument("--medium", default="127.0.0.1:17754", help="the ZEP medium (HOST:PORT)")
    ap.add_argument("--channels", default="11-26", help="channels to scan, e.g. 11 or 11-26")
    ap.add_argument("--hub", help="join only the hub with this GUID")
    ap.add_argument("--state", help="directory that keeps the meter's membership across runs")
    ap.add_argument("--poll-s", type=float, default=7.5, help="GSME: seconds between polls")
    ap.add_argument("--report-s", type=float, default=30.0, help="seconds between reports")
    ap.add_argument("--reading", type=int, default=None, help="initial meter reading")
    ap.add_argument("--rate", type=int, default=1, help="reading increase per report")
    ap.add_argument("--battery-s", type=float, default=60.0, help="battery report interval")
    ap.add_argument(
        "--provisioning", help="this meter's keys and install code (default tools/demo/lab.json)"
    )
    ap.add_argument(
        "--install-code", help="hex, as printed on the meter (default: its provisioning entry)"
    )
    ap.add_argument("--key-wait", type=float, default=KEY_WAIT_S, help="Transport-Key wait, s")
    ap.add_argument(
        "--impostor",
        action="store_true",
        help="an attacker's meter: reports even without the network key (in the clear)",
    )
    ap.add_argument("--listen-ms", type=float, default=60.0, help="GSME: listen after a poll")
    ap.add_argument("--max-polls", type=int, default=8, help="GSME: data requests per wake")
    ap.add_argument("--scan-wait", type=float, default=0.3, help="seconds per scanned channel")
    ap.add_argument("--response-wait", type=float, default=0.5, help="association wait, s")
    ap.add_argument("--retry-max-s", type=float, default=30.0, help="join retry back-off cap")
    args = ap.parse_args(argv)
    eui = parse_eui(args.eui)
    if eui is None:
        ap.error("--eui: %r is not an EUI-64" % args.eui)
    args.eui = eui
    args.install_code = install_code_of(args)
    args.reading_given = args.reading is not None
    if args.reading is None:
        args.reading = 0
    if not 0 <= args.reading < 1 << 48:
        ap.error("--reading must fit the 48-bit CurrentSummationDelivered")
    return args


def main(argv=None):
    args = parse_args(argv)
    meter = Meter(args)

    def stop(*_):
        meter.stop = True

    def pin_menu(*_):
        meter.pin_enable = True  # sent from the main loop, not from the signal handler

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, pin_menu)
    return meter.run()


if __name__ == "__main__":
    sys.exit(cli.main("meter", main))
