# The Matyas-Meyer-Oseas hash over AES-128 (ZigBee specification annex B.6) and the keyed hash
# built on it (annex B.1.4: HMAC, FIPS 198, with that hash), from which ZigBee derives keys:
#
#   link key           = mmo.digest(install code with its CRC)    (firmware.sec_install_code)
#   key-transport key  = keyed_hash(link key, 0x00)   protects a Transport-Key of a network key
#   key-load key       = keyed_hash(link key, 0x02)   protects a Transport-Key of a link key
#
# Run at a join or a key change, never per frame, so these allocate freely.

from firmware import sec_aes as aes

_MAX = 8192  # octets: ZigBee's short padding form (a 16-bit bit length); keys are far below


def digest(data):
    # H_0 = 0; H_j = E(H_{j-1}, M_j) xor M_j over data || 1 || 0* || l (16 bits), l in bits.
    n = len(data)
    if n >= _MAX:
        raise ValueError("MMO hash: message of %d octets is over the short form" % n)
    pad = (14 - (n + 1)) % 16
    msg = bytes(data) + b"\x80" + bytes(pad) + bytes(((n * 8) >> 8, (n * 8) & 0xFF))
    h = bytearray(16)
    e = bytearray(16)
    for p in range(0, len(msg), 16):
        block = msg[p : p + 16]
        aes.new(h).encrypt(block, e)
        for i in range(16):
            h[i] = e[i] ^ block[i]
    return bytes(h)


def keyed_hash(key, data):
    # HMAC-MMO: Hash((key xor opad) || Hash((key xor ipad) || data)), the key one block long.
    inner = digest(bytes(k ^ 0x36 for k in key) + bytes(data))
    return digest(bytes(k ^ 0x5C for k in key) + inner)


def key_transport_key(link_key):
    return keyed_hash(link_key, b"\x00")


def key_load_key(link_key):
    return keyed_hash(link_key, b"\x02")
