# CRC-16/KERMIT, the IEEE 802.15.4 FCS: polynomial 0x1021 used bit-reflected (0x8408), init 0,
# no final xor, sent low byte first. Check value crc(b"123456789") == 0x2189; over a whole frame
# with its FCS the residue is 0. Table-driven (about 7x cheaper than bitwise on MicroPython);
# on the ESP32 the radio checks received FCSs in hardware, so this runs on transmit and in sim.

from array import array


def _table():
    t = array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        t[i] = c
    return t


_T = _table()


def crc16(buf, off, end):
    crc = 0
    t = _T
    for i in range(off, end):
        crc = (crc >> 8) ^ t[(crc ^ buf[i]) & 0xFF]
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
