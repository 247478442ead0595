# Why the HAN layer dropped a frame: one code per reason, counted in Han.rejected and named in
# the shell's summaries (firmware/app.py report_rejects). Codes index NAMES.


NOT_MEMBER = const(0)  # from a short address or EUI-64 that is not in the device table
BAD_COMMAND = const(1)  # a MAC command with the wrong addressing or too short
NOT_FOR_US = const(2)  # addressed to another device or NWK destination (the hub routes nothing)
BAD_NWK = const(3)
UNSECURED = const(4)  # a member's NWK frame without NWK security: never accepted
BAD_APS = const(5)
NOT_DATA = const(6)  # well-formed NWK commands, APS commands or acknowledgements: ignored
WRONG_PROFILE = const(7)
BAD_ZCL = const(8)
# NWK security (firmware.sec_nwk's reasons, SEC + reason): all but the last two are decided
# on the header, with no AES work.
SEC = const(8)
SEC_TRUNCATED = const(9)
SEC_NO_SOURCE = const(10)
SEC_NOT_NETWORK_KEY = const(11)
SEC_UNKNOWN_KEY = const(12)
SEC_UNKNOWN_SOURCE = const(13)  # the auxiliary header names another EUI-64 than the MAC source's
SEC_REPLAYED = const(14)
SEC_BAD_MIC = const(15)  # CCM* ran: a forgery, or another key under the same sequence number
SEC_BUSY = const(16)  # the CCM* budget is spent: dropped before any AES work
RATE_ASSOC = const(17)  # an association request over its budget (firmware.han_join): unanswered
NAMES = (
    "han_not_member",
    "han_bad_command",
    "han_not_for_us",
    "han_bad_nwk",
    "han_unsecured",
    "han_bad_aps",
    "han_not_data",
    "han_wrong_profile",
    "han_bad_zcl",
    "han_sec_truncated",
    "han_sec_no_source",
    "han_sec_not_network_key",
    "han_sec_unknown_key",
    "han_sec_unknown_source",
    "han_sec_replayed",
    "han_sec_bad_mic",
    "han_sec_busy",
    "han_rate_assoc",
)
