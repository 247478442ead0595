# The parties the hub trusts: each an EUI-64, a role and a key, provisioned (in the lab from a
# JSON record "parties": [{"guid": "...", "role": "supplier", "key": "hex"}], in the field by
# the network operator). An unknown originator is rejected before any cryptography.

import json
from binascii import hexlify, unhexlify

from contract.native import load
from firmware.eui64 import parse as parse_eui
from firmware.eui64 import to_guid

_find8 = load("firmware.ipan_octets").find8

ROLES = ("supplier", "network_operator", "installer", "esme", "gsme")


class Parties:
    def __init__(self, storage=None, name="parties"):
        self._storage = storage
        self._name = name
        self._euis = []
        # The EUI-64s back to back and their count, for find() (the hub's inter-PAN gate reads
        # them too, to ask find8 without a call of find in between).
        self.table = b""
        self.count = 0
        self._roles = []
        self._keys = []
        self.errors = 0
        raw = storage.read(name) if storage is not None else None
        if raw:
            try:
                for p in json.loads(raw):
                    self.add(parse_eui(p["guid"]), p["role"], unhexlify(p["key"]))
            except (ValueError, KeyError, TypeError):
                self.errors += 1

    def add(self, eui, role, key):
        if eui is None or role not in ROLES or len(key) < 16:
            raise ValueError("party: bad EUI-64, role or key (16 octets at least)")
        self._euis.append(bytes(eui))
        self.table += self._euis[-1]
        self.count += 1
        self._roles.append(role)
        self._keys.append(bytes(key))

    def rekey(self, eui, key):
        # A party's new key, persisted (one atomic record) before it is used; raises OSError
        # when storage refuses, and then nothing changed.
        i = self.find(eui, 0)
        if i < 0:
            raise ValueError("party: unknown EUI-64")
        keys = list(self._keys)
        keys[i] = bytes(key)
        if self._storage is not None:
            self._storage.write(self._name, self._encode(keys))
        self._keys = keys

    def _encode(self, keys):
        return json.dumps(
            [
                {
                    "guid": to_guid(self._euis[i]),
                    "role": self._roles[i],
                    "key": hexlify(keys[i]).decode(),
                }
                for i in range(len(self._euis))
            ]
        ).encode()

    def find(self, buf, off):
        # Index of the party whose EUI-64 is buf[off:off+8] (most significant first), or -1.
        # Native code, no allocation: the hub asks this of every inter-PAN command before any
        # cryptography (buf: bytes or bytearray).
        return _find8(self.table, self.count, buf, off)

    def eui(self, i):
        return self._euis[i]

    def role(self, i):
        return self._roles[i]

    def key(self, i):
        return self._keys[i]

    def __len__(self):
        return len(self._euis)
