"""firmware/hub.py repeats other modules' constants (const() inlines only a module's own): each
must equal its source."""

from contract import ticks
from firmware import decision, han_reject, hub, hub_reject, ipan_rules, mac


def test_each_repeated_constant_equals_its_source():
    assert hub._MASK == ticks._MASK and hub._HALF == ticks._HALF
    assert hub._CLOSED == ipan_rules.CLOSED
    assert hub.NOTHING == decision.NOTHING
    assert hub.RATE_ASSOC == han_reject.RATE_ASSOC
    for name in ("BAD_FCS", "INTERPAN_OFF", "RATE_BEACON"):
        assert getattr(hub, name) == getattr(hub_reject, name), name
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
