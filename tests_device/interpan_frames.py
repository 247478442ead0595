# Builders of inter-PAN frames an HHT would send, for tests (PSDUs with their FCS).
from contract.crc16 import append_fcs
from firmware import cmd_gbcs as gbcs
from firmware import ipan_discovery as discovery
from firmware import zb_interpan as interpan_frame
from firmware import zb_zcl as zcl

HHT = b"\x00\x23\x7e\xff\xfe\x00\x00\x01"
HUB = b"\x00\x23\x7e\x00\x00\x12\xd6\x87"


def frame(
    cluster,
    command,
    payload=b"",
    dst=HUB,
    dst_pan=0xFFFF,
    src=HHT,
    seq=1,
    profile=interpan_frame.PROFILE_SE,
    fc=zcl.CLUSTER_SPECIFIC,
):
    buf = bytearray(127)
    p = interpan_frame.write_header(buf, seq, dst_pan, dst, 0xFFFF, src, cluster, profile)
    p = zcl.write(buf, p, fc, seq, command)
    for b in payload:
        buf[p] = b
        p += 1
    return bytes(buf[: append_fcs(buf, p)])


def get_details(start=0, **kw):
    return frame(discovery.CLUSTER, discovery.CMD_GET_DETAILS, bytes((start,)), **kw)


def tunnel(payload=b"\x01\x02", command=0x00, **kw):
    return frame(zcl.TUNNELING, command, payload, **kw)


# A provisioned party's EUI-64 (tools/demo/lab.json's installer) and a GBCS command from it to
# the hub, well-formed but signed with no key: what the hub's octet checks pass (docs/dos.md).
INSTALLER = b"\x90\xb3\xd5\x1f\x30\x03\x00\x00"
UNSIGNED = gbcs.build(gbcs.COMMAND, 7, INSTALLER, HUB, 0x0001, b"", bytes(16))


def command(msg=UNSIGNED, tunnel_id=0, **kw):
    # SE Tunneling TransferData (client -> server): tunnel ID, then the GBCS message.
    payload = bytes((tunnel_id & 0xFF, tunnel_id >> 8)) + msg
    return tunnel(payload, zcl.TRANSFER_DATA, **kw)
