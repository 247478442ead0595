"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer for CPython).

    python fuzz/run_atheris.py TARGET [libFuzzer flags] [corpus dir | input file ...]
    python fuzz/run_atheris.py all [-max_total_time=N] [--report FILE] [libFuzzer flags]
    python fuzz/run_atheris.py list

TARGET is a name from fuzz/targets.py (mac, hub, commands, ...). With no corpus directory the
target's own build/fuzz/corpus/TARGET/ is used (build it first: python fuzz/seed_corpus.py);
crash artifacts go to build/fuzz/crashes/TARGET/. Given input files instead of a directory,
each is run once: the way to replay a crash (this also works without atheris installed).

`all` fuzzes every target in turn, one process each (libFuzzer runs one target per process),
and prints per target: executions, exec/s, corpus files and octets, crashes. It exits 1 if
any target crashed. Without atheris (no wheel for this platform or Python) it falls back to a
seeded random mutation of the seed corpus under the same time budget, labelled as such: that
finds shallow bugs only, as nothing guides it towards new code.
"""

import os
import random
import re
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
BUILD = os.path.join(ROOT, "build", "fuzz")
CORPUS = os.path.join(BUILD, "corpus")
CRASHES = os.path.join(BUILD, "crashes")
LOGS = os.path.join(BUILD, "logs")

# Longest input worth trying per target: a PSDU is at most 127 octets, a ZEP batch or a head-end
# message up to 4096; longer inputs only cost time (the targets cut them to these sizes anyway).
MAX_LEN = {
    "mac": 127,
    "beacon": 127,
    "interpan": 127,
    "zcl": 127,
    "nwk": 127,
    "hub": 127,
    "hub_han": 127,
    "discovery": 160,
    "zep": 200,
    "zep_radio": 4096,
    "gbcs": 4096,
    "ber": 4096,
    "commands": 4096,
    "commands_signed": 512,
    "wan_msg": 4096,
    "wan_app": 4096,
}
ARTIFACT_PREFIXES = ("crash-", "oom-", "timeout-", "leak-", "slow-unit-")


def _try_atheris():
    try:
        import atheris
    except ImportError:
        return None
    return atheris


def _load_targets(atheris):
    # The firmware is imported inside instrument_imports() so libFuzzer sees its branches;
    # nothing of it may be imported before this point (or it stays uninstrumented).
    if atheris is None:
        from fuzz import targets
    else:
        with atheris.instrument_imports():
            from fuzz import targets

            targets.load(radio=True)  # the hub, HAN, commands and sim radio: lazy otherwise
    return targets


def run_one(name, args):
    # One target in this process: libFuzzer, or plain replays of the given files.
    files = [a for a in args if not a.startswith("-") and os.path.isfile(a)]
    atheris = _try_atheris()
    if files and len(files) == len([a for a in args if not a.startswith("-")]):
        targets = _load_targets(None)
        fn = targets.TARGETS[name]
        bad = 0
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            try:
                fn(data)
                print("%s: ok (%d octets)" % (path, len(data)))
            except Exception:
                bad += 1
                print("%s: CRASH (%d octets, hex %s)" % (path, len(data), data.hex()))
                traceback.print_exc()
        return 1 if bad else 0
    if atheris is None:
        raise SystemExit("atheris is not installed: pip install -r fuzz/requirements.txt")
    targets = _load_targets(atheris)
    fn = targets.TARGETS[name]
    dirs = [a for a in args if not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    if not dirs:
        dirs = [os.path.join(CORPUS, name)]
        os.makedirs(dirs[0], exist_ok=True)
    if not any(f.startswith("-artifact_prefix=") for f in flags):
        d = os.path.join(CRASHES, name)
        os.makedirs(d, exist_ok=True)
        flags.append("-artifact_prefix=" + d + os.sep)
    if not any(f.startswith("-max_len=") for f in flags):
        flags.append("-max_len=%d" % MAX_LEN.get(name, 4096))

    def one_input(data):
        fn(data)

    atheris.Setup([sys.argv[0]] + flags + dirs, one_input)
    atheris.Fuzz()
    return 0


# --- all targets ------------------------------------------------------------------------------


def _dir_size(d):
    files = octets = 0
    if os.path.isdir(d):
        for e in os.listdir(d):
            p = os.path.join(d, e)
            if os.path.isfile(p):
                files += 1
                octets += os.path.getsize(p)
    return files, octets


def _artifacts(d):
    if not os.path.isdir(d):
        return set()
    return {e for e in os.listdir(d) if e.startswith(ARTIFACT_PREFIXES)}


def _stat(text, key):
    m = re.findall(r"stat::%s:\s+(\d+)" % key, text)
    return int(m[-1]) if m else None


def _fuzz_atheris(name, seconds, extra):
    log_path = os.path.join(LOGS, name + ".log")
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        name,
        "-max_total_time=%d" % seconds,
        "-print_final_stats=1",
        "-timeout=10",  # a single input taking this long is a hang: reported as a crash
        "-rss_limit_mb=1024",  # growing memory past this is an OOM crash
    ] + extra
    t0 = time.time()
    with open(log_path, "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    wall = time.time() - t0
    with open(log_path) as f:
        text = f.read()
    runs = _stat(text, "number_of_executed_units")
    if runs is None:  # a crash can end the run before the final stats
        m = re.findall(r"^#(\d+)\s", text, re.M)
        runs = int(m[-1]) if m else 0
    rate = _stat(text, "average_exec_per_sec")
    cov = re.findall(r"cov: (\d+)", text)
    return {
        "runs": runs,
        "exec_s": rate if rate is not None else int(runs / max(wall, 1e-9)),
        "cov": int(cov[-1]) if cov else None,
        "rc": rc,
        "log": log_path,
        "written": re.findall(r"Test unit written to (\S+)", text),
    }


def _fuzz_fallback(name, seconds, seeds):
    # No atheris: seeded random mutation of the seed corpus, same budget, same invariants.
    from fuzz import seed_corpus, targets

    fn = targets.TARGETS[name]
    rnd = random.Random(0xF022 ^ len(name))
    pool = seeds or [b""]
    crash_dir = os.path.join(CRASHES, name)
    os.makedirs(crash_dir, exist_ok=True)
    runs = 0
    written = []
    t0 = time.time()
    end = t0 + seconds
    while time.time() < end and not written:
        for _ in range(200):
            data = seed_corpus.mutate(rnd, rnd.choice(pool), pool, MAX_LEN.get(name, 4096))
            runs += 1
            try:
                fn(data)
            except Exception:
                path = os.path.join(crash_dir, "crash-" + _sha1(data))
                with open(path, "wb") as f:
                    f.write(data)
                written.append(path)
                traceback.print_exc()
                break
    wall = time.time() - t0
    return {
        "runs": runs,
        "exec_s": int(runs / max(wall, 1e-9)),
        "cov": None,
        "rc": 1 if written else 0,
        "log": "",
        "written": written,
    }


def _version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # metadata missing: the table still says which engine ran
        return "?"


def _sha1(data):
    import hashlib

    return hashlib.sha1(data).hexdigest()


def run_all(args):
    seconds = 30
    report = None
    extra = []
    it = iter(args)
    for a in it:
        if a.startswith("-max_total_time="):
            seconds = int(a.split("=", 1)[1])
        elif a == "--report":
            report = next(it)
        elif a.startswith("--report="):
            report = a.split("=", 1)[1]
        else:
            extra.append(a)
    from fuzz import seed_corpus

    atheris = _try_atheris()
    engine = "atheris %s (libFuzzer, coverage-guided)" % _version("atheris")
    if atheris is None:
        engine = "FALLBACK: seeded random mutation, NOT coverage-guided (atheris unavailable)"
    os.makedirs(LOGS, exist_ok=True)
    names = seed_corpus.targets.NAMES
    corpus = None
    rows = []
    print("engine: %s; %d s per target; %d targets" % (engine, seconds, len(names)), flush=True)
    for name in names:
        d = os.path.join(CORPUS, name)
        seeds_n = _dir_size(d)
        if not seeds_n[0]:  # nobody ran seed_corpus.py: build this target's seeds now
            corpus = corpus if corpus is not None else seed_corpus.seeds()
            seed_corpus.write(corpus, CORPUS, [name])
            seeds_n = _dir_size(d)
        before = _artifacts(os.path.join(CRASHES, name))
        if atheris is not None:
            r = _fuzz_atheris(name, seconds, extra)
        else:
            pool = []
            for e in sorted(os.listdir(d)):
                with open(os.path.join(d, e), "rb") as f:
                    pool.append(f.read())
            r = _fuzz_fallback(name, seconds, pool)
        new = sorted(_artifacts(os.path.join(CRASHES, name)) - before)
        files, octets = _dir_size(d)
        row = (name, r["runs"], r["exec_s"], seeds_n[0], files, octets, r["cov"], len(new))
        rows.append(row)
        print(
            "%-16s %10d runs %8d exec/s  corpus %4d -> %4d files %8d octets  cov %s  crashes %d"
            % (row[:6] + (row[6] if row[6] is not None else "-", row[7])),
            flush=True,
        )
        for a in new:
            print("    crash artifact: %s" % os.path.join(CRASHES, name, a))
            print(
                "    replay: python fuzz/run_atheris.py %s %s"
                % (name, os.path.join(CRASHES, name, a))
            )
        if r["rc"] and not new:
            print("    exited %d without an artifact: see %s" % (r["rc"], r["log"]))
    table = format_table(engine, seconds, rows)
    print()
    print(table)
    if report:
        with open(report, "w") as f:
            f.write(table + "\n")
    return 1 if any(r[7] for r in rows) else 0


def format_table(engine, seconds, rows):
    out = [
        "engine: %s, %d s per target, %s" % (engine, seconds, sys.version.split()[0]),
        "",
        "| target | executions | exec/s | seeds | corpus files | corpus octets | cov | crashes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs, rate, seeds, files, octets, cov, crashes in rows:
        out.append(
            "| %s | %d | %d | %d | %d | %d | %s | %d |"
            % (name, runs, rate, seeds, files, octets, "-" if cov is None else cov, crashes)
        )
    return "\n".join(out)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    name, rest = argv[0], argv[1:]
    if name == "all":
        return run_all(rest)
    if name == "list":
        from fuzz import seed_corpus

        print("\n".join(seed_corpus.targets.NAMES))
        return 0
    if name not in MAX_LEN:
        raise SystemExit("unknown target %r; python fuzz/run_atheris.py list" % name)
    return run_one(name, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
