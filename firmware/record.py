# Sealed records for storage: a version octet, the payload, and a CRC32 (little-endian) over
# both. Rename makes a write atomic; the seal also catches a record torn or corrupted by the
# medium, so a loader can count it and fall back instead of trusting garbage.

import binascii

_CRC_LEN = 4


def _crc32(data, end):
    return binascii.crc32(memoryview(data)[:end]) & 0xFFFFFFFF


def seal(version, payload):
    n = 1 + len(payload)
    out = bytearray(n + _CRC_LEN)
    out[0] = version
    out[1:n] = payload
    c = _crc32(out, n)
    for i in range(4):
        out[n + i] = (c >> (8 * i)) & 0xFF
    return out  # storage writes it as it is: a bytes copy would double the heap it needs


def unseal(version, data):
    # The payload (a memoryview into data), or None if absent, torn, corrupt or another version.
    if data is None or len(data) < 1 + _CRC_LEN or data[0] != version:
        return None
    n = len(data) - _CRC_LEN
    c = data[n] | (data[n + 1] << 8) | (data[n + 2] << 16) | (data[n + 3] << 24)
    if _crc32(data, n) != c:
        return None
    return memoryview(data)[1:n]
