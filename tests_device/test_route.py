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
from hal.fake.storage import MemoryStorage
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
from tests_device.han_meter import Meter

MICROPYTHON = sys.implementation.name == "micropython"
TWIN = bytes((0x80,)) + GSME_EUI[1:]  # the GSME's lookup key (eui64.key), not a member


class Twin:
    # A Lab whose hub takes the full path for every frame that is not inter-PAN (with the
    # network key of storage, when given).
    def __init__(self, storage=None):
        self.lab = Lab(storage)
        self.full = self.lab.hub._other
        self.r = mac.Route(0x1A2B)

    def rx(self, psdu, now):
        lab = self.lab
        lab.out.tx_len = 0
        frame = vectors.load(lab.frame, psdu)
        v = mac.route(frame.buf, frame.off, frame.n, self.r)
        if frame.crc_ok and v < 0 and v != mac.BEACON_REQUEST:
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
        han.polls,
        han.frames_in,
        len(h.notes),
        han.security.incoming.state,  # every member's counters and the keys held (in place)
    )


def verdicts_of(lab):
    # A Route with the lab HAN's tables and counters of its own: the verdict mac.route gives.
    han = lab.han
    r = mac.Route(0x1A2B, han.table.by_short, [0] * len(han_reject.NAMES), han.table.by_eui)
    r.octets = han.table.octets
    r.listed = han.log.index
    r.log = han.log.euis()
    r.sec = han.security.incoming.state
    return r


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
        vr = verdicts_of(a)
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
            verdicts.add(mac.route(psdu, 0, len(psdu), vr))  # (vr counts for itself)
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
            # (a message that is never falsy: unittest formats both states for msg 0)
            self.assertEqual((d, tx), b.rx(assoc_request(STRANGER), now), ("assoc", k))
            self.assertEqual(state(a), state(b.lab), ("assoc", k))
        self.assertTrue(a.hub.han.rejected[han_reject.RATE_ASSOC] >= 20)
        # Every verdict was reached (the inter-PAN ones are the frames' source offsets).
        for v in range(mac.HAN_BAD_COMMAND, mac.GENERIC + 1):
            self.assertTrue(v in verdicts or v in (mac.COUNTED, mac.NWK), v)  # (NWK: below)


class SecuredSameAsTheFullPathTest(unittest.TestCase):
    # A member's NWK frames: route decides everything their header decides, natively, and
    # counts each drop where the full path (Han._data, _nwk_header, NwkSecurity.check) counts
    # it; the frames it passes meet the CCM* budget and AES on both hubs. Members' genuine
    # frames, replays, strangers' under a member's address, another member's, unknown keys,
    # before and after a key update, and mutations of all of them.
    def test_secured_frames_end_as_the_full_path_ends_them(self):
        a = Lab()
        st = MemoryStorage()
        st.records["nwk_key"] = a.st.records["nwk_key"]  # the same network key
        b = Twin(st)
        new_key = bytes(range(16, 32))
        for lab in (a, b.lab):
            lab.han.security._rand = lambda n: new_key[:n]  # the key update's
        gsme = a.join(GSME_EUI)
        esme = a.join(ESME_EUI, CAP_ESME)
        self.assertEqual((b.lab.join(GSME_EUI), b.lab.join(ESME_EUI, CAP_ESME)), (gsme, esme))
        sec = a.han.security
        self.assertEqual(sec.key, b.lab.han.security.key)
        rng = random.Random(17) if not MICROPYTHON else random
        if MICROPYTHON:
            random.seed(17)
        meters = {GSME_EUI: a.meter(GSME_EUI), ESME_EUI: a.meter(ESME_EUI)}
        stranger = Meter(STRANGER, sec.key)
        unknown_key = Meter(GSME_EUI, sec.key, seq=9)
        vr = verdicts_of(a)
        seen = set()
        sent = [None] * 32  # genuine frames, to replay
        now = 0

        def same(psdu):
            a.out.tx_len = 0
            seen.add(mac.route(psdu, 0, len(psdu), vr))
            d = a.hub.on_frame(vectors.load(a.frame, psdu), now)
            tx = bytes(a.out.tx_buf[: a.out.tx_len]) if a.out.tx_len else b""
            self.assertEqual((d, tx), b.rx(psdu, now), psdu)
            self.assertEqual(state(a), state(b.lab), psdu)

        for k in range(1600):
            now += 5 if k % 100 else 3000  # bursts past the CCM* budget, then a pause
            if k == 800:  # the head-end's key update: the hub sends with key 1 from now on
                now += 1000
                self.assertTrue(a.han.update_key(now))
                self.assertTrue(b.lab.han.update_key(now))
                meters[GSME_EUI] = Meter(GSME_EUI, new_key, 1, meters[GSME_EUI].sec.outgoing.value)
            short, eui = (gsme, GSME_EUI) if k % 3 else (esme, ESME_EUI)
            report = summation_report(short, k)
            pick = k % 8
            if pick < 3:
                psdu = meters[eui].secure(report)  # genuine (the GSME under key 1 after k 800)
                sent[k % 32] = psdu
            elif pick == 3:
                psdu = sent[rng.getrandbits(5)] or report  # replayed
            elif pick == 4:
                psdu = stranger.secure(report)
            elif pick == 5:
                psdu = meters[ESME_EUI if eui == GSME_EUI else GSME_EUI].secure(report)
            elif pick == 6:
                psdu = unknown_key.secure(report)
            else:
                psdu = report if k % 16 == 7 else meters[eui].secure(report)
            if k % 5 == 4:  # mutated: the NWK and auxiliary headers, the MIC, the length
                m = bytearray(psdu)
                for _ in range(1 + rng.getrandbits(2)):
                    m[9 + rng.getrandbits(5) % (len(m) - 9)] = rng.getrandbits(8)
                if k % 3 == 0:
                    m[10] ^= 1 << rng.getrandbits(3)  # the NWK frame control's flags
                if k % 7 == 2:
                    m = m[: 11 + rng.getrandbits(6) % (len(m) - 11)]
                psdu = vectors.with_fcs(m, len(m) - 2)
            elif k % 13 == 6:  # an NWK command frame
                m = bytearray(psdu)
                m[9] = m[9] & 0xFC | 1
                psdu = vectors.with_fcs(m, len(m) - 2)
            same(psdu)
        rj = a.han.rejected
        for why in (
            han_reject.SEC_REPLAYED,
            han_reject.SEC_UNKNOWN_SOURCE,
            han_reject.SEC_UNKNOWN_KEY,
            han_reject.SEC_BAD_MIC,
            han_reject.SEC_BUSY,
            han_reject.SEC_TRUNCATED,
            han_reject.SEC_NO_SOURCE,
            han_reject.SEC_NOT_NETWORK_KEY,
            han_reject.BAD_NWK,
            han_reject.UNSECURED,
            han_reject.NOT_DATA,
            han_reject.NOT_FOR_US,
        ):
            self.assertTrue(rj[why] > 0, (han_reject.NAMES[why], rj))
        self.assertTrue(a.han.frames_in > 100, a.han.frames_in)
        self.assertEqual(a.han.security.incoming.key_seq(a.han.table.find(GSME_EUI)), 1)
        self.assertTrue(mac.NWK in seen and mac.COUNTED in seen)


class SecuredFieldsTest(unittest.TestCase):
    # The same comparison, with mutations aimed at each field route decides a member's NWK
    # frame from: the MAC frame control, addresses and PAN IDs; the NWK frame control (IEEE
    # addresses, multicast, source route and its relay count), destination and source; the
    # auxiliary header's security control, sender and key sequence number (0, the new key 1,
    # and far ones either side of the 128 split); frame counters at the carries and at
    # 0xFFFFFFFE / 0xFFFFFFFF (sent as a member holding the key would, so that CCM* passes);
    # and the frame's length at every boundary. A key update half way through.
    def test_field_mutations_end_as_the_full_path_ends_them(self):
        a = Lab()
        st = MemoryStorage()
        st.records["nwk_key"] = a.st.records["nwk_key"]
        b = Twin(st)
        new_key = bytes(range(16, 32))
        for lab in (a, b.lab):
            lab.han.security._rand = lambda n: new_key[:n]
        gsme = a.join(GSME_EUI)
        esme = a.join(ESME_EUI, CAP_ESME)
        self.assertEqual((b.lab.join(GSME_EUI), b.lab.join(ESME_EUI, CAP_ESME)), (gsme, esme))
        key = a.han.security.key
        rng = random.Random(23) if not MICROPYTHON else random
        if MICROPYTHON:
            random.seed(23)

        def pick(options):
            return options[rng.getrandbits(8) % len(options)]

        counters = (0, 1, 0xFF, 0x100, 0xFFFF, 0x10000, 0xFFFFFF, 0x1000000, 0xFFFFFFFD)
        counters += (0xFFFFFFFE, 0xFFFFFFFF)
        vr = verdicts_of(a)
        seen = set()
        now = 0
        for k in range(1200):
            now += pick((0, 1, 5, 50, 400, 3000))
            if k == 600:
                now += 1000
                self.assertTrue(a.han.update_key(now) and b.lab.han.update_key(now))
            short, eui = (gsme, GSME_EUI) if k & 1 else (esme, ESME_EUI)
            seq = pick((0, 0, 0, 1, 1, 2, 127, 128, 129, 255)) if k >= 600 else pick((0, 0, 255))
            sender = Meter(eui if k % 9 else pick((STRANGER, GSME_EUI, ESME_EUI)), key, seq)
            if seq == 1:
                sender = Meter(sender.sec.tx.src, new_key, 1)
            c = pick(counters) if k % 4 else rng.getrandbits(32)
            if 600 <= k < 604:  # each member's first frame under the new key: 0xFFFFFFFF
                seq, c = 1, 0xFFFFFFFF
                sender = Meter(eui, new_key, 1)
            sender.sec.outgoing.next = lambda c=c: c  # (any counter, as a member could send)
            m = bytearray(sender.secure(summation_report(short, k)))
            n = len(m) - 2
            kind = k % 11 if not 600 <= k < 604 else 10
            if kind == 0:  # the MAC frame control
                m[rng.getrandbits(1)] ^= 1 << rng.getrandbits(3)
            elif kind == 1:  # the NWK frame control
                m[9 + rng.getrandbits(1)] ^= 1 << rng.getrandbits(3)
            elif kind == 2:  # a source route, its relay count where the aux header was
                m[10] |= 0x04
                m[17] = pick((0, 1, 2, 3, 10, 40, 60, 255))
            elif kind == 3:  # the auxiliary header's security control
                m[17] = rng.getrandbits(8)
            elif kind == 4:  # any length
                n = 5 + rng.getrandbits(7) % (n - 4)
            elif kind == 5:  # the NWK destination and source
                m[11 + rng.getrandbits(2)] = pick((0, 0xFF, 0xF8, 0xF7, rng.getrandbits(8)))
            elif kind == 6:  # the MAC PAN ID and addresses
                m[3 + rng.getrandbits(3) % 6] = pick((0, 0xFF, rng.getrandbits(8)))
            elif kind == 7:  # IEEE addresses or multicast announced, in a shorter frame
                m[10] |= pick((0x08, 0x10, 0x18, 0x01, 0x19))
                n = min(n, 17 + rng.getrandbits(5))
            elif kind == 8:  # the auxiliary header's sender
                m[22 + rng.getrandbits(3)] ^= 1 << rng.getrandbits(3)
            elif kind == 9:  # the lengths around the auxiliary header and the MIC
                n = min(pick((17, 18, 30, 31, 32, 33, 34, 35, 36)), n)
            psdu = vectors.with_fcs(m, n)
            seen.add(mac.route(psdu, 0, len(psdu), vr))
            a.out.tx_len = 0
            got = a.han.frames_in
            d = a.hub.on_frame(vectors.load(a.frame, psdu), now)
            tx = bytes(a.out.tx_buf[: a.out.tx_len]) if a.out.tx_len else b""
            self.assertEqual((d, tx), b.rx(psdu, now), psdu)
            self.assertEqual(state(a), state(b.lab), psdu)
            if 600 <= k < 604:  # never accepted, whatever key
                self.assertEqual(a.han.frames_in, got, k)
        self.assertTrue(a.han.frames_in > 5, a.han.frames_in)
        self.assertTrue(a.han.rejected[han_reject.SEC_REPLAYED] > 100)
        self.assertTrue(mac.NWK in seen and mac.COUNTED in seen and mac.HAN_NOT_FOR_US in seen)
