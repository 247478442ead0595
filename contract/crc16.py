# CRC-16/KERMIT, the IEEE 802.15.4 FCS: polynomial 0x1021 used bit-reflected (0x8408), init 0,
# no final xor, sent low byte first. Check value crc(b"123456789") == 0x2189; over a whole frame
# with its FCS the residue is 0. Driven by a table of the 16 nibbles, two lookups an octet (on
# the unix port 9 us for 127 octets, against 45 bitwise and 6.5 with a 256-entry table): a tuple
# of constants, which a frozen build keeps in flash, where the 256-entry table took 0.5 KB of
# heap. On the ESP32 the radio computes and checks FCSs in hardware, so this runs in the
# simulation, for install codes and for the device table's address hash.

_T = (
    0x0000, 0x1081, 0x2102, 0x3183, 0x4204, 0x5285, 0x6306, 0x7387,
    0x8408, 0x9489, 0xA50A, 0xB58B, 0xC60C, 0xD68D, 0xE70E, 0xF78F,
)  # fmt: skip


def crc16(buf, off, end):
    crc = 0
    t = _T
    for i in range(off, end):
        crc ^= buf[i]
        crc = (crc >> 4) ^ t[crc & 0xF]
        crc = (crc >> 4) ^ t[crc & 0xF]
    return crc


def append_fcs(buf, n):
    # Writes the FCS after the MPDU buf[0:n]; returns the PSDU length n + 2.
    c = crc16(buf, 0, n)
    buf[n] = c & 0xFF
    buf[n + 1] = c >> 8
    return n + 2


def fcs_ok(buf, off, n):
    # True when the PSDU buf[off:off+n] (FCS included) has a good FCS.
    return n >= 2 and crc16(buf, off, off + n) == 0
