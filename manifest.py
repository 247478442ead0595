# Freezes the hub into a custom MicroPython firmware: its bytecode then runs from flash and
# costs no RAM to load (docs/esp32.md). From a MicroPython checkout (its submodules and ESP-IDF
# set up as ports/esp32/README.md says):
#
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/commshub/manifest.py
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/commshub/manifest.py deploy PORT=/dev/ttyUSB0
#
# boot.py and main.py stay on the filesystem (MicroPython runs those files by name); copy them
# with mpremote. The simulation and test-double modules (hal/sim, hal/fake, boards/sim.py,
# boards/fake.py) are left out: the board never imports them, and device tests mount them from
# the host.
#
# manifest.py runs with its own directory as the current directory (tools/manifestfile.py).

import os

# Everything the port freezes by default (asyncio, network helpers, neopixel, ...).
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821

_SKIP = ("hal/sim", "hal/fake", "boards/sim.py", "boards/fake.py")


def _files(pkg):
    out = []
    for dirpath, _, names in os.walk(pkg):
        for n in names:
            path = (dirpath + "/" + n).replace(os.sep, "/")
            if n.endswith(".py") and not any(path.startswith(s) for s in _SKIP):
                out.append(path[len(pkg) + 1 :])
    return sorted(out)


for _pkg in ("contract", "firmware", "hal", "boards"):
    package(_pkg, files=_files(_pkg))  # noqa: F821
