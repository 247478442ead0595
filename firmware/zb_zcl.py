# ZigBee Cluster Library frame header: frame control, optional manufacturer code, transaction
# sequence number, command identifier; the command payload follows. Parsed into a preallocated
# ZclHeader by offsets, never raising (ZCL spec 2.4.1).

from contract.native import load

# Smart Energy clusters the hub speaks (ZigBee Smart Energy 1.1, 07-5356).
METERING = const(0x0702)
TUNNELING = const(0x0704)  # GBCS messages: inter-PAN to the HHT, HAN to the meters
TRANSFER_DATA = const(0x02)  # Tunneling's TransferData, client -> server (its response is 0x01)

# Frame control
CLUSTER_SPECIFIC = const(0x01)  # frame type 1 (0 = profile-wide/global command)
MANUFACTURER_SPECIFIC = const(0x04)
SERVER_TO_CLIENT = const(0x08)  # direction
DISABLE_DEFAULT_RESPONSE = const(0x10)

OK = const(0)
BAD = const(1)


class ZclHeader:
    def __init__(self):
        self.fc = 0
        self.manufacturer = -1
        self.seq = 0
        self.command = 0
        self.payload_off = 0


# parse(buf, off, end, z): the header at buf[off:end] into the ZclHeader z; OK or BAD. Native
# code (firmware.ipan_octets): every inter-PAN frame and every member's ZCL frame meets it.
parse = load("firmware.ipan_octets").zcl_header


def write(buf, p, fc, seq, command, manufacturer=-1):
    # Writes a header at buf[p]; returns the offset of the payload.
    if manufacturer >= 0:
        fc |= MANUFACTURER_SPECIFIC
    buf[p] = fc
    p += 1
    if manufacturer >= 0:
        buf[p] = manufacturer & 0xFF
        buf[p + 1] = manufacturer >> 8
        p += 2
    buf[p] = seq & 0xFF
    buf[p + 1] = command
    return p + 2
