"""The head-end's key update as a signed GBCS command (nwk_key_update, 0x0F09): only the
network operator, only over the WAN, no key in it; the HAN then holds a new network key and has
queued its Transport-Key and Switch-Key for the members."""

from contract.frame import RxFrame
from firmware import cmd_catalogue as cat
from firmware.cmd_pipeline import INTERPAN, WAN
from firmware.cmd_store import CommandStore
from firmware.core import Core
from firmware.settings import Settings
from hal.fake.clock import ManualClock
from hal.fake.storage import MemoryStorage
from tests_device.han_frames import CAP_ESME, ESME_EUI, ESME_LINK, assoc_request
from tests_device.test_commands import INSTALLER, KEYS, NETOP, SUPPLIER, command, parties
from tests_device.test_commands import status_of as status
from tests_device.vectors import load


def rig():
    st = MemoryStorage()
    s = Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87", "radio.pan_id=0x1A2B"))
    core = Core(s, st, parties(st), CommandStore(st), ManualClock(), han=True)
    core.device_log.add(ESME_EUI, 1, ESME_LINK)
    core.han.start(0)
    core.hub.power_up(0)
    core.hub.on_frame(load(RxFrame(), assoc_request(ESME_EUI, CAP_ESME)), 0)
    while core.out.radio.pop():  # the Transport-Key of the join
        pass
    return core


def send(core, msg, channel=WAN):
    return core.commands.process(channel, msg, 0, len(msg), 0)


def test_only_the_network_operator_over_the_wan():
    core = rig()
    key = core.han.security.key
    refused = (
        (command(NETOP, 1, cat.NWK_KEY_UPDATE), INTERPAN, KEYS[NETOP], "not_permitted"),
        (command(SUPPLIER, 1, cat.NWK_KEY_UPDATE), WAN, KEYS[SUPPLIER], "not_permitted"),
        (command(INSTALLER, 1, cat.NWK_KEY_UPDATE), WAN, KEYS[INSTALLER], "not_permitted"),
        (command(NETOP, 2, cat.NWK_KEY_UPDATE, (bytes(16),)), WAN, KEYS[NETOP], "bad_content"),
    )
    for msg, channel, k, why in refused:
        ok, rsp = send(core, msg, channel)
        assert (ok, status(rsp, k)[0]) == (False, why)
    assert core.han.security.key == key and core.out.radio.pop() == 0
    ok, rsp = send(core, command(NETOP, 3, cat.NWK_KEY_UPDATE))
    assert (ok, status(rsp, KEYS[NETOP])[0]) == (True, "ok")
    assert core.han.security.key != key and core.han.security.seq == 1
    sent = []
    n = core.out.radio.pop()
    while n:
        sent.append(bytes(core.out.radio.buf[:n]))
        n = core.out.radio.pop()
    assert len(sent) == 2  # the ESME's Transport-Key and Switch-Key
    ok, rsp = send(core, command(NETOP, 3, cat.NWK_KEY_UPDATE))
    assert status(rsp, KEYS[NETOP])[0] == "duplicate"  # first wins: no second update
    assert core.han.security.seq == 1
