"""The native-code architecture of a MicroPython binary, for mpy-cross's -march.

    python tools/march.py BINARY          prints -march=NAME, or nothing where BINARY has no
                                          native emitter (its .mpy files are then bytecode)
    python tools/march.py --strip FILE    prints FILE with its native-code decorators blanked
                                          (contract.native.strip: the bytecode of such a port)

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

NATIVE = re.compile(r"^\s*@micropython\.(viper|native)\s*$", re.M)


def arch(binary):
    # The architecture name BINARY runs native code for (sys.implementation._mpy), or None.
    code = "import sys; print(getattr(sys.implementation, '_mpy', 0) >> 10 & 15)"
    p = subprocess.run([binary, "-c", code], capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip().isdigit():
        sys.exit("%s does not run as a MicroPython: %s" % (binary, p.stderr.strip()[-200:]))
    return ARCHS[int(p.stdout)] if int(p.stdout) < len(ARCHS) else None


def has_native(path):
    with open(path) as f:
        return NATIVE.search(f.read()) is not None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--strip":
        with open(sys.argv[2]) as f:
            sys.stdout.write(strip(f.read()))
    elif len(sys.argv) == 2:
        a = arch(sys.argv[1])
        print("-march=" + a if a else "")
    else:
        sys.exit("usage: python tools/march.py BINARY | --strip FILE")


if __name__ == "__main__":
    main()
