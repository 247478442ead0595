"""Every frame the hub builds, dissected by scapy and tshark with no error."""

import pytest
from dissect import tshark_fields
from scapy.layers.dot15d4 import Dot15d4Beacon, Dot15d4Cmd, Dot15d4FCS
from scapy.layers.zigbee import ZigBeeBeacon

from contract.crc16 import append_fcs
from contract.frame import RxFrame
from firmware import decision
from firmware import mac_peer as peer
from firmware.core import Core
from firmware.settings import Settings
from tests_device import vectors

GUID = "00-23-7E-00-00-12-D6-87"


def hub_beacon(*overrides):
    h = Core(Settings(None, ("hub.eui64=" + GUID, "radio.pan_id=0x1A2B") + overrides)).hub
    assert h.on_frame(vectors.load(RxFrame(), vectors.BEACON_REQUEST), 0) == decision.TRANSMIT
    out = bytearray(h.out.tx_len + 2)
    out[: h.out.tx_len] = h.out.tx_buf[: h.out.tx_len]
    append_fcs(out, h.out.tx_len)
    return bytes(out)


@pytest.mark.parametrize("permit", [False, True])
def test_scapy_decodes_the_hub_beacon(permit):
    raw = hub_beacon("join.permit=%d" % permit)
    pkt = Dot15d4FCS(raw)
    assert pkt.fcs == raw[-2] | raw[-1] << 8  # scapy computed the same FCS
    assert Dot15d4FCS(bytes(pkt)).fcs == pkt.fcs
    assert pkt.fcf_frametype == 0 and pkt.fcf_srcaddrmode == 2
    b = pkt[Dot15d4Beacon]
    assert (b.src_panid, b.src_addr) == (0x1A2B, 0x0000)
    assert (b.sf_beaconorder, b.sf_sforder, b.sf_finalcapslot) == (15, 15, 15)
    assert b.sf_pancoord == 1 and b.sf_assocpermit == int(permit)
    z = pkt[ZigBeeBeacon]
    assert (z.proto_id, z.stack_profile, z.nwkc_protocol_version) == (0, 2, 2)
    assert z.extended_pan_id == 0x00237E000012D687
    assert z.tx_offset == 0xFFFFFF
    assert not pkt.haslayer("Raw")  # nothing left undecoded


def test_scapy_decodes_our_beacon_request():
    buf = bytearray(12)
    n = peer.build_beacon_request(buf, 6)
    raw = bytes(buf[: append_fcs(buf, n)])
    pkt = Dot15d4FCS(raw)
    assert pkt[Dot15d4Cmd].cmd_id == 7
    assert (pkt.dest_panid, pkt.dest_addr) == (0xFFFF, 0xFFFF)
    assert raw == vectors.BEACON_REQUEST


def test_tshark_dissects_hub_frames_cleanly(tmp_path):
    frames = [hub_beacon("join.permit=0"), hub_beacon("join.permit=1"), vectors.BEACON_REQUEST]
    got = tshark_fields(
        frames,
        tmp_path,
        [
            "wpan.frame_type",
            "wpan.fcs_ok",
            "zbee_beacon.ext_panid",
            "zbee_beacon.profile",
            "wpan.assoc_permit",
        ],
    )
    if got is None:
        pytest.skip("tshark is not installed (apt-get install tshark): scapy checks still ran")
    rows, verbose = got
    assert "Malformed" not in verbose and "Expert Info (Error" not in verbose
    assert [int(r[0], 16) for r in rows] == [0, 0, 3]
    assert [r[1] for r in rows] == ["1", "1", "1"]  # FCS good
    assert rows[0][2] == "00:23:7e:00:00:12:d6:87"
    assert int(rows[0][3], 16) == 2  # ZigBee PRO
    assert [r[4] for r in rows[:2]] == ["0", "1"]


def discovery_exchange():
    from tests_device import interpan_frames as ipf

    h = Core(Settings(None, ("hub.eui64=" + GUID, "radio.pan_id=0x1A2B"))).hub
    h.device_log.add(bytes.fromhex("00237E0000000005"), 2)
    h.power_up(0)
    req = ipf.get_details(seq=9)
    assert h.on_frame(vectors.load(RxFrame(), req), 1000) == decision.TRANSMIT
    out = bytearray(h.out.tx_len + 2)
    out[: h.out.tx_len] = h.out.tx_buf[: h.out.tx_len]
    append_fcs(out, h.out.tx_len)
    return req, bytes(out)


def test_scapy_decodes_discovery_request_and_reply():
    from scapy.layers.zigbee import ZigbeeAppDataPayloadStub, ZigbeeClusterLibrary, ZigbeeNWKStub

    for raw, direction in zip(discovery_exchange(), (0, 1)):
        pkt = Dot15d4FCS(raw)
        assert Dot15d4FCS(bytes(pkt)).fcs == pkt.fcs
        assert pkt.fcf_panidcompress == 0 and pkt.fcf_srcaddrmode == 3
        assert pkt.haslayer(ZigbeeNWKStub)
        aps = pkt[ZigbeeAppDataPayloadStub]
        assert (aps.frametype, aps.cluster, aps.profile) == (3, 0xFC00, 0x0109)
        z = ZigbeeClusterLibrary(aps.data, _underlayer=aps)  # scapy leaves the stub APS data raw
        assert (z.zcl_frametype, z.command_direction, z.transaction_sequence) == (1, direction, 9)
        assert z.command_identifier == 0


def test_tshark_dissects_discovery_cleanly(tmp_path):
    frames = list(discovery_exchange())
    got = tshark_fields(
        frames,
        tmp_path,
        ["wpan.fcs_ok", "zbee_aps.cluster", "zbee_aps.profile", "zbee_zcl.cmd.tsn"],
    )
    if got is None:
        pytest.skip("tshark is not installed (apt-get install tshark): scapy checks still ran")
    rows, verbose = got
    assert "Malformed" not in verbose and "Expert Info (Error" not in verbose
    assert [r[0] for r in rows] == ["1", "1"]
    assert [int(r[1], 16) for r in rows] == [0xFC00, 0xFC00]
    assert [int(r[2], 16) for r in rows] == [0x0109, 0x0109]
    assert [r[3] for r in rows] == ["9", "9"]
