"""The lab's provisioning file (tools/demo/lab.json by default): the parties the hub trusts,
with their keys, and the devices for its device log. The hub gets the parties as its
`parties` record; tools sign as one of them by name (`--as supplier`)."""

import json
import os

from firmware.eui64 import parse as parse_eui
from tools import cli

DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo", "lab.json")


def load(path=None):
    conf = cli.read_json(path or DEFAULT, "the provisioning file")
    if not isinstance(conf, dict) or not isinstance(conf.get("parties"), list):
        raise cli.Fail(cli.USAGE, '%s: no "parties" list (see tools/demo/lab.json)' % path)
    return conf


def party(conf, name):
    """(EUI-64 bytes, key bytes) of a party by name or GUID."""
    for p in conf["parties"]:
        if name in (p["name"], p["guid"]):
            return parse_eui(p["guid"]), bytes.fromhex(p["key"])
    names = ", ".join(p["name"] for p in conf["parties"])
    raise cli.Fail(cli.USAGE, "no party %r in the provisioning file (it has: %s)" % (name, names))


def install_parties(conf, state_dir):
    """Write the hub's `parties` record into its state directory (the sim board's storage)."""
    os.makedirs(state_dir, exist_ok=True)
    rec = [{"guid": p["guid"], "role": p["role"], "key": p["key"]} for p in conf["parties"]]
    tmp = os.path.join(state_dir, "parties.tmp")
    with open(tmp, "w") as f:
        json.dump(rec, f)
    os.replace(tmp, os.path.join(state_dir, "parties"))
