# Native code where the port compiles it, the same source as bytecode where it cannot.
#
# Hot octet-level functions carry @micropython.viper (or @micropython.native) and live in a
# module that users get with load(), never with a plain import. Where the port has a native
# emitter (the unix port on x64 or x86, the ESP32's xtensawin, the C3's rv32imc) the module is
# imported as it is: its functions run as machine code and keep their state on the C stack,
# whatever its size. A port without one (the unix port on arm64) refuses such a module when it
# compiles it (SyntaxError: invalid micropython decorator), and any port refuses a .mpy holding
# native code for another architecture (ValueError: incompatible .mpy arch); load() then
# compiles the module's source with the decorators blanked, so the same functions run as
# bytecode. On CPython contract.compat makes the decorators and viper's ptr8() no-ops.
#
# A native module's functions must give the same answers both ways: ptr8 reads are not bounds
# checked, so each function checks its offsets against the length it is given before reading,
# and keeps its ints small and non-negative.

import sys

_DECORATORS = ("@micropython.viper", "@micropython.native")
_loaded = {}


def strip(src):
    # The source with its native-code decorators blanked (line numbers kept for tracebacks).
    out = src.split("\n")
    for i in range(len(out)):
        if out[i].strip() in _DECORATORS:
            out[i] = ""
    return "\n".join(out)


def load(name, importer=__import__, loaded=_loaded):
    # The module `name` ("package.module"), native where the port allows it, else bytecode.
    m = loaded.get(name)
    if m is None:
        try:
            importer(name)
            m = sys.modules[name]
        except (SyntaxError, ValueError):
            m = bytecode(name)
        loaded[name] = m
    return m


def bytecode(name):
    # The module's source compiled with its native decorators blanked, as a namespace whose
    # attributes are its globals. Needs the source next to the package (it is on the hosts that
    # lack an emitter; a board's .mpy build is compiled for its architecture).
    pkg, _, mod = name.rpartition(".")
    __import__(pkg)
    d = sys.modules[pkg].__file__.rpartition("/")[0]
    path = (d + "/" if d else "") + mod + ".py"
    try:
        with open(path) as f:
            src = f.read()
    except OSError:
        why = "%s: native code this port cannot run, and no %s" % (name, path)
        raise ImportError(why) from None
    g = {"__name__": name, "__file__": path}
    exec(compile(strip(src), path, "exec"), g)
    return type(mod, (), g)
