# mac.route decides a frame from its header octets before any parse, and the HAN's strangers
# are dropped on that (Hub.on_frame, Han.on_header): every frame must end as the full path
# (Hub._other: mac.parse, then the layers) ends it, with the same counters, the same answer on
# air and the same notes. Two hubs with the same members get the same frames (the project's
# HAN frames from members and strangers, and mutations of them); one decides as the hub does,
# the other is made to take the full path for every frame that is not inter-PAN.
import random
import sys
import unittest

from firmware import han_reject, mac
from tests_device import vectors
from tests_device.han_frames import (
    CAP_ESME,
    ESME_EUI,
    GSME_EUI,
    STRANGER,
    assoc_request,
    data_request,
    nwk_frame,
    orphan,
    summation_report,
)
from tests_device.han_lab import Lab

MICROPYTHON = sys.implementation.name == "micropython"
TWIN = bytes((0x80,)) + GSME_EUI[1:]  # the GSME's lookup key (eui64.key), not a member


class Twin:
    # A Lab whose hub takes the full path for every frame that is not inter-PAN.
    def __init__(self):
        self.lab = Lab()
        self.full = self.lab.hub._other
        self.r = mac.Route(0x1A2B)

    def rx(self, psdu, now):
        lab = self.lab
        lab.out.tx_len = 0
        frame = vectors.load(lab.frame, psdu)
        v = mac.route(frame.buf, frame.off, frame.n, self.r)
        if frame.crc_ok and v < 0 and v != mac.BEACON_REQUEST:
            lab.hub.rx_frames += 1
            d = self.full(frame, mac.GENERIC, now)
        else:
            d = lab.hub.on_frame(frame, now)
        return d, bytes(lab.out.tx_buf[: lab.out.tx_len]) if lab.out.tx_len else b""


def state(lab):
    h = lab.hub
    han = h.han
    return (
        list(h.rejected),
        list(han.rejected),
        h.rx_frames,
        han.polls,
        han.frames_in,
        len(h.notes),
    )


def frames(short):
    # The project's HAN frames, from members and from strangers.
    return (
        data_request(short),
        data_request(0x4242),
        data_request(ESME_EUI),
        data_request(STRANGER),
        data_request(TWIN),
        data_request(0x4242, dst=0x1234),
        data_request(short, pan=0x4321),
        data_request(0x4242, cmd=0x05),
        orphan(GSME_EUI),
        orphan(STRANGER),
        orphan(TWIN),
        orphan(0x4242),
        assoc_request(STRANGER),
        assoc_request(TWIN),
        assoc_request(ESME_EUI, CAP_ESME),
        assoc_request(STRANGER, dst=0x1234),
        summation_report(short, 7),
        summation_report(0x4242, 7),
        nwk_frame(short, 0x0702, b"", dst=0x1234),
        nwk_frame(short, 0x0702, b"", dst=0xFFFF),
        vectors.BEACON_REQUEST,
        vectors.BEACON,
        vectors.COORD_REALIGN,
    )


class SameAsTheFullPathTest(unittest.TestCase):
    def test_every_frame_ends_as_the_full_path_ends_it(self):
        a = Lab()
        b = Twin()
        short = a.join(GSME_EUI)
        self.assertEqual(b.lab.join(GSME_EUI), short)
        bases = frames(short)
        rng = random.Random(14) if not MICROPYTHON else random
        if MICROPYTHON:
            random.seed(14)
        verdicts = set()
        now = 0
        for k in range(3000):
            psdu = bytearray(bases[k % len(bases)])
            if k >= len(bases):
                for _ in range(rng.getrandbits(2)):
                    psdu[rng.getrandbits(7) % len(psdu)] = rng.getrandbits(8)
                if k % 5 == 1:  # another frame type, addressing, version or flags
                    psdu[rng.getrandbits(1)] = rng.getrandbits(8)
                if k % 7 == 3:
                    psdu = psdu[: len(psdu) - 1 - rng.getrandbits(3) % (len(psdu) - 1)]
            verdicts.add(mac.route(psdu, 0, len(psdu), b.r))  # (b.r counts nothing)
            now += 40  # ms: the association budget refills now and then
            a.out.tx_len = 0
            d = a.hub.on_frame(vectors.load(a.frame, bytes(psdu)), now)
            tx = bytes(a.out.tx_buf[: a.out.tx_len]) if a.out.tx_len else b""
            self.assertEqual((d, tx), b.rx(bytes(psdu), now), bytes(psdu))
            self.assertEqual(state(a), state(b.lab), bytes(psdu))
        # A stranger's association requests past their budget (refused by Hub.on_frame inline
        # on one hub, by Joining.stranger on the other), then within it again.
        for k in range(40):
            now += 0 if k < 30 else 300
            a.out.tx_len = 0
            d = a.hub.on_frame(vectors.load(a.frame, assoc_request(STRANGER)), now)
            tx = bytes(a.out.tx_buf[: a.out.tx_len]) if a.out.tx_len else b""
            self.assertEqual((d, tx), b.rx(assoc_request(STRANGER), now), k)
            self.assertEqual(state(a), state(b.lab), k)
        self.assertTrue(a.hub.han.rejected[han_reject.RATE_ASSOC] >= 20)
        # Every verdict was reached (the inter-PAN ones are the frames' source offsets).
        for v in range(mac.HAN_BAD_COMMAND, mac.GENERIC + 1):
            self.assertTrue(v in verdicts or v == mac.COUNTED, v)
