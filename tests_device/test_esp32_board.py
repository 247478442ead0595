# The ESP32 boards and HAL (boards/esp32_*.py, hal/esp32/*) built with fake machine, network and
# neopixel modules (hal/fake/esp32.py) passed in by constructor: the same code that runs on a
# board, here on CPython and the unix port. The radio is the register-level fake MRF24J40.

import asyncio
import io
import json
import os
import sys
import unittest

from boards import esp32_c3_devkitm, esp32_common, esp32_devkitc
from hal.esp32 import clock as esp32_clock
from hal.esp32.indicators import PinIndicators
from hal.esp32.mrf24j40 import MRF24J40
from hal.esp32.wan_wifi import WifiWan
from hal.esp32.watchdog import Esp32Watchdog
from hal.fake import esp32 as fakes
from hal.fake.mrf24j40 import FakePin

TMP = fakes.scratch_dir("commshub-esp32-test")
rmtree = fakes.rmtree


def run_async(coro):
    try:
        return asyncio.run(coro)
    finally:
        asyncio.new_event_loop()


def events(out):
    return [json.loads(line) for line in out.getvalue().split("\n") if line]


class TmpDirTest(unittest.TestCase):
    def setUp(self):
        rmtree(TMP)
        os.mkdir(TMP)
        self.out = io.StringIO()
        self.log = esp32_common.EventLog(TMP + "/events.log", out=self.out)
        esp32_common.safe_boot = False

    def tearDown(self):
        rmtree(TMP)
        esp32_common.safe_boot = False
        esp32_common.reset_cause = None

    def devkitc(self, machine=None, network=None, settings=None):
        machine = machine or fakes.FakeMachine(esp32_devkitc.PINS)
        if settings is not None:
            os.mkdir(TMP + "/state")
            with open(TMP + "/state/settings", "w") as f:
                f.write(json.dumps(settings))
        board = esp32_devkitc.Board(
            machine, network or fakes.FakeNetwork(), state_dir=TMP + "/state", log=self.log
        )
        return machine, board


class ClockTest(unittest.TestCase):
    def test_ticks_are_reduced_to_the_esp32_period(self):
        c = esp32_clock.Esp32Clock(ticks_ms=lambda: (1 << 30) + 5)
        self.assertEqual(c.ticks_ms(), 5)

    def test_calendar(self):
        self.assertEqual(esp32_clock.to_datetime(1700000000), (2023, 11, 14, 1, 22, 13, 20, 0))
        self.assertEqual(esp32_clock.to_datetime(951782400)[:3], (2000, 2, 29))
        for t in (0, 951782400, 1709164800, 1700000000, 4102444799):
            self.assertEqual(esp32_clock.from_datetime(esp32_clock.to_datetime(t)), t)

    def test_rtc_keeps_wall_time_across_resets(self):
        rtc = fakes.FakeRTC()  # 2000-01-01: never set since power-up
        c = esp32_clock.Esp32Clock(rtc, ticks_ms=lambda: 0)
        self.assertFalse(c.time_is_set())
        c.set_time(1750000000)
        self.assertEqual(rtc.dt[:3], (2025, 6, 15))
        again = esp32_clock.Esp32Clock(rtc, ticks_ms=lambda: 0)  # after machine.reset()
        self.assertTrue(again.rtc_restored)
        self.assertEqual(again.time(), 1750000000)


class WatchdogTest(unittest.TestCase):
    def test_armed_only_when_allowed(self):
        seen = []
        wd = Esp32Watchdog(fakes.FakeWDT, on_start=lambda t, ok: seen.append((t, ok)))
        wd.start(500)  # below the ESP32's 1 s minimum
        wd.feed()
        wd.feed()
        self.assertEqual(seen, [(1000, True)])
        self.assertEqual(wd._wdt.feeds, 2)
        vetoed = Esp32Watchdog(fakes.FakeWDT, enabled=False)
        vetoed.start(30000)
        vetoed.feed()
        self.assertFalse(vetoed.started())


class IndicatorTest(unittest.TestCase):
    def test_leds(self):
        pins = {"power": FakePin(2, FakePin.OUT), "wan": FakePin(33, FakePin.OUT)}
        ind = PinIndicators(pins)
        self.assertEqual(pins["power"].value(), 0)
        ind.set("power", True)
        ind.set("join", True)  # no LED for it: ignored
        self.assertEqual((pins["power"].value(), pins["wan"].value()), (1, 0))
        low = PinIndicators({"wan": FakePin(1, FakePin.OUT)}, active_low=True)
        low.set("wan", True)
        self.assertEqual(low._pins["wan"].value(), 0)

    def test_c3_rgb_led(self):
        px = fakes.FakeNeoPixel(None, 1)
        ind = esp32_c3_devkitm.RgbIndicators(px)
        self.assertEqual(px[0], (0, 0, 0))
        ind.set("power", True)
        self.assertEqual(px[0], esp32_c3_devkitm._NO_WAN)
        ind.set("wan", True)
        self.assertEqual(px[0], esp32_c3_devkitm._WAN)
        ind.set("interpan", True)
        self.assertEqual(px[0], esp32_c3_devkitm._INTERPAN)


class FakeLink:
    def __init__(self, ok=True):
        self.ok = ok
        self.connects = 0
        self.sent = []
        self.inbox = [b"x"]

    async def connect(self):
        self.connects += 1
        return self.ok

    def is_connected(self):
        return self.ok and self.connects > 0

    async def send(self, msg):
        self.sent.append(msg)
        return True

    async def recv(self):
        return self.inbox.pop(0) if self.inbox else None

    async def close(self):
        self.ok = False


class WifiWanTest(unittest.TestCase):
    def test_joins_wifi_then_connects_tcp(self):
        wlan = fakes.FakeWLAN(join_after=2)
        link = FakeLink()
        wan = WifiWan(wlan, "lab", "secret", "192.0.2.1", 17760, link=link)

        async def go():
            ok = await wan.connect()
            return ok, await wan.send(b"m"), await wan.recv()

        self.assertEqual(run_async(go()), (True, True, b"x"))
        self.assertEqual(wlan.joined, [("lab", "secret")])
        self.assertTrue(wlan.active())
        self.assertTrue(wan.is_connected())
        self.assertEqual(link.sent, [b"m"])

    def test_unprovisioned_or_unreachable_wifi_is_a_failed_connect(self):
        link = FakeLink()
        no_ssid = WifiWan(fakes.FakeWLAN(), "", "", "h", 1, link=link)
        self.assertFalse(run_async(no_ssid.connect()))
        self.assertEqual(no_ssid.last_error, "no wifi.ssid set")
        away = WifiWan(fakes.FakeWLAN(join_after=None), "lab", "pw", "h", 1, 300, link=link)
        self.assertFalse(run_async(away.connect()))
        self.assertIn("timed out", away.last_error)
        self.assertFalse(away.is_connected())
        self.assertEqual(link.connects, 0)


class BoardTest(TmpDirTest):
    def test_devkitc_builds_its_hal_on_the_pin_map(self):
        machine, board = self.devkitc()
        chip = machine.chip
        self.assertIsInstance(board.radio, MRF24J40)
        self.assertEqual(machine.spi_args[0], 2)
        self.assertEqual(machine.spi_args[2]["baudrate"], 8000000)
        self.assertEqual((machine.spi_args[2]["polarity"], machine.spi_args[2]["phase"]), (0, 0))
        self.assertEqual(chip.writes()[0], ("SOFTRST", 0x07))  # the driver reset the chip
        self.assertEqual(chip.errors, 0)
        irqs = board.radio.irqs
        chip.int_pin.handler(chip.int_pin)  # the radio's own handler is attached
        self.assertEqual(board.radio.irqs, irqs + 1)
        self.assertTrue(board.watchdog.enabled)
        board.indicators.set("wan", True)
        self.assertEqual(machine.gpio[esp32_devkitc.PINS["led_wan"]].value(), 1)
        self.assertIsNone(board.wan)  # no head-end configured
        board.storage.write("r", b"1")
        self.assertEqual(board.storage.read("r"), b"1")
        board.events.emit("hello", n=1)
        self.assertEqual(events(self.out)[-1]["event"], "hello")
        with open(TMP + "/events.log") as f:
            self.assertIn('"hello"', f.read())

    def test_wdt_jumper_vetoes_the_watchdog(self):
        machine = fakes.FakeMachine(esp32_devkitc.PINS)
        machine.Pin(esp32_devkitc.PINS["wdt_off"]).drive(0)
        machine, board = self.devkitc(machine)
        self.assertFalse(board.watchdog.enabled)
        board.watchdog.start(30000)
        self.assertEqual(fakes.FakeWDT.instances, [])
        self.assertEqual(events(self.out)[-1]["state"], "vetoed")

    def test_wan_from_settings(self):
        net = fakes.FakeNetwork()
        cfg = {"wifi.ssid": "lab", "wifi.password": "pw", "wan.headend": "192.0.2.1:17760"}
        machine, board = self.devkitc(network=net, settings=cfg)
        self.assertIsInstance(board.wan, WifiWan)
        self.assertEqual((board.wan.host, board.wan.port), ("192.0.2.1", 17760))
        self.assertIs(board.wan._wlan, net.wlan)

    def test_c3_board_other_pins(self):
        machine = fakes.FakeMachine(esp32_c3_devkitm.PINS)
        board = esp32_c3_devkitm.Board(
            machine,
            fakes.FakeNetwork(),
            neopixel=fakes.FakeNeoPixelModule(),
            state_dir=TMP + "/state",
            log=self.log,
        )
        self.assertEqual(machine.spi_args[0], 1)
        self.assertEqual(machine.chip.errors, 0)
        board.indicators.set("power", True)
        self.assertEqual(board.indicators._np[0], esp32_c3_devkitm._NO_WAN)


class BootTest(TmpDirTest):
    def test_power_on_with_button_held_is_a_safe_boot(self):
        machine = fakes.FakeMachine(cause=fakes.FakeMachine.PWRON_RESET)
        machine.Pin(0).drive(0)
        path = TMP + "/reset_cause.json"
        self.assertTrue(esp32_common.boot(machine, 0, path=path, sleep_ms=lambda ms: None))
        self.assertTrue(esp32_common.safe_boot)
        with open(path) as f:
            rec = json.loads(f.read())
        self.assertEqual((rec["cause"], rec["boots"]), ("power-on", 1))
        self.assertIsNone(esp32_common.run(lambda: 1 / 0, machine))  # starts nothing

    def test_soft_reset_skips_the_window(self):
        machine = fakes.FakeMachine(cause=fakes.FakeMachine.SOFT_RESET)
        machine.Pin(0).drive(0)
        path = TMP + "/reset_cause.json"
        esp32_common.boot(machine, 0, path=path, sleep_ms=lambda ms: None)
        self.assertFalse(esp32_common.boot(machine, 0, path=path, sleep_ms=lambda ms: None))
        with open(path) as f:
            self.assertEqual(json.loads(f.read())["boots"], 2)
        self.assertEqual(esp32_common.reset_cause, "soft")

    def test_crash_is_logged_to_flash_then_reset(self):
        machine = fakes.FakeMachine(esp32_devkitc.PINS)
        crash = TMP + "/crash.log"

        def broken():
            raise OSError("MRF24J40 not answering on SPI")

        esp32_common.run(broken, machine, crash_path=crash, delay_ms=0)
        self.assertEqual(machine.resets, 1)
        self.assertIn("not answering", esp32_common.last_crash(crash))

    def test_overrides(self):
        self.assertEqual(
            esp32_common.overrides(["--set", "a=1", "x", "--set", "b=2"]), ["a=1", "b=2"]
        )


class BridgeModeTest(TmpDirTest):
    def test_bridge_file_selects_the_mode(self):
        flag = TMP + "/bridge"
        self.assertFalse(esp32_common.bridge_mode(flag))
        with open(flag, "w"):
            pass
        self.assertTrue(esp32_common.bridge_mode(flag))

    @unittest.skipUnless(sys.implementation.name == "micropython", "the board's asyncio streams")
    def test_bridge_mode_serves_the_link_instead_of_the_hub(self):
        # The serial input at its end at once: the bridge says INFO and returns; no hub event.
        flag = TMP + "/bridge"
        with open(flag, "w"):
            pass
        machine = fakes.FakeMachine(esp32_devkitc.PINS)
        out = Sink()
        boards = []

        def make():
            boards.append(self.devkitc(machine)[1])
            return boards[-1]

        with open("/dev/null", "rb") as inp:
            esp32_common.run(make, machine, bridge_path=flag, streams=(inp, out))
        self.assertEqual(machine.resets, 0)
        self.assertEqual(self.out.getvalue(), "")  # no boot event: the line is the link's
        self.assertEqual(out.data[:2], b"\x7eI")  # the bridge announced itself (INFO)
        self.assertTrue(boards[0].radio.on_tx is not None)
        boards[0].radio.close()


class Sink:
    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += bytes(b)
