# Why a received frame was dropped: one small-int code per reason, so the receive path counts
# into a preallocated list and names are looked up only when a report is written.


OK = const(0)
TOO_SHORT = const(1)  # fewer octets than the smallest frame (FCF + seq + FCS)
BAD_FCS = const(2)  # the radio reported a CRC failure
RESERVED_TYPE = const(3)  # frame type 4..7
RESERVED_ADDR_MODE = const(4)  # addressing mode 1
RESERVED_VERSION = const(5)  # frame version 2 or 3 (802.15.4e/2015 framing is not spoken here)
BAD_PANID_COMP = const(6)  # PAN ID compression without both addresses
TRUNCATED = const(7)  # the header or a fixed field runs past the end of the frame
MAC_SECURITY = const(8)  # MAC-layer security (ZigBee secures at NWK/APS, never at the MAC)
NOT_FOR_US = const(9)  # addressed to another PAN or device
UNHANDLED = const(10)  # well-formed, but nothing for the hub to do (e.g. a neighbour's beacon)
INTERPAN_OFF = const(11)  # an inter-PAN frame while the flag is OFF: never answered
BAD_APS = const(12)  # inter-PAN stub APS header malformed or with unsupported options
WRONG_PROFILE = const(13)  # inter-PAN frame for a profile other than Smart Energy
BAD_ZCL = const(14)
UNKNOWN_COMMAND = const(15)  # a cluster or command the hub does not serve over inter-PAN
UNAUTHENTICATED = const(16)  # a command that failed authentication (never a keep-alive)
RATE_GLOBAL = const(17)  # inter-PAN: the shared budget is spent (firmware.dos_limits)
RATE_DISCOVERY = const(18)  # a hub discovery request over the discovery-reply budget
NOT_A_COMMAND = const(19)  # inter-PAN: neither a discovery request nor a well-formed command
UNKNOWN_ORIGINATOR = const(20)  # inter-PAN: a command from a party the hub was never given
RATE_BEACON = const(21)  # a beacon request over the beacon-reply budget

NAMES = (
    "ok",
    "too_short",
    "bad_fcs",
    "reserved_frame_type",
    "reserved_addr_mode",
    "reserved_frame_version",
    "bad_panid_compression",
    "truncated",
    "mac_security",
    "not_for_us",
    "unhandled",
    "interpan_off",
    "bad_aps",
    "wrong_profile",
    "bad_zcl",
    "unknown_command",
    "unauthenticated",
    "rate_global",
    "rate_discovery",
    "not_a_command",
    "unknown_originator",
    "rate_beacon",
)
COUNT = const(22)
