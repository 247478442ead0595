"""Which functions put their call frame on the heap: MicroPython keeps a bytecode function's state
(locals, value stack, exception stack) on the C stack only while it fits in 11 machine words
(py/objfun.c VM_MAX_STATE_ON_STACK); a larger frame is allocated on the heap at every call and
freed on return, which gc.mem_alloc() deltas never show (micropython.mem_total() does: see
tests_device/alloc.py). The sizes come from the unix port's compiler (-v -v prints N_STATE and
N_EXC_STACK per code block); an exception-stack entry is 3 words.

    .venv/bin/python tools/frame_sizes.py firmware.sec_nwk firmware.han [--all]
"""

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 11  # words
_EXC_WORDS = 3  # mp_exc_stack_t: handler, val_sp, prev_exc
_BLOCK = re.compile(r"^File (\S+), code block '([^']*)'")
_FIELD = re.compile(r"^\((N_STATE|N_EXC_STACK) (\d+)\)")


def sizes(micropython, module):
    # [(file, function, words)] for every code block compiled while importing module.
    env = dict(os.environ, MICROPYPATH=".frozen:" + ROOT)
    p = subprocess.run(
        [micropython, "-v", "-v", "-c", "import " + module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        errors = [x for x in (p.stdout + p.stderr).splitlines() if "Error" in x]
        tail = errors[-1] if errors else "exit %d" % p.returncode
        raise SystemExit("frame_sizes: importing %s failed: %s" % (module, tail))
    out, block, state = [], None, {}
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        m = _BLOCK.match(line)
        if m:
            block, state = m.groups(), {}
            continue
        m = _FIELD.match(line)
        if m and block:
            state[m.group(1)] = int(m.group(2))
            if len(state) == 2:
                words = state["N_STATE"] + _EXC_WORDS * state["N_EXC_STACK"]
                out.append((os.path.relpath(block[0], ROOT), block[1], words))
                block = None
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("modules", nargs="+", help="dotted module names, e.g. firmware.han")
    ap.add_argument("--all", action="store_true", help="list every function, not only the big")
    ap.add_argument(
        "--micropython", default=os.path.join(os.path.dirname(sys.executable), "micropython")
    )
    args = ap.parse_args()
    if not os.path.exists(args.micropython):
        raise SystemExit("frame_sizes: no MicroPython at %s (make bootstrap)" % args.micropython)
    seen = set()
    over = 0
    for module in args.modules:
        for path, name, words in sizes(args.micropython, module):
            if (path, name) in seen or name == "<module>":
                continue
            seen.add((path, name))
            big = words > LIMIT
            over += big
            if big or args.all:
                print("%-40s %-28s %2d words%s" % (path, name, words, "  heap" if big else ""))
    print("%d function(s) over %d words" % (over, LIMIT))


if __name__ == "__main__":
    main()
