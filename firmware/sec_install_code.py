# Install codes (ZigBee Smart Energy; ZigBee Base Device Behavior 5.4): 6, 8, 12 or 16 random
# octets printed on a device, followed by their CRC-16/X-25 (low octet first). The trust centre
# derives the device's link key from the whole code, CRC included, with the MMO hash. Public
# vector: 83FED3407A939723A5C639B26916D505 C3B5 -> 66B6900981E1EE3CA4206B6B861C02BB.

from contract.crc16 import crc16
from firmware import sec_mmo as mmo

OK = const(0)
BAD_LENGTH = const(1)
BAD_CRC = const(2)
NAMES = ("ok", "bad_length", "bad_crc")

LENGTHS = (8, 10, 14, 18)  # code octets + 2 CRC octets
_HEX = "0123456789abcdefABCDEF"


def crc(code, n):
    # CRC-16/X-25 of code[0:n] (n >= 2): the 802.15.4 FCS polynomial (contract.crc16, reflected
    # 0x1021) with initial value and final xor 0xFFFF. Starting that CRC from 0xFFFF instead of
    # 0 is the same as complementing the first two octets, so the FCS routine serves for both.
    b = bytearray(code[:n])
    b[0] ^= 0xFF
    b[1] ^= 0xFF
    return crc16(b, 0, n) ^ 0xFFFF


def check(code):
    # OK, BAD_LENGTH or BAD_CRC for an install code (octets, CRC last).
    n = len(code)
    if n not in LENGTHS:
        return BAD_LENGTH
    c = crc(code, n - 2)
    if code[n - 2] != c & 0xFF or code[n - 1] != c >> 8:
        return BAD_CRC
    return OK


def parse(text):
    # Hex digits as printed (groups separated by spaces, '-' or ':'): the octets, or None.
    s = text.strip().replace(" ", "").replace("-", "").replace(":", "")
    if len(s) % 2 or not s or any(c not in _HEX for c in s):
        return None
    return bytes(int(s[i : i + 2], 16) for i in range(0, len(s), 2))


def link_key(code):
    # The 16-octet link key of a valid install code, or None (check() says why).
    if check(code) != OK:
        return None
    return mmo.digest(code)
