"""The cost of NWK security per secured frame on the MicroPython unix port, by the method of
tools/bench.py (callgrind instruction counts of N and 2N frames, differenced; heap bytes per
frame, call frames included), against the line-rate budget of a frame of that length: 50 % of
an ESP32 at 50 M unix-port instructions per second while such frames arrive back to back.

    .venv/bin/python tools/bench_security.py [-n 1000] [--paths member bad_mic]

Prints a markdown table (docs/han.md keeps the last one). Needs valgrind."""

import argparse
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.bench import R_HIGH, R_LOW, fmt_k, run  # noqa: E402

PATHS = (
    ("member", "a member's secured report: header checks, CCM* decrypt and MIC, counter moved"),
    ("replay", "the same report again: dropped on its frame counter, no AES"),
    ("stranger", "a secured frame from a non-member EUI-64: dropped on the header, no AES"),
    ("bad_mic", "a member's EUI-64, a fresh counter, a forged MIC: full CCM*, then dropped"),
    ("protect", "the hub securing a report of its own (CCM* encrypt and MIC, counter)"),
    ("copy", "copying the frame into the receive buffer, included in the four rows above"),
)


def cmd(args, path, n, mode=None):
    c = [args.micropython, "-X", "heapsize=" + args.heap, "bench/security.py", path, str(n)]
    return c + [mode] if mode else c


def ir(args, path, n):
    out, err = run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd(args, path, n)
    )
    return int(re.search(r"refs:\s*([\d,]+)", err).group(1).replace(",", "")), out


def measure(args, path):
    a, _ = ir(args, path, args.n)
    b, line = ir(args, path, 2 * args.n)
    alloc, _ = run(cmd(args, path, args.n, "alloc"))
    m = re.search(r"psdu=(\d+) dropped=\d+ ?(.*)", line)
    return {
        "path": path,
        "ir": (b - a) / args.n,
        "bytes": int(re.search(r"bytes=(-?\d+)", alloc).group(1)) / args.n,
        "psdu": int(m.group(1)),
        "outcome": (m.group(2).strip() or "accepted") if path != "copy" else "",
    }


def table(rows):
    what = dict(PATHS)
    out = [
        "| path | what | Ir/frame | bytes/frame | PSDU | budget | ratio | ESP32 µs/frame |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        air_us = (6 + r["psdu"]) * 32
        budget = 0.5 * R_LOW * air_us / 1e6
        lo, hi = r["ir"] / R_HIGH * 1e6, r["ir"] / R_LOW * 1e6
        cells = [
            "`%s`" % r["path"],
            what[r["path"]] + (" (%s)" % r["outcome"] if r["outcome"] else ""),
            fmt_k(r["ir"]),
            "%.0f" % r["bytes"],
            "%d B" % r["psdu"],
            fmt_k(budget) if r["path"] != "copy" else "",
            "%.2f" % (r["ir"] / budget) if r["path"] != "copy" else "",
            "%.0f–%.0f" % (lo, hi),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument(
        "--micropython", default=os.path.join(os.path.dirname(sys.executable), "micropython")
    )
    ap.add_argument("--heap", default="110wK")
    ap.add_argument("-n", type=int, default=1000, help="frames in the shorter run (default 1000)")
    ap.add_argument("--paths", nargs="*", help="only these paths")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("bench_security: valgrind is needed (apt-get install valgrind)")
    if not os.path.exists(args.micropython):
        raise SystemExit(
            "bench_security: no MicroPython at %s (run make bootstrap)" % args.micropython
        )
    names = [p for p, _ in PATHS if not args.paths or p in args.paths]
    unknown = set(args.paths or ()) - set(dict(PATHS))
    if unknown:
        raise SystemExit(
            "bench_security: unknown path(s) %s; known: %s"
            % (", ".join(sorted(unknown)), ", ".join(dict(PATHS)))
        )
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            rows = list(pool.map(lambda p: measure(args, p), names))
    except (RuntimeError, AttributeError) as e:  # a run failed, or printed no figures
        raise SystemExit("bench_security: %s" % str(e).splitlines()[0]) from None
    print(table(rows))


if __name__ == "__main__":
    main()
