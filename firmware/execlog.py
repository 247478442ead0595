# The execution log: what the hub did with each command it accepted, so an HHT whose link
# dropped mid service request can ask which commands executed and resume from the first that
# has not. Bounded (the oldest entry goes first). An entry is written ACCEPTED before the
# command runs and DONE with its result after; an entry still ACCEPTED after a power cut means
# "may have run": it is never run again.

from contract.compat import const

ACCEPTED = const(0)
DONE = const(1)
UNKNOWN = const(2)  # was ACCEPTED at a boot: its outcome was lost with the power, and reported
_ENTRY = const(20)  # EUI-64 8 | counter 8 | message code 2 | state 1 | result 1


class ExecLog:
    def __init__(self, capacity=64):
        self.capacity = capacity
        self.entries = []  # [eui, counter, code, state, result]

    def add(self, eui, counter, code):
        if len(self.entries) >= self.capacity:
            self.entries.pop(0)
        self.entries.append([bytes(eui), counter, code, ACCEPTED, 0])

    def done(self, eui, counter, result):
        e = self.find(eui, counter)
        if e is not None:
            e[3] = DONE
            e[4] = result

    def settle(self):
        # At boot: the entries a power cut left ACCEPTED ("may have run"), now UNKNOWN so that
        # each is reported once; returned for the report.
        out = []
        for e in self.entries:
            if e[3] == ACCEPTED:
                e[3] = UNKNOWN
                out.append(e)
        return out

    def find(self, eui, counter):
        eui = bytes(eui)
        for e in self.entries:
            if e[1] == counter and e[0] == eui:
                return e
        return None

    def encode(self):
        out = bytearray()
        for eui, counter, code, state, result in self.entries:
            out += (
                eui + counter.to_bytes(8, "big") + bytes((code >> 8, code & 0xFF, state, result))
            )
        return bytes(out)

    def decode(self, data, n):
        if len(data) < n * _ENTRY:
            return -1
        for k in range(n):
            p = k * _ENTRY
            self.entries.append(
                [
                    bytes(data[p : p + 8]),
                    int.from_bytes(bytes(data[p + 8 : p + 16]), "big"),
                    (data[p + 16] << 8) | data[p + 17],
                    data[p + 18],
                    data[p + 19],
                ]
            )
        del self.entries[: max(0, len(self.entries) - self.capacity)]
        return n * _ENTRY
