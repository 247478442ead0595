# Names that differ between MicroPython and CPython, in one place so core modules import
# them from here and run unchanged on both interpreters.

import sys

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    import micropython
except ImportError:  # CPython: the native-code decorators leave a function as it is

    class micropython:
        @staticmethod
        def viper(f):
            return f

        native = viper
        const = const


def ptr8(x):
    # Viper's cast of a buffer to its octets. Inside a @micropython.viper function the compiler
    # takes the name itself (py/emitnative.c), so this runs only where the same source runs as
    # bytecode (contract.native) or on CPython: indexing the buffer gives the same octets there.
    # ptr16/ptr32 and uint have no such stand-in (their reads and arithmetic differ): native
    # functions use ptr8, shifts and small non-negative ints.
    return x


MICROPYTHON = sys.implementation.name == "micropython"
