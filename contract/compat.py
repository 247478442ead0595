# Names that differ between MicroPython and CPython, in one place so core modules import
# them from here and run unchanged on both interpreters.

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


import sys

MICROPYTHON = sys.implementation.name == "micropython"
