# A native module (contract.native) both ways, for tests that hold them to the same answers:
# as load() gives it (native code where this port has an emitter), and its source compiled as
# bytecode with the decorators blanked (None in a .mpy run: no source), with the skip for the
# latter.
import unittest

from contract import native
from contract.compat import MICROPYTHON


def both(name):
    try:
        bytecode = native.bytecode(name)
    except ImportError:  # run from .mpy files (make test-device-mpy): no source to compile
        bytecode = None
    return native.load(name), bytecode


def need_source(bytecode, name):
    if bytecode is None:
        raise unittest.SkipTest("no source of %s here (.mpy run)" % name)


def rng(seed):
    # A seeded generator on both interpreters (MicroPython's random module is the one generator).
    import random

    if MICROPYTHON:
        random.seed(seed)
        return random
    return random.Random(seed)


def mutated(rng, bases, count, reach=128):
    # (buffer, offset, length): the bases with up to 3 octets among their first `reach` changed,
    # shifted into the buffer, and lengths cut short or running past the buffer's end, as no
    # radio or head-end would give them.
    for k in range(count):
        m = bytearray(bases[k % len(bases)])
        for _ in range(rng.getrandbits(2)):
            m[rng.getrandbits(7) % min(reach, len(m))] = rng.getrandbits(8)
        off = rng.getrandbits(2)
        n = len(m) - (rng.getrandbits(6) if k % 3 == 0 else 0) + (2 if k % 5 == 0 else 0)
        yield bytearray(off) + m, off, n
