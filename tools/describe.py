"""Human-readable views of protocol messages for the host tools, with sensitive fields
redacted (the seed: installers may look at every message type except those with sensitive
data). The message catalogue (firmware/catalogue.py) says which contents are sensitive."""

from firmware import ber, gbcs
from firmware import catalogue as cat
from firmware.eui64 import to_guid

REDACTED = "<redacted>"


def gbcs_message(msg, redact=True):
    """A dict describing a GBCS message, or {"error": reason} when it does not parse."""
    h = gbcs.GbcsHeader()
    r = gbcs.parse(msg, 0, len(msg), h)
    if r != gbcs.OK:
        return {"error": gbcs.REASONS[r]}
    content = bytes(msg[h.content_off : h.content_off + h.content_len])
    entry = cat.MESSAGES.get(h.msg_code)
    out = {
        "cra": {1: "command", 2: "response", 3: "alert"}[h.cra],
        "counter": h.counter,
        "originator": to_guid(gbcs.eui(msg, h.orig_off)),
        "recipient": to_guid(gbcs.eui(msg, h.recip_off)),
        "message": cat.name(h.msg_code),
    }
    els = ber.elements(content)
    if els is None:
        out["content"] = content.hex()  # not this profile's BER: shown raw
        els = []
    if h.cra == gbcs.RESPONSE and els and els[0][0] == ber.ENUMERATED and els[0][1]:
        st = els[0][1][0]
        out["status"] = cat.STATUS[st] if st < len(cat.STATUS) else st
        els = els[1:]
    sensitive = entry is not None and entry[3]
    if "content" not in out:
        out["content"] = [REDACTED if (sensitive and redact) else v.hex() for _, v in els]
    out["tag"] = REDACTED if redact else bytes(msg[h.auth_off : h.auth_off + h.auth_len]).hex()
    return out


def message_code(name_or_code):
    """A catalogue message by name (read_hub_status) or number (0x0001)."""
    for code, m in cat.MESSAGES.items():
        if m[0] == name_or_code:
            return code
    try:
        return int(name_or_code, 0)
    except ValueError:
        raise SystemExit(
            "unknown message %r; known: %s"
            % (name_or_code, ", ".join(m[0] for m in cat.MESSAGES.values()))
        ) from None
