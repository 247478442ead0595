# Per-frame cost of NWK security (firmware/sec_nwk.py) on the paths a secured HAN frame
# takes, for tools/bench_security.py; the same protocol as bench/frames.py:
#
#   MICROPYPATH=.frozen:. micropython -X heapsize=110wK bench/security.py PATH N [count|alloc|time]
#
# count (default): N frames through the path, then one summary line (run under callgrind with
#   N and 2N and difference the counts); alloc: heap bytes per frame, frames included
#   (micropython.mem_total); time: best of 5 wall-clock runs, microseconds per frame.
#
# Every received frame is first copied into the receive buffer, as the radio would write it
# (decryption works in place); the `copy` row is that copy alone, included in every rx row.
# The member table is the project's DeviceTable, as the hub would use it.

import sys

from firmware import eui64
from firmware import sec_nwk as ns
from firmware import zb_nwk as nwk
from firmware.han_device_table import DeviceTable
from firmware.sec_counters import IncomingCounters, OutgoingCounter

HUB = eui64.parse("00-23-7E-00-00-12-D6-87")
GSME = eui64.parse("00-23-7E-00-00-00-00-02")
STRANGER = eui64.parse("00-23-7E-00-00-00-00-FF")
KEY = bytes(range(16))
PAN = 0x1A2B
REPORT_ZCL = bytes((0x18, 0x01, 0x0A, 0x00, 0x00, 0x25, 0xD2, 0x04, 0, 0, 0, 0))
NWK_OFF = 9
HDR_END = 17
RING = 64  # distinct frames for the member path (counters 0..63, then the table is reset)


def node(eui, peer):
    table = DeviceTable(None)
    incoming = IncomingCounters(16)
    incoming.assign(table.join(peer, 0, 0), peer)
    sec = ns.NwkSecurity(eui, table, incoming, OutgoingCounter(None, step=1 << 20))
    sec.set_key(KEY, 0)
    return sec


def plain_report():
    buf = bytearray(127)
    p = nwk.write_frame(buf, 1, PAN, 0x0000, 0x145D, 1, 1, 0x0702)
    buf[p : p + len(REPORT_ZCL)] = REPORT_ZCL
    return buf, p + len(REPORT_ZCL)


def secured(sec):
    # A report secured by sec: the MPDU without its FCS.
    buf, end = plain_report()
    return bytes(buf[: sec.protect(buf, NWK_OFF, HDR_END, end)])


class Rx:
    # The hub's NwkSecurity receiving copies of `frames`, cycled.
    def __init__(self, frames, reset_every=0):
        self.sec = node(HUB, GSME)
        self.frames = frames
        self.reset_every = reset_every
        self.buf = bytearray(127)
        self.start = bytes(self.sec.incoming.state)  # the counters before any frame

    def step(self, i):
        f = self.frames[i & (len(self.frames) - 1)]
        n = len(f)
        if self.reset_every and not i & (self.reset_every - 1):
            self.sec.incoming.state[:] = self.start
        self.buf[0:n] = f
        return self.sec.unprotect(self.buf, NWK_OFF, HDR_END, n)


class Copy(Rx):
    def step(self, i):
        f = self.frames[0]
        self.buf[0 : len(f)] = f
        return 0


class Tx:
    # The hub securing a report of its own (copied in first, as a builder would write it).
    def __init__(self):
        self.sec = node(HUB, GSME)
        buf, self.end = plain_report()
        self.plain = bytes(buf[: self.end])
        self.buf = bytearray(127)

    def step(self, i):
        self.buf[0 : self.end] = self.plain
        return self.sec.protect(self.buf, NWK_OFF, HDR_END, self.end)


def setup(path):
    meter = node(GSME, HUB)
    if path == "member":
        return Rx([secured(meter) for _ in range(RING)], RING)
    if path == "replay":
        rx = Rx([secured(meter)])
        rx.step(0)  # accepted once; every copy after it is a replay
        return rx
    if path == "stranger":
        return Rx([secured(node(STRANGER, HUB))])
    if path == "bad_mic":
        f = bytearray(secured(meter))
        f[-1] ^= 0xFF  # a fresh counter from a member, a forged MIC: never accepted
        return Rx([bytes(f)])
    if path == "protect":
        return Tx()
    if path == "copy":
        return Copy([secured(meter)])
    return None


def run(target, n):
    out = 0
    step = target.step
    for i in range(n):
        out += 1 if step(i) < 0 else 0
    return out


def main(argv):
    path = argv[0]
    n = int(argv[1])
    mode = argv[2] if len(argv) > 2 else "count"
    target = setup(path)
    if target is None:
        print("unknown path %s" % path)
        return 2
    if mode == "alloc":
        from micropython import mem_total

        run(target, 16)
        before = mem_total()
        run(target, n)
        print("alloc %s bytes=%d frames=%d" % (path, mem_total() - before, n))
        return 0
    if mode == "time":
        from time import ticks_diff, ticks_us

        best = None
        for _ in range(5):
            target = setup(path)
            t0 = ticks_us()
            run(target, n)
            dt = ticks_diff(ticks_us(), t0)
            best = dt if best is None or dt < best else best
        print("time %s us_per_frame=%.3f" % (path, best / n))
        return 0
    dropped = run(target, n)
    psdu = len(target.frames[0]) + 2 if hasattr(target, "frames") else target.end + 20
    rej = target.sec.rejected
    why = " ".join("%s=%d" % (ns.NAMES[k], rej[k]) for k in range(1, len(rej)) if rej[k])
    print("bench %s n=%d psdu=%d dropped=%d %s" % (path, n, psdu, dropped, why))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
