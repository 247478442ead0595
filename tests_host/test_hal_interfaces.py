"""The board's HAL implementations keep the interfaces they do not subclass: hal.radio.Radio,
hal.wan.WanLink, hal.watchdog.Watchdog and hal.storage.Storage are (all but a one-line default)
methods that raise NotImplementedError, and on the board a class and a module cost RAM
(docs/performance.md, "RAM"), so the ESP32's radio driver, its WAN links, its watchdog and the
file storage implement them without importing them. Each must still have every method of its
interface, with the same parameters, async where the interface is async."""

import inspect

import pytest

from hal.esp32.mrf24j40 import MRF24J40
from hal.esp32.wan_wifi import WifiWan
from hal.esp32.watchdog import Esp32Watchdog
from hal.file_storage import FileStorage
from hal.radio import Radio
from hal.storage import Storage
from hal.tcp_wan import TcpWan
from hal.wan import WanLink
from hal.watchdog import Watchdog

PAIRS = [
    (MRF24J40, Radio),
    (TcpWan, WanLink),
    (WifiWan, WanLink),
    (Esp32Watchdog, Watchdog),
    (FileStorage, Storage),
]


def members(cls):
    return {n: v for n, v in vars(cls).items() if not n.startswith("_")}


def mismatches(impl, iface):
    out = []
    for name, want in members(iface).items():
        got = getattr(impl, name, None)
        if got is None:
            out.append("%s missing" % name)
        elif not callable(want):
            if got != want:
                out.append("%s = %r, the interface says %r" % (name, got, want))
        elif inspect.iscoroutinefunction(want) != inspect.iscoroutinefunction(got):
            out.append("%s: async differs" % name)
        else:
            sig, want_sig = inspect.signature(got), inspect.signature(want)
            if list(sig.parameters) != list(want_sig.parameters):
                out.append("%s%s, the interface has %s" % (name, sig, want_sig))
    return out


@pytest.mark.parametrize("impl,iface", PAIRS, ids=lambda c: c.__name__)
def test_the_board_implementation_has_the_whole_interface(impl, iface):
    assert not issubclass(impl, iface)  # the point: the interface is not loaded on the board
    assert mismatches(impl, iface) == []


def test_a_missing_or_different_method_is_found():
    class Partial:
        HEADROOM = 2

        def configure(self, channel):
            pass

        def send(self, buf, n):
            pass

        def recv(self, frame):
            pass

        def wait_rx(self):  # not async
            pass

    found = mismatches(Partial, Radio)
    assert "hello missing" in found and "close missing" in found
    assert "wait_rx: async differs" in found
    assert any(f.startswith("configure(") for f in found)
    assert any(f.startswith("HEADROOM = 2") for f in found)
