# EUI-64 device identities (GUIDs). Shown everywhere in the GB form 00-23-7E-00-00-12-D6-87
# (big-endian, most significant octet first); carried on the 802.15.4 air little-endian.

from binascii import hexlify

from contract.native import load


def to_guid(eui):
    # eui: 8 bytes, most significant first. In C, no formatting: the command layer names the
    # originator of every command it refuses, forged ones included.
    return hexlify(eui, "-").decode().upper()


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
    # Air-order field -> 8 bytes, most significant first (allocates; not for the drop paths).
    return bytes(
        (
            buf[off + 7],
            buf[off + 6],
            buf[off + 5],
            buf[off + 4],
            buf[off + 3],
            buf[off + 2],
            buf[off + 1],
            buf[off],
        )
    )


# equals_le(buf, off, eui, at): True when the air-order field at buf[off:off+8] holds the EUI
# eui[at:at+8] (most significant first); False where either is not all inside its buffer.
# Native code (firmware.octets); allocates nothing.
equals_le = load("firmware.octets").equals_le


# --- constant-time lookup by EUI-64 -------------------------------------------------------------
# A frame's source EUI is looked up in the device log and the device table on every association
# request, data request and member frame, so the cost must not grow with the tables. The key is
# the EUI's low 30 bits (a small int on every port, so computing it and looking it up allocate
# nothing); the caller confirms the full 8 octets of the one candidate.

SHARED = -2  # in an index: more than one entry has this key; the caller scans


# key_le(buf, off): the key of the air-order (least significant octet first) EUI at
# buf[off:off+8] (-1 if it is not all inside buf), in native code: every association request,
# data request and member frame meets it (firmware.octets).
key_le = load("firmware.octets").key_le


def key(eui):
    # The key of an EUI held most significant octet first.
    return eui[7] | eui[6] << 8 | eui[5] << 16 | (eui[4] & 0x3F) << 24


def reindex(index, pairs):
    # Fills the dict index with key -> slot from (slot, key) pairs (SHARED where two entries
    # share a key). Its owner calls it on every membership change: rare, never per frame.
    index.clear()
    for slot, k in pairs:
        index[k] = slot if index.get(k, -1) == -1 else SHARED
