# Replays fuzz inputs through fuzz/targets.py on the MicroPython unix port (and CPython):
#
#   MICROPYPATH=.frozen:<repo> micropython -X heapsize=110wK fuzz/mp_replay.py INPUTS
#       [--target NAME] [--long]
#   ... fuzz/mp_replay.py --raw TARGET FILE...     (crash artifacts, one by one)
#
# With --target only that target's inputs run, so only the modules it needs are imported: the
# whole firmware plus a hub per input does not fit the ESP32-sized heap at once, and one
# interpreter per target is also how tools/run_tests.py runs the device suite.
# INPUTS holds one input per line: "<target> <hex>". The inputs are generated on CPython
# (tests_host/test_fuzz_parsers.py: hypothesis cannot run here), so the same bytes meet the
# same parsers on the interpreter the firmware ships on, with the ESP32-sized heap.
#
# Prints one line, "RESULT <json>": the count of inputs run, per target the count and a digest
# of the targets' return values (equal digests on both interpreters: the parsers decide alike),
# any exceptions (target, input hex, exception; capped), and the heap: allocated octets after
# gc.collect() before and after the second of two runs over the inputs. Every per-input object
# is garbage by the end, so the difference measures what the parsers and the module keep
# between inputs.
#
# --long also feeds every hub input, in order, to ONE hub (and one with the HAN layer) with
# time moving on and notes drained as the shell does, twice: the heap difference across the
# second pass shows the hub's state stays bounded however many frames arrive.

import gc
import json
import sys


def _root():
    # The repository root from this script's path (no os.path on MicroPython), so the script
    # also runs as `python fuzz/mp_replay.py` without MICROPYPATH/PYTHONPATH.
    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return d.rsplit("/", 1)[0] if "/" in d else "."


if _root() not in sys.path:
    sys.path.append(_root())

# The first import: compiling targets.py from source needs a heap not yet fragmented.
from fuzz import targets  # noqa: E402

try:
    from binascii import unhexlify
except ImportError:  # pragma: no cover
    unhexlify = bytes.fromhex

_ERRORS_MAX = 20
_MICRO = sys.implementation.name == "micropython"


def _heap():
    gc.collect()
    if _MICRO:
        return gc.mem_alloc()
    return -1  # CPython has no such figure; the run still checks exceptions and digests


def _digest(acc, r):
    # Order-sensitive digest of small-int results, identical on both interpreters.
    return (acc * 1000003 + (r if isinstance(r, int) else 0x7FFF)) & 0xFFFFFFFF


def _inputs(path):
    # Yields (target, data) line by line: the whole file never sits in the heap.
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            name, _, hx = line.partition(" ")
            yield name, unhexlify(hx)


def run(path, only=None):
    # The inputs twice, the heap measured across the second pass: what the first pass leaves
    # behind without being kept (a hub a stale word on the C stack still points at: the
    # collector is conservative, and which word depends on the heap's layout) is in both
    # figures, while state kept per input is kept again and shows.
    for measured in (False, True):
        per = {}
        for name in targets.NAMES:
            if only is None or name == only:
                per[name] = [0, 0]  # count, digest
                targets.warm_up(name)
        errors = []
        bad = 0
        n = 0
        before = _heap()
        for name, data in _inputs(path):
            if only is not None and name != only:
                continue
            fn = targets.TARGETS.get(name)
            n += 1
            if fn is None:
                bad += 1
                errors.append([name, "", "unknown target"])
                continue
            try:
                r = fn(data)
            except Exception as e:  # every exception is a finding, whatever its type
                r = None
                bad += 1
                if len(errors) < _ERRORS_MAX:
                    # The input's first 256 octets: enough to recognise it, small enough to print.
                    errors.append([name, data[:256].hex(), "%s: %s" % (type(e).__name__, e)])
            p = per[name]
            p[0] += 1
            p[1] = _digest(p[1], r)
            gc.collect()  # a hub per input: collect now, before the garbage fragments the heap
        name = data = fn = r = p = None  # the last input is not state the parsers kept
        _heap()
        after = _heap()
        if not measured:
            per = errors = None
    return n, per, errors, bad, before, after


def run_long(path, passes=2):
    # One hub for every input, as on air: time moves on 20 ms a frame, notes are drained.
    rigs = (targets.Rig(), targets.Rig(han=True))
    heap = []
    now = 0
    for _ in range(passes):
        heap.append(_heap())
        for name, data in _inputs(path):
            if name not in ("hub", "hub_han", "mac", "interpan"):
                continue
            for rig in rigs:
                targets.hub_step(rig, data, now)
                rig.drain()
            now = (now + 20) & 0x3FFFFFFF
    heap.append(_heap())
    return heap


def replay_files(name, paths):
    # A crash artifact (raw octets, as libFuzzer writes it) through one target, with the
    # traceback: the same crash seen on the interpreter the firmware runs on.
    bad = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        try:
            r = targets.TARGETS[name](data)
            print("%s: ok (%d octets) -> %r" % (path, len(data), r))
        except Exception as e:
            bad += 1
            print("%s: CRASH (%d octets)" % (path, len(data)))
            if _MICRO:
                sys.print_exception(e)
            else:
                import traceback

                traceback.print_exc()
    return 1 if bad else 0


def main(argv):
    if not argv:
        print("usage: mp_replay.py INPUTS [--target NAME] [--long] | --raw TARGET FILE...")
        return 2
    if argv[0] == "--raw":
        return replay_files(argv[1], argv[2:])
    only = argv[argv.index("--target") + 1] if "--target" in argv else None
    n, per, errors, bad, before, after = run(argv[0], only)
    out = {
        "interpreter": sys.implementation.name,
        "count": n,
        "targets": per,
        "errors": errors,
        "errors_total": bad,
        "heap_before": before,
        "heap_after": after,
        "heap_growth": after - before if before >= 0 else None,
    }
    if "--long" in argv:
        try:
            heap = run_long(argv[0])
            out["long_heap"] = heap
            out["long_growth"] = heap[-1] - heap[-2] if heap[0] >= 0 else None
        except Exception as e:
            out["long_error"] = "%s: %s" % (type(e).__name__, e)
    print("RESULT " + json.dumps(out))
    return 1 if bad or "long_error" in out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
