# The receive path's octet-level work, as native code: the 802.15.4 MAC header parse
# (IEEE 802.15.4-2006 7.2), the beacon request recognised from its fixed octets, the EUI-64
# lookup key. Loaded with contract.native.load (machine code where the port has a native
# emitter, the same source as bytecode where it has none, plain Python on CPython), so every
# function here reads octets through ptr8, checks each offset against the length it was given
# before reading (ptr8 reads are not bounds checked), and keeps to small non-negative ints.
# Viper functions keep their state on the C stack, so their size costs no heap.

from contract.compat import const, micropython, ptr8
from firmware import hub_reject as reject

_ACK = const(2)
_COMMAND = const(3)
_BEACON = const(0)
_SECURITY = const(0x0008)
_PANID_COMP = const(0x0040)
_ADDR_SHORT = const(2)
_CMD_BEACON_REQ = const(0x07)


@micropython.viper
def is_beacon_request(buf, off: int, n: int) -> bool:
    # The canonical beacon request (FCF 0x0803, to PAN 0xFFFF address 0xFFFF, command 7, the
    # only form the hub answers), recognised from its fixed octets before any general parse:
    # beacon-request floods are the cheapest attack, so this is the cheapest path.
    if n != 10 or off < 0 or off + 8 > int(len(buf)):
        return False
    b = ptr8(buf)
    return (
        b[off] == 0x03
        and b[off + 1] == 0x08
        and b[off + 7] == _CMD_BEACON_REQ
        and b[off + 3] == 0xFF
        and b[off + 4] == 0xFF
        and b[off + 5] == 0xFF
        and b[off + 6] == 0xFF
    )


# parse() is split in three so that, where it runs as bytecode, no function's frame state is
# over 11 words: MicroPython puts a larger frame on the GC heap at every call (py/objfun.c,
# VM_MAX_STATE_ON_STACK). As native code each part keeps its state on the C stack.


@micropython.viper
def parse(buf, off: int, n: int, f):
    # firmware.mac.parse: the PSDU buf[off:off+n] (FCS included, already checked by the radio)
    # into the MacFrame f. Returns reject.OK or a reject code; f is only meaningful after OK.
    # Reads only octets before the FCS (buf[off:off+n-2]).
    if n < 5:
        return reject.TOO_SHORT
    end = off + n - 2
    if off < 0 or end > int(len(buf)):
        return reject.TRUNCATED
    b = ptr8(buf)
    fcf = b[off] | (b[off + 1] << 8)
    if fcf & 7 > _COMMAND:
        return reject.RESERVED_TYPE
    if fcf & _SECURITY:
        return reject.MAC_SECURITY
    if (fcf >> 12) & 3 > 1:
        return reject.RESERVED_VERSION
    if (fcf >> 10) & 3 == 1 or fcf >> 14 == 1:
        return reject.RESERVED_ADDR_MODE
    if fcf & _PANID_COMP and ((fcf >> 10) & 3 == 0 or fcf >> 14 == 0):
        return reject.BAD_PANID_COMP
    f.fcf = fcf
    f.ftype = fcf & 7
    f.seq = b[off + 2]
    f.payload_end = end
    f.dst_mode = (fcf >> 10) & 3
    f.src_mode = fcf >> 14
    return _addresses(buf, off + 3, f)


@micropython.viper
def _addresses(buf, p: int, f):
    # The addressing fields from buf[p] (modes already checked), then the fixed fields.
    end = int(f.payload_end)
    b = ptr8(buf)
    f.dst_pan = f.dst_short = f.dst_ext_off = -1
    f.src_pan = f.src_short = f.src_ext_off = -1
    m = int(f.dst_mode)
    if m:
        if p + (4 if m == _ADDR_SHORT else 10) > end:
            return reject.TRUNCATED
        f.dst_pan = b[p] | (b[p + 1] << 8)
        if m == _ADDR_SHORT:
            f.dst_short = b[p + 2] | (b[p + 3] << 8)
            p += 4
        else:
            f.dst_ext_off = p + 2
            p += 10
    m = int(f.src_mode)
    if m:
        if int(f.fcf) & _PANID_COMP:
            f.src_pan = f.dst_pan
        elif p + 2 > end:
            return reject.TRUNCATED
        else:
            f.src_pan = b[p] | (b[p + 1] << 8)
            p += 2
        if p + (2 if m == _ADDR_SHORT else 8) > end:
            return reject.TRUNCATED
        if m == _ADDR_SHORT:
            f.src_short = b[p] | (b[p + 1] << 8)
            p += 2
        else:
            f.src_ext_off = p
            p += 8
    f.payload_off = p
    return _fixed_fields(p, end, f)


@micropython.viper
def _fixed_fields(p: int, end: int, f):
    # Fields each frame type must carry.
    t = int(f.ftype)
    if t == _BEACON:
        if not f.src_mode or p + 4 > end:  # superframe (2) + GTS spec (1) + pending spec (1)
            return reject.TRUNCATED
    elif t == _COMMAND:
        if p >= end:
            return reject.TRUNCATED
    elif t == _ACK:
        if f.dst_mode or f.src_mode or p != end:
            return reject.TRUNCATED
    return reject.OK


@micropython.viper
def key_le(buf, off: int) -> int:
    # firmware.eui64.key_le: the lookup key (low 30 bits) of the air-order EUI-64 at
    # buf[off:off+8]; -1 when those octets are not all inside buf.
    if off < 0 or off + 8 > int(len(buf)):
        return -1
    b = ptr8(buf)
    return b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | ((b[off + 3] & 0x3F) << 24)
