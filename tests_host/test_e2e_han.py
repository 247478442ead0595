"""End to end with real processes: the ZEP medium (tools/medium.py), the ESME and GSME
simulators (tools/meter.py) and the hub.

Two ways to run the hub:
  * `CoreHub` below: the hub's functional core (firmware.core.Core, with the HAN) driven in
    this process on a ZepRadio, a few lines of wiring standing in for firmware/app.py;
  * the real lab command line (micropython -m boards.sim, tools.procs.hub_command), which needs
    the shell to build a Han and emit the hub's notes as events; those tests are skipped until
    the settings the HAN reads exist (firmware.settings.known("han.devices")).
"""

import json
import os
import sys
import threading
import time

import pytest
from conftest import free_udp_port

from contract.frame import RxFrame
from firmware import han as hanmod
from firmware import han_reject, han_send
from firmware import settings as settingsmod
from firmware import zb_zcl as zcl
from firmware.core import Core
from firmware.decision import TRANSMIT
from firmware.settings import Settings
from hal.file_storage import FileStorage
from hal.sim.clock import FastClock
from hal.sim.radio_zep import ZepRadio
from tools import procs

HUB_GUID = "00-23-7E-00-00-12-D6-87"
ESME = "00-23-7E-00-00-00-00-01"
GSME = "00-23-7E-00-00-00-00-02"
# With their install codes, as tools/demo/lab.json has them (the meters read theirs from it).
ESME_CODE = "45534D452D4C41422D494E5354414C4C97E4"
GSME_CODE = "47534D452D4C41422D494E5354414C4CA6F0"
DEVICES = "%s:esme:%s,%s:gsme:%s" % (ESME, ESME_CODE, GSME, GSME_CODE)


class CoreHub:
    """Hub + Han on a ZepRadio in a thread; notes become self.events (dicts)."""

    def __init__(self, port, state, devices=DEVICES):
        self.settings = Settings(None, ("hub.eui64=" + HUB_GUID,))
        self.storage = FileStorage(state)
        core = Core(self.settings, self.storage, han=True)
        self.hub = core.hub
        self.out = core.out
        hanmod.provision(self.hub.device_log, devices)
        self.han = core.han
        self.clock = FastClock(1)
        self.radio = ZepRadio(medium_port=port)
        self.radio.configure(self.hub.channel, self.hub.pan_id, 0x0000, self.hub.eui)
        self.events = []
        self.lock = threading.RLock()
        self._stop = False
        self.han.start(self.clock.ticks_ms())
        self._drain()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _drain(self):
        notes = self.out.notes
        while notes:
            event, fields = notes.pop(0)
            self.events.append(dict(fields, event=event))

    def _run(self):
        frame = RxFrame(self.radio.HEADROOM)
        hub = self.hub
        radio = self.radio
        next_tick = 0.0
        while not self._stop:
            with self.lock:
                now = self.clock.ticks_ms()
                while radio.recv(frame):
                    if hub.on_frame(frame, now) == TRANSMIT:
                        radio.send(self.out.tx_buf, self.out.tx_len)
                n = self.out.radio.pop()
                while n:
                    radio.send(self.out.radio.buf, n)
                    n = self.out.radio.pop()
                if time.monotonic() >= next_tick:
                    radio.hello()
                    self.han.tick(now)
                    next_tick = time.monotonic() + 1.0
                self._drain()
            time.sleep(0.001)

    def send(self, eui, cluster, zcl, origin):
        with self.lock:
            return self.han.send_to_device(eui, cluster, zcl, origin, self.clock.ticks_ms())

    def find(self, event, start=0, **match):
        with self.lock:
            for e in self.events[start:]:
                if e["event"] == event and all(e.get(k) == v for k, v in match.items()):
                    return e
        return None

    def wait_for(self, event, timeout=10.0, start=0, **match):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.find(event, start, **match)
            if e is not None:
                return e
            time.sleep(0.02)
        return None

    def stop(self):
        self._stop = True
        self.thread.join(5)
        self.radio.close()


def meter(port, kind, eui, state, *extra):
    cmd = [
        sys.executable,
        "tools/meter.py",
        "--kind",
        kind,
        "--eui",
        eui,
        "--medium",
        "127.0.0.1:%d" % port,
        "--channels",
        "11",
        "--state",
        state,
        "--report-s",
        "1",
    ] + list(extra)
    return procs.Proc(kind, cmd, echo=False)


def events(proc, name=None):
    out = []
    for line in proc.lines:
        if line.startswith("{"):
            e = json.loads(line)
            if name is None or e["event"] == name:
                out.append(e)
    return out


@pytest.fixture
def medium():
    port = free_udp_port()
    m = procs.Proc("medium", [sys.executable, "tools/medium.py", "--port", str(port)], echo=False)
    assert m.wait_for('"started"') is not None
    yield port
    m.stop()


def test_meters_join_and_stay_members_across_restarts(medium, tmp_path):
    port = medium
    state = str(tmp_path / "hub")
    hub = CoreHub(port, state)
    esme = meter(port, "esme", ESME, str(tmp_path / "esme"))
    gsme = meter(port, "gsme", GSME, str(tmp_path / "gsme"), "--poll-s", "0.5")
    try:
        assert esme.wait_for('"joined"', timeout=15) is not None, esme.lines
        assert gsme.wait_for('"joined"', timeout=15) is not None, gsme.lines
        e_short = events(esme, "joined")[0]["short"]
        g_short = events(gsme, "joined")[0]["short"]
        assert e_short != g_short
        joined = {e["guid"]: e for e in hub.events if e["event"] == "device_joined"}
        assert joined[ESME]["short"] == e_short and joined[ESME]["sleepy"] is False
        assert joined[GSME]["short"] == g_short and joined[GSME]["sleepy"] is True
        assert hub.wait_for("meter_reading", guid=GSME) is not None
        assert hub.wait_for("meter_reading", guid=ESME) is not None
        assert hub.hub.joining.permit_join is False  # everyone in the device log has joined

        # The hub restarts (same state directory): the meters are still members. Their
        # reports are accepted (a non-member's would be dropped) and nobody re-associates.
        hub.stop()
        hub = CoreHub(port, state)
        han_event = hub.events[0]
        assert han_event["event"] == "han" and han_event["members"] == 2
        assert {d["short"] for d in han_event["devices"]} == {e_short, g_short}
        assert hub.wait_for("meter_reading", guid=GSME) is not None
        assert hub.wait_for("meter_reading", guid=ESME) is not None
        assert hub.find("device_joined") is None
        assert hub.han.rejected[han_reject.NOT_MEMBER] == 0

        # The gas meter restarts: it rejoins by orphan realignment with the same address.
        assert gsme.stop() == 0
        gsme2 = meter(port, "gsme", GSME, str(tmp_path / "gsme"), "--poll-s", "0.5")
        try:
            assert gsme2.wait_for('"joined"', timeout=15) is not None, gsme2.lines
            again = events(gsme2, "joined")[0]
            assert again["rejoin"] is True and again["via"] == "orphan"
            assert again["short"] == g_short
            assert hub.wait_for("device_joined", guid=GSME, via="orphan") is not None
        finally:
            assert gsme2.stop() == 0
    finally:
        esme.stop()
        gsme.stop()
        hub.stop()
    for proc in (esme, gsme2):
        ev = events(proc)
        assert ev[-1]["event"] == "stopped"
        assert ev[-2]["event"] == "battery"


def read_zcl(seq, attr):
    return bytes([0x00, seq & 0xFF, 0x00, attr & 0xFF, attr >> 8])


def test_interpan_flood_keeps_the_gas_meter_within_its_budget(medium, tmp_path):
    port = medium
    hub = CoreHub(port, str(tmp_path / "hub"))
    gsme = meter(
        port, "gsme", GSME, str(tmp_path / "gsme"), "--poll-s", "0.2", "--battery-s", "3600"
    )
    eui = bytes.fromhex(GSME.replace("-", ""))
    try:
        assert gsme.wait_for('"joined"', timeout=15) is not None, gsme.lines
        assert hub.wait_for("meter_reading", guid=GSME) is not None
        # A read of the cached reading never wakes the meter (the gas proxy).
        assert hub.send(eui, zcl.METERING, read_zcl(1, 0x0000), "interpan") == han_send.CACHED
        start = len(gsme.lines)
        statuses = []
        for i in range(400):  # 2 s of requests for the gas meter, as inter-PAN would relay
            statuses.append(hub.send(eui, zcl.METERING, read_zcl(i, 0x0100), "interpan"))
            time.sleep(0.005)
        queued = statuses.count(han_send.QUEUED)
        assert queued == 12  # battery.interpan_frames_h
        assert statuses.count(han_send.OVER_BUDGET) > 300
        # The WAN keeps its own share.
        assert hub.send(eui, zcl.METERING, read_zcl(500, 0x0100), "wan") == han_send.QUEUED
        time.sleep(1.5)  # a few more polls deliver what is held
    finally:
        assert gsme.stop() == 0
        hub.stop()
    alerts = [e for e in hub.events if e["event"] == "battery_budget"]
    assert len(alerts) == 1 and alerts[0]["origin"] == "interpan"
    rx = [e for e in events(gsme, "frame_rx") if e.get("cluster") == "0x0702"]
    assert len(rx) == queued + 1  # every admitted frame, and nothing else, reached the meter
    bat = events(gsme, "battery")[-1]
    # and, when it joined, the association response and the Transport-Key
    assert bat["frames_rx"] == queued + 1 + 2
    polls = [e for e in events(gsme, "poll")]
    # Extra data requests (frame pending) are bounded by the frames received.
    assert bat["polls"] <= len(polls) + bat["frames_rx"] + 1
    assert len(gsme.lines) > start


WIRED = settingsmod.known("han.devices")
lab_only = pytest.mark.skipif(
    not WIRED, reason="the sim hub does not build firmware.han.Han yet (no han.* settings)"
)


def hub_events(proc):
    return [json.loads(line) for line in proc.lines if line.startswith("{")]


@lab_only
def test_lab_hub_with_meters_across_a_restart(medium, tmp_path):
    port = medium
    state = str(tmp_path / "hub")
    settings = ["han.devices=" + DEVICES, "log.counters_interval_s=1"]
    env = procs.micropython_env()

    def start_hub():
        p = procs.Proc("hub", procs.hub_command(port, state, settings), echo=False, env=env)
        assert p.wait_for('"started"', timeout=10) is not None, p.lines
        return p

    hub = start_hub()
    esme = meter(port, "esme", ESME, str(tmp_path / "esme"))
    gsme = meter(port, "gsme", GSME, str(tmp_path / "gsme"), "--poll-s", "0.5")
    try:
        assert esme.wait_for('"joined"', timeout=20) is not None, esme.lines
        assert gsme.wait_for('"joined"', timeout=20) is not None, gsme.lines
        assert hub.wait_for('"device_joined"', timeout=5) is not None, hub.lines
        assert hub.wait_for('"meter_reading"', timeout=10) is not None, hub.lines
        assert hub.stop() == 0
        hub = start_hub()
        assert hub.wait_for('"meter_reading"', timeout=10) is not None, hub.lines
        ev = hub_events(hub)
        han_event = [e for e in ev if e["event"] == "han"][0]
        assert han_event["members"] == 2
        assert not [e for e in ev if e["event"] == "device_joined"]
    finally:
        esme.stop()
        gsme.stop()
        hub.stop()
    assert os.path.exists(os.path.join(state, "device_table"))
