"""make bench: what each receive path costs per frame, against the budget that keeps up with a
back-to-back 802.15.4 flood on a 240 MHz ESP32 (IEEE 802.15.4-2006 6.5
for the air time; MicroPython PR #7850 and issue #6565 for the ESP32 speed; docs/performance.md).

For each path, bench/frames.py runs on the MicroPython unix port with the ESP32-sized heap
(-X heapsize=110wK) under callgrind, once with N frames and once with 2N; the difference of the
two instruction counts divided by N is the per-frame cost (start-up and set-up cancel out;
PYTHONHASHSEED=0 makes the CPython-hosted wrapper's start-up identical between runs). Heap bytes
per frame come from micropython.mem_total() deltas, which count every allocation, call frames
put on the heap included. The ESP32 estimate divides by 50..75 M unix-port instructions per
ESP32 second (performance.md section 3).

  --micropython32 (env MICROPYTHON32): a 32-bit build of the same MicroPython (make ram's
  instrument, docs/performance.md): each path is counted on it too, in a column of its own; on
  32 bits objects and bytecode have the ESP32's sizes, and the counts are higher.
  --xip (env MICROPYTHON32_XIP, make ram's): of these, a 32-bit build with the firmware frozen
  in, checked against these sources, counts each path as the board runs it (frozen: the one
  deploy that fits the ESP32's heap, make ram), in a third column; the goal is read on it.
  Compiled from source or loaded from .mpy, every name the firmware uses is a qstr interned at
  run time, and each attribute lookup's hash walks the run-time qstr pools (py/qstr.c
  find_qstr); frozen, those names are in the firmware's own pool.

The table is printed and written into docs/performance.md between its bench markers. Without
valgrind the script falls back to wall-clock timing on this host, labels it as not comparable,
and leaves docs/performance.md alone.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN = "<!-- bench:begin (tools/bench.py writes this table) -->"
END = "<!-- bench:end -->"

R_LOW, R_HIGH = 50e6, 75e6  # ESP32 speed in unix-port Ir per second (performance.md section 3)
# Per-frame budget at R = 50 M Ir/s and 50 % CPU, and the back-to-back rate of the shortest frame
# that can reach the path (performance.md sections 1 and 4.1).
BUDGETS = {
    "beacon": (12800, 1953, "10 B beacon request"),
    "data": (18400, 1359, "17 B minimal data frame"),
}

# name, budget, what it measures
PATHS = (
    ("beacon_request", "beacon", "beacon request: answered, or refused by the beacon budget"),
    ("interpan_off", "data", "inter-PAN frame dropped while the flag is OFF"),
    ("junk_one_source", "data", "inter-PAN frame that is not a command, from one source"),
    ("junk_spoofed", "data", "the same from 64 rotating sources"),
    ("discovery_flood", "data", "discovery requests from 64 rotating sources (broadcast replies)"),
    ("forged_spoofed", "data", "forged commands (wrong tag) from 64 rotating sources"),
    ("forged_one_source", "data", "forged commands sent with one HHT's address"),
    ("forged_trusted", "data", "forged commands sent with a trusted HHT's address"),
    ("forged_verified", "data", "forged command verified by the real command layer"),
    ("bad_tag", "data", "command the default command layer refuses (no HMAC)"),
    ("accepted", "data", "command a test double accepts (keep-alive)"),
    ("gate_one_source", "data", "limiter alone: Gate.allow, one source at line rate"),
    ("gate_spoofed", "data", "limiter alone: Gate.allow, 64 rotating sources"),
    ("beacon_budget", "beacon", "limiter alone: Gcra.allow (the beacon-reply budget)"),
    ("empty", None, "the loop and one call, included in every other row"),
)
PATHS += (
    ("bad_fcs", "data", "frame the radio flagged with a bad FCS"),
    ("interpan_not_for_us", "data", "inter-PAN frame (flag ON) addressed to another hub"),
)
# HAN paths at three device-log and device-table sizes (bench/frames.py setup_tables): the cost
# of a lookup must not grow with the tables.
TABLE_ROWS = (
    ("assoc_stranger_", "association request from a stranger (refused)"),
    ("poll_stranger_", "data request from a short address no member has"),
    ("poll_ext_stranger_", "data request from an EUI-64 that is not a member"),
    ("orphan_stranger_", "orphan notification from an EUI-64 that is not a member"),
    ("nwk_stranger_", "NWK frame (a secured report) from a short address no member has"),
    ("report_member_", "secured metering report from the last member to join"),
)
TABLE_PATHS = tuple(p for p, _ in TABLE_ROWS)
PATHS += tuple(
    ("%s%d" % (p, n), "data", "%s, %d in the device log and joined" % (what, n))
    for p, what in TABLE_ROWS
    for n in (16, 64, 256)
)
# NWK-secured HAN frames (bench/frames.py setup_secured), held to the data-frame budget like
# every other path: a member's report is legitimate traffic (a few a minute), the other three
# are what an attacker can send at line rate.
SECURED_PATHS = (
    ("secured_member", "a member's secured report: CCM* decrypt and MIC, accepted"),
    ("secured_replay", "that report replayed: dropped on its frame counter, no AES"),
    ("secured_stranger", "a stranger's secured frame under a member's address: no AES"),
    ("secured_forged", "forged MICs from a member's EUI-64: the CCM* budget, then no AES"),
    ("secured_none", "the member's report in the clear: dropped (the rows' common part)"),
)
PATHS += tuple((p, "data", what) for p, what in SECURED_PATHS)


def env():
    e = dict(os.environ)
    e["PYTHONHASHSEED"] = "0"
    e["MICROPYPATH"] = ".frozen:" + ROOT
    return e


def mp_cmd(args, path, n, mode=None, micropython=None):
    heap = args.heap
    if path.startswith(TABLE_PATHS + ("secured_",)):
        # The HAN compiled from source, and its tables at up to 256 entries, need more than the
        # ESP32-sized heap; these paths allocate nothing per frame, so the heap size does not
        # change what they cost.
        heap = "512wK"
    if micropython and heap.endswith("wK") and heap[:-2].isdigit():
        # The 32-bit build gets the same heap in bytes, twice the words: compiling the firmware
        # from source needs about as many bytes on both.
        heap = "%dwK" % (2 * int(heap[:-2]))
    mp = micropython or args.micropython
    cmd = [mp, "-X", "heapsize=" + heap, "bench/frames.py", path, str(n)]
    return cmd + [mode] if mode else cmd


class Fail(Exception):
    pass


def run(cmd):
    p = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True)
    if p.returncode != 0:
        lines = (p.stdout + p.stderr).strip().splitlines()
        errors = [ln for ln in lines if "Error" in ln] or lines[-1:] or ["exit %d" % p.returncode]
        raise Fail("%s: %s" % (" ".join(cmd[cmd.index("bench/frames.py") :]), errors[-1]))
    return p.stdout, p.stderr


def callgrind_ir(args, path, n, micropython=None):
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    out, err = run(cmd + mp_cmd(args, path, n, micropython=micropython))
    m = re.search(r"refs:\s*([\d,]+)", err)
    if not m:
        raise Fail("no instruction count from callgrind for %s" % path)
    return int(m.group(1).replace(",", "")), out


def measure(args, path, use_valgrind):
    out, _ = run(mp_cmd(args, path, args.n, "alloc"))
    if out.startswith("SKIP"):
        return {"path": path, "skip": out.strip()[5:]}
    bytes_total = int(re.search(r"bytes=(-?\d+)", out).group(1))
    row = {"path": path, "bytes": bytes_total / args.n}
    if use_valgrind:
        a, _ = callgrind_ir(args, path, args.n)
        b, line = callgrind_ir(args, path, 2 * args.n)
        row["ir"] = (b - a) / args.n
        for key, mp in (("ir32", args.micropython32), ("ir32f", args.frozen32)):
            if mp:
                a, _ = callgrind_ir(args, path, args.n, mp)
                b, _ = callgrind_ir(args, path, 2 * args.n, mp)
                row[key] = (b - a) / args.n
    else:
        t, _ = run(mp_cmd(args, path, args.n, "time"))
        row["us_host"] = float(re.search(r"us_per_frame=([\d.]+)", t).group(1))
        line, _ = run(mp_cmd(args, path, args.n))
    m = re.search(r"psdu=(\d+) ?(.*)", line)
    row["psdu"] = int(m.group(1))
    row["outcome"] = m.group(2).strip()
    return row


def fmt_k(x):
    return "%.1fk" % (x / 1000.0)


def table(rows, use_valgrind, n, goal):
    # goal: the column the ratio, ESP32 time and CPU come from: "32-bit frozen" (the board's
    # sizes, as the board runs the firmware), "32-bit" or "64-bit"; the 64-bit ratio beside.
    kinds = {p: k for p, k, _ in PATHS}
    what = {p: w for p, _, w in PATHS}
    lines = []
    if use_valgrind:
        lines.append(
            "| path | what | Ir/frame 64-bit | Ir/frame 32-bit | Ir/frame 32-bit frozen "
            "| heap bytes/frame | budget | ratio %s | ESP32 µs/frame | CPU at flood "
            "| outcome of %d frames |" % (goal + ("" if goal == "64-bit" else " (64-bit)"), 2 * n)
        )
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        lines.append(
            "| path | what | host µs/frame (NOT comparable) | heap bytes/frame | outcome of %d "
            "frames |" % n
        )
        lines.append("|---|---|---:|---:|---|")
    for r in rows:
        p = r["path"]
        if "skip" in r:
            cells = ["`%s`" % p, what[p], "skipped: " + r["skip"]]
            lines.append("| " + " | ".join(cells) + " |" + " |" * (8 if use_valgrind else 2))
            continue
        out = r["outcome"] or "-"
        if not use_valgrind:
            cells = ["`%s`" % p, what[p], "%.2f" % r["us_host"], "%.0f" % r["bytes"], out]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        ir = r["ir"]
        ir32, ir32f = r.get("ir32"), r.get("ir32f")
        cells = ["`%s`" % p, what[p], fmt_k(ir)]
        cells += [fmt_k(x) if x else "-" for x in (ir32, ir32f)] + ["%.0f" % r["bytes"]]
        kind = kinds[p]
        if kind is None:
            cells += ["", "", "", "", out]
        else:
            budget, rate, _ = BUDGETS[kind]
            worst = ir32f or ir32 or ir
            lo, hi = worst / R_HIGH * 1e6, worst / R_LOW * 1e6
            ratio = "%.2f" % (worst / budget)
            if worst != ir:
                ratio += " (%.2f)" % (ir / budget)
            cells += [
                fmt_k(budget),
                ratio,
                "%.0f–%.0f" % (lo, hi),
                "%.0f–%.0f %% at %d/s" % (lo * rate / 1e4, hi * rate / 1e4, rate),
                out,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def frozen_build(xip):
    # The first of make ram's in-place builds that has these sources frozen in (tools/ram.py
    # probes each and refuses one frozen from other sources); ROMFS builds are for make ram.
    sys.path.insert(0, ROOT)  # this script runs with tools/ first on its path
    from tools import ram  # here, not at the top: tools/ram.py imports this module

    for b in filter(None, xip.split(":")):
        try:
            if ram.probe(b) == "frozen":
                return os.path.abspath(b)
        except ram.Fail as e:
            raise Fail(str(e)) from None
    return ""


def version(micropython):
    code = "import sys; print('%d.%d.%d' % sys.implementation.version[:3], sys.maxsize > 2**32)"
    p = subprocess.run([micropython, "-c", code], capture_output=True, text=True)
    words = p.stdout.split()
    if p.returncode != 0 or len(words) != 2:
        raise Fail("%s does not run as MicroPython" % micropython)
    return words[0], words[1] == "True"


def provenance(args, use_valgrind):
    v, _ = version(args.micropython)
    runs = "callgrind, N=%d and 2N=%d frames" % (args.n, 2 * args.n)
    if not use_valgrind:
        runs = "wall clock, best of 5 runs of %d frames" % args.n
    if args.micropython32:
        bits = "64-bit and a 32-bit build of the same source (%s)" % os.path.basename(
            args.micropython32
        )
    else:
        bits = "64-bit only: no 32-bit build given (MICROPYTHON32=), so no 32-bit column"
    if args.frozen32:
        bits += ", and a 32-bit build with this commit's firmware frozen in (%s)" % (
            os.path.basename(args.frozen32)
        )
    else:
        bits += "; no frozen 32-bit build in MICROPYTHON32_XIP=, so no frozen column"
    return "MicroPython %s unix port, %s, `-X heapsize=%s`, %s, commit %s" % (
        v,
        bits,
        args.heap,
        runs,
        revision(),
    )


def revision():
    # The commit measured, "-dirty" when the working tree differs from it.
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        out = ""
    return out or "?"


def write_doc(text, begin=BEGIN, end=END):
    with open(DOC) as f:
        doc = f.read()
    a = doc.find(begin)
    b = doc.find(end)
    if a < 0 or b < a:
        raise SystemExit("docs/performance.md has no %s markers; table not written" % begin)
    doc = doc[: a + len(begin)] + "\n" + text + "\n" + doc[b:]
    with open(DOC, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    default_mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    ap.add_argument("--micropython", default=default_mp)
    ap.add_argument(
        "--micropython32",
        default=os.environ.get("MICROPYTHON32", ""),
        help="a 32-bit build of the same MicroPython (env MICROPYTHON32)",
    )
    ap.add_argument(
        "--xip",
        default=os.environ.get("MICROPYTHON32_XIP", ""),
        help="make ram's in-place builds, ':'-separated (env MICROPYTHON32_XIP): a frozen one "
        "adds the frozen column",
    )
    ap.add_argument("--heap", default="110wK")
    ap.add_argument("-n", type=int, default=2000, help="frames in the shorter run (default 2000)")
    ap.add_argument("--paths", nargs="*", help="only these paths")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    use_valgrind = shutil.which("valgrind") is not None
    if not use_valgrind:
        print(
            "valgrind not found: falling back to wall-clock ticks_us timing on this host. These "
            "numbers are NOT comparable with the instruction budgets (install valgrind)."
        )
    names = [p for p, _, _ in PATHS if not args.paths or p in args.paths]
    unknown = sorted(set(args.paths or ()) - set(names))
    try:
        if unknown:
            raise Fail(
                "unknown path(s) %s; the paths are: %s"
                % (" ".join(unknown), " ".join(p for p, _, _ in PATHS))
            )
        if args.micropython32:
            args.micropython32 = os.path.abspath(args.micropython32)
            if version(args.micropython32)[1]:
                raise Fail("MICROPYTHON32=%s is a 64-bit build" % args.micropython32)
        args.frozen32 = frozen_build(args.xip)
        head = provenance(args, use_valgrind)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            rows = list(pool.map(lambda p: measure(args, p, use_valgrind), names))
    except Fail as e:
        sys.exit("make bench: %s" % e)
    goal = "32-bit frozen" if args.frozen32 else "32-bit" if args.micropython32 else "64-bit"
    text = table(rows, use_valgrind, args.n, goal)
    print(head)
    print()
    print(text)
    if use_valgrind and not args.no_write and not args.paths:
        write_doc("Measured with " + head + ".\n\n" + text)
        print("\nwritten to docs/performance.md")


if __name__ == "__main__":
    main()
