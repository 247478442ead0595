# EUI-64 device identities (GUIDs). Shown everywhere in the GB form 00-23-7E-00-00-12-D6-87
# (big-endian, most significant octet first); carried on the 802.15.4 air little-endian.


def to_guid(eui):
    # eui: 8 bytes, most significant first.
    return "-".join("%02X" % b for b in eui)


def parse(text):
    # Accepts 00-23-7E-00-00-12-D6-87, 00:23:7e:..., or 16 hex digits. Returns 8 bytes or None.
    s = text.strip().replace("-", "").replace(":", "")
    if len(s) != 16:
        return None
    try:
        return bytes(int(s[i : i + 2], 16) for i in range(0, 16, 2))
    except ValueError:
        return None


def write_le(buf, off, eui):
    # Writes a big-endian EUI into an air-order (little-endian) field.
    for i in range(8):
        buf[off + i] = eui[7 - i]


def read_le(buf, off):
    # Air-order field -> 8 bytes, most significant first (allocates; not for the hot path).
    return bytes(buf[off + 7 - i] for i in range(8))


def equals_le(buf, off, eui):
    # True when the air-order field at buf[off:off+8] holds eui; allocates nothing.
    for i in range(8):
        if buf[off + i] != eui[7 - i]:
            return False
    return True
