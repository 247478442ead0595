# Messages on the head-end link. On the stream each message is a u32 big-endian length N
# (1..MAX_LEN) followed by N octets: a type octet and the body.
#   HEARTBEAT  empty body; either side sends one when it has sent nothing for wan.heartbeat_s
#   JSON       a UTF-8 JSON object: hub reports and events ("msg"), head-end requests ("op")
#   GBCS       a GBCS message (grouping header + content + authentication), docs/protocol.md
#   GBCS_COPY  a copy, for the head-end, of a response the hub gave on another channel (to an
#              HHT over inter-PAN, to a meter over the HAN) or queued again after a power cut:
#              never the answer to a head-end's own request, which comes as GBCS
# A length of 0 or over MAX_LEN is a protocol error: the receiver closes the link rather than
# trust the rest of the stream.

import json

HEARTBEAT = const(0)
JSON = const(1)
GBCS = const(2)
GBCS_COPY = const(3)
MAX_LEN = const(4096)
HEADER_LEN = const(4)


def encode(kind, body=b""):
    n = 1 + len(body)
    return bytes((n >> 24, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF, kind)) + body


def length(hdr):
    # The message length announced by a 4-octet header, or -1 if it is out of bounds.
    n = (hdr[0] << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3]
    return n if 0 < n <= MAX_LEN else -1


def encode_json(obj):
    return encode(JSON, json.dumps(obj).encode())


def decode_json(msg):
    # A message's JSON object, or None if it is not a well-formed JSON object message.
    if len(msg) < 2 or msg[0] != JSON:
        return None
    try:
        obj = json.loads(bytes(msg[1:]))
    except (ValueError, UnicodeError, RuntimeError):  # RuntimeError: nesting too deep
        return None
    return obj if isinstance(obj, dict) else None
