# Runs before main.py on a board (the unix port never runs it). Records the reset cause and
# offers a safe boot: hold the BOOT button just after a power-on or reset and main.py starts
# nothing, leaving the REPL to mpremote (boards/esp32_common.py, docs/esp32.md). Never raises:
# an exception here would also stop main.py from running.
try:
    from boards import esp32_common

    esp32_common.boot()
except Exception as e:
    import sys

    sys.print_exception(e)
