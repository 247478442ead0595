"""firmware/hub.py (and cmd_pipeline.py) repeat other modules' constants (const() inlines only a
module's own): each must equal its source."""

from contract import ticks
from firmware import (
    cmd_pipeline,
    decision,
    dos_limits,
    han_reject,
    hub,
    hub_reject,
    ipan_rules,
    mac,
    octets,
    sec_counters,
    zb_interpan,
    zb_nwk,
)


def test_each_repeated_constant_equals_its_source():
    assert hub._MASK == ticks._MASK and hub._HALF == ticks._HALF
    assert cmd_pipeline._MASK == ticks._MASK
    assert hub._CLOSED == ipan_rules.CLOSED
    assert hub.NOTHING == decision.NOTHING
    assert hub.RATE_ASSOC == han_reject.RATE_ASSOC
    assert hub._DISCOVERY == zb_interpan.DISCOVERY
    assert hub._TRANSMIT == decision.TRANSMIT and hub._ALERT == dos_limits.ALERT
    assert hub._CMD_REJECTED == decision.CMD_REJECTED
    assert hub._CMD_ACCEPTED == decision.CMD_ACCEPTED
    assert hub.SEC_BUSY == han_reject.SEC_BUSY
    for name in ("BAD_FCS", "INTERPAN_OFF", "RATE_BEACON"):
        assert getattr(hub, name) == getattr(hub_reject, name), name
    for name in ("UNAUTHENTICATED", "RATE_GLOBAL", "RATE_DISCOVERY", "UNKNOWN_ORIGINATOR"):
        assert getattr(hub, "_" + name) == getattr(hub_reject, name), name
    for name in (
        "COUNTED",
        "BEACON_REQUEST",
        "NOT_FOR_US",
        "UNHANDLED",
        "NWK",
        "HAN_DROP",
        "ASSOC_STRANGER",
    ):
        assert getattr(hub, name) == getattr(mac, name), name


def test_route_counts_a_members_nwk_frame_as_the_han_does():
    # firmware/octets.py repeats han_reject's codes and IncomingCounters.state's layout.
    for name in (
        "BAD_NWK",
        "UNSECURED",
        "NOT_DATA",
        "SEC_TRUNCATED",
        "SEC_NO_SOURCE",
        "SEC_NOT_NETWORK_KEY",
        "SEC_UNKNOWN_KEY",
        "SEC_UNKNOWN_SOURCE",
        "SEC_REPLAYED",
    ):
        assert getattr(octets, "_" + name) == getattr(han_reject, name), name
    assert octets._NWK_NOT_FOR_US == han_reject.NOT_FOR_US
    assert octets._NOT_MEMBER == han_reject.NOT_MEMBER
    for name in ("KEYS", "SLOT", "LOWEST", "FLAGS", "USED", "KSEQ"):
        assert getattr(octets, "_" + name) == getattr(sec_counters, "_" + name), name
    assert octets._NWK_SECURITY == zb_nwk._SECURITY
    assert octets._NWK_SOURCE_ROUTE == zb_nwk._SOURCE_ROUTE
