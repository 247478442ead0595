# Per-frame cost of the hub's receive paths, for tools/bench.py (make bench).
#
#   MICROPYPATH=.frozen:. micropython -X heapsize=110wK bench/frames.py PATH N [count|alloc|time]
#
# count (default): build everything, then run N frames through the path and print one summary
#   line. Run under callgrind with N and 2N and difference the instruction counts: start-up and
#   set-up cancel out (docs/performance.md, "Method").
# alloc: the same N frames; prints the heap bytes they allocated (micropython.mem_total: every
#   allocation counts, also a call frame put on the heap and freed at return).
# time:  best of 5 wall-clock runs in microseconds per frame (ticks_us). Not comparable with
#   anything but another run on the same host; the fallback when valgrind is missing.
#
# The clock advances by each frame's time on air, back to back (the worst-case flood of
# performance.md section 1), and starts 1 s before the 2**30 ms ticks wrap so every run crosses
# it. A path that needs something the hub does not have yet prints "SKIP <reason>".

import gc
import sys

from contract.frame import RxFrame
from contract.ticks import PERIOD
from firmware import decision, mac
from firmware import dos_limits as ratelimit
from firmware import hub as hubmod
from firmware import hub_reject as reject
from firmware.core import Core
from firmware.settings import Settings
from tests_device import interpan_frames as ipf
from tests_device import vectors

_MASK = PERIOD - 1
_START = PERIOD - 1000


class Accept:
    # Command-layer test double: every command authenticates and is accepted.
    def on_interpan(self, buf, f, zh, now):
        return decision.CMD_ACCEPTED


class Nop:
    # For the loop-overhead row: a method call with on_frame's shape that does nothing.
    def on_frame(self, frame, now):
        return 0


def settings():
    return Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",))


def load(psdu):
    return vectors.load(RxFrame(), psdu)


def spoofed(count):
    # Tunneling frames from `count` different source EUI-64s.
    out = []
    for k in range(count):
        src = bytes((0x00, 0x23, 0x7E, 0xAA, 0x00, k >> 8, k & 0xFF, 0x5A))
        out.append(load(ipf.tunnel(src=src)))
    return out


def permissive_gate(hub):
    # For paths that must reach the command layer on every frame: a gate that never refuses and
    # never alerts, but still does all its work.
    r = ratelimit
    hub.interpan_gate = r.Gate(r.Gcra(1000, 4096), r.TrustedSources(), r.AuthFailures(1, 0, 300))


INSTALLER = b"\x90\xb3\xd5\x1f\x30\x03\x00\x00"


def real_commands():
    # A hub with the real command layer (HMAC, parties, replay store), two parties provisioned.
    from firmware.cmd_parties import Parties
    from firmware.cmd_store import CommandStore
    from hal.fake.clock import ManualClock
    from hal.fake.storage import MemoryStorage

    st = MemoryStorage()
    p = Parties()
    p.add(b"\x90\xb3\xd5\x1f\x30\x01\x00\x00", "supplier", b"S" * 32)
    p.add(INSTALLER, "installer", b"I" * 32)
    h = Core(settings(), st, p, CommandStore(st), ManualClock()).hub
    h.power_up(_START)
    del h.notes[:]
    return h


def forged(count, src=None):
    # Well-formed SE Tunneling commands from a provisioned originator (the installer) to this
    # hub with a wrong tag: what an attacker without the key sends to reach verification. From
    # `count` rotating sources, or all from src (a spoofed copy of one HHT's address).
    from firmware.cmd_pipeline import signed

    msg = signed(1, 7, INSTALLER, ipf.HUB, 0x0001, b"", b"not the key" * 3)
    out = []
    for k in range(count):
        s = src or bytes((0x00, 0x23, 0x7E, 0xAA, 0x00, k >> 8, k & 0xFF, 0x5A))
        out.append(load(ipf.command(msg, src=s)))
    return out


def setup(path):
    # Returns (target, frames, on-air microseconds per frame) or a str: why the path is skipped.
    if path == "empty":
        return Nop(), [load(vectors.BEACON_REQUEST)], 512
    h = Core(settings()).hub
    if path == "beacon_request":
        return h, [load(vectors.BEACON_REQUEST)], air_us(vectors.BEACON_REQUEST)
    tunnel = ipf.tunnel()
    us = air_us(tunnel)
    if path == "interpan_off":  # never powered up: the flag is OFF
        return h, [load(tunnel)], us
    h.power_up(_START)
    del h.notes[:]
    if path == "junk_one_source":  # not a command (a Tunneling frame the hub does not serve)
        return h, [load(tunnel)], us
    if path == "junk_spoofed":
        return h, spoofed(64), us
    if path == "discovery_flood":  # discovery requests from 64 rotating sources
        frames = [
            load(ipf.get_details(src=bytes((0, 0x23, 0x7E, 0xAB, 0, 0, k, 0x5A))))
            for k in range(64)
        ]
        return h, frames, air_us(ipf.get_details())
    h = real_commands()
    if path in ("forged_spoofed", "forged_one_source", "forged_trusted"):
        frames = forged(64) if path == "forged_spoofed" else forged(1, ipf.HHT)
        if path == "forged_trusted":  # the HHT has authenticated: its own lane, then shared
            h.interpan_gate.auth_ok(frames[0].buf, src_off(ipf.tunnel()), _START)
        return h, frames, (6 + frames[0].n) * 32
    frames = forged(1)
    us = (6 + frames[0].n) * 32
    permissive_gate(h)
    if path == "forged_verified":  # every frame reaches HMAC verification and fails
        return h, frames, us
    if path == "bad_tag":  # the hub's default command layer: nothing authenticates
        h.commands = hubmod.Unauthenticated()
        return h, frames, us
    if path == "accepted":
        h.commands = Accept()
        return h, frames, us
    return None


class GateTarget:
    # The limiter alone, given the frame's source address as the hub would, counting verdicts as
    # the hub counts drops.
    def __init__(self, gate, src_off):
        self.gate = gate
        self.src_off = src_off
        self.verdicts = [0] * len(ratelimit.NAMES)

    def on_frame(self, frame, now):
        self.verdicts[self.gate.allow(frame.buf, self.src_off, now)] += 1
        return 0


class BudgetTarget:
    def __init__(self, budget):
        self.budget = budget
        self.verdicts = [0, 0]

    def on_frame(self, frame, now):
        self.verdicts[0 if self.budget.allow(now) else 1] += 1
        return 0


def src_off(psdu):
    f = mac.MacFrame()
    mac.parse(psdu, 0, len(psdu), f)
    return f.src_ext_off


def default_gate():
    return ratelimit.gate_from_settings(settings())


def setup_drops(path):
    # Frames dropped before the gate: a bad FCS; an inter-PAN frame for another hub.
    h = Core(settings()).hub
    h.power_up(_START)
    del h.notes[:]
    if path == "bad_fcs":  # the radio flags the FCS; nothing is parsed
        return h, [vectors.load(RxFrame(), ipf.tunnel(), crc_ok=False)], air_us(ipf.tunnel())
    if path == "interpan_not_for_us":  # inter-PAN is ON; addressed to another hub's EUI-64
        other = b"\x00\x23\x7e\x00\x00\x12\xd6\x88"
        return h, [load(ipf.tunnel(dst=other))], air_us(ipf.tunnel())
    return None


def setup_limiter(path):
    tunnel = ipf.tunnel()
    if path == "gate_one_source":
        return GateTarget(default_gate(), src_off(tunnel)), [load(tunnel)], air_us(tunnel)
    if path == "gate_spoofed":
        return GateTarget(default_gate(), src_off(tunnel)), spoofed(64), air_us(tunnel)
    if path == "beacon_budget":
        b = ratelimit.Gcra(10, 5)
        return BudgetTarget(b), [load(vectors.BEACON_REQUEST)], air_us(vectors.BEACON_REQUEST)
    return None


class Fresh:
    # A member's genuine secured frames at line rate: the hub decrypts in place, so each frame
    # is written into the receive buffer again first, as the radio would (its cost included),
    # and the counters start again every RING frames (a cycle of distinct counters): their state
    # copied back in place, a copy of a few hundred octets whatever the table's size, so the
    # rows measure the hub's work and not the harness's.
    def __init__(self, hub, raw):
        self.hub = hub
        self.raw = raw
        self.i = 0
        self.state = hub.han.security.incoming.state
        self.start = bytes(self.state)

    def on_frame(self, frame, now):
        p = self.raw[self.i & (RING - 1)]
        if not self.i & (RING - 1):
            self.state[:] = self.start
        self.i += 1
        frame.buf[0 : len(p)] = p
        return self.hub.on_frame(frame, now)


RING = 64
_CCM_OPEN = ("han.ccm_per_s=1000", "han.ccm_burst=60")  # the CCM* budget out of the way


def _joined(n, extra=(), codes=False):
    # A hub with n devices in its log and joined (the last one: the member the paths use).
    from firmware.han_device_log import ESME
    from tests_device.han_frames import CAP_ESME, ESME_LINK, assoc_request

    sizes = ("han.device_log_max=%d" % n, "han.device_table_max=%d" % n)
    c = Core(
        Settings(
            None, ("hub.eui64=00-23-7E-00-00-12-D6-87", "radio.pan_id=0x1A2B") + sizes + extra
        ),
        han=True,
    )
    h = c.hub
    h.power_up(_START)
    members = [bytes((0x00, 0x23, 0x7E, 0x20, 0x00, 0x00, i >> 8, i & 0xFF)) for i in range(n)]
    for e in members:
        c.device_log.add(e, ESME, ESME_LINK if codes else None)
    c.han.start(_START)
    for k, e in enumerate(members):  # 250 ms apart, within the association budget
        h.on_frame(load(assoc_request(e, CAP_ESME)), (_START - 250 * (n - k)) & _MASK)
        c.out.radio.pop()  # the Transport-Key (with an install code)
    h.rejected = [0] * reject.COUNT
    del c.out.notes[:]
    return c, members


def _member(c, eui):
    # (its short address, its end of NWK security with the hub's network key)
    from tests_device.han_meter import Meter

    sec = c.han.security
    return c.han.table.short(c.han.table.find(eui)), Meter(eui, sec.key, sec.seq)


# A member's secured report, and the secured frames an attacker can send: a replay, a stranger's
# under a member's address, a forged MIC (the flood no header check refuses: the CCM* budget).
SECURED_PATHS = (
    "secured_member",
    "secured_replay",
    "secured_stranger",
    "secured_forged",
    "secured_none",
)


def setup_secured(path):
    from tests_device.han_frames import STRANGER, summation_report
    from tests_device.han_meter import Meter

    if path not in SECURED_PATHS:
        return None
    c, members = _joined(1, _CCM_OPEN if path == "secured_member" else (), codes=True)
    short, meter = _member(c, members[0])
    report = summation_report(short, 1234)
    h = c.hub
    if path == "secured_member":
        raw = [meter.secure(report) for _ in range(RING)]
        return Fresh(h, raw), [load(raw[0])], air_us(raw[0])
    first = meter.secure(report)
    h.on_frame(load(first), _START)  # accepted once
    if path == "secured_replay":
        psdu = first
    elif path == "secured_stranger":
        psdu = Meter(STRANGER, c.han.security.key).secure(report)
    elif path == "secured_none":  # the member's report in the clear: the base of the rows above
        psdu = report
    else:
        forged = bytearray(meter.secure(report))
        forged[-3] ^= 0x5A  # the MIC
        psdu = vectors.with_fcs(forged, len(forged) - 2)
    for i in range(len(c.han.rejected)):  # (in place: mac.Route counts into the same list)
        c.han.rejected[i] = 0
    c.han.frames_in = 0
    return h, [load(psdu)], air_us(psdu)


# HAN paths at a table size: PATH_N, with N entries in the device log and N devices joined.
#   assoc_stranger    association request from an EUI-64 not in the device log (refused)
#   poll_stranger     data request from a short address no member has
#   poll_ext_stranger data request from an EUI-64 that is not a member (polling for a response)
#   orphan_stranger   orphan notification from an EUI-64 that is not a member
#   nwk_stranger      a secured metering report from a short address no member has
#   report_member     the last member to join reports its meter reading, secured
TABLE_PATHS = (
    "assoc_stranger",
    "poll_stranger",
    "poll_ext_stranger",
    "orphan_stranger",
    "nwk_stranger",
    "report_member",
)


def setup_tables(path):
    from tests_device.han_frames import (
        CAP_GSME,
        assoc_request,
        data_request,
        orphan,
        summation_report,
    )
    from tests_device.han_meter import Meter

    name, _, n = path.rpartition("_")
    if name not in TABLE_PATHS or not n.isdigit():
        return None
    n = int(n)
    c, members = _joined(n, _CCM_OPEN)
    t = c.han.table
    if len(t) != n:
        return "only %d of %d devices joined" % (len(t), n)
    strangers = [bytes((0x00, 0x23, 0x7E, 0x66, 0x00, 0x00, 0x00, k)) for k in range(4)]
    shorts = [s for s in range(0x7FF0, 0x8000) if t.find_short(s) < 0][:4]
    frames = None
    if name == "assoc_stranger":  # not in the device log: refused after the log lookup
        frames = [assoc_request(e, CAP_GSME) for e in strangers]
    elif name == "poll_stranger":
        frames = [data_request(s) for s in shorts]
    elif name == "poll_ext_stranger":
        frames = [data_request(e) for e in strangers]
    elif name == "orphan_stranger":
        frames = [orphan(e) for e in strangers]
    elif name == "nwk_stranger":  # secured under a key it may have: refused on its address
        key = c.han.security.key
        frames = [Meter(strangers[0], key).secure(summation_report(s, 7)) for s in shorts]
    if frames is not None:
        return c.hub, [load(f) for f in frames], air_us(frames[0])
    # the last member to join reports its meter reading, secured
    short, meter = _member(c, members[-1])
    raw = [meter.secure(summation_report(short, 1000 + k)) for k in range(RING)]
    return Fresh(c.hub, raw), [load(raw[0])], air_us(raw[0])


def air_us(psdu):
    return (6 + len(psdu)) * 32  # SHR + PHR + PSDU at 32 us per octet


def run(target, frames, step_us, n, now=_START):
    # The measured loop. Frames (a power of two of them) are cycled by index; the clock advances
    # by step_us per frame.
    frac = 0
    m = len(frames) - 1
    out = 0
    for i in range(n):
        out += target.on_frame(frames[i & m], now)
        frac += step_us
        if frac >= 1000:
            frac -= 1000
            now = (now + 1) & _MASK
    return out


def outcome(target, n, sent):
    # What happened to the frames, to check the path is the one named.
    h = target
    if isinstance(h, Nop):
        return ""
    if isinstance(h, BudgetTarget):
        return "passed=%d refused=%d" % tuple(h.verdicts)
    if isinstance(h, GateTarget):
        names = ratelimit.NAMES
        return " ".join("%s=%d" % (names[i], v) for i, v in enumerate(h.verdicts) if v)
    h = getattr(h, "hub", h)  # (Fresh)
    parts = []
    if sent:
        parts.append("transmit=%d" % sent)
    for code in range(1, reject.COUNT):
        if h.rejected[code]:
            parts.append("%s=%d" % (reject.NAMES[code], h.rejected[code]))
    done = n - sent - sum(h.rejected)
    if h.han is not None:
        from firmware import han_reject

        for code, k in enumerate(h.han.rejected):
            if k:
                parts.append("%s=%d" % (han_reject.NAMES[code], k))
        if h.han.frames_in:
            parts.append("accepted=%d" % h.han.frames_in)
        done -= sum(h.han.rejected) + h.han.frames_in
    if done > 0:
        parts.append("accepted_or_silent=%d" % done)
    return " ".join(parts)


def setup_any(path):
    return (
        setup(path)
        or setup_drops(path)
        or setup_limiter(path)
        or setup_tables(path)
        or setup_secured(path)
    )


def main(argv):
    path = argv[0]
    n = int(argv[1])
    mode = argv[2] if len(argv) > 2 else "count"
    got = setup_any(path)
    if got is None:
        print("unknown path %s" % path)
        return 2
    if isinstance(got, str):
        print("SKIP %s" % got)
        return 0
    target, frames, step = got
    if mode == "alloc":
        # Warm up (first-use allocations are not per frame), ending before the measured run.
        run(target, frames, step, 16, _START - 1000)
        if isinstance(target, hubmod.Hub):
            target.rejected = [0] * reject.COUNT
        from micropython import mem_total

        gc.collect()
        before = mem_total()
        run(target, frames, step, 0)
        loop = mem_total() - before  # the loop's own: its call frame and range object
        before = mem_total()
        run(target, frames, step, n)
        used = mem_total() - before - loop
        print("alloc %s bytes=%d frames=%d" % (path, used, n))
        return 0
    if mode == "time":
        from time import ticks_diff, ticks_us

        best = None
        for _ in range(5):
            target, frames, step = setup_any(path)
            gc.collect()
            t0 = ticks_us()
            run(target, frames, step, n)
            dt = ticks_diff(ticks_us(), t0)
            best = dt if best is None or dt < best else best
        print("time %s us_per_frame=%.3f" % (path, best / n))
        return 0
    out = run(target, frames, step, n)
    line = "bench %s n=%d air_us=%d psdu=%d " % (path, n, step, frames[0].n)
    print(line + outcome(target, n, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
