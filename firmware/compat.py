# Names that differ between MicroPython and CPython, in one place so core modules import
# them from here and run unchanged on both interpreters.

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    import micropython

    MICROPYTHON = True
    viper = micropython.viper
except (ImportError, AttributeError):  # CPython, or a port built without the native emitter
    MICROPYTHON = False

    def viper(f):
        return f
