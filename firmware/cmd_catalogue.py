# The messages the hub understands: message code -> name, where it executes, the roles allowed
# to send it, and whether its content is sensitive (HHT decode redacts it). Contents are BER
# (firmware/cmd_ber.py); layouts and worked bytes: docs/commands.md.


# GBCS use-case codes where a GBCS use case does what the message does; the rest are this lab
# profile's own, in 0x0F00-0x0FFF, which GBCS leaves unassigned.
DEVICE_LOG_ADD = const(0x0001)  # CCS01 Add Device to CHF device log
DEVICE_LOG_REMOVE = const(0x0002)  # CCS02 Remove device from CHF device log
PREPAY_TOPUP = const(0x0007)  # CS01a Apply Pre-payment Top Up to an ESME
TARIFF_UPDATE = const(0x0019)  # ECS01a Set Tariff and Price on ESME
READ_METER = const(0x0027)  # ECS17b Read ESME Energy Registers (Import Energy)
READ_GAS = const(0x0074)  # GCS13a Read GSME Consumption Register
READ_HUB_STATUS = const(0x0F01)
SET_HUB_CLOCK = const(0x0F02)
INTERPAN_OFF = const(0x0F03)
INTERPAN_ENABLE = const(0x0F04)
EXECUTED_QUERY = const(0x0F07)
PARTY_REKEY = const(0x0F08)  # a party's new key (and so a fresh anti-replay window)
NWK_KEY_UPDATE = const(0x0F09)  # a new HAN network key, sent to the members, then switched to
SET_SETTING = const(0x0F0A)  # a setting, persisted (docs/settings.md)

HUB = const(0)
METER = const(1)

_ANY_REMOTE = const(("supplier", "network_operator", "installer"))

# code, name, target, roles, sensitive: a tuple of constants, which a frozen build keeps in
# flash (a dict of tuples would be built in RAM at import); message() looks a code up.
MESSAGES = (
    (READ_HUB_STATUS, "read_hub_status", HUB, _ANY_REMOTE, False),
    (SET_HUB_CLOCK, "set_hub_clock", HUB, _ANY_REMOTE, False),
    (INTERPAN_OFF, "interpan_off", HUB, _ANY_REMOTE, False),
    (INTERPAN_ENABLE, "interpan_enable", HUB, ("esme", "gsme"), False),
    (DEVICE_LOG_ADD, "device_log_add", HUB, ("network_operator", "supplier"), False),
    (DEVICE_LOG_REMOVE, "device_log_remove", HUB, ("network_operator", "supplier"), False),
    (EXECUTED_QUERY, "executed_query", HUB, _ANY_REMOTE, False),
    (PARTY_REKEY, "party_rekey", HUB, ("network_operator",), True),
    (NWK_KEY_UPDATE, "nwk_key_update", HUB, ("network_operator",), False),
    (SET_SETTING, "set_setting", HUB, ("network_operator",), True),
    (READ_METER, "read_meter", METER, _ANY_REMOTE, False),
    (READ_GAS, "read_gas", METER, _ANY_REMOTE, False),
    (PREPAY_TOPUP, "prepay_topup", METER, ("supplier",), True),
    (TARIFF_UPDATE, "tariff_update", METER, ("supplier",), True),
)

# Response status (the first content octet of every response).
ST_OK = const(0)
ST_DUPLICATE = const(1)  # this command (originator, counter) already arrived: first one wins
ST_STALE = const(2)  # counter below the originator's anti-replay window
ST_TABLE_FULL = const(3)  # no room for a new originator's window: refused, nothing evicted
ST_UNKNOWN_MESSAGE = const(4)
ST_BAD_CONTENT = const(5)
ST_NOT_PERMITTED = const(6)  # the originator's role may not send this message
ST_UNKNOWN_DEVICE = const(7)  # the target is neither the hub nor a joined device
ST_OVER_BUDGET = const(8)  # the battery meter's budget for this channel is spent
ST_FORWARDED = const(9)  # passed to the meter; its response follows
ST_FAILED = const(10)
ST_BAD_INSTALL_CODE = const(11)  # an install code of the wrong length or with a bad CRC
STATUS = (
    "ok",
    "duplicate",
    "stale",
    "table_full",
    "unknown_message",
    "bad_content",
    "not_permitted",
    "unknown_device",
    "over_budget",
    "forwarded",
    "failed",
    "bad_install_code",
)

# Executed-query answer per counter.
Q_NOT_EXECUTED = const(0)
Q_EXECUTED = const(1)
Q_ACCEPTED = const(2)  # accepted; its outcome was not recorded (power cut): never re-run
Q_UNKNOWN = const(3)  # older than the window and the log: cannot be run again either


def message(code):
    # The catalogue's row for a message code, or None.
    for m in MESSAGES:
        if m[0] == code:
            return m
    return None


def name(code):
    m = message(code)
    return m[1] if m else "0x%04X" % code
