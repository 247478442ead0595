# The serial link between a bridge board (firmware/bridge.py) and tools/bridge.py on the host.
#
# Frames are byte-stuffed as HDLC does (RFC 1662, 4.2): FLAG delimits them, and ESC followed by
# the octet XOR 0x20 stands for a FLAG, an ESC or a 0x03 inside one; 0x03 is escaped because the
# board's REPL takes it for Ctrl-C. The body is a type octet and its payload, then the
# IEEE 802.15.4 CRC-16 (contract.crc16) of both, least significant octet first. Anything else on
# the line (boot messages, a traceback) never passes the CRC: the decoder counts it as junk, and
# the host shows it as the board's text.
#
# Types and payloads (every multi-octet number little-endian, as on air):
#   AIR     board -> host  channel, LQI, RSSI octet, then the PSDU with its FCS
#   SEND    host -> board  an MPDU without FCS (the chip appends it)
#   STATUS  board -> host  the outcome of one SEND: a hal.esp32.mrf24j40 TX_* value, or REFUSED
#   CONFIG  host -> board  channel, PAN ID, short address, EUI-64 (most significant first), flags
#   INFO    both ways      host: a request; board: VERSION, channel, RFSTATE, flags
#
# Encoding and decoding work on caller-owned buffers and allocate nothing.

from contract.crc16 import crc16

FLAG = const(0x7E)
ESC = const(0x7D)
_XOR = const(0x20)
_CTRL_C = const(0x03)

AIR = const(0x46)  # "F"
SEND = const(0x54)  # "T"
STATUS = const(0x53)  # "S"
CONFIG = const(0x43)  # "C"
INFO = const(0x49)  # "I"

VERSION = const(1)
REFUSED = const(0xFF)  # STATUS: the board did not take the frame (bad length, queue full)
PROMISCUOUS = const(0x01)  # CONFIG flags: every frame heard, no auto-ACK
COORDINATOR = const(0x02)  # CONFIG flags: PAN coordinator filtering (3.11.1.1)
CONFIG_LEN = const(15)  # type, channel, PAN ID 2, short 2, EUI-64 8, flags

BODY_MAX = const(136)  # AIR: type + 3 + PSDU 127 + CRC 2 = 133


def wire_size(body_max=BODY_MAX):
    # Worst case: every octet escaped, plus two flags.
    return 2 * body_max + 2


def encode(body, n, out):
    # body[0:n] is type + payload; body must have room for the 2 CRC octets after it. Writes
    # the stuffed frame into out (wire_size(n + 2) octets) and returns its length.
    c = crc16(body, 0, n)
    body[n] = c & 0xFF
    body[n + 1] = c >> 8
    out[0] = FLAG
    k = 1
    for i in range(n + 2):
        b = body[i]
        if b == FLAG or b == ESC or b == _CTRL_C:
            out[k] = ESC
            out[k + 1] = b ^ _XOR
            k += 2
        else:
            out[k] = b
            k += 1
    out[k] = FLAG
    return k + 1


class Decoder:
    # Feed the line octet by octet; feed() returns the body length (type + payload, CRC checked
    # and dropped) when an octet completes a good frame, else 0. The body is buf[0:n] until the
    # next octet is fed. A bad frame's octets stay in buf[0:last_bad] for the host to show.
    def __init__(self, size=BODY_MAX):
        self.buf = bytearray(size)
        self.frames = 0
        self.junk = 0  # stretches between flags that were not a good frame
        self.last_bad = 0
        self._n = 0
        self._esc = False
        self._over = False

    def feed(self, b):
        if b == FLAG:
            n = self._n
            over = self._over
            self._n = 0
            self._esc = False
            self._over = False
            if n == 0 and not over:
                return 0  # back-to-back flags
            if over or n < 3 or crc16(self.buf, 0, n) != 0:
                self.junk += 1
                self.last_bad = n
                return 0
            self.frames += 1
            return n - 2
        if self._over:
            return 0
        if b == ESC:
            self._esc = True
            return 0
        if self._esc:
            b ^= _XOR
            self._esc = False
        n = self._n
        if n >= len(self.buf):
            self._over = True  # too long for any frame: junk until the next flag
            return 0
        self.buf[n] = b
        self._n = n + 1
        return 0


def put_config(body, channel, pan_id, short_addr, ext_addr, flags):
    # A CONFIG body into body[0:CONFIG_LEN]; returns CONFIG_LEN.
    body[0] = CONFIG
    body[1] = channel
    body[2] = pan_id & 0xFF
    body[3] = pan_id >> 8
    body[4] = short_addr & 0xFF
    body[5] = short_addr >> 8
    for i in range(8):
        body[6 + i] = ext_addr[i]
    body[14] = flags
    return CONFIG_LEN
