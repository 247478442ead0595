"""Every frame of a HAN conversation, dissected by scapy and tshark with no error.

The conversation is real: tools/meter.py's Meter (ESME and GSME) and the hub core with
firmware.han.Han exchange frames in-process over hal.fake.medium (the hub answers as soon as a
frame reaches it), covering the active scan, association (accepted and refused), reports,
indirect delivery with frame pending, direct delivery, a read answered by the meter, and an
orphan realignment."""

import io
import json

import pytest
from dissect import tshark_fields, zigbee_keys
from scapy.config import conf
from scapy.layers.dot15d4 import Dot15d4Cmd, Dot15d4FCS
from scapy.layers.zigbee import ZigbeeAppDataPayload, ZigbeeNWK, ZigbeeSecurityHeader

from contract.frame import RxFrame
from firmware import han as hanmod
from firmware.core import Core
from firmware.decision import TRANSMIT
from firmware.settings import Settings
from hal.fake.medium import FakeRadio, Medium
from hal.fake.storage import MemoryStorage
from tools import meter as metermod

HUB_GUID = "00-23-7E-00-00-12-D6-87"
ESME = "00-23-7E-00-00-00-00-01"
GSME = "00-23-7E-00-00-00-00-02"
STRANGER = "00-23-7E-00-00-00-00-FF"
# The lab meters' install codes (tools/demo/lab.json, which the meters read by default).
ESME_CODE = "45534D452D4C41422D494E5354414C4C97E4"
GSME_CODE = "47534D452D4C41422D494E5354414C4CA6F0"
ESME_LINK = "DACED284AA513218787533298A411DFA"  # their link keys
GSME_LINK = "110959AE47139ABB3EE2FB02D87F727B"


class Air:
    """The in-process air: every PSDU sent is recorded; the hub answers synchronously."""

    def __init__(self):
        self.psdus = []
        self.medium = Medium()
        deliver = self.medium.deliver

        def record(sender, psdu, channel, lqi=255):
            self.psdus.append(psdu)
            deliver(sender, psdu, channel, lqi)

        self.medium.deliver = record
        self.storage = MemoryStorage()
        core = Core(Settings(None, ("hub.eui64=" + HUB_GUID,)), self.storage, han=True)
        self.hub = core.hub
        self.out = core.out
        hanmod.provision(
            self.hub.device_log, "%s:esme:%s,%s:gsme:%s" % (ESME, ESME_CODE, GSME, GSME_CODE)
        )
        self.han = core.han
        self.han.start(0)
        self.radio = FakeRadio(self.medium, inbox_max=64)
        self.radio.configure(11, 0x1A2B, 0x0000, self.hub.eui)
        self.frame = RxFrame()
        self.now = 0

    def pump(self):
        self.now += 10
        while self.radio.recv(self.frame):
            if self.hub.on_frame(self.frame, self.now) == TRANSMIT:
                self.radio.send(self.out.tx_buf, self.out.tx_len)
        n = self.out.radio.pop()
        while n:
            self.radio.send(self.out.radio.buf, n)
            n = self.out.radio.pop()


class MeterRadio(FakeRadio):
    def __init__(self, air):
        FakeRadio.__init__(self, air.medium, inbox_max=64)
        self.air = air

    def recv(self, frame):
        self.air.pump()
        return FakeRadio.recv(self, frame)


def make_meter(air, kind, eui):
    args = metermod.parse_args(
        [
            "--kind",
            kind,
            "--eui",
            eui,
            "--channels",
            "11",
            "--scan-wait",
            "0.02",
            "--response-wait",
            "0.02",
            "--listen-ms",
            "10",
        ]
    )
    out = io.StringIO()
    m = metermod.Meter(args, out)
    m.radio.close()
    m.radio = MeterRadio(air)
    return m, out


def meter_events(out):
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def conversation():
    air = Air()
    esme, esme_out = make_meter(air, "esme", ESME)
    gsme, gsme_out = make_meter(air, "gsme", GSME)
    stranger, stranger_out = make_meter(air, "esme", STRANGER)
    assert esme.join() and gsme.join()
    # Everyone in the device log has joined: the beacon says joining is closed, and a stranger
    # that associates anyway is refused.
    assert stranger.scan() is None
    hub = {"guid": HUB_GUID, "channel": 11, "pan_id": 0x1A2B, "coord": 0x0000}
    assert stranger.associate(hub) == (0xFFFF, 0x02)
    esme.report()
    gsme.report()
    g = bytes.fromhex(GSME.replace("-", ""))
    e = bytes.fromhex(ESME.replace("-", ""))
    assert air.han.send_to_device(g, 0x0702, b"\x00\x11\x00\x00\x01", "wan", air.now) == 1
    # SE Tunneling TransferData on tunnel 1 (opaque octets: GBCS content is the command
    # layer's; a cut GBCS header would be reported malformed by Wireshark's GBCS dissector).
    transfer = b"\x01\x12\x02\x01\x00" + b"opaque"
    assert air.han.send_to_device(g, 0x0704, transfer, "interpan", air.now) == 1
    assert gsme.poll_cycle() == 2  # both delivered in one wake: frame pending on the first
    assert air.han.send_to_device(e, 0x0702, b"\x00\x13\x00\x00\x00", "wan", air.now) == 0
    air.pump()
    for buf, f in esme.frames(0.01):
        esme.handle(buf, f)
    # A top-up the command layer forwards: tunnelled to the ESME, which acknowledges it.
    supplier = bytes.fromhex("90B3D51F30010000")
    got = air.han.forward("wan", supplier, e, 0x0007, [b"\x12\x34"], air.now)
    assert got == (9, b"")  # forwarded
    air.pump()
    for buf, f in esme.frames(0.01):
        esme.handle(buf, f)
    air.pump()
    gsme.short = 0xFFFF
    assert gsme.realign() is not None
    return air, meter_events(esme_out), meter_events(gsme_out), meter_events(stranger_out)


def test_the_conversation_happened(conversation):
    air, esme, gsme, stranger = conversation
    assert [e["event"] for e in gsme if e["event"] in ("joined", "frame_rx")] == [
        "joined",
        "frame_rx",
        "frame_rx",
    ]
    assert [e["pending"] for e in gsme if e["event"] == "frame_rx"] == [True, False]
    assert [e for e in esme if e["event"] == "frame_rx"][0]["cluster"] == "0x0702"
    cmd = [e for e in esme if e["event"] == "command_rx"][0]
    assert (cmd["message"], cmd["originator"], cmd["fields"]) == (
        "prepay_topup",
        "90-B3-D5-1F-30-01-00-00",
        "redacted",  # a sensitive message's fields are not logged
    )
    acks = [f for e, f in air.hub.notes if e == "meter_response"]
    assert [(a["cluster"], a["command"], a["data"]) for a in acks][-1] == ("0x0704", 11, "0200")
    assert [e["event"] for e in stranger] == ["scan"]
    notes = [e for e, _ in air.hub.notes]
    assert notes.count("device_joined") == 3  # ESME, GSME, and the GSME's orphan rejoin
    assert "join_refused" in notes
    assert air.han.reading(air.han.table.find(bytes.fromhex(GSME.replace("-", ""))))[0] == 1


def test_scapy_dissects_every_frame(conversation):
    # scapy parses the security headers (it does not decrypt: tshark below does, with keys).
    air = conversation[0]
    conf.dot15d4_protocol = "zigbee"
    kinds = set()
    for raw in air.psdus:
        pkt = Dot15d4FCS(raw)
        assert Dot15d4FCS(bytes(pkt)).fcs == pkt.fcs == raw[-2] | raw[-1] << 8
        if pkt.fcf_frametype == 1:
            nwk = pkt[ZigbeeNWK]
            assert (nwk.frametype, nwk.proto_version) == (0, 2)
            assert nwk.source == pkt.src_addr
            sec = pkt[ZigbeeSecurityHeader]
            assert sec.extended_nonce == 1
            if nwk.flags.security:  # every data frame: NWK-secured with the network key
                assert sec.key_type == 1
                kinds.add(("secured", pkt.fcf_pending))
            else:  # but the Transport-Key, APS-secured with the key-transport key
                assert (pkt[ZigbeeAppDataPayload].aps_frametype, sec.key_type) == (1, 2)
                kinds.add(("transport_key",))
        elif pkt.fcf_frametype == 3:
            kinds.add(("cmd", pkt[Dot15d4Cmd].cmd_id))
    for cmd in (1, 2, 4, 6, 7, 8):  # assoc req/resp, data req, orphan, beacon req, realign
        assert ("cmd", cmd) in kinds
    assert {("secured", 1), ("secured", 0), ("transport_key",)} <= kinds


def test_tshark_dissects_every_frame_cleanly(conversation, tmp_path):
    # Given the meters' link keys (from their install codes), as Wireshark's ZigBee
    # preferences take them: tshark learns the network key from the Transport-Keys.
    air = conversation[0]
    zigbee_keys(tmp_path, (ESME_LINK, "esme install code"), (GSME_LINK, "gsme install code"))
    got = tshark_fields(
        air.psdus,
        tmp_path,
        ["wpan.frame_type", "wpan.fcs_ok", "zbee_nwk.src", "zbee_aps.cluster", "wpan.cmd"],
    )
    if got is None:
        pytest.skip("tshark is not installed (apt-get install tshark): scapy checks still ran")
    rows, verbose = got
    assert "Malformed" not in verbose and "Expert Info (Error" not in verbose
    assert "Encrypted Payload" not in verbose  # what Wireshark shows when it cannot decrypt
    assert len(rows) == len(air.psdus)
    assert all(r[1] == "1" for r in rows)
    data = [r for r in rows if int(r[0], 16) == 1]
    assert data and all(r[2] for r in data)  # every data frame decoded as ZigBee
    assert {int(r[3], 16) for r in data if r[3]} == {0x0702, 0x0704}
    assert "Transport Key" in verbose
    assert "Association Response" in verbose and "Coordinator Realignment" in verbose
    assert "Current Summation Delivered" in verbose
