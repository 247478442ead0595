# The hub as the HAN's trust centre: the network key handed over at join under the key-transport
# key of the device's install-code link key, NWK security on every frame both ways, the drops
# (with no AES work where the header decides, and none of it allocating), the frame counters
# across a power cut, and the key update.
import sys
import unittest

from contract.crc16 import append_fcs
from firmware import han_reject, han_send, mac
from firmware import sec_mmo as mmo
from firmware import sec_transport_key as transport_key
from firmware import zb_nwk as nwk
from firmware import zb_zcl as zclmod
from firmware.han_device_log import ESME
from tests_device import vectors
from tests_device.alloc import heap_bytes
from tests_device.han_frames import (
    CAP_ESME,
    ESME_EUI,
    ESME_LINK,
    GSME_EUI,
    GSME_LINK,
    HUB_EUI,
    STRANGER,
    assoc_request,
    data_request,
    nwk_frame,
    summation_report,
)
from tests_device.han_lab import LOG, Lab
from tests_device.han_meter import Meter

MICROPYTHON = sys.implementation.name == "micropython"


def aps_of(psdu):
    # (MAC frame, NWK header, offset of the APS frame) of a frame from the hub.
    f = mac.MacFrame()
    assert mac.parse(psdu, 0, len(psdu), f) == 0
    h = nwk.NwkHeader()
    r = nwk.parse_nwk(psdu, f.payload_off, f.payload_end, h)
    return f, h, r


def learn_key(psdu, link):
    # What a device with link key `link` makes of a Transport-Key frame: the TransportedKey,
    # or the parse result (an int) when it cannot open it.
    f, h, r = aps_of(psdu)
    assert r == nwk.OK  # the NWK frame around a Transport-Key is not NWK-secured
    out = transport_key.TransportedKey()
    buf = bytearray(psdu)
    r = transport_key.parse(buf, h.payload_off, f.payload_end, mmo.key_transport_key(link), out)
    return out if r == transport_key.OK else r


def counter_of(psdu):
    # The auxiliary header's frame counter of a secured frame from the hub (NWK, else APS).
    f, h, r = aps_of(psdu)
    p = h.payload_off if r == nwk.SECURED else h.payload_off + 2
    return psdu[p + 1] | psdu[p + 2] << 8 | psdu[p + 3] << 16 | psdu[p + 4] << 24


class JoinTest(unittest.TestCase):
    def test_the_network_key_is_handed_over_under_the_install_code(self):
        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)  # rx-on-when-idle: the key follows the response at once
        lab.join(GSME_EUI)  # sleepy: held, and taken by its first poll
        sec = lab.han.security
        for eui, link in ((ESME_EUI, ESME_LINK), (GSME_EUI, GSME_LINK)):
            got = learn_key(lab.keys[eui], link)
            self.assertEqual((got.key, got.key_seq), (sec.key, sec.seq))
            self.assertEqual((got.dst, got.src, got.aux_src), (eui, HUB_EUI, HUB_EUI))
        # Without the install code the frame says nothing: another link key fails the MIC.
        self.assertEqual(learn_key(lab.keys[GSME_EUI], ESME_LINK), transport_key.BAD_MIC)
        self.assertEqual(sec.keys, [2, 0, 0])
        sent = [n for n in lab.notes("network_key_to") if n["result"] == "sent"]
        self.assertEqual(len(sent), 2)

    def test_no_install_code_no_key_and_nothing_accepted(self):
        lab = Lab(log=((ESME_EUI, ESME, None),))
        short = lab.join(ESME_EUI, CAP_ESME)
        self.assertTrue(lab.han.is_member(ESME_EUI))  # the device log allows its EUI-64
        self.assertFalse(ESME_EUI in lab.keys)  # but no key went out
        note = lab.notes("network_key_to")[0]
        self.assertEqual(
            (note["result"], note["guid"]), ("no_install_code", "00-23-7E-00-00-00-00-01")
        )
        # Whatever it sends: in the clear, or under a key it made up.
        lab.rx(summation_report(short, 1))
        lab.rx(Meter(ESME_EUI, bytes(16)).secure(summation_report(short, 2)))
        rj = lab.han.rejected
        self.assertEqual((rj[han_reject.UNSECURED], rj[han_reject.SEC_BAD_MIC]), (1, 1))
        self.assertIsNone(lab.han.reading(0))
        self.assertEqual(lab.han.frames_in, 0)
        self.assertEqual(lab.han.status(0)["security"]["keys"]["no_install_code"], 1)

    def test_spoofed_reassociations_get_spaced_out_keys(self):
        # Someone associates again and again with the GSME's EUI-64: each costs the real meter
        # a frame at its next poll, so the keys are spaced 10 s, 20 s, 40 s, ... apart.
        lab = Lab()
        short = lab.join(GSME_EUI)
        keys = 0
        for i in range(200):  # 100 s of one association request every 500 ms
            now = 10000 + 500 * i
            lab.rx(assoc_request(GSME_EUI), now)
            while lab.rx(data_request(short), now) is not None:
                keys += 1
        self.assertEqual(keys, 3)  # at 10 s, 30 s (20 s on), 70 s (40 s on)
        self.assertTrue(lab.han.security.keys[2] > 190)
        self.assertTrue(len(lab.notes("network_key_to")) <= 5)


class ReceiveTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.short = self.lab.join(GSME_EUI)
        self.meter = self.lab.meter(GSME_EUI)

    def count(self, why):
        return self.lab.han.rejected[why]

    def test_a_members_secured_report_is_accepted_once(self):
        lab = self.lab
        report = self.meter.secure(summation_report(self.short, 77))
        lab.rx(report, 1000)
        self.assertEqual(lab.han.reading(0)[0], 77)
        self.assertEqual(lab.han.table.heard[0], 1)
        lab.rx(report, 5000)  # replayed
        self.assertEqual(self.count(han_reject.SEC_REPLAYED), 1)
        self.assertEqual(lab.han.table.heard[0], 1)  # a replay is not the member heard
        self.assertEqual(lab.han.frames_in, 1)
        self.assertEqual(lab.han.status(5000)["members"][0]["key_seq"], 0)

    def test_the_sender_must_be_the_member_its_mac_address_names(self):
        lab = self.lab
        esme = lab.join(ESME_EUI, CAP_ESME)
        # The ESME's frame (its EUI-64 in the auxiliary header) under the GSME's short address.
        lab.rx(lab.meter(ESME_EUI).secure(summation_report(self.short, 5)))
        lab.rx(Meter(STRANGER, lab.han.security.key).secure(summation_report(esme, 5)))
        self.assertEqual(self.count(han_reject.SEC_UNKNOWN_SOURCE), 2)
        self.assertIsNone(lab.han.reading(0))

    def test_header_drops_cost_no_aes(self):
        lab = self.lab
        sec = lab.han.security.nwk
        calls = [0]
        enc = sec._enc[0]

        def counting(src, dst):
            calls[0] += 1
            enc(src, dst)

        sec._enc[0] = counting
        good = self.meter.secure(summation_report(self.short, 1))
        lab.rx(good)
        spent = calls[0]
        self.assertTrue(spent > 0)
        other_key = Meter(GSME_EUI, lab.han.security.key, seq=9)
        for psdu in (
            good,  # replay
            Meter(STRANGER, lab.han.security.key).secure(summation_report(self.short, 2)),
            other_key.secure(summation_report(self.short, 3)),  # a key the hub does not hold
            summation_report(self.short, 4),  # in the clear
        ):
            lab.rx(psdu)
        self.assertEqual(calls[0], spent)
        for why in (
            han_reject.SEC_REPLAYED,
            han_reject.SEC_UNKNOWN_SOURCE,
            han_reject.SEC_UNKNOWN_KEY,
            han_reject.UNSECURED,
        ):
            self.assertEqual(self.count(why), 1)

    def test_forged_mics_are_budgeted_before_the_aes_work(self):
        lab = Lab(ccm=(2, 4))
        short = lab.join(GSME_EUI)
        meter = lab.meter(GSME_EUI)
        for i in range(100):  # a member's public EUI-64, fresh counters, forged MICs
            f = bytearray(meter.secure(summation_report(short, i)))
            f[-3] ^= 0x5A
            append_fcs(f, len(f) - 2)
            lab.rx(bytes(f), 1000 + i)  # 100 frames in 100 ms
        rj = lab.han.rejected
        self.assertEqual(rj[han_reject.SEC_BAD_MIC], 4)  # the burst, then nothing
        self.assertEqual(rj[han_reject.SEC_BUSY], 96)
        # The budget refills: the member's genuine frame gets through a second later.
        lab.rx(meter.secure(summation_report(short, 500)), 2200)
        self.assertEqual(lab.han.reading(0)[0], 500)

    def test_a_stranger_cannot_move_a_members_replay_window(self):
        # Whatever a stranger sends under the member's address (its own EUI-64, or the
        # member's with a forged MIC, with counters far ahead, or the other key's sequence
        # number), the member's counter stays, and its next genuine frame is accepted.
        lab = self.lab
        inc = lab.han.security.incoming
        lab.rx(self.meter.secure(summation_report(self.short, 1)), 1000)
        lowest, kseq = inc.lowest(0), inc.key_seq(0)
        key = lab.han.security.key
        ahead = [
            Meter(STRANGER, key, counter=0xFFFFFFF0).secure(summation_report(self.short, 2)),
            Meter(GSME_EUI, key, seq=1, counter=0x7FFFFFFF).secure(
                summation_report(self.short, 3)
            ),
        ]
        for c in (0xFFFFFFF0, 0xFFFFFFFE, 0x80000000):
            f = bytearray(Meter(GSME_EUI, key, counter=c).secure(summation_report(self.short, 4)))
            f[-3] ^= 0x5A  # the member's EUI-64 and a counter ahead, but no key: a forged MIC
            ahead.append(vectors.with_fcs(f, len(f) - 2))
        for i in range(300):
            lab.rx(ahead[i % len(ahead)], 2000 + 10 * i)
        self.assertEqual((inc.lowest(0), inc.key_seq(0)), (lowest, kseq))
        self.assertEqual(self.count(han_reject.SEC_UNKNOWN_SOURCE), 60)
        self.assertEqual(self.count(han_reject.SEC_UNKNOWN_KEY), 60)
        bad = self.count(han_reject.SEC_BAD_MIC)
        self.assertEqual(bad + self.count(han_reject.SEC_BUSY), 180)
        self.assertTrue(bad >= 10)  # some reached CCM*: refused on the MIC, the counter kept
        lab.rx(self.meter.secure(summation_report(self.short, 77)), 10000)
        self.assertEqual(lab.han.reading(0)[0], 77)
        self.assertEqual(lab.han.frames_in, 2)

    def test_each_header_drop_is_counted_where_the_han_counts_it(self):
        lab = self.lab
        good = self.meter.secure(summation_report(self.short, 1))
        lab.rx(good, 1000)
        cases = (
            (good, han_reject.SEC_REPLAYED),
            (summation_report(self.short, 2), han_reject.UNSECURED),
            (summation_report(0x4242, 2), han_reject.NOT_MEMBER),
            (
                Meter(GSME_EUI, lab.han.security.key, seq=3).secure(
                    summation_report(self.short, 3)
                ),
                han_reject.SEC_UNKNOWN_KEY,
            ),
            (
                self.meter.secure(nwk_frame(self.short, 0x0702, b"", nwk_src=0x1234)),
                han_reject.BAD_NWK,
            ),
            (
                self.meter.secure(summation_report(self.short, 4))[:30] + b"\x00\x00",
                han_reject.SEC_TRUNCATED,
            ),
        )
        for psdu, why in cases:
            before = list(lab.han.rejected)
            lab.rx(psdu, 2000)
            before[why] += 1
            self.assertEqual(lab.han.rejected, before, han_reject.NAMES[why])
        self.assertEqual(lab.han.frames_in, 1)

    def test_counters_survive_a_power_cut(self):
        lab = self.lab
        sent = [self.meter.secure(summation_report(self.short, i)) for i in range(20)]
        for i, psdu in enumerate(sent):
            lab.rx(psdu, 1000 * i)
        self.assertEqual(lab.han.frames_in, 20)
        again = Lab(lab.st)  # the power goes, the hub comes back
        for i, psdu in enumerate(sent):
            again.rx(psdu, 1000 * i)
        self.assertEqual(again.han.rejected[han_reject.SEC_REPLAYED], 20)
        self.assertEqual(again.han.frames_in, 0)
        # The meter goes on: at most the persisted step (8) of its frames are lost.
        for i in range(20, 30):
            again.rx(self.meter.secure(summation_report(self.short, i)), 1000 * i)
        self.assertEqual(again.han.frames_in, 6)  # 24..29: the bound was 24


class SendTest(unittest.TestCase):
    def test_every_frame_to_a_member_is_secured_from_one_counter(self):
        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)
        gshort = lab.join(GSME_EUI)
        han = lab.han
        read = b"\x00\x01\x00\x00\x00"
        self.assertEqual(han.send_to_device(ESME_EUI, zclmod.METERING, read, "wan", 0), 0)
        self.assertEqual(han.send_to_device(GSME_EUI, zclmod.METERING, read, "wan", 0), 1)
        to_esme = lab.radio()
        to_gsme = lab.rx(data_request(gshort))
        for psdu in (to_esme, to_gsme):
            f, h, r = aps_of(psdu)
            self.assertEqual(r, nwk.SECURED)
            self.assertEqual(psdu[h.payload_off], 0x28)  # network key, extended nonce
        opened = lab.meter(ESME_EUI).open(to_esme)
        self.assertEqual(opened[-7:-2], read)
        self.assertEqual(lab.meter(GSME_EUI).open(to_gsme)[-7:-2], read)
        # Transport-Keys and data frames: one counter, never repeated.
        counters = [counter_of(p) for p in (lab.keys[ESME_EUI], lab.keys[GSME_EUI])]
        counters += [counter_of(to_esme), counter_of(to_gsme)]
        self.assertEqual(counters, sorted(set(counters)))
        self.assertEqual(len(counters), 4)

    def test_secured_frames_leave_room_for_the_security(self):
        lab = Lab()
        lab.join(GSME_EUI)
        send = lab.han.send_to_device
        self.assertEqual(send(GSME_EUI, 0x0702, bytes(83), "wan", 0), han_send.TOO_BIG)
        self.assertEqual(send(GSME_EUI, 0x0702, bytes(82), "wan", 0), han_send.QUEUED)
        out = lab.rx(data_request(lab.han.table.short(0)))
        self.assertEqual(len(out), 127)
        # and the battery budget is charged the secured length: (6 + 127) x 32 us
        self.assertEqual(lab.han.budget.used(0, 1, 0)[1], 133 * 32)


class ClearTest(unittest.TestCase):
    def test_interpan_and_beacons_stay_clear(self):
        # Smart Energy: inter-PAN carries no NWK security (GBCS authenticates the commands),
        # and beacons are plain MAC frames. Neither goes near the HAN's security.
        from tests_device import interpan_frames as ipf
        from tests_device import vectors

        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)
        lab.hub.power_up(0)  # inter-PAN on
        beacon = lab.rx(vectors.BEACON_REQUEST)
        self.assertEqual(beacon[0] & 0x08, 0)  # MAC security-enabled bit clear
        self.assertEqual(beacon[0] & 0x07, 0)  # a beacon
        reply = lab.rx(ipf.get_details())
        f = mac.MacFrame()
        self.assertEqual(mac.parse(reply, 0, len(reply), f), 0)
        fc = reply[f.payload_off] | reply[f.payload_off + 1] << 8
        self.assertEqual((fc & 3, fc & 0x0200), (3, 0))  # inter-PAN NWK, no security bit
        self.assertEqual(sum(lab.han.rejected), 0)
        self.assertEqual(lab.han.security.outgoing.value, 1)  # only the join's Transport-Key


class KeyUpdateTest(unittest.TestCase):
    def test_update_switch_and_old_key_until_then(self):
        lab = Lab()
        eshort = lab.join(ESME_EUI, CAP_ESME)
        gshort = lab.join(GSME_EUI)
        sec = lab.han.security
        old_key = sec.key
        esme, gsme = lab.meter(ESME_EUI), lab.meter(GSME_EUI)
        self.assertTrue(lab.han.update_key(1000))
        self.assertEqual(sec.seq, 1)
        self.assertNotEqual(sec.key, old_key)
        note = lab.notes("network_key")[-1]
        self.assertEqual((note["change"], note["key_seq"]), ("updated", 1))
        # The ESME: a Transport-Key of the new key, then a Switch-Key, at once.
        got = learn_key(lab.radio(), ESME_LINK)
        self.assertEqual((got.key, got.key_seq), (sec.key, 1))
        switch = lab.radio()
        esme.sec.set_key(sec.key, 1)
        opened = esme.open(switch)
        self.assertIsNotNone(opened)
        self.assertEqual(transport_key.parse_switch(opened, 17, len(opened) - 2), 1)
        # The GSME polls for the same two, in that order.
        got = learn_key(lab.rx(data_request(gshort), 2000), GSME_LINK)
        self.assertEqual(got.key_seq, 1)
        gsme.sec.set_key(sec.key, 1)
        self.assertIsNotNone(gsme.open(lab.rx(data_request(gshort), 2000)))
        # Old-key frames are still accepted from both until each uses the new key.
        lab.rx(esme.secure(summation_report(eshort, 1)), 3000)
        lab.rx(gsme.secure(summation_report(gshort, 2)), 3000)
        self.assertEqual(lab.han.frames_in, 2)
        esme.sec.switch_key(1)
        lab.rx(esme.secure(summation_report(eshort, 3)), 4000)
        self.assertEqual(lab.han.frames_in, 3)
        old_esme = Meter(ESME_EUI, old_key, counter=5000)
        lab.rx(old_esme.secure(summation_report(eshort, 4)), 4000)
        self.assertEqual(lab.han.rejected[han_reject.SEC_REPLAYED], 1)  # switched: old refused
        lab.han.tick(5000)
        self.assertEqual(sec.status()["old_key_seq"], 0)  # the GSME has not switched yet
        gsme.sec.switch_key(1)
        lab.rx(gsme.secure(summation_report(gshort, 5)), 6000)
        lab.han.tick(7000)
        self.assertIsNone(sec.status()["old_key_seq"])
        self.assertEqual(lab.notes("network_key")[-1]["change"], "old_key_dropped")
        lab.rx(Meter(GSME_EUI, old_key, counter=9000).secure(summation_report(gshort, 6)))
        self.assertEqual(lab.han.rejected[han_reject.SEC_UNKNOWN_KEY], 1)

    def test_the_new_key_survives_a_reboot_mid_update(self):
        lab = Lab()
        lab.join(ESME_EUI, CAP_ESME)
        old_key = lab.han.security.key
        lab.han.update_key(0)
        again = Lab(lab.st)
        sec = again.han.security
        self.assertEqual((sec.seq, sec.status()["old_key_seq"]), (1, 0))
        self.assertEqual(sec.pending[0], 1)  # the ESME has not used the new key: sent again
        again.han.tick(1000)
        self.assertEqual(learn_key(again.radio(), ESME_LINK).key, sec.key)
        again.rx(Meter(ESME_EUI, old_key).secure(summation_report(0x1111, 1)))
        self.assertEqual(again.han.rejected[han_reject.SEC_UNKNOWN_KEY], 0)

    def test_counter_ffffffff_is_refused_under_a_new_key_too(self):
        # A member (it holds the network key) whose first frame under the new key carries the
        # frame counter 0xFFFFFFFF, which ZigBee never lets a sender use (4.3.1.1): refused as a
        # replay on the header, by route and by the full path alike, not accepted (no counter
        # above it to move the window to) and never raising out of Hub.on_frame.
        new_key = bytes(range(16, 32))
        for full in (False, True):
            lab = Lab()
            short = lab.join(GSME_EUI)
            lab.han.security._rand = lambda n: new_key[:n]
            lab.rx(lab.meter(GSME_EUI).secure(summation_report(short, 1)), 10)
            self.assertTrue(lab.han.update_key(1000))
            last = Meter(GSME_EUI, new_key, 1)
            last.sec.outgoing.next = lambda: 0xFFFFFFFF  # past MAX: a sender that breaks the rule
            frame = vectors.load(lab.frame, last.secure(summation_report(short, 2)))
            if full:
                lab.hub._other(frame, mac.GENERIC, 2000)
            else:
                lab.hub.on_frame(frame, 2000)
            self.assertEqual(lab.han.rejected[han_reject.SEC_REPLAYED], 1, full)
            self.assertEqual(lab.han.frames_in, 1, full)
            self.assertEqual(lab.han.security.incoming.key_seq(0), 0, full)
            self.assertEqual(lab.han.security.incoming.lowest(0), 1, full)

    def test_keys_are_random_and_persisted(self):
        a, b = Lab(), Lab()
        self.assertNotEqual(a.han.security.key, b.han.security.key)
        self.assertEqual(Lab(a.st).han.security.key, a.han.security.key)
        a.st.records["nwk_key"] = b"junk"
        damaged = Lab(a.st)
        self.assertTrue(damaged.han.security.key_lost)
        self.assertTrue(damaged.notes("han")[0]["key_lost"])


# Allocation, call frames included (micropython.mem_total): the HAN's secured drop paths, from
# a parsed MAC frame on (the hub's own dispatch has its own tests).
_LAB = Lab(log=LOG, ccm=(1, 1))
_SHORT = _LAB.join(GSME_EUI)
_METER = _LAB.meter(GSME_EUI)
_REPORT = _METER.secure(summation_report(_SHORT, 1))
_LAB.rx(_REPORT)
_FORGED = bytearray(_METER.secure(summation_report(_SHORT, 2)))
_FORGED[-3] ^= 1
_CASES = {
    "replay": _REPORT,
    "stranger": Meter(STRANGER, _LAB.han.security.key).secure(summation_report(_SHORT, 3)),
    "clear": summation_report(_SHORT, 4),
    "forged": bytes(_FORGED),  # the budget (1/s) lets one through to CCM*, then refuses
    "unknown_key": Meter(GSME_EUI, _LAB.han.security.key, seq=5).secure(
        summation_report(_SHORT, 5)
    ),
    "not_member": Meter(GSME_EUI, _LAB.han.security.key).secure(summation_report(0x4242, 6)),
}


def _path(psdu):
    buf = bytearray(psdu)
    f = mac.MacFrame()
    mac.parse(buf, 0, len(buf) - 2, f)
    han = _LAB.han

    def rx():
        han.on_frame(buf, f, 5000, -1)

    return rx


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class NoAllocationTest(unittest.TestCase):
    def test_secured_drop_paths_allocate_nothing(self):
        for name, psdu in _CASES.items():
            self.assertEqual(heap_bytes(_path(psdu)), 0, name)
        rj = _LAB.han.rejected
        self.assertTrue(rj[han_reject.SEC_REPLAYED] >= 10 and rj[han_reject.SEC_BUSY] >= 10)
        self.assertTrue(rj[han_reject.SEC_UNKNOWN_SOURCE] >= 10 and rj[han_reject.UNSECURED] >= 10)

    def test_and_through_the_whole_hub(self):
        # Hub.on_frame: mac.route decides each of these from the header and counts it (the
        # forged one: the CCM* budget's refusal, tested inline), nothing allocated.
        from contract.frame import RxFrame

        hub = _LAB.hub
        rj = _LAB.han.rejected
        for name, why in (
            ("replay", han_reject.SEC_REPLAYED),
            ("stranger", han_reject.SEC_UNKNOWN_SOURCE),
            ("clear", han_reject.UNSECURED),
            ("forged", han_reject.SEC_BUSY),
            ("unknown_key", han_reject.SEC_UNKNOWN_KEY),
            ("not_member", han_reject.NOT_MEMBER),
        ):
            frame = vectors.load(RxFrame(), _CASES[name])
            before = rj[why]
            self.assertEqual(heap_bytes(lambda f=frame: hub.on_frame(f, 5000)), 0, name)
            self.assertEqual(rj[why], before + 11, name)


# A member's genuine reports, each with a new counter, through the whole hub: decrypted,
# authenticated, the reading kept, allocating nothing. Two things that are not per frame go out
# with the first one, before measuring: the reading's note (once per 10 s per member) and the
# incoming counter's bound, written ahead to storage once per `step` frames (8 by default; its
# sealed record is built on the heap), here set far enough ahead for the whole measurement.
def _genuine_lab():
    from contract.frame import RxFrame
    from tests_device import vectors

    lab = Lab(log=LOG, ccm=(1000, 100))
    lab.han.security.incoming.step = 1000
    short = lab.join(GSME_EUI)
    meter = lab.meter(GSME_EUI)
    frames = [
        vectors.load(RxFrame(), meter.secure(summation_report(short, 100 + i))) for i in range(16)
    ]
    return lab, frames


_GENUINE = []  # lab, frames, the next frame's index: only while the test runs (heap)


def _genuine():
    g = _GENUINE
    g[0].hub.on_frame(g[1][g[2]], 5000)
    g[2] += 1


@unittest.skipIf(heap_bytes(lambda: None) is None, "needs micropython.mem_total")
class GenuineReportTest(unittest.TestCase):
    def test_a_members_report_allocates_nothing(self):
        lab, frames = _genuine_lab()
        _GENUINE[:] = [lab, frames, 0]
        try:
            self.assertEqual(heap_bytes(_genuine), 0)
        finally:
            del _GENUINE[:]
        self.assertEqual(lab.han.frames_in, 11)
        self.assertEqual(lab.han.reading(0)[0], 110)  # the last one's, kept
        self.assertEqual(sum(lab.han.rejected), 0)
        self.assertEqual(lab.han.security.incoming.writes, 1)  # the first frame's bound
