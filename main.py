# MicroPython runs boot.py, then main.py. The board module builds the HAL and starts the app;
# on the unix port that is the simulated board (command-line options as boards/sim.py lists).
import sys


def run():
    if sys.platform == "linux":
        from boards import sim as board
    else:
        from boards import esp32_devkitc as board  # the ESP32 board module (docs/esp32.md)
    board.main(sys.argv[1:])


run()
