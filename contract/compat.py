# Names that differ between MicroPython and CPython, in one place so core modules import
# them from here and run unchanged on both interpreters.

import sys

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x

    # MicroPython's compiler folds `NAME = const(value)` by the name alone (py/parse.c), with no
    # import: the project's modules do not import const, which on the board cost each of them a
    # global (51 modules, 0.4 KB frozen). CPython finds it among the builtins, put there when a
    # package of the project is first imported (each package's __init__ imports contract).
    import builtins

    builtins.const = const


try:
    import micropython
except ImportError:  # CPython: the native-code decorators leave a function as it is

    class micropython:
        @staticmethod
        def viper(f):
            return f

        native = viper
        const = const

    # The compiler takes @micropython.viper and @micropython.native by name (py/compile.c), and
    # contract.native blanks them where it compiles bytecode, so the native modules do not
    # import micropython either: a builtin on CPython, as const.
    builtins.micropython = micropython


def ptr8(x):
    # Viper's cast of a buffer to its octets. Inside a @micropython.viper function the compiler
    # takes the name itself (py/emitnative.c), so this runs only where the same source runs as
    # bytecode (contract.native) or on CPython: indexing the buffer gives the same octets there.
    # ptr16/ptr32 and uint have no such stand-in (their reads and arithmetic differ): native
    # functions use ptr8, shifts and small non-negative ints.
    return x


MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    # asyncio's millisecond sleep itself: no float, no allocation (a wrapper coroutine would
    # allocate its generator at every call).
    from asyncio import sleep_ms
else:

    async def sleep_ms(ms):
        import asyncio  # here, so that tools importing the project do not load asyncio

        await asyncio.sleep(ms / 1000)
