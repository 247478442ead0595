"""Every parser that sees radio or WAN bytes, under hypothesis on CPython and, through the same
fuzz/targets.py functions, on the MicroPython unix port with the ESP32-sized heap.

The targets check the contract themselves (no exception on junk, a reason code in range,
offsets inside the buffer, exactly one count or one transmission per frame, nothing executed
without authentication); these tests only feed them. docs/fuzzing.md has the atheris side.
"""

import json
import os
import random
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import wan_msg
from firmware import cmd_ber as ber
from fuzz import run_atheris, seed_corpus, targets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = seed_corpus.seeds()
HEAP = "110wK"
HEAP_GROWTH_MAX = 512  # octets kept across thousands of inputs: none expected, some slack
MP_INPUTS_PER_TARGET = 200

_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_every_target_has_seeds_and_a_length_limit():
    assert set(run_atheris.MAX_LEN) == set(targets.NAMES)
    for name in targets.NAMES:
        assert SEEDS[name], name
        for data in SEEDS[name]:
            targets.TARGETS[name](data)  # the seeds themselves pass the invariants


@pytest.mark.parametrize("name", targets.NAMES)
@_SETTINGS
@given(data=st.data())
def test_junk(name, data):
    # Arbitrary octets, up to the longest input the target can meet.
    size = run_atheris.MAX_LEN[name]
    targets.TARGETS[name](data.draw(st.binary(max_size=size), label="input"))


def _mutations(name):
    # A seed frame with octets overwritten, a run inserted, and a cut: near-valid inputs that
    # get past the first checks, where random octets rarely do.
    return st.tuples(
        st.sampled_from(SEEDS[name]),
        st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=6),
        st.tuples(st.integers(0, 300), st.binary(max_size=6)),
        st.integers(0, 4096),
    )


def _apply(seed, writes, insert, cut):
    b = bytearray(seed)
    for i, v in writes:
        if i < len(b):
            b[i] = v
    at, run = insert
    b[at:at] = run
    return bytes(b[:cut])


@pytest.mark.parametrize("name", targets.NAMES)
@_SETTINGS
@given(data=st.data())
def test_mutated_seeds(name, data):
    seed, writes, insert, cut = data.draw(_mutations(name), label="mutation")
    targets.TARGETS[name](_apply(seed, writes, insert, cut))


def test_authenticated_commands_past_the_seeds():
    # Structure-aware: signed with a provisioned key, so execution itself is what is fuzzed.
    @settings(max_examples=300, deadline=None)
    @given(
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
        st.lists(st.binary(max_size=12), max_size=4),
        st.booleans(),
    )
    def run(who, code, lo, recip, fields, raw):
        content = b"".join(fields) if raw else ber.sequence(*fields)
        targets.fuzz_commands_signed(bytes((who, code, lo, recip)) + content)

    run()


def test_decode_json_deep_nesting_is_junk_not_a_crash():
    # Found by this fuzzing: CPython's RecursionError escaped decode_json (the head-end tool
    # decodes with it); MicroPython already returned None.
    msg = bytes((wan_msg.JSON,)) + b"[" * 2000
    assert wan_msg.decode_json(msg) is None


# --- the same inputs on the MicroPython unix port -----------------------------------------------
# One interpreter per target, as tools/run_tests.py runs the device suite. The parser targets run
# with the ESP32-sized heap. The hub-level ones (nwk reads with firmware.han, which imports the
# hub) carry the whole firmware compiled from source, plus this harness and a fresh hub per
# input, and need HUB_HEAP: compiling the harness alone takes tens of kilobytes the board never
# spends. What they measure (no exception, no heap growth) does not depend on the heap's size.
HUB_HEAP = "176wK"  # (160wK until the execution log read its record: more code to compile)
# wan_app builds the whole app (every firmware module, compiled from source) once per process.
APP_HEAP = "300wK"  # (256wK before the HAN had its security: ~21 KB more from source)


def _micropython():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else shutil.which("micropython")


def _generate(path, per_target, seed=1234):
    # Every seed, then a seeded random mutation of them: the same file on every run. Each
    # target's inputs are also written to path.NAME, so that an interpreter replaying one
    # target reads only its lines (a line of another's long inputs costs heap for nothing).
    rnd = random.Random(seed)
    n = 0
    with open(path, "w") as f:
        for name in targets.NAMES:
            pool = SEEDS[name]
            inputs = list(pool[:per_target])
            while len(inputs) < per_target:
                limit = run_atheris.MAX_LEN[name]
                inputs.append(seed_corpus.mutate(rnd, rnd.choice(pool), pool, limit))
            with open(path + "." + name, "w") as g:
                for data in inputs:
                    line = "%s %s\n" % (name, data.hex())
                    f.write(line)
                    g.write(line)
                    n += 1
    return n


def _replay(cmd, path, extra=(), env=None):
    out = subprocess.run(
        cmd + [os.path.join(ROOT, "fuzz", "mp_replay.py"), path] + list(extra),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, "no result (exit %d): %s %s" % (out.returncode, out.stdout, out.stderr)
    return json.loads(lines[-1][len("RESULT ") :])


def test_micropython_replay(tmp_path):
    mp = _micropython()
    if mp is None:
        pytest.skip("no micropython binary next to %s or on PATH" % sys.executable)
    path = str(tmp_path / "inputs.txt")
    n = _generate(path, MP_INPUTS_PER_TARGET)
    env = dict(os.environ, MICROPYPATH=".frozen:" + ROOT)
    cp = _replay([sys.executable], path, ["--long"])  # CPython: the reference verdicts
    assert cp["errors_total"] == 0, cp["errors"]
    assert cp["count"] == n
    total = 0
    for name in targets.NAMES:
        hub_level = name in targets._HUB_TARGETS
        heap = APP_HEAP if name == "wan_app" else HUB_HEAP if hub_level else HEAP
        extra = ["--target", name] + (["--long"] if name == "hub" else [])
        res = _replay([mp, "-X", "heapsize=" + heap], path + "." + name, extra, env)
        print(
            "micropython %-16s heap %-5s %4d inputs, heap %d -> %d (growth %d)%s"
            % (
                name,
                heap,
                res["count"],
                res["heap_before"],
                res["heap_after"],
                res["heap_growth"],
                ", long run %s" % res["long_heap"] if "long_heap" in res else "",
            )
        )
        assert res["errors_total"] == 0, (name, res["errors"])
        assert "long_error" not in res, res.get("long_error")
        # Bounded memory: nothing kept between inputs; and (--long) one hub fed every frame
        # twice over is no bigger after the second pass than after the first.
        assert res["heap_growth"] < HEAP_GROWTH_MAX, name
        if "long_growth" in res:
            assert res["long_growth"] < HEAP_GROWTH_MAX
        # Bit for bit: the same verdicts as CPython, input for input.
        assert res["targets"] == {name: cp["targets"][name]}, name
        total += res["count"]
    assert total == n
