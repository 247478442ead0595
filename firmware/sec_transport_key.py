# The APS Transport-Key command that hands a joining device the network key (ZigBee
# specification 4.4.10.1, R21; 4.4.9.2 in ZigBee 2007), APS-secured with the key-transport key
# derived from the device's link key (firmware.sec_mmo, from its install code):
#
#   APS frame control 0x21 (command, security) | APS counter
#   auxiliary header: security control 0x30 (key-transport key, extended nonce) | frame counter
#                     | trust centre EUI-64                                  (firmware.sec_frame)
#   encrypted:        command 0x05 | key type 0x01 (standard network key) | key (16)
#                     | key sequence number | destination EUI-64 | source EUI-64 (LE)
#   MIC (4)
#
# The NWK frame around it is not NWK-secured: the device may have no network key (a join), or
# not the one in force (a key update it missed); the APS security with its own key-transport
# key is what protects the key. Run once per join or key update, so this allocates freely.
#
# And the APS Switch-Key command (4.4.10.5) that tells a device to use the network key it was
# handed: APS frame control 0x01 (command, no APS security) | APS counter | command 0x09 | key
# sequence number. It travels NWK-secured.

from firmware import eui64
from firmware import sec_aes as aes
from firmware import sec_frame as secframe

_CMD_TRANSPORT_KEY = const(0x05)
_CMD_SWITCH_KEY = const(0x09)
_APS_COMMAND = const(0x01)
_KEY_STANDARD_NWK = const(0x01)
_APS_COMMAND_SECURED = const(0x21)  # frame type command, delivery unicast, security
_BODY = const(35)  # command, key type, key, sequence number, two EUI-64s

# parse results
OK = const(0)
TRUNCATED = const(1)
NOT_TRANSPORT_KEY = const(2)  # another APS frame, command or key type
NOT_KEY_TRANSPORT_KEY = const(3)  # secured with another key identifier
BAD_MIC = const(4)
NAMES = ("ok", "truncated", "not_transport_key", "not_key_transport_key", "bad_mic")


def write(buf, p, ktk, counter, tc_eui, aps_counter, nwk_key, key_seq, dst_eui):
    # The secured command at buf[p:]: ktk, the key-transport key (16 octets); counter, the
    # trust centre's frame counter (never repeated: firmware.sec_counters); EUI-64s most
    # significant first. Returns the end (after the MIC).
    buf[p] = _APS_COMMAND_SECURED
    buf[p + 1] = aps_counter & 0xFF
    aux = secframe.AuxHeader(secframe.KEY_TRANSPORT, tc_eui)
    aux.counter = counter
    q = secframe.write(buf, p + 2, aux)
    buf[q] = _CMD_TRANSPORT_KEY
    buf[q + 1] = _KEY_STANDARD_NWK
    for i in range(16):
        buf[q + 2 + i] = nwk_key[i]
    buf[q + 18] = key_seq
    eui64.write_le(buf, q + 19, dst_eui)
    eui64.write_le(buf, q + 27, tc_eui)
    return secframe.seal(aes.new(ktk).encrypt, buf, p, aux, q + _BODY)


class TransportedKey:
    def __init__(self):
        self.key = None  # the network key (16 octets)
        self.key_seq = 0
        self.dst = None  # EUI-64s, most significant first
        self.src = None
        self.aux_src = None  # the sender named in the auxiliary header


def parse(buf, off, end, ktk, out):
    # A received APS frame buf[off:end]: OK with `out` (a TransportedKey) filled in when it is
    # a Transport-Key of a standard network key, secured with the key-transport key ktk; or a
    # reason. Decrypts in place. Never raises on junk.
    if end - off < 2:
        return TRUNCATED
    if buf[off] != _APS_COMMAND_SECURED:
        return NOT_TRANSPORT_KEY
    aux = secframe.AuxHeader()
    r = secframe.parse(buf, off + 2, end, aux)
    if r != secframe.OK:
        return TRUNCATED if r == secframe.TRUNCATED else NOT_KEY_TRANSPORT_KEY
    if aux.key_id != secframe.KEY_TRANSPORT:
        return NOT_KEY_TRANSPORT_KEY
    n = secframe.unseal(aes.new(ktk).encrypt, buf, off, aux, end)
    if n < 0:
        return BAD_MIC
    q = aux.end
    if n - q != _BODY or buf[q] != _CMD_TRANSPORT_KEY or buf[q + 1] != _KEY_STANDARD_NWK:
        return NOT_TRANSPORT_KEY
    out.key = bytes(buf[q + 2 : q + 18])
    out.key_seq = buf[q + 18]
    out.dst = eui64.read_le(buf, q + 19)
    out.src = eui64.read_le(buf, q + 27)
    out.aux_src = eui64.read_le(buf, aux.src_off)
    return OK


def write_switch(buf, p, aps_counter, key_seq):
    # A Switch-Key command at buf[p:]; returns its end.
    buf[p] = _APS_COMMAND
    buf[p + 1] = aps_counter & 0xFF
    buf[p + 2] = _CMD_SWITCH_KEY
    buf[p + 3] = key_seq & 0xFF
    return p + 4


def parse_switch(buf, off, end):
    # The key sequence number of a Switch-Key command at buf[off:end], or -1.
    if end - off != 4 or buf[off] != _APS_COMMAND or buf[off + 2] != _CMD_SWITCH_KEY:
        return -1
    return buf[off + 3]
