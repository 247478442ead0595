"""A catalogue of hostile head-end messages: what anyone who can speak on the hub's WAN link
might send, none of it signed. Each is a message body (type octet + body, as
contract/wan_msg.py frames it), well framed, so the hub must answer or ignore it and keep the
link. tests_host/test_e2e_wan_hostile.py throws them at a running hub; fuzz/seed_corpus.py seeds
the wan_app fuzz target with them."""

import json

from contract import wan_msg

_J = bytes((wan_msg.JSON,))

# Values of the wrong type, size or kind for any field. Raw JSON text, so that what Python's
# json module would refuse to write (NaN, Infinity, 1e400) is in it too.
_VALUES = (
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "1" + "0" * 300,
    "1.5",
    "true",
    "null",
    '""',
    '"abc"',
    '"zz-zz-zz-zz-zz-zz-zz-zz"',
    '"00-23-7E-00-00-00-00-0"',
    "[]",
    "{}",
    '["00-23-7E-00-00-00-00-03"]',
    '{"a": 1}',
    '"' + "A" * 2000 + '"',
    '"\\u0000\\ud800"',
)

# Operations: the state changes the hub takes only signed, the one it answers, and others.
_OPS = ('"set_time"', '"device_log_add"', '"device_log_remove"', '"status"', '"reboot"')
_FIELDS = {
    '"set_time"': ("epoch",),
    '"device_log_add"': ("guid", "kind"),
    '"device_log_remove"': ("guid",),
    '"status"': ("verbose",),
    '"reboot"': ("delay",),
}


def messages():
    out = []
    for op in _OPS:
        for field in _FIELDS[op]:
            for v in _VALUES:
                out.append(_J + ('{"op": %s, "%s": %s}' % (op, field, v)).encode())
    # Plausible, well-typed, unsigned state changes: refused all the same.
    for req in (
        {"op": "set_time", "epoch": 4102444800},
        {"op": "device_log_add", "guid": "00-23-7E-00-00-00-00-03", "kind": "esme"},
        {"op": "device_log_remove", "guid": "00-23-7E-00-00-00-00-01"},
        {"op": "settings", "set": {"interpan.keepalive_s": 999999}},
        {"op": "interpan_on"},
        {"op": "parties", "add": {"guid": "90-B3-D5-1F-30-09-00-00", "role": "supplier"}},
    ):
        out.append(_J + json.dumps(req).encode())
    # The op itself of every type, and not a request at all.
    for v in _VALUES:
        out.append(_J + ('{"op": %s}' % v).encode())
    out += [
        _J + b"[1, 2, 3]",
        _J + b'"status"',
        _J + b"42",
        _J + b"null",
        _J + b"",
        _J + b"{",
        _J + b'{"op": "status"',
        _J + b'{"op": "status"}}',
        _J + b"\xff\xfe\x00{",
        _J + b'{"op": "\xc3\x28"}',
        _J + b"[" * 3000,
        _J + b'{"a":' * 600 + b"1" + b"}" * 600,
        _J + b'{"op": "status", "op": "set_time", "epoch": 1}',
        _J + b" " * (wan_msg.MAX_LEN - 1),
        bytes((wan_msg.HEARTBEAT,)) + b"unexpected body",
        bytes((wan_msg.GBCS,)),
        bytes((wan_msg.GBCS,)) + b"\xdf\x09",
        bytes((wan_msg.GBCS,)) + bytes(200),
        bytes((wan_msg.GBCS,)) + b"\xff" * (wan_msg.MAX_LEN - 1),
    ]
    for kind in (3, 4, 0x7F, 0x80, 0xFF):
        out.append(bytes((kind,)) + b'{"op": "set_time", "epoch": 1}')
    return out


def framing_attacks():
    # Whole streams that break the framing: the hub must close the link (and reconnect),
    # never crash or wait forever.
    return [
        b"\x00\x00\x00\x00",  # length 0
        b"\xff\xff\xff\xff",  # over MAX_LEN
        (wan_msg.MAX_LEN + 1).to_bytes(4, "big") + b"x",
    ]
