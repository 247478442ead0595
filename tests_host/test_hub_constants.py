"""firmware/hub.py repeats other modules' constants (const() inlines only a module's own): each
must equal its source."""

from contract import ticks
from firmware import (
    decision,
    dos_limits,
    han_reject,
    hub,
    hub_reject,
    ipan_rules,
    mac,
    zb_interpan,
)


def test_each_repeated_constant_equals_its_source():
    assert hub._MASK == ticks._MASK and hub._HALF == ticks._HALF
    assert hub._CLOSED == ipan_rules.CLOSED
    assert hub.NOTHING == decision.NOTHING
    assert hub.RATE_ASSOC == han_reject.RATE_ASSOC
    assert hub._DISCOVERY == zb_interpan.DISCOVERY
    assert hub._TRANSMIT == decision.TRANSMIT and hub._ALERT == dos_limits.ALERT
    assert hub._CMD_REJECTED == decision.CMD_REJECTED
    assert hub._CMD_ACCEPTED == decision.CMD_ACCEPTED
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
