# Public test vectors, PSDUs with their FCS: scapy's test/scapy/layers/dot15d4.uts and
# test/pcaps/zigbee-join-authenticate.pcap (FCS appended), and inter-PAN frames laid out by
# ZigBee Smart Energy 1.1 (07-5356) annex B.
from binascii import unhexlify

from contract.crc16 import append_fcs


def h(s):
    return unhexlify(s.replace(" ", ""))


# scapy dot15d4.uts "Dot15d4FCS - Beacon (without pending addresses)", FCS 0xa458
BEACON = h("0080 89 aa99 0000 ffcf 00 00 0022 84 fecaefbeedfecefa ffffff 00 58a4")
BEACON_EPID = h("facefeedbeefcafe")
# scapy dot15d4.uts "Beacon (with pending addresses)": 2 short + 1 long pending, FCS 0xd396
BEACON_PENDING = h(
    "0080 89 aa99 0000 ffcf 00 12 3412 7856 8877665544332211"
    " 0022 84 fecaefbeedfecefa ffffff 00 96d3"
)
# scapy zigbee-join-authenticate.pcap frame 1 (seq 6), FCS computed in protocols.md
BEACON_REQUEST = h("0308 06 ffff ffff 07 c231")
# scapy dot15d4.uts coordinator realignment command, FCS 0x215c
COORD_REALIGN = h("23cc 89 ffff 8877665544332211 aa99 ffeeddccbbaa9988 08 aa99 dec0 14 adde 5c21")
# protocols.md 2.4: inter-PAN unicast (long to long, AR) and broadcast (short to long)
INTERPAN_UNICAST = h(
    "21cc 42 ffff 7766554433221100 3412 ffeeddccbbaa9988 0b00 0300080901 010500 6a9b"
)
INTERPAN_BROADCAST = h("01c8 43 ffff ffff 3412 ffeeddccbbaa9988 0b00 0b00080901 010500 8167")


# Every public vector above, for tests that go through them all.
ALL = (BEACON, BEACON_PENDING, BEACON_REQUEST, COORD_REALIGN, INTERPAN_UNICAST, INTERPAN_BROADCAST)


def load(frame, psdu, crc_ok=True, off=0):
    # Put a PSDU into an RxFrame as a radio would.
    for i in range(len(psdu)):
        frame.buf[off + i] = psdu[i]
    frame.off = off
    frame.n = len(psdu)
    frame.crc_ok = crc_ok
    return frame


def with_fcs(buf, n):
    # The PSDU of the MPDU buf[0:n]: a copy with its FCS appended.
    out = bytearray(n + 2)
    for i in range(n):
        out[i] = buf[i]
    append_fcs(out, n)
    return bytes(out)
