"""`make bringup`'s host side (tools/bringup.py): what it makes of the board's check records
(produced here by boards/bringup.py against the register fake), of the hub's console after
a reset, and of a port with no board; the over-the-air step is in test_e2e_bridge.py."""

import subprocess
import sys

from conftest import ROOT

from boards import bringup as board_side
from boards import esp32_devkitc
from hal.fake import esp32 as fakes
from hal.fake.mrf24j40 import FakeMRF24J40
from tools import bringup


def board_output(**wired):
    chip = FakeMRF24J40(record=False)
    machine = fakes.FakeMachine(dict(esp32_devkitc.PINS, **wired), chip=chip)
    lines = []
    board_side.Checks(
        machine,
        esp32_devkitc.PINS,
        esp32_devkitc.SPI_BAUDRATE,
        out=lambda rec: lines.append(__import__("json").dumps(rec)),
        listen_ms=20,
    ).run()
    # As mpremote shows it: the records among whatever else the board printed.
    return "MicroPython v1.29.0 on 2026-01-01; ESP32 module\n" + "\n".join(lines) + "\n>>> "


def test_records_become_one_line_per_step_with_the_hint_on_failure():
    steps = bringup.board_steps(board_output(reset=22))  # RESET wired to the wrong GPIO
    names = [s["step"] for s in steps]
    assert names[:4] == ["spi", "registers", "reset_line", "rf_state"]
    text = "\n".join(bringup.describe(s) for s in steps)
    assert "ok    MRF24J40 answers on SPI" in text
    assert "FAIL  RESET line resets the chip" in text
    assert "-> the RESET pulse on GPIO 4 did not reset the chip" in text
    assert text.count("FAIL") == 2  # the reset line, and no hub in range to answer


def test_heap_after_boot_from_the_stats_event():
    console = [
        "commshub: hold BOOT now for a safe boot (REPL only)",
        '{"event": "started", "guid": "00-23-7E-00-00-12-D6-87", "channel": 11}',
        '{"event": "stats", "rx_frames": 0, "heap_used": 48000, "heap_free": 64000}',
    ]
    ok, line = bringup.heap_report(bringup.console_events(console))
    assert ok and "64000 bytes of 112000 (57% free)" in line
    ok, line = bringup.heap_report(
        bringup.console_events(['{"event": "stats", "heap_used": 90000, "heap_free": 20000}'])
    )
    assert not ok and "half of it free" in line
    ok, line = bringup.heap_report(bringup.console_events(["Traceback (most recent call last):"]))
    assert not ok and "crash.log" in line


def test_not_deployed_and_no_board_are_one_line_each(tmp_path):
    r = subprocess.CompletedProcess([], 1, "ImportError: no module named 'boards.bringup'", "")
    assert "make deploy PORT=/dev/ttyUSB0" in bringup.explain_mpremote_failure("/dev/ttyUSB0", r)
    p = subprocess.run(
        [sys.executable, "tools/bringup.py", "--port", str(tmp_path / "ttyNONE")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert "check the cable and PORT" in p.stdout
