"""The scenario the RAM benchmark plays (make ram; bench/ram.py), recorded under CPython.

The firmware runs here too, driven through the same bench.ram.Driver the MicroPython replay
uses, so every recorded input answers the hub's real state (the short addresses it gave out, the
counters it has seen). Every table the hub keeps is driven to its default bound. In scenario time:

  0-60 s   a lab minute: the ESME and GSME join (each is sent the network key) and report,
           NWK-secured, the GSME polls; the head-end is up
           (heartbeats, outbox delivered), asks for status and sends GBCS commands (one routed
           to the ESME); an installer's HHT scans, discovers and sends signed commands; the
           head-end fills the device log and the new devices join
  60-68 s  a line-rate flood, each frame one air time after the last: the worst inter-PAN mix
           (tools/flood.py: forged commands, discovery requests, junk) from random EUI-64s,
           beacon requests, association requests from strangers, data requests and NWK frames
           from non-members, a member's secured report replayed and secured frames with forged
           MICs
  70-80 s  a burst of WAN traffic: GBCS commands back to back (fresh, replayed, badly signed),
           status requests and junk; then an outage while the hub's events fill the outbox

    python bench/ram_scenario.py OUT      (prints what the hub did, as the replay prints it)
"""

import itertools
import os
import random
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import ram  # noqa: E402
from contract import wan_msg  # noqa: E402
from firmware import cmd_catalogue as cat  # noqa: E402
from firmware import han_device_log as device_log  # noqa: E402
from firmware import sec_install_code as install_code  # noqa: E402
from firmware.app import App  # noqa: E402
from firmware.cmd_pipeline import TUNNEL_TRANSFER_DATA  # noqa: E402
from firmware.eui64 import to_guid  # noqa: E402
from tests_device import interpan_frames as ipf  # noqa: E402
from tests_device import vectors  # noqa: E402
from tests_device.han_frames import (  # noqa: E402
    CAP_ESME,
    CAP_GSME,
    ESME_CODE,
    ESME_EUI,
    GSME_CODE,
    GSME_EUI,
    assoc_request,
    data_request,
    summation_report,
    with_fcs,
)
from tests_device.han_meter import Meter  # noqa: E402
from tests_device.test_commands import INSTALLER, KEYS, SUPPLIER, command  # noqa: E402
from tools import flood  # noqa: E402

OVERRIDES = (
    "hub.eui64=00-23-7E-00-00-12-D6-87",
    "radio.pan_id=0x1A2B",
    "han.devices=%s:esme:%s,%s:gsme:%s"
    % (to_guid(ESME_EUI), ESME_CODE.hex(), to_guid(GSME_EUI), GSME_CODE.hex()),
)
PARTIES = ((SUPPLIER, "supplier"), (INSTALLER, "installer"))
OTHER = bytes((device_log.KINDS.index("other"),))


def air_us(n):
    return (6 + n) * 32  # SHR + PHR + PSDU, 32 us per octet


class Recorder(ram.Driver):
    def __init__(self, app, out):
        self.out = out
        self.us = 0
        ram.Driver.__init__(self, app)

    def _rec(self, kind, payload=b""):
        self.out.write(struct.pack("<IBH", self.t, kind, len(payload)) + bytes(payload))

    def at(self, ms):
        self.us = max(self.us, ms * 1000)
        self.advance_to(self.us // 1000)

    def frame(self, psdu, n=None):
        n = len(psdu) if n is None else n
        self._rec(ram.FRAME, psdu[:n])
        ram.Driver.frame(self, psdu, n)

    def on_air(self, psdu):
        # The next frame of a back-to-back run: it starts where the last one ended.
        self.frame(psdu)
        self.us += air_us(len(psdu))
        self.advance_to(self.us // 1000)

    def wan(self, msg):
        self._rec(ram.WAN, msg)
        ram.Driver.wan(self, msg)

    def link(self, what):
        self._rec(ram.LINK, bytes((what,)))
        ram.Driver.link(self, what)

    def deliver(self):
        self._rec(ram.DELIVER)
        ram.Driver.deliver(self)

    def end(self):
        self._rec(ram.END)


def gbcs(body):
    return bytes((wan_msg.GBCS,)) + body


def json_msg(obj):
    return wan_msg.encode_json(obj)[wan_msg.HEADER_LEN :]


def eui(i, top=0x77):
    return bytes((0x00, 0x23, 0x7E, top, 0x00, 0x00, i >> 8, i & 0xFF))


def code_of(e):
    # A device's install code: 16 octets and their CRC, as printed on it.
    c = bytes(e) + bytes(reversed(e))
    crc = install_code.crc(c, len(c))
    return c + bytes((crc & 0xFF, crc >> 8))


def short_of(app, e):
    t = app.han.table
    s = t.find(e)
    return t.short(s) if s >= 0 else None


class Scenario:
    def __init__(self, out, state_dir):
        app = ram.build(App, state_dir, OVERRIDES, ((e, r, KEYS[e]) for e, r in PARTIES))
        for e, r in PARTIES:
            out.write(struct.pack("<IBH", 0, ram.PARTY, 40 + len(r)) + e + KEYS[e] + r.encode())
        for s in OVERRIDES:
            out.write(struct.pack("<IBH", 0, ram.SETTING, len(s)) + s.encode())
        # The network key the hub made: the replay's hub finds it, so the members' secured
        # frames recorded here verify there too.
        rec = b"nwk_key\x00" + app.board.storage.read("nwk_key")
        out.write(struct.pack("<IBH", 0, ram.RECORD, len(rec)) + rec)
        self.key = (app.han.security.key, app.han.security.seq)
        self.meters = {e: Meter(e, *self.key) for e in (ESME_EUI, GSME_EUI)}
        self.app = app
        self.d = Recorder(app, out)
        self.counter = {SUPPLIER: 1000, INSTALLER: 5000}
        self.rnd = random.Random(14)

    def cmd(self, orig, code, **kw):
        self.counter[orig] += 1
        return command(orig, self.counter[orig], code, **kw)

    def hht(self, body):
        # SE Tunneling TransferData on tunnel 0, from the HHT.
        return ipf.tunnel(b"\x00\x00" + body, command=TUNNEL_TRANSFER_DATA)

    def lab_minute(self):
        d = self.d
        app = self.app
        d.at(0)
        d.link(1)
        d.link(2)
        d.wan(json_msg({"op": "status"}))
        d.deliver()
        d.at(200)
        d.frame(assoc_request(ESME_EUI, CAP_ESME))
        d.at(400)
        d.frame(assoc_request(GSME_EUI, CAP_GSME))
        d.frame(data_request(GSME_EUI))
        esme, gsme = short_of(app, ESME_EUI), short_of(app, GSME_EUI)
        joined = []
        for s in range(60):
            d.at(s * 1000 + 500)
            if s % 10 == 0:
                d.frame(self.meters[ESME_EUI].secure(summation_report(esme, 1000 + s)))
            if s % 7 == 3:
                d.frame(data_request(gsme))
            if s == 30:
                d.frame(self.meters[GSME_EUI].secure(summation_report(gsme, 500 + s)))
            for sh, e in joined:
                if (s + sh) % 15 == 0:
                    d.frame(self.meters[e].secure(summation_report(sh, s)))
            if s % 30 == 29:
                d.link(2)
                d.deliver()
            if s == 5:  # the head-end: status, its own commands, one for the ESME
                d.wan(json_msg({"op": "status"}))
                d.wan(gbcs(self.cmd(SUPPLIER, cat.READ_HUB_STATUS)))
                d.wan(gbcs(self.cmd(SUPPLIER, cat.EXECUTED_QUERY)))
                d.wan(gbcs(self.cmd(SUPPLIER, cat.READ_METER, recip=ESME_EUI)))
            if 10 <= s < 14:  # an installer's visit: scan, discovery, then commands
                d.frame(vectors.BEACON_REQUEST)
                d.frame(ipf.get_details())
                d.frame(self.hht(self.cmd(INSTALLER, cat.READ_HUB_STATUS)))
            if 20 <= s < 34:  # the head-end fills the device log; each new device joins
                e = eui(s, 0x55)
                add = self.cmd(SUPPLIER, cat.DEVICE_LOG_ADD, fields=(e, OTHER, code_of(e)))
                d.wan(gbcs(add))
                d.at(s * 1000 + 700)
                d.frame(assoc_request(e, CAP_ESME))
                sh = short_of(app, e)
                if sh is not None and (sh, e) not in joined:
                    joined.append((sh, e))
                    self.meters[e] = Meter(e, *self.key)

    def line_rate_flood(self):
        d = self.d
        rnd = self.rnd
        d.at(60000)
        for buf, n in itertools.islice(flood.frames("worst", ()), 1600):  # ~5 s
            d.on_air(with_fcs(buf, n))
        for buf, n in itertools.islice(flood.frames("beacon", ()), 1950):  # 1 s
            d.on_air(with_fcs(buf, n))
        for _ in range(1000):  # ~1 s of strangers asking to join
            d.on_air(assoc_request(bytes(rnd.getrandbits(8) for _ in range(8)), CAP_GSME))
        for i in range(500):  # members' addresses, forged
            d.on_air(data_request(rnd.getrandbits(16)))
            d.on_air(summation_report(rnd.getrandbits(16), i))
        esme = short_of(self.app, ESME_EUI)
        meter = self.meters[ESME_EUI]
        heard = meter.secure(summation_report(esme, 7))
        d.frame(heard)  # a genuine report, then replayed, then forgeries with fresh counters
        for i in range(250):
            d.on_air(heard)
            forged = bytearray(meter.secure(summation_report(esme, i)))
            forged[-3] ^= 0x5A
            d.on_air(with_fcs(forged, len(forged) - 2))

    def wan_burst(self):
        d = self.d
        d.at(70000)
        for _ in range(40):
            d.wan(gbcs(self.cmd(SUPPLIER, cat.READ_HUB_STATUS)))
        replayed = self.cmd(SUPPLIER, cat.READ_HUB_STATUS)
        for i in range(10):
            d.wan(gbcs(replayed))
            d.wan(gbcs(self.cmd(SUPPLIER, cat.READ_HUB_STATUS, key=b"x" * 32)))
            d.wan(json_msg({"op": "status"}))
            d.wan(bytes((wan_msg.JSON,)) + b'{"op": "status", "junk": [[[[[[[[' + b"]" * 8)
            d.wan(bytes((wan_msg.GBCS,)) + bytes(range(i * 7 % 60)))
        d.deliver()
        d.at(72000)
        d.link(0)  # the head-end is gone: what the hub reports waits in the outbox
        for s in range(72, 80):
            d.at(s * 1000)
            for _ in range(8):
                d.frame(self.hht(self.cmd(INSTALLER, cat.READ_HUB_STATUS)))
        d.at(80000)
        d.end()


def record(path):
    # Writes the scenario to path; returns what the hub did (bench.ram.Driver.summary).
    with tempfile.TemporaryDirectory() as tmp, open(path, "wb") as out:
        s = Scenario(out, os.path.join(tmp, "state"))
        s.lab_minute()
        s.line_rate_flood()
        s.wan_burst()
        return s.d.summary()


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: python bench/ram_scenario.py OUT")
    print(record(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
