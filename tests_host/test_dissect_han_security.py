"""Secured HAN frames, built with the project's MAC/NWK writers and secured by firmware code,
dissected by independent decoders: tshark, given keys the way Wireshark's ZigBee security
preferences hold them (the zigbee_pc_keys table in the user's profile), decrypts every frame
with no MIC failure and no malformed packet; scapy parses the security headers.

- NWK security both ways (a meter's reports, the hub's read request) with the network key.
- Joining: with only the GSME's install-code link key, tshark decrypts the hub's APS
  Transport-Key (key-transport key derived from the link key), learns the network key from
  it, and with that decrypts the secured frames that follow."""

import pytest
from dissect import tshark_fields, zigbee_keys
from scapy.layers.dot15d4 import Dot15d4FCS
from scapy.layers.zigbee import ZigbeeSecurityHeader

from contract.crc16 import append_fcs
from firmware import eui64
from tests_device.test_nwk_security import GSME, HUB, NWK_KEY, Node, secured_report
from tests_device.test_transport_key import CODE, transport_frame

LINK_KEY = "66B6900981E1EE3CA4206B6B861C02BB"  # of install code CODE (public vector)
READ_ZCL = bytes.fromhex("00 2a 00 0000")  # ZCL Read Attributes of 0x0000, seq 0x2a


def conversation():
    # A meter's three reports, and the hub's read request to it, all NWK-secured.
    hub = Node(HUB, GSME)
    meter = Node(GSME, HUB)
    frames = [secured_report(meter, seq=i) for i in range(3)]
    frames.append(secured_report(hub, src_short=0x0000, seq=9, zcl=READ_ZCL, dst_short=0x145D))
    return frames


def transport_psdu():
    # The hub's Transport-Key to the GSME, with its FCS.
    frame, _ = transport_frame()
    buf = bytearray(bytes(frame) + b"\x00\x00")
    append_fcs(buf, len(frame))
    return bytes(buf)


def dissect(frames, tmp_path, fields):
    got = tshark_fields(frames, tmp_path, fields)
    if got is None:
        pytest.skip("tshark not installed")
    rows, verbose = got
    assert "Malformed" not in verbose
    assert "Encrypted Payload" not in verbose  # what Wireshark shows when a MIC fails
    assert "Expert Info (Error" not in verbose
    return rows


FIELDS = ["zbee.sec.counter", "zbee.sec.src64", "zbee.sec.decryption_key", "zbee_aps.cluster"]


def test_tshark_decrypts_nwk_security_with_the_network_key(tmp_path):
    zigbee_keys(tmp_path, (NWK_KEY.hex().upper(), "han network key"))
    rows = dissect(conversation(), tmp_path, FIELDS + ["zbee_zcl.cmd.id"])
    gsme = eui64.to_guid(GSME).replace("-", ":").lower()
    hub = eui64.to_guid(HUB).replace("-", ":").lower()
    assert [r[:4] for r in rows] == [
        ["0", gsme, "han network key", "0x0702"],
        ["1", gsme, "han network key", "0x0702"],
        ["2", gsme, "han network key", "0x0702"],
        ["0", hub, "han network key", "0x0702"],
    ]
    assert [r[4] for r in rows] == ["0x0a", "0x0a", "0x0a", "0x00"]  # reports, then a read


def test_without_the_key_nothing_is_readable(tmp_path):
    # The negative control: tshark shows only an encrypted payload, so the test above would
    # fail on a wrong nonce, key or MIC.
    zigbee_keys(tmp_path, ("0F0E0D0C0B0A09080706050403020101", "wrong"))
    got = tshark_fields(conversation(), tmp_path, ["zbee.sec.decryption_key", "zbee_aps.cluster"])
    if got is None:
        pytest.skip("tshark not installed")
    rows, verbose = got
    assert all(r == ["", ""] for r in rows)
    assert verbose.count("Encrypted Payload") >= 4


def test_tshark_follows_a_join_with_only_the_link_key(tmp_path):
    zigbee_keys(tmp_path, (LINK_KEY, "gsme install code"))
    rows = dissect(
        [transport_psdu()] + conversation(),
        tmp_path,
        ["zbee.sec.decryption_key", "zbee.sec.key.origin", "zbee_aps.cmd.key", "zbee_aps.cluster"],
    )
    assert rows[0][0] == "gsme install code"
    assert rows[0][2] == NWK_KEY.hex()
    for r in rows[1:]:
        assert (r[1], r[3]) == ("1", "0x0702")  # the key learned from frame 1


def test_link_key_is_the_install_code_vector():
    from firmware import sec_install_code as install_code

    assert install_code.link_key(CODE).hex().upper() == LINK_KEY


def test_scapy_parses_the_security_headers():
    for psdu in conversation():
        p = Dot15d4FCS(psdu)
        sec = p[ZigbeeSecurityHeader]
        assert (sec.extended_nonce, sec.key_type, sec.key_seqnum) == (1, 1, 0)
        assert sec.source in (int.from_bytes(GSME, "big"), int.from_bytes(HUB, "big"))
        assert bytes(sec.data)[-4:] == psdu[-6:-2]  # the MIC, which scapy leaves in data
    sec = Dot15d4FCS(transport_psdu())[ZigbeeSecurityHeader]
    assert (sec.key_type, sec.fc) == (2, 77)
