# `make bringup`'s checks (boards/bringup.py) on the DevKitC pin map, against the register
# fake wired as a healthy board and as the boards an engineer meets: a chip that is not
# selected, RESET or INT not connected, a PLL that never locks, a busy channel. Each must fail
# its own step, with a hint naming the likely cause, and leave the others alone.

import unittest

from boards import bringup, esp32_devkitc
from contract.crc16 import append_fcs
from hal.fake import esp32 as fakes
from hal.fake.mrf24j40 import FakeMRF24J40

PINS = esp32_devkitc.PINS


def beacon(pan=0x1A2B):
    # A beacon from a coordinator: superframe 0xCFFF, no GTS, no pending addresses.
    b = bytearray(b"\x00\x80\x05" + bytes((pan & 0xFF, pan >> 8)) + b"\x00\x00\xff\xcf\x00\x00")
    b += b"\x00\x00"
    append_fcs(b, len(b) - 2)
    return bytes(b)


def checks(wired=None, coordinator=False, **knobs):
    # wired: the GPIOs the fake chip's pins are really on (a miswired board differs from PINS).
    chip = FakeMRF24J40(record=False)
    for k in knobs:
        setattr(chip, k, knobs[k])
    machine = fakes.FakeMachine(dict(PINS, **(wired or {})), chip=chip)
    if coordinator:

        def answer(buf, off, n):
            if n == 8 and buf[off + 7] == 0x07:  # a beacon request: a hub in range answers
                chip.inject(beacon())

        chip.on_transmit = answer
    out = []
    c = bringup.Checks(machine, PINS, esp32_devkitc.SPI_BAUDRATE, out=out.append, listen_ms=30)
    failed = c.run()
    steps = {}
    for r in out:
        steps[r["step"]] = r
    return failed, steps, chip, [r["step"] for r in out if not r["ok"]]


class BringupTest(unittest.TestCase):
    def test_healthy_board_with_a_hub_in_range(self):
        failed, steps, chip, bad = checks(coordinator=True)
        self.assertEqual(failed, 0, steps)
        for name in ("spi", "registers", "reset_line", "rf_state", "rssi", "transmit"):
            self.assertTrue(steps[name]["ok"], name)
        self.assertTrue(steps["int_line"]["ok"])
        self.assertEqual(steps["beacon_reply"]["beacons"][0]["pan_id"], "0x1A2B")
        self.assertEqual(steps["rf_state"]["rfstate"], "0xA0")
        self.assertEqual(steps["rssi"]["dbm"], -90)  # the fake's quiet channel: raw 0
        self.assertTrue("free" in steps["heap"])
        self.assertEqual(chip.errors, 0)

    def test_alone_on_the_channel_only_the_reply_is_missing(self):
        failed, steps, _, bad = checks()
        self.assertEqual(bad, ["beacon_reply"])
        self.assertEqual(failed, 1)
        self.assertFalse(steps["beacon_reply"]["ok"])
        self.assertTrue("no hub" in steps["beacon_reply"]["hint"])

    def test_chip_not_selected(self):
        failed, steps, _, bad = checks(wired={"cs": 21})  # CS goes to GPIO 21, not 5
        self.assertFalse(steps["spi"]["ok"])
        self.assertTrue("0xFF" in steps["spi"]["hint"] and "GPIO 5" in steps["spi"]["hint"])
        self.assertEqual(sorted(steps), ["heap", "spi"])  # nothing else is tried

    def test_reset_not_wired(self):
        failed, steps, _, bad = checks(wired={"reset": 22})
        self.assertEqual(bad, ["reset_line", "beacon_reply"])
        self.assertTrue("GPIO 4" in steps["reset_line"]["hint"])

    def test_int_not_wired(self):
        failed, steps, _, bad = checks(wired={"int": 23}, coordinator=True)
        self.assertEqual(bad, ["int_line"])
        self.assertTrue("GPIO 27" in steps["int_line"]["hint"])

    def test_pll_never_locks(self):
        failed, steps, _, bad = checks(rf_stuck=True)
        self.assertFalse(steps["rf_state"]["ok"])
        self.assertTrue("crystal" in steps["rf_state"]["hint"])

    def test_busy_channel(self):
        failed, steps, _, bad = checks(tx_outcome=FakeMRF24J40.TX_CCA_FAIL, energy=230)
        self.assertFalse(steps["transmit"]["ok"])
        self.assertEqual(steps["transmit"]["status"], "cca_fail")
        self.assertTrue("busy" in steps["transmit"]["hint"])
        self.assertTrue(steps["rssi"]["dbm"] > -60 and "note" in steps["rssi"])
