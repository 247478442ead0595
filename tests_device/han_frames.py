# Frames a meter (or a stranger) sends the hub, as PSDUs with their FCS, for tests, the soak and
# the RAM benchmark. A module of its own so that using them loads no test classes.
from firmware import mac
from firmware import mac_peer as peer
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zcl
from tests_device import vectors
from tests_device.vectors import with_fcs

HUB_GUID = "00-23-7E-00-00-12-D6-87"
HUB_EUI = vectors.h("00237e000012d687")
PAN = 0x1A2B
ESME_EUI = vectors.h("00237e0000000001")
GSME_EUI = vectors.h("00237e0000000002")
STRANGER = vectors.h("00237e00000000ff")
CAP_ESME = 0x8C  # allocate address, rx on when idle, mains powered
CAP_GSME = 0x80  # allocate address, battery
# The lab meters' install codes (tools/demo/lab.json) and their link keys.
ESME_CODE = vectors.h("45534D452D4C41422D494E5354414C4C97E4")
GSME_CODE = vectors.h("47534D452D4C41422D494E5354414C4CA6F0")
ESME_LINK = vectors.h("DACED284AA513218787533298A411DFA")
GSME_LINK = vectors.h("110959AE47139ABB3EE2FB02D87F727B")
READ_SUMMATION = b"\x00\x2a\x00\x00\x00"  # ZCL Read Attributes (seq 0x2a) of attribute 0x0000
SUPPLIER = vectors.h("90b3d51f30010000")


def le(eui):
    return bytes(reversed(eui))


def assoc_request(eui, cap=CAP_GSME, dst=0x0000, seq=1):
    buf = bytearray(40)
    n = peer.build_command(buf, seq, PAN, dst, 0xFFFF, eui, mac.CMD_ASSOC_REQ, bytes([cap]))
    return with_fcs(buf, n)


def data_request(src, seq=2, dst=0x0000, pan=PAN, cmd=mac.CMD_DATA_REQ):
    # src: a short address (a member polling) or an EUI (a device awaiting its response).
    # dst, pan, cmd: other addresses, or another command, with the same shape.
    buf = bytearray(40)
    n = peer.build_command(buf, seq, pan, dst, pan, src, cmd)
    return with_fcs(buf, n)


def orphan(src):
    # src: an EUI (a member that lost its coordinator), or a short address (malformed).
    buf = bytearray(40)
    p = mac.write_header(buf, mac.COMMAND, 3, 0xFFFF, 0xFFFF, 0xFFFF, src)
    buf[p] = 0x06  # orphan notification (IEEE 802.15.4-2006 7.3)
    return with_fcs(buf, p + 1)


def nwk_frame(short, cluster, payload, nwk_src=None, profile=nwk.PROFILE_SE, dst=0x0000):
    buf = bytearray(127)
    p = mac.write_header(buf, mac.DATA, 4, PAN, dst, PAN, short, True)
    p = nwk.write_nwk(buf, p, 0x0000, short if nwk_src is None else nwk_src, 9)
    p = nwk.write_aps(buf, p, cluster, 7, profile)
    for i in range(len(payload)):
        buf[p + i] = payload[i]
    return with_fcs(buf, p + len(payload))


def summation_report(short, value):
    payload = bytearray(b"\x18\x01\x0a\x00\x00\x25") + value.to_bytes(6, "little")
    return nwk_frame(short, zcl.METERING, payload)
