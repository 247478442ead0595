"""make ram: the heap the firmware needs, against the ESP32 goals (docs/performance.md).

bench/ram.py plays the scenario bench/ram_scenario.py records (a lab minute, a line-rate flood,
a burst of WAN traffic) on each interpreter given, from the .mpy files of build/mpy-unix:

  --micropython      the pinned 64-bit unix port (default .venv/bin/micropython), always
  --micropython32    a 32-bit unix build of the same MicroPython (env MICROPYTHON32): objects and
                     bytecode have the ESP32's sizes, so its figures are the board's (.mpy copied)
  --xip              32-bit builds that execute the firmware in place (env MICROPYTHON32_XIP,
                     ':'-separated): a build with ROMFS, whose ROM segment is the file named by
                     MICROPY_ROMFS_IMAGE (the image is built here from the .mpy files, as
                     `mpremote romfs build` does), or one with the firmware frozen in

For each: imports, the hub built, and the most heap in use during the scenario (collected after
every event) in a large heap; then the smallest -X heapsize, in 1 KB steps, that runs the whole
scenario. KB here is 1024 bytes. The table is printed, and written into docs/performance.md when
the 32-bit instruments were given (--no-write: print only).
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT  # not tools/: tools/bench.py would shadow the bench/ directory

from tools import march  # noqa: E402
from tools.bench import revision, write_doc  # noqa: E402

MPY_DIR = os.path.join(ROOT, "build", "mpy-unix")
WORK = os.path.join(ROOT, "build", "ram")
# build/mpy-unix with its native code (contract/native.py) compiled for the 32-bit instruments
# (x86): what the 32-bit .mpy run, the ROMFS image and the harness of the in-place runs load.
MPY32_DIR = os.path.join(WORK, "mpy32")
SCENARIO = os.path.join(WORK, "scenario.bin")
BEGIN = "<!-- ram:begin (tools/ram.py writes this table) -->"
END = "<!-- ram:end -->"
NEEDS = "<!-- ram-needs %s -->"  # the peak in use by deploy path, bytes
# The goals of docs/performance.md: heap in use while executing in place, and with .mpy copied.
GOAL_XIP = 55 * 1024
GOAL_MPY = 80 * 1024
ROM_PACKAGES = ("contract", "firmware", "hal", "boards")
WHOLE_APP_TESTS = ("test_esp32_app", "test_app_priority")


class Fail(Exception):
    pass


class Target:
    def __init__(self, label, binary, mode, bits):
        self.label = label
        self.binary = os.path.abspath(binary)
        self.mode = mode  # "mpy" (copied .mpy), "romfs" or "frozen"
        self.bits = bits

    def env_cwd(self):
        env = dict(os.environ, MICROPYPATH=".frozen")
        if self.mode == "mpy":
            return env, MPY_DIR if self.bits == 64 else MPY32_DIR
        if self.mode == "romfs":
            env["MICROPYPATH"] = "/rom:.frozen"
            env["MICROPY_ROMFS_IMAGE"] = os.path.join(WORK, "firmware.romfs")
        return env, os.path.join(WORK, "xip")

    def run(self, heap, *args, check=True):
        env, cwd = self.env_cwd()
        cmd = [self.binary, "-X", "heapsize=%s" % heap, "-m", "bench.ram"] + list(args)
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        line = p.stdout.strip().splitlines()[-1:] or [""]
        if p.returncode == 0 and line[0].startswith("ram "):
            return dict(kv.split("=", 1) for kv in line[0].split()[1:])
        if not check and "MemoryError" in p.stdout + p.stderr:
            return None
        raise Fail("%s: %s" % (self.label, (p.stdout + p.stderr).strip().splitlines()[-1:]))


def probe(binary):
    # How an execute-in-place build holds the firmware: "romfs", "frozen", or an error. A frozen
    # build must hold these very sources: its module commshub_frozen names their fingerprint.
    if bits(binary) != "32":
        raise Fail("%s is not a 32-bit MicroPython" % binary)
    t = Target("probe", binary, "frozen", 32)
    env, cwd = t.env_cwd()
    os.makedirs(cwd, exist_ok=True)

    def run(code):
        p = subprocess.run([binary, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
        return p.returncode, p.stdout.strip()

    if run("import vfs; print(hasattr(vfs, 'rom_ioctl'))")[1] == "True":
        return "romfs"
    rc, frozen = run("import firmware.app, commshub_frozen; print(commshub_frozen.SOURCES)")
    if rc == 0 and frozen == source_fingerprint():
        return "frozen"
    if rc == 0:
        raise Fail("%s holds other sources than this working tree: rebuild it" % binary)
    raise Fail(
        "%s has neither ROMFS (vfs.rom_ioctl) nor the firmware frozen in with its fingerprint; "
        "docs/performance.md says how to build either" % binary
    )


def source_fingerprint():
    # sha256 over the frozen packages' sources, file by file in path order: each file's path
    # relative to the repository, a NUL, its bytes, a NUL.
    h = hashlib.sha256()
    for pkg in ROM_PACKAGES:
        paths = []
        for dirpath, _, names in os.walk(os.path.join(ROOT, pkg)):
            paths += [os.path.join(dirpath, n) for n in names if n.endswith(".py")]
        for path in sorted(paths):
            h.update(os.path.relpath(path, ROOT).replace(os.sep, "/").encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read() + b"\0")
    return h.hexdigest()


def bits(binary):
    if not os.access(binary, os.X_OK):
        raise Fail("%s is not an executable" % binary)
    code = "import sys; print(32 if sys.maxsize < 1 << 32 else 64)"
    p = subprocess.run([binary, "-c", code], capture_output=True, text=True)
    return p.stdout.strip()


def build32(binary):
    # MPY32_DIR: build/mpy-unix, each module with native code compiled again for the 32-bit
    # instrument's architecture (every other .mpy is bytecode, which any port loads).
    flag = march.arch(binary)
    flag = "-march=" + flag if flag else ""
    shutil.rmtree(MPY32_DIR, ignore_errors=True)
    shutil.copytree(MPY_DIR, MPY32_DIR)
    for pkg in ROM_PACKAGES + ("tests_device", "bench"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, pkg)):
            for n in names:
                src = os.path.join(dirpath, n)
                if n.endswith(".py") and march.has_native(src):
                    out = os.path.join(MPY32_DIR, os.path.relpath(src, ROOT))[:-3] + ".mpy"
                    march.compile_for(flag, src, out)


def prepare(binary32):
    # The scenario (recorded under CPython), the .mpy files for the 32-bit instruments, the
    # harness directory for the execute-in-place builds (bench/ram.mpy alone, so nothing of the
    # firmware is found on the filesystem) and the ROMFS image of the firmware's .mpy files.
    if not os.path.exists(os.path.join(MPY_DIR, "bench", "ram.mpy")):
        raise Fail("no build/mpy-unix/bench/ram.mpy: run `make ram`, which builds it")
    os.makedirs(WORK, exist_ok=True)
    from bench import ram_scenario

    recorded = ram_scenario.record(SCENARIO)
    if not binary32:
        return recorded
    build32(binary32)
    xip = os.path.join(WORK, "xip")
    shutil.rmtree(xip, ignore_errors=True)
    os.makedirs(os.path.join(xip, "bench"))
    shutil.copy(os.path.join(MPY32_DIR, "bench", "ram.mpy"), os.path.join(xip, "bench"))
    shutil.copytree(os.path.join(MPY32_DIR, "tests_device"), os.path.join(xip, "tests_device"))
    rom = os.path.join(WORK, "rom")
    shutil.rmtree(rom, ignore_errors=True)
    for pkg in ROM_PACKAGES:
        shutil.copytree(os.path.join(MPY32_DIR, pkg), os.path.join(rom, pkg))
    from mpremote.romfs import make_romfs

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):  # its file tree
        image = make_romfs(rom, mpy_cross=False)
    with open(os.path.join(WORK, "firmware.romfs"), "wb") as f:
        f.write(image)
    return recorded


def measure(t, want):
    state = os.path.join(WORK, "state")
    shutil.rmtree(state, ignore_errors=True)
    big = "%dK" % (4096 if t.bits == 64 else 2048)
    r = t.run(big, "peak", SCENARIO, state)
    src = r["src"]
    ok = {
        "mpy": src.endswith(".mpy") and not src.startswith("/rom"),
        "romfs": src.startswith("/rom/"),
        "frozen": src.endswith(".py"),
    }[t.mode]
    if not ok:
        raise Fail("%s: firmware.app came from %s, not from %s" % (t.label, src, t.mode))
    # The replay must do what the recording run did (bench.ram.Driver.summary).
    for kv in want.split():
        k, v = kv.split("=")
        if r.get(k) != v:
            raise Fail("%s replayed differently: %s=%s, recorded %s" % (t.label, k, r.get(k), v))
    r["heap_k"] = smallest_heap(t, int(r["live"]) + int(r["harness"]), state)
    return r


def device_tests(t, mplib):
    # The device tests that run the whole app, at the ESP32's heap with no override: 110K on a
    # 32-bit build, 110wK (as many objects) on the 64-bit port. Each module in an interpreter of
    # its own, as on a board (and as `make test-device-mpy` runs them): what one test module
    # leaves imported is not the next one's. "N passed, N failed, N skipped", or the crash.
    env, cwd = t.env_cwd()
    env["MICROPYPATH"] += ":" + os.path.abspath(mplib)
    heap = "110wK" if t.bits == 64 else "110K"
    counts = [0, 0, 0]
    for name in WHOLE_APP_TESTS:
        cmd = [t.binary, "-X", "heapsize=" + heap, "-m", "tests_device.run", name]
        try:
            p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "%s did not finish in 300 s" % name
        done = [ln[8:] for ln in p.stdout.splitlines() if ln.startswith("device: ")]
        if not done:
            last = (p.stdout + p.stderr).strip().splitlines()[-1:] or ["no output"]
            return "%s crashed (exit %d): %s" % (name, p.returncode, last[0].strip())
        for i, n in enumerate(done[-1].split()[0::2][:3]):
            counts[i] += int(n)
    return "%d passed, %d failed, %d skipped" % tuple(counts)


def smallest_heap(t, floor, state):
    # Bisection over -X heapsize in KB: the smallest heap the whole scenario completes in.
    def runs(k):
        shutil.rmtree(state, ignore_errors=True)
        return t.run("%dK" % k, "run", SCENARIO, state, check=False) is not None

    lo = floor // 1024
    hi = lo * 2
    while not runs(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if runs(mid):
            hi = mid
        else:
            lo = mid
    return hi


def kb(n):
    return "%.1f" % (int(n) / 1024)


def verdict(need, goal):
    if goal is None:
        return ""
    if need <= goal:
        return "meets %d KB" % (goal // 1024)
    return "over %d KB by %.1f" % (goal // 1024, (need - goal) / 1024)


def table(targets, results):
    cols = [t.label for t in targets]
    rows = (
        ("imports: firmware.app", "app_imports"),
        ("imports: + the ESP32 board modules and what the running board loads", "imports"),
        ("the hub built", "app"),
        ("**peak in use** (collected after each event)", "live"),
        ("smallest heap that runs it all, less the harness", "need"),
    )
    out = ["| KB (1024 B) | " + " | ".join(cols) + " |", "|---" + "|---:" * len(cols) + "|"]
    for t in targets:
        r = results[t.label]
        r["need"] = r["heap_k"] * 1024 - int(r["harness"])
    for name, key in rows:
        out.append("| %s | %s |" % (name, " | ".join(kb(results[c][key]) for c in cols)))
    out.append(
        "| (`-X heapsize` found; the harness in it) | %s |"
        % " | ".join("%dK; %s" % (results[c]["heap_k"], kb(results[c]["harness"])) for c in cols)
    )
    out.append(
        "| whole-app device tests (%s) at the ESP32 heap, no override | %s |"
        % (", ".join(WHOLE_APP_TESTS), " | ".join(results[c]["tests"] for c in cols))
    )
    goals = []
    for t in targets:
        goal = None if t.bits == 64 else GOAL_XIP if t.mode != "mpy" else GOAL_MPY
        goals.append(verdict(int(results[t.label]["live"]), goal) or "(none: 64-bit)")
    out.append("| peak against the goal | " + " | ".join(goals) + " |")
    return "\n".join(out)


def needs_line(targets, results):
    # The 32-bit peaks, per deploy path, for tools/deploy.py (which reads them from the doc).
    needs = {t.mode: int(results[t.label]["live"]) for t in targets if t.bits == 32}
    needs["commit"] = revision()
    return NEEDS % json.dumps(needs, sort_keys=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--micropython", default=os.path.join(os.path.dirname(sys.executable), "micropython")
    )
    ap.add_argument("--micropython32", default=os.environ.get("MICROPYTHON32", ""))
    ap.add_argument("--xip", default=os.environ.get("MICROPYTHON32_XIP", ""))
    ap.add_argument("--mplib", default=os.path.join(ROOT, ".venv", "mplib"), help="unittest")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    try:
        targets = [Target("64-bit .mpy", args.micropython, "mpy", 64)]
        if args.micropython32:
            if bits(args.micropython32) != "32":
                raise Fail("MICROPYTHON32=%s is not a 32-bit build" % args.micropython32)
            targets.append(Target("32-bit .mpy", args.micropython32, "mpy", 32))
        for b in filter(None, args.xip.split(":")):
            mode = probe(b)
            targets.append(Target("32-bit " + ("ROMFS" if mode == "romfs" else mode), b, mode, 32))
        want = prepare(next((t.binary for t in targets if t.bits == 32), None))
        results = {}
        for t in targets:
            print("measuring %s (%s)..." % (t.label, t.binary), flush=True)
            results[t.label] = measure(t, want)
            results[t.label]["tests"] = device_tests(t, args.mplib)
    except Fail as e:
        sys.exit("make ram: %s" % e)
    head = "Measured at commit %s: %s." % (
        revision(),
        "; ".join("%s: %s" % (t.label, os.path.basename(t.binary)) for t in targets),
    )
    text = head + "\n\n" + table(targets, results) + "\n" + needs_line(targets, results)
    print()
    print(text)
    missing = []
    if not args.micropython32:
        missing.append("MICROPYTHON32 (a 32-bit build: the board's object sizes)")
    if not args.xip:
        missing.append("MICROPYTHON32_XIP (a 32-bit ROMFS or frozen build: executing in place)")
    if missing:
        print(
            "\nNot measured, as not given: %s. The 64-bit figures alone do not say whether the "
            "firmware fits an ESP32; docs/performance.md says how to build the instruments. "
            "docs/performance.md left as it is." % "; ".join(missing)
        )
    elif not args.no_write:
        write_doc(text, BEGIN, END)
        print("\nwritten to docs/performance.md")


if __name__ == "__main__":
    main()
