"""Properties of the secured receive path against an attacker without the network key:
whatever octets follow a NWK header with the security bit, unprotect never raises, never
accepts, and never moves a member's counter; and a genuine stream interleaved with replays,
reorderings and forgeries is accepted exactly once per frame, in counter order."""

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import sec_nwk as ns
from tests_device.test_nwk_security import (
    GSME,
    HDR_END,
    HUB,
    NWK_OFF,
    Node,
    receive,
    secured_report,
)

HEADER = secured_report(Node(GSME, HUB))[:HDR_END]  # MAC + NWK header, security bit set


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=0, max_size=100), st.booleans())
def test_junk_after_a_secured_header_is_refused(tail, member_source):
    hub = Node(HUB, GSME)
    body = bytearray(tail)
    if member_source and len(body) >= 13:
        body[0] = 0x28  # network key, extended nonce: the frame reaches the MIC check
        body[5:13] = bytes(reversed(GSME))
        if len(body) >= 14:
            body[13] = 0
    buf = bytearray(HEADER + bytes(body))
    r = hub.sec.unprotect(buf, NWK_OFF, HDR_END, len(buf))
    assert r < 0 and -r in range(1, len(ns.NAMES))
    assert hub.sec.rejected[-r] == 1
    assert hub.incoming.lowest(hub.peer_slot) == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("new", "replay", "forge")), st.integers(0, 30))))
def test_each_genuine_frame_is_accepted_once(events):
    hub = Node(HUB, GSME)
    meter = Node(GSME, HUB)
    sent = []  # (counter, psdu)
    accepted = []
    for kind, pick in events:
        if kind == "new":
            psdu = secured_report(meter, seq=len(sent))
            sent.append((len(sent), psdu))
        elif not sent:
            continue
        else:
            counter, psdu = sent[pick % len(sent)]
            if kind == "forge":
                psdu = bytearray(psdu)
                psdu[HDR_END + 14 + pick % 8] ^= 1 + pick  # a ciphertext octet
        n, _ = receive(hub, bytes(psdu))
        if n > 0:
            accepted.append(bytes(psdu)[HDR_END + 1])
    assert accepted == sorted(set(accepted))  # strictly increasing counters
    assert all(c in [s[0] for s in sent] for c in accepted)
    if events and events[-1][0] == "new":
        assert accepted and accepted[-1] == len(sent) - 1  # the newest frame always gets in
