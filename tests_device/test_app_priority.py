# The shell's receive batch: inter-PAN work waits until the batch's other frames (HAN traffic,
# beacon requests) have been served, and the batch neither copies nor allocates for it.
import gc
import sys
import unittest

from boards.fake import FakeBoard
from firmware import mac
from firmware import zb_interpan as interpan_frame
from firmware.app import App
from hal.fake.clock import ManualClock
from hal.fake.medium import FakeRadio
from tests_device import interpan_frames as ipf
from tests_device import vectors
from tests_device.han_frames import CAP_ESME, ESME_EUI, assoc_request, data_request

MICROPYTHON = sys.implementation.name == "micropython"


class ReplayRadio(FakeRadio):
    # Delivers a fixed list of PSDUs by index: no list mutation, so nothing the radio does
    # shows in a gc.mem_alloc() delta.
    def __init__(self, psdus):
        FakeRadio.__init__(self)
        self.psdus = psdus
        self.i = 0

    def recv(self, frame):
        if self.i >= len(self.psdus):
            return False
        p = self.psdus[self.i]
        self.i += 1
        buf = frame.buf
        for j in range(len(p)):
            buf[j] = p[j]
        frame.off = 0
        frame.n = len(p)
        frame.crc_ok = True
        return True

    def send(self, buf, n):
        return True


def make_app(*overrides):
    b = FakeBoard()
    app = App(
        b,
        (
            "hub.eui64=00-23-7E-00-00-12-D6-87",
            "radio.pan_id=0x1A2B",
            "han.devices=00-23-7E-00-00-00-00-01:esme",
        )
        + overrides,
    )
    app.hub.power_up(0)
    app.han.start(0)
    return b, app


def kind(psdu):
    f = mac.MacFrame()
    mac.parse(psdu, 0, len(psdu), f)
    if f.ftype == mac.BEACON:
        return "beacon"
    if f.ftype == mac.COMMAND:
        return "mac_command"  # the association response
    return "interpan" if interpan_frame.is_interpan(psdu, f) else "other"


class PriorityTest(unittest.TestCase):
    def test_inter_pan_answers_come_after_the_batch_s_other_frames(self):
        b, app = make_app()
        for psdu in (
            ipf.get_details(seq=1),
            ipf.get_details(seq=2),
            assoc_request(ESME_EUI, CAP_ESME),
            vectors.BEACON_REQUEST,
            ipf.get_details(seq=3),
        ):
            b.radio.inject(psdu)
        self.assertEqual(app.receive_batch(), 5)
        # The association response and the beacon in arrival order; inter-PAN after both.
        self.assertEqual(
            [kind(p) for p in b.radio.sent],
            ["mac_command", "beacon", "interpan", "interpan", "interpan"],
        )

    def test_a_full_batch_parks_at_most_its_size(self):
        b, app = make_app("discovery.burst=16")  # every request answered: the batch is measured
        for i in range(12):
            b.radio.inject(ipf.get_details(seq=i))
        self.assertEqual(app.receive_batch(), 8)  # then the task yields to the others
        self.assertEqual(len(b.radio.sent), 8)
        self.assertEqual(app.receive_batch(), 4)
        # The radio's receive count is the one of record (the hub keeps none of its own).
        self.assertEqual(app.status()["rx_frames"], 12)

    @unittest.skipUnless(MICROPYTHON, "gc.mem_alloc is MicroPython's")
    def test_parking_allocates_nothing(self):
        b, app = make_app()
        app.hub.interpan.off(0)  # dropped frames: the batch's own cost is what is measured
        psdu = ipf.get_details()
        radio = app.radio = ReplayRadio([psdu] * 4 + [vectors.COORD_REALIGN] * 4)
        app.receive_batch()
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(50):
                radio.i = 0
                app.receive_batch()  # 4 parked inter-PAN frames, 4 others
            grew = gc.mem_alloc() - before
        finally:
            gc.enable()
        self.assertEqual(grew, 0)


class IndicatorTest(unittest.TestCase):
    # The inter-PAN and join LEDs follow the flag and the permit bit, as the shell drains the
    # core's notes.
    def test_interpan_and_join_leds(self):
        b, app = make_app()
        ind = b.indicators
        app.drain()
        self.assertIs(ind.state.get("interpan"), True)  # open from power-up
        ind.set("join", app.hub.joining.permit_join)  # as App.main sets it at start
        self.assertIs(ind.state.get("join"), True)  # the log's ESME has not joined yet
        app.handle(vectors.load(app.frame, assoc_request(ESME_EUI, CAP_ESME)))
        app.drain()
        self.assertIs(ind.state.get("join"), False)  # everyone in the log has joined
        app.hub.interpan.off(1000)
        app.drain()
        self.assertIs(ind.state.get("interpan"), False)
        app.hub.interpan.trusted_enable(2000)
        app.drain()
        self.assertIs(ind.state.get("interpan"), True)


class RejectReportTest(unittest.TestCase):
    # Drops are summarised one line per reason, the HAN's first reason (not a member) included.
    def test_han_and_hub_drops_reported(self):
        lines = []
        b = FakeBoard(sink=lines.append)
        app = App(b, ("hub.eui64=00-23-7E-00-00-12-D6-87", "radio.pan_id=0x1A2B"))
        app.hub.power_up(0)
        app.han.start(0)
        app.handle(vectors.load(app.frame, data_request(0x7FF0)))  # a stranger's poll
        app.handle(vectors.load(app.frame, vectors.BEACON_REQUEST, crc_ok=False))
        app.report_rejects()
        got = [ln for ln in lines if '"frame_rejected"' in ln]
        self.assertEqual(len(got), 2, got)
        self.assertTrue('"bad_fcs"' in got[0] and '"han_not_member"' in got[1], got)


class MainTest(unittest.TestCase):
    # App.main runs its tasks for the hub's life, and the first to fail ends it, whichever it is
    # (the board then logs the crash and resets: boards/esp32_common.run). On MicroPython a task
    # main does not await reports through the loop's handler: a "fatal" line, then SystemExit.
    def run_failing(self, task):
        import asyncio

        class Clock(ManualClock):  # sleeps in real time, as a board's (ManualClock never waits)
            async def sleep_ms(self, ms):
                await asyncio.sleep(ms / 1000)

        lines = []
        b = FakeBoard(clock=Clock(), sink=lines.append)
        app = App(b, ("hub.eui64=00-23-7E-00-00-12-D6-87", "radio.pan_id=0x1A2B"))

        async def fail():
            await asyncio.sleep(0.01)
            raise ValueError(task)

        setattr(app, task, fail)
        try:
            asyncio.run(asyncio.wait_for(app.main(), 5))  # never ending is a failure too
        except BaseException as e:  # noqa: B036  (SystemExit is what ends the app)
            return e, lines
        finally:
            # MicroPython's loop is one class: it would keep App.main's handler (test_esp32_app)
            asyncio.new_event_loop().set_exception_handler(None)
        return None, lines

    def test_the_receive_task_failing_ends_main(self):
        e, _ = self.run_failing("_receive")
        self.assertIsInstance(e, ValueError)

    def test_another_task_failing_ends_main(self):
        for task in ("_timers", "_housekeeping"):
            e, lines = self.run_failing(task)
            if MICROPYTHON:
                self.assertIsInstance(e, SystemExit)
                self.assertTrue(any('"fatal"' in ln and task in ln for ln in lines), lines)
            else:  # CPython: asyncio.gather hands main the task's exception
                self.assertIsInstance(e, ValueError)
