# Sealed records for storage: a version octet, the payload, and a CRC32 (little-endian) over
# both. Rename makes a write atomic; the seal also catches a record torn or corrupted by the
# medium, so a loader can count it and fall back instead of trusting garbage.

import binascii

_CRC_LEN = const(4)


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


def sealed(version, parts):
    # The same record in pieces, for Storage.write_parts: the version octet, each of parts (an
    # iterable of buffers, passed on as they come), then the CRC, so that a large record is never
    # built whole in RAM.
    head = bytes((version,))
    c = binascii.crc32(head)
    yield head
    for p in parts:
        c = binascii.crc32(p, c)
        yield p
    yield (c & 0xFFFFFFFF).to_bytes(_CRC_LEN, "little")


def check(version, f, buf):
    # A record opened for reading (Storage.open), checked in place a buffer at a time: the
    # length of its payload (which starts at offset 1), or -1 if it is torn, corrupt or another
    # version.
    size = f.seek(0, 2)
    if size < 1 + _CRC_LEN:
        return -1
    f.seek(0)
    mv = memoryview(buf)
    end = size - _CRC_LEN
    pos = 0
    c = 0
    while pos < end:
        k = min(len(buf), end - pos)
        if f.readinto(mv[:k]) != k:
            return -1
        if pos == 0 and buf[0] != version:
            return -1
        c = binascii.crc32(mv[:k], c)
        pos += k
    if f.readinto(mv[:_CRC_LEN]) != _CRC_LEN:
        return -1
    return end - 1 if c & 0xFFFFFFFF == int.from_bytes(mv[:_CRC_LEN], "little") else -1


def unseal(version, data):
    # The payload (a memoryview into data), or None if absent, torn, corrupt or another version.
    if data is None or len(data) < 1 + _CRC_LEN or data[0] != version:
        return None
    n = len(data) - _CRC_LEN
    c = data[n] | (data[n + 1] << 8) | (data[n + 2] << 16) | (data[n + 3] << 24)
    if _crc32(data, n) != c:
        return None
    return memoryview(data)[1:n]
