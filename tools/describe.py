"""Human-readable views of protocol messages for the host tools, with sensitive fields
redacted (the seed: installers may look at every message type except those with sensitive
data). The message catalogue (firmware/cmd_catalogue.py) says which contents are sensitive."""

from firmware import cmd_ber as ber
from firmware import cmd_catalogue as cat
from firmware import cmd_gbcs as gbcs
from firmware.eui64 import to_guid
from firmware.ipan_discovery import STATES
from tools import cli

REDACTED = "<redacted>"


def gbcs_message(msg, redact=True):
    """A dict describing a GBCS message, or {"error": reason} when it does not parse."""
    h = gbcs.GbcsHeader()
    r = gbcs.parse(msg, 0, len(msg), h)
    if r != gbcs.OK:
        return {"error": gbcs.REASONS[r]}
    content = bytes(msg[h.content_off : h.content_off + h.content_len])
    entry = cat.message(h.msg_code)
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
    sensitive = entry is not None and entry[4]
    if "content" not in out:
        out["content"] = [REDACTED if (sensitive and redact) else v.hex() for _, v in els]
    out["tag"] = REDACTED if redact else bytes(msg[h.auth_off : h.auth_off + h.auth_len]).hex()
    return out


def message_code(name_or_code):
    """A catalogue message by name (read_hub_status) or number (0x0001)."""
    for m in cat.MESSAGES:
        if m[1] == name_or_code:
            return m[0]
    try:
        return int(name_or_code, 0)
    except (ValueError, TypeError):
        raise cli.Fail(
            cli.USAGE,
            "unknown message %r; known: %s"
            % (name_or_code, ", ".join(m[1] for m in cat.MESSAGES)),
        ) from None


_QUERY = ("not executed", "executed", "accepted (outcome not recorded)", "too old to tell")


def response_fields(d):
    """Named fields of a response's data (the dict gbcs_message made), or None when the message
    has none this tool knows. The inter-PAN state uses the hub's one vocabulary (off, on,
    on_no_timeout), as in discovery and the event log."""
    if d.get("cra") != "response":
        return None
    content = d.get("content")
    if not isinstance(content, list) or not content or content[0] == REDACTED:
        return None
    try:
        data = bytes.fromhex(content[0])
    except ValueError:
        return None
    status, msg = d.get("status"), d.get("message")
    if status != "ok":
        return None
    if msg == "read_hub_status" and len(data) == 11:
        secs = int.from_bytes(data[1:5], "big")
        return {
            "interpan": STATES[data[0]] if data[0] < len(STATES) else data[0],
            "seconds_left": None if secs == 0xFFFFFFFF else secs,
            "wan": "present" if data[5] else "lost",
            "device_log": data[6],
            "hub_time": int.from_bytes(data[7:11], "big"),
        }
    if msg == "executed_query":
        return {"executed": [_QUERY[b] if b < len(_QUERY) else b for b in data]}
    return None


def field_lines(d, fields):
    """(label, text) rows for a person: the decoded fields, else the content as it is."""
    import time

    if fields is None:
        content = d.get("content")
        if content:
            yield "content", " ".join(content) if isinstance(content, list) else content
        return
    for k, v in fields.items():
        if k == "seconds_left":
            continue
        if k == "interpan" and fields.get("seconds_left") is not None:
            v = "%s (%d s left)" % (v, fields["seconds_left"])
        elif k == "hub_time":
            # The hub's wall clock counts from 0 until the WAN or an HHT sets it.
            t = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(v))
            v = "%s (%d)" % (t, v) if v > 10**9 else "not set (%d s since power-up)" % v
        elif k == "device_log":
            v = "%d device(s)" % v
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        yield k.replace("_", " "), v
