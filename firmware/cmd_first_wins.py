# Per-originator anti-replay windows, as RFC 4303 appendix A: the highest counter accepted (the
# right edge) and a bitmap of the `window` counters below it. A counter above the edge is new; one
# inside the window executes once, in any order (an HHT loaded yesterday is not locked out by
# newer WAN commands while its counters are still inside); one below it is stale. Only
# authenticated messages may call accept(): check() never changes anything, and the command layer
# calls accept() only for a command it then runs (firmware.cmd_pipeline, step 6).
#
# Bounded: a new originator when the table is full is refused (FULL), never given another's
# slot: evicting a live window would let its old commands run again, breaking first-wins.


NEW = const(0)
DUPLICATE = const(1)
STALE = const(2)
FULL = const(3)


class ReplayTable:
    def __init__(self, capacity=16, window=64):
        if window % 8 or not 8 <= window <= 1024:
            raise ValueError("replay window: a multiple of 8, 8..1024")
        self.capacity = capacity
        self.window = window
        self._mask = (1 << window) - 1
        self.euis = []
        self.edges = []  # highest counter accepted
        self.bitmaps = []  # bit d set: counter edge - d accepted

    def find(self, eui):
        eui = bytes(eui)
        return self.euis.index(eui) if eui in self.euis else -1

    def check(self, eui, counter):
        i = self.find(eui)
        if i < 0:
            return FULL if len(self.euis) >= self.capacity else NEW
        edge = self.edges[i]
        if counter > edge:
            return NEW
        d = edge - counter
        if d >= self.window:
            return STALE
        return DUPLICATE if (self.bitmaps[i] >> d) & 1 else NEW

    def accept(self, eui, counter):
        # Call only after check() said NEW and the message authenticated.
        i = self.find(eui)
        if i < 0:
            self.euis.append(bytes(eui))
            self.edges.append(counter)
            self.bitmaps.append(1)
            return
        edge = self.edges[i]
        if counter > edge:
            shift = counter - edge
            self.bitmaps[i] = (
                1 if shift >= self.window else ((self.bitmaps[i] << shift) | 1) & self._mask
            )
            self.edges[i] = counter
        else:
            self.bitmaps[i] |= 1 << (edge - counter)

    def forget(self, eui):
        # Drops an originator's window: only when nothing signed for the old one can
        # authenticate again (the originator has a new key).
        i = self.find(eui)
        if i >= 0:
            del self.euis[i]
            del self.edges[i]
            del self.bitmaps[i]

    def encode(self):
        nb = self.window // 8
        out = bytearray()
        for i in range(len(self.euis)):
            out += self.euis[i]
            out += self.edges[i].to_bytes(8, "big")
            out += self.bitmaps[i].to_bytes(nb, "big")
        return bytes(out)

    def decode(self, data, n):
        nb = self.window // 8
        size = 16 + nb
        if len(data) < n * size:
            return -1
        for k in range(min(n, self.capacity)):
            p = k * size
            self.euis.append(bytes(data[p : p + 8]))
            self.edges.append(int.from_bytes(bytes(data[p + 8 : p + 16]), "big"))
            self.bitmaps.append(int.from_bytes(bytes(data[p + 16 : p + size]), "big"))
        return n * size
