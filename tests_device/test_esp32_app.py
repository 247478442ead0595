# The whole hub on the ESP32 board module: firmware.app.App over boards/esp32_devkitc.py, with
# fake machine/network modules and the register-level fake MRF24J40. A module of its own so it
# starts on a fresh heap. On MicroPython it runs from .mpy files (make test's second device
# pass), as the firmware does on a board: compiling the whole app from source costs more heap
# than the 110 KB the ESP32 gives, which says nothing about the frozen firmware.

import asyncio
import gc
import io
import json
import os
import sys
import unittest

from firmware.app import App
from hal.fake import esp32 as fakes

TMP = fakes.scratch_dir("commshub-esp32-app-test")
rmtree = fakes.rmtree


FROM_SOURCE_ON_MICROPYTHON = sys.implementation.name == "micropython" and __file__.endswith(".py")


class AppOnEsp32BoardTest(unittest.TestCase):
    def setUp(self):
        rmtree(TMP)
        os.mkdir(TMP)

    def tearDown(self):
        rmtree(TMP)

    @unittest.skipIf(FROM_SOURCE_ON_MICROPYTHON, "runs from .mpy on MicroPython (make test)")
    def test_beacon_request_answered_through_the_chip(self):
        gc.collect()
        from boards import esp32_common, esp32_devkitc

        gc.collect()
        from tests_device import vectors

        out = io.StringIO()
        machine = fakes.FakeMachine(esp32_devkitc.PINS)
        board = esp32_devkitc.Board(
            machine,
            fakes.FakeNetwork(),
            state_dir=TMP + "/state",
            log=esp32_common.EventLog(TMP + "/events.log", out=out),
        )
        chip = machine.chip
        app = App(board, ("radio.pan_id=0x1A2B",))

        async def go():
            asyncio.create_task(app.main())
            await asyncio.sleep(0.05)
            chip.inject(vectors.BEACON_REQUEST)
            for _ in range(100):
                if chip.sent:
                    break
                await asyncio.sleep(0.01)

        try:
            asyncio.run(go())
        finally:
            # MicroPython's loop is one class: it keeps App.main's exception handler, a bound
            # method that would keep the whole app alive for the next test module.
            asyncio.new_event_loop().set_exception_handler(None)
            board.radio.close()
        self.assertEqual(chip.pan_id(), 0x1A2B)
        self.assertEqual(chip.ext_addr(), vectors.h("00237E000012D687"))
        self.assertEqual(len(chip.sent), 1)
        hdr_len, mpdu, ack_req = chip.sent[0]
        self.assertEqual((mpdu[0] & 7, hdr_len, ack_req), (0, 7, False))  # a beacon, no AR
        names = [json.loads(line)["event"] for line in out.getvalue().split("\n") if line]
        self.assertIn("started", names)
        self.assertIn("beacon_tx", names)
