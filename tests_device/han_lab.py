# The HAN layer wired as the shell wires it, for the HAN's device tests (and the stateful test):
# a hub with its HAN on a storage that survives "reboots", and the settings that configure it.
from contract.frame import RxFrame
from firmware import cmd_pipeline as _commands  # noqa: F401  (the largest two are compiled
from firmware import decision, mac
from firmware import han as _han  # noqa: F401  first, while the heap is whole)
from firmware import mac_peer as peer
from firmware.core import Core
from firmware.han_device_log import ESME, GSME
from firmware.settings import Settings
from hal.fake.storage import MemoryStorage
from tests_device import vectors
from tests_device.han_frames import (
    CAP_GSME,
    ESME_EUI,
    ESME_LINK,
    GSME_EUI,
    GSME_LINK,
    HUB_EUI,
    HUB_GUID,
    assoc_request,
    data_request,
    le,
    with_fcs,
)
from tests_device.han_meter import Meter

_HAN_SETTINGS = {
    "table_max": ("han.device_table_max",),
    "join_auto": ("join.auto",),
    "join_permit": ("join.permit",),
    "indirect_slots": ("han.indirect_slots",),
    "indirect_per_device": ("han.indirect_per_device",),
    "indirect_expiry_s": ("han.indirect_expiry_s",),
    "frames_h": ("battery.interpan_frames_h", "battery.wan_frames_h"),
    "airtime_ms_h": ("battery.interpan_airtime_ms_h", "battery.wan_airtime_ms_h"),
    "ccm": ("han.ccm_per_s", "han.ccm_burst"),
    "assoc": ("dos.assoc_rate_per_s", "dos.assoc_burst"),
}
# The device log: (EUI-64, kind, link key or None) per entry.
LOG = ((ESME_EUI, ESME, ESME_LINK), (GSME_EUI, GSME, GSME_LINK))


def han_settings(**kw):
    # The settings overrides that configure the HAN layer as the keywords say.
    out = []
    for name, value in kw.items():
        keys = _HAN_SETTINGS[name]
        values = value if len(keys) > 1 else (value,)
        for k, v in zip(keys, values):
            out.append("%s=%s" % (k, v))
    return tuple(out)


class Lab:
    # A hub with the HAN wired in as the shell wires it (firmware.core), on a storage that
    # survives "reboots" (a new Lab on the same storage).
    def __init__(self, storage=None, overrides=(), log=LOG, **kw):
        self.st = storage if storage is not None else MemoryStorage()
        base = ("hub.eui64=" + HUB_GUID, "radio.pan_id=0x1A2B")
        s = Settings(None, base + tuple(overrides) + han_settings(**kw))
        core = Core(s, self.st, han=True)
        self.hub = core.hub
        self.out = core.out
        for eui, kind, link in log:
            self.hub.device_log.add(eui, kind, link)
        self.han = core.han
        self.han.start(0)
        self.frame = RxFrame()
        self.meters = {}
        self.keys = {}

    def rx(self, psdu, now=0):
        # The hub's decision for a received PSDU; the transmitted PSDU (with FCS) or None.
        self.out.tx_len = 0
        r = self.hub.on_frame(vectors.load(self.frame, psdu), now)
        if r == decision.TRANSMIT:
            return with_fcs(self.out.tx_buf, self.out.tx_len)
        return None

    def join(self, eui, cap=CAP_GSME, now=0):
        # Associates eui; the Transport-Key the hub sends a new member is taken off the air
        # (a sleepy one polls for it, as the meters do) and kept in self.keys.
        out = self.rx(assoc_request(eui, cap), now)
        short = out[22] | out[23] << 8
        if out[24] == 0:
            key = self.radio() if cap & 0x08 else self.rx(data_request(short), now)
            if key is not None:
                self.keys[bytes(eui)] = key
        return short

    def meter(self, eui):
        # That member's NWK security with the hub's network key (as if it had been sent it),
        # one per member: its frame counter goes on.
        m = self.meters.get(bytes(eui))
        if m is None:
            sec = self.han.security
            m = self.meters[bytes(eui)] = Meter(eui, sec.key, sec.seq)
        return m

    def rx_from(self, eui, psdu, now=0):
        # A member's frame, secured as that member sends it.
        return self.rx(self.meter(eui).secure(psdu), now)

    def radio(self):
        # The next frame in the radio ring (to an rx-on-when-idle member), with its FCS.
        n = self.out.radio.pop()
        return with_fcs(self.out.radio.buf, n) if n else None

    def notes(self, event):
        return [f for e, f in self.hub.notes if e == event]

    def beacon_permit(self):
        out = self.rx(vectors.BEACON_REQUEST)
        f = mac.MacFrame()
        mac.parse(out, 0, len(out), f)
        return bool(peer.beacon_superframe(out, f) & mac.SF_PERMIT)


def assoc_response(seq, device, short, status):
    return (
        vectors.h("63cc")
        + bytes([seq])
        + vectors.h("2b1a")
        + le(device)
        + le(HUB_EUI)
        + bytes([0x02, short & 0xFF, short >> 8, status])
    )
