# Why the HAN layer dropped a frame: one code per reason, counted in Han.rejected and named in
# the shell's summaries (firmware/app.py report_rejects). Codes index NAMES.

from contract.compat import const

NOT_MEMBER = const(0)  # from a short address or EUI-64 that is not in the device table
BAD_COMMAND = const(1)  # a MAC command with the wrong addressing or too short
NOT_FOR_US = const(2)  # addressed to another device or NWK destination (the hub routes nothing)
BAD_NWK = const(3)
NWK_SECURED = const(4)  # NWK security is the documented gap (firmware/nwk.py)
BAD_APS = const(5)
NOT_DATA = const(6)  # well-formed NWK commands, APS commands or acknowledgements: ignored
WRONG_PROFILE = const(7)
BAD_ZCL = const(8)
NAMES = (
    "han_not_member",
    "han_bad_command",
    "han_not_for_us",
    "han_bad_nwk",
    "han_nwk_secured",
    "han_bad_aps",
    "han_not_data",
    "han_wrong_profile",
    "han_bad_zcl",
)
