# The command layer: authentication, first-wins across channels, the anti-replay window,
# persistence before execution, hub commands, resume queries.
import unittest

from firmware import cmd_ber as ber
from firmware import cmd_catalogue as cat
from firmware import cmd_gbcs as gbcs
from firmware import decision
from firmware.cmd_auth import HmacSha256
from firmware.cmd_parties import Parties
from firmware.cmd_pipeline import INTERPAN, WAN, signed
from firmware.cmd_store import CommandStore
from firmware.core import Core
from firmware.settings import Settings
from hal.fake.clock import ManualClock
from hal.fake.storage import MemoryStorage

HUB = b"\x00\x23\x7e\x00\x00\x12\xd6\x87"
SUPPLIER = b"\x90\xb3\xd5\x1f\x30\x01\x00\x00"
INSTALLER = b"\x90\xb3\xd5\x1f\x30\x02\x00\x00"
ESME = b"\x00\x23\x7e\x00\x00\x00\x00\x01"
STRANGER = b"\x90\xb3\xd5\x1f\x30\x09\x00\x00"
NETOP = b"\x90\xb3\xd5\x1f\x30\x04\x00\x00"
OTHER_HUB = b"\x00\x23\x7e\x00\x00\x99\x99\x99"
KEYS = {
    SUPPLIER: b"S" * 32,
    INSTALLER: b"I" * 32,
    ESME: b"E" * 32,
    STRANGER: b"X" * 32,
    NETOP: b"N" * 32,
}


def parties(storage=None):
    p = Parties(storage)
    if len(p):
        return p  # as persisted (a key may have been changed)
    p.add(SUPPLIER, "supplier", KEYS[SUPPLIER])
    p.add(INSTALLER, "installer", KEYS[INSTALLER])
    p.add(ESME, "esme", KEYS[ESME])
    p.add(NETOP, "network_operator", KEYS[NETOP])
    return p


def command(orig, counter, code, fields=(), recip=HUB, key=None):
    content = fields if isinstance(fields, bytes) else ber.sequence(*fields)
    return signed(gbcs.COMMAND, counter, orig, recip, code, content, key or KEYS[orig])


class Rig:
    # A hub with a command layer on a storage that survives "reboots".
    def __init__(self, storage=None, originators=4, window=64):
        self.storage = storage if storage is not None else MemoryStorage()
        self.sizes = (originators, window)
        self.clock = ManualClock()
        self.boot()

    def boot(self):
        s = Settings(None, ("hub.eui64=00-23-7E-00-00-12-D6-87",))
        store = CommandStore(self.storage, originators=self.sizes[0], window=self.sizes[1])
        core = Core(s, self.storage, parties(self.storage), store, self.clock)
        self.cmds = core.commands
        self.hub = core.hub
        self.hub.power_up(0)

    def send(self, msg, channel=WAN):
        return self.cmds.process(channel, msg, 0, len(msg), self.clock.ticks_ms())


def status_of(rsp, key=KEYS[SUPPLIER]):
    h = gbcs.GbcsHeader()
    assert gbcs.parse(rsp, 0, len(rsp), h) == gbcs.OK
    assert h.cra == gbcs.RESPONSE
    tag = rsp[h.auth_off : h.auth_off + h.auth_len]
    assert HmacSha256().verify(key, rsp[: h.signed_end], tag), "response tag"
    els = ber.elements(rsp[h.content_off : h.content_off + h.content_len])
    assert els[0][0] == ber.ENUMERATED
    h.data = els[1][1] if len(els) > 1 else b""
    return cat.STATUS[els[0][1][0]], h


class FirstWinsTest(unittest.TestCase):
    def test_executes_and_answers_signed(self):
        r = Rig()
        ok, rsp = r.send(command(SUPPLIER, 1002, cat.READ_HUB_STATUS))
        self.assertTrue(ok)
        st, h = status_of(rsp)
        self.assertEqual((st, h.counter, h.msg_code), ("ok", 1002, cat.READ_HUB_STATUS))
        self.assertEqual(gbcs.eui(rsp, h.orig_off), HUB)
        self.assertEqual(gbcs.eui(rsp, h.recip_off), SUPPLIER)
        self.assertEqual(h.data[0], 1)  # inter-PAN on, counting down

    def test_second_copy_is_duplicate_on_its_own_channel_either_order(self):
        for first, second in ((WAN, INTERPAN), (INTERPAN, WAN), (WAN, WAN)):
            r = Rig()
            msg = command(SUPPLIER, 7, cat.INTERPAN_OFF)
            ok1, rsp1 = r.send(msg, first)
            ok2, rsp2 = r.send(msg, second)
            self.assertEqual((ok1, status_of(rsp1)[0]), (True, "ok"))
            self.assertEqual((ok2, status_of(rsp2)[0]), (False, "duplicate"))
            events = [f for e, f in r.hub.notes if e == "command"]
            self.assertEqual(
                [(f["channel"], f["status"]) for f in events],
                [(first, "ok"), (second, "duplicate")],
            )
            self.assertEqual(r.cmds.counts["executed"], 1)

    def test_window_in_any_order_then_stale(self):
        r = Rig(window=64)
        for c in (100, 40, 99, 38, 101):  # yesterday's HHT counters after newer WAN ones
            self.assertEqual(
                status_of(r.send(command(SUPPLIER, c, cat.READ_HUB_STATUS))[1])[0], "ok", c
            )
        self.assertEqual(
            status_of(r.send(command(SUPPLIER, 38, cat.READ_HUB_STATUS))[1])[0], "duplicate"
        )
        self.assertEqual(  # 101 moved the edge: 37 is now below the 64-counter window
            status_of(r.send(command(SUPPLIER, 37, cat.READ_HUB_STATUS))[1])[0], "stale"
        )
        r.send(command(SUPPLIER, 200, cat.READ_HUB_STATUS))
        self.assertEqual(
            status_of(r.send(command(SUPPLIER, 136, cat.READ_HUB_STATUS))[1])[0], "stale"
        )
        self.assertEqual(
            status_of(r.send(command(SUPPLIER, 137, cat.READ_HUB_STATUS))[1])[0], "ok"
        )

    def test_originators_have_separate_windows(self):
        r = Rig()
        self.assertTrue(r.send(command(SUPPLIER, 5, cat.READ_HUB_STATUS))[0])
        ok, rsp = r.send(command(INSTALLER, 5, cat.READ_HUB_STATUS))
        self.assertEqual((ok, status_of(rsp, KEYS[INSTALLER])[0]), (True, "ok"))


class RejectTest(unittest.TestCase):
    def test_unknown_originator_bad_tag_and_junk_never_move_the_window(self):
        r = Rig()
        good = command(SUPPLIER, 10, cat.INTERPAN_OFF)
        forged = command(SUPPLIER, 10, cat.INTERPAN_OFF, key=b"wrong key wrong key wrong key!!!")
        tampered = bytearray(good)
        tampered[40] ^= 1
        for msg, why in (
            (command(STRANGER, 10, cat.INTERPAN_OFF), "unknown_originator"),
            (forged, "bad_tag"),
            (bytes(tampered), "bad_tag"),
            (good[:20], "malformed"),
            (b"\xdf\x09\x02" + good[3:], "not_a_command"),
        ):
            self.assertEqual(r.send(msg), (False, None))
            self.assertEqual(r.hub.notes[-1][1]["reason"], why)
        self.assertEqual(r.cmds.store.replay.euis, [])
        self.assertTrue(r.hub.interpan.is_on())  # nothing ran
        self.assertEqual(status_of(r.send(good)[1])[0], "ok")

    def test_role_permissions(self):
        r = Rig()
        ok, rsp = r.send(command(SUPPLIER, 1, cat.INTERPAN_ENABLE))
        self.assertEqual(status_of(rsp)[0], "not_permitted")
        ok, rsp = r.send(command(ESME, 1, cat.INTERPAN_ENABLE))  # not a member yet
        self.assertEqual(status_of(rsp, KEYS[ESME])[0], "not_permitted")
        r.hub.device_log.add(ESME, 1)
        r.hub.interpan.off(0)
        ok, rsp = r.send(command(ESME, 2, cat.INTERPAN_ENABLE))
        self.assertEqual(status_of(rsp, KEYS[ESME])[0], "ok")
        self.assertTrue(r.hub.interpan.is_on())
        ok, rsp = r.send(command(INSTALLER, 1, cat.DEVICE_LOG_ADD, (ESME, b"\x01")))
        self.assertEqual(status_of(rsp, KEYS[INSTALLER])[0], "not_permitted")

    def test_table_full_refuses_without_evicting(self):
        r = Rig(originators=2)
        r.send(command(SUPPLIER, 1, cat.READ_HUB_STATUS))
        r.send(command(INSTALLER, 1, cat.READ_HUB_STATUS))
        ok, rsp = r.send(command(ESME, 1, cat.READ_HUB_STATUS))
        self.assertEqual((ok, status_of(rsp, KEYS[ESME])[0]), (False, "table_full"))
        ok, rsp = r.send(command(SUPPLIER, 1, cat.READ_HUB_STATUS))
        self.assertEqual(status_of(rsp)[0], "duplicate")  # its window is still there

    def test_unknown_device_and_message(self):
        r = Rig()
        self.assertEqual(
            status_of(r.send(command(SUPPLIER, 1, cat.READ_METER, recip=ESME))[1])[0],
            "unknown_device",
        )
        self.assertEqual(status_of(r.send(command(SUPPLIER, 2, 0x7777))[1])[0], "unknown_message")
        self.assertEqual(
            status_of(r.send(command(SUPPLIER, 3, cat.SET_HUB_CLOCK, (b"\x01",)))[1])[0],
            "bad_content",
        )


class WindowTest(unittest.TestCase):
    # The window moves only for a command that is authenticated, for a target this hub serves,
    # and accepted (RFC 4303 3.4.3); anything refused before that leaves no trace.
    def test_a_command_for_another_hub_does_not_move_the_window(self):
        for channel in (INTERPAN, WAN):
            r = Rig()
            captured = command(SUPPLIER, 10000000, cat.READ_HUB_STATUS, recip=OTHER_HUB)
            writes = r.cmds.store.writes
            ok, rsp = r.send(captured, channel)
            self.assertEqual((ok, status_of(rsp)[0]), (False, "unknown_device"))
            self.assertEqual(r.cmds.store.replay.euis, [])
            self.assertEqual(r.cmds.store.writes, writes)  # nothing persisted either
            for c, ch in ((500001, INTERPAN), (500002, WAN)):
                ok, rsp = r.send(command(SUPPLIER, c, cat.READ_HUB_STATUS), ch)
                self.assertEqual((ok, status_of(rsp)[0]), (True, "ok"))

    def test_no_refused_command_moves_the_window(self):
        r = Rig()
        refused = (
            (command(SUPPLIER, 900, cat.READ_METER, recip=ESME), "unknown_device"),
            (command(SUPPLIER, 901, cat.READ_METER, recip=HUB), "bad_content"),
            (command(SUPPLIER, 902, 0x7777), "unknown_message"),
            (command(SUPPLIER, 903, cat.SET_HUB_CLOCK, (b"\x01",)), "bad_content"),
            (command(SUPPLIER, 904, cat.READ_HUB_STATUS, b"\x04\x01"), "bad_content"),
            (command(SUPPLIER, 905, cat.INTERPAN_ENABLE), "not_permitted"),
            (command(SUPPLIER, 906, cat.PARTY_REKEY, (SUPPLIER, b"k" * 16)), "not_permitted"),
            (command(SUPPLIER, 907, cat.DEVICE_LOG_ADD, (ESME, b"\x09")), "bad_content"),
            (command(SUPPLIER, 908, cat.EXECUTED_QUERY, (SUPPLIER,)), "bad_content"),
        )
        for msg, why in refused:
            ok, rsp = r.send(msg, INTERPAN)
            self.assertEqual((ok, status_of(rsp)[0]), (False, why))
        self.assertEqual(r.cmds.store.replay.euis, [])
        self.assertEqual(len(r.cmds.store.log), 0)
        self.assertTrue(r.hub.interpan.is_on())
        # A counter below all of them still runs: none of them moved the window.
        self.assertEqual(status_of(r.send(command(SUPPLIER, 5, cat.READ_HUB_STATUS))[1])[0], "ok")

    def test_a_huge_counter_locks_out_until_the_network_operator_rekeys(self):
        r = Rig()
        top = 2**64 - 1
        self.assertTrue(r.send(command(SUPPLIER, top, cat.READ_HUB_STATUS))[0])
        ok, rsp = r.send(command(SUPPLIER, 5, cat.READ_HUB_STATUS))
        self.assertEqual(status_of(rsp)[0], "stale")  # locked out: no counter is above 2^64-1
        new_key = b"n" * 32
        rekey = command(NETOP, 1, cat.PARTY_REKEY, (SUPPLIER, new_key))
        # A key never travels over the air.
        ok, rsp = r.send(rekey, INTERPAN)
        self.assertEqual(status_of(rsp, KEYS[NETOP])[0], "not_permitted")
        # Only the network operator may rekey.
        ok, rsp = r.send(command(INSTALLER, 1, cat.PARTY_REKEY, (SUPPLIER, new_key)))
        self.assertEqual(status_of(rsp, KEYS[INSTALLER])[0], "not_permitted")
        ok, rsp = r.send(command(NETOP, 2, cat.PARTY_REKEY, (STRANGER, new_key)))
        self.assertEqual(status_of(rsp, KEYS[NETOP])[0], "unknown_device")
        ok, rsp = r.send(rekey, WAN)
        self.assertEqual((ok, status_of(rsp, KEYS[NETOP])[0]), (True, "ok"))
        self.assertEqual(r.hub.notes[-2][0], "party_rekeyed")
        r.boot()  # the new key is persisted
        # The old key authenticates nothing now, the top counter included.
        self.assertEqual(r.send(command(SUPPLIER, top, cat.READ_HUB_STATUS)), (False, None))
        self.assertEqual(r.send(command(SUPPLIER, 6, cat.READ_HUB_STATUS)), (False, None))
        ok, rsp = r.send(command(SUPPLIER, 6, cat.READ_HUB_STATUS, key=new_key))
        self.assertEqual((ok, status_of(rsp, new_key)[0]), (True, "ok"))
        ok, rsp = r.send(command(SUPPLIER, 6, cat.READ_HUB_STATUS, key=new_key))
        self.assertEqual(status_of(rsp, new_key)[0], "duplicate")  # first-wins as before
        ok, rsp = r.send(rekey, WAN)
        self.assertEqual(status_of(rsp, KEYS[NETOP])[0], "duplicate")  # no replayed rekey


class SettingTest(unittest.TestCase):
    def test_a_setting_changes_only_signed_and_over_the_wan(self):
        r = Rig()

        def setting(counter, key, value, channel=WAN, who=NETOP):
            msg = command(who, counter, cat.SET_SETTING, (key, value))
            return status_of(r.send(msg, channel)[1], KEYS[who])[0]

        self.assertEqual(setting(1, b"interpan.keepalive_s", b"120", INTERPAN), "not_permitted")
        not_netop = setting(2, b"interpan.keepalive_s", b"120", who=SUPPLIER)
        self.assertEqual(not_netop, "not_permitted")
        self.assertEqual(setting(3, b"no.such_key", b"1"), "bad_content")
        self.assertEqual(setting(4, b"interpan.keepalive_s", b"soon"), "bad_content")
        self.assertEqual(setting(5, b"hub.eui64", b"00-23-7E-00-00-00-00-09"), "bad_content")
        self.assertEqual(r.cmds.store.replay.euis, [])  # none of them moved a window
        self.assertEqual(setting(6, b"interpan.keepalive_s", b"120"), "ok")
        self.assertEqual(r.cmds.settings["interpan.keepalive_s"], 120)
        self.assertEqual(r.hub.notes[-2][1], {"key": "interpan.keepalive_s", "source": "wan"})


class HubCommandsTest(unittest.TestCase):
    def test_clock_device_log_and_interpan_off(self):
        r = Rig()
        r.send(command(SUPPLIER, 1, cat.SET_HUB_CLOCK, ((1795000000).to_bytes(4, "big"),)))
        self.assertEqual(r.clock.time(), 1795000000)
        r.send(command(SUPPLIER, 2, cat.DEVICE_LOG_ADD, (ESME, b"\x01")))
        self.assertEqual(r.hub.device_log.kind(ESME), 1)
        r.send(command(SUPPLIER, 3, cat.DEVICE_LOG_REMOVE, (ESME,)))
        self.assertEqual(r.hub.device_log.kind(ESME), -1)
        r.send(command(INSTALLER, 1, cat.INTERPAN_OFF))
        self.assertFalse(r.hub.interpan.is_on())
        self.assertEqual([e for e, _ in r.hub.notes].count("command"), 4)

    def test_device_log_add_with_an_install_code(self):
        r = Rig()
        code = bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5")  # the public vector
        bad_crc = code[:-1] + bytes((code[-1] ^ 1,))
        for c, ic in ((4, bad_crc), (5, code[:9]), (6, b"")):
            ok, rsp = r.send(command(SUPPLIER, c, cat.DEVICE_LOG_ADD, (ESME, b"\x01", ic)))
            self.assertEqual((ok, status_of(rsp)[0]), (False, "bad_install_code"))
        self.assertEqual(r.hub.device_log.kind(ESME), -1)  # refused: nothing added
        ok, rsp = r.send(command(SUPPLIER, 7, cat.DEVICE_LOG_ADD, (ESME, b"\x01", code)))
        self.assertEqual((ok, status_of(rsp)[0]), (True, "ok"))
        key = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")
        self.assertEqual(r.hub.device_log.link_key(ESME), key)
        note = [f for e, f in r.hub.notes if e == "device_log"][-1]
        self.assertTrue(note["install_code"])
        # An update of the kind alone keeps the key; four fields are not a device_log_add.
        r.send(command(SUPPLIER, 8, cat.DEVICE_LOG_ADD, (ESME, b"\x02")))
        self.assertEqual(r.hub.device_log.link_key(ESME), key)
        extra = (ESME, b"\x01", code, b"\x00")
        ok, rsp = r.send(command(SUPPLIER, 9, cat.DEVICE_LOG_ADD, extra))
        self.assertEqual(status_of(rsp)[0], "bad_content")

    def test_executed_query_for_resume(self):
        r = Rig()
        for c in (10, 11, 13):
            r.send(command(SUPPLIER, c, cat.READ_HUB_STATUS))
        answers = []
        for pair in ((10, 11), (12, 13)):
            q = [SUPPLIER] + [c.to_bytes(8, "big") for c in pair]
            rsp = r.send(command(INSTALLER, pair[0], cat.EXECUTED_QUERY, q))[1]  # the HHT asks
            st, h = status_of(rsp, KEYS[INSTALLER])
            answers += list(h.data)
        self.assertEqual(
            answers, [cat.Q_EXECUTED, cat.Q_EXECUTED, cat.Q_NOT_EXECUTED, cat.Q_EXECUTED]
        )
        q = [SUPPLIER] + [c.to_bytes(8, "big") for c in (10, 11, 12)]  # one too many
        st, h = status_of(
            r.send(command(INSTALLER, 20, cat.EXECUTED_QUERY, q))[1], KEYS[INSTALLER]
        )
        self.assertEqual(st, "bad_content")


class PersistenceTest(unittest.TestCase):
    def test_first_wins_survives_a_reboot(self):
        r = Rig()
        msg = command(SUPPLIER, 50, cat.INTERPAN_OFF)
        self.assertTrue(r.send(msg)[0])
        r.boot()
        self.assertEqual(status_of(r.send(msg)[1])[0], "duplicate")

    def test_failed_accept_write_runs_nothing_and_consumes_nothing(self):
        r = Rig()
        msg = command(SUPPLIER, 60, cat.INTERPAN_OFF)
        r.storage.fail_next_write = True
        ok, rsp = r.send(msg)
        self.assertEqual((ok, status_of(rsp)[0]), (False, "failed"))
        self.assertTrue(r.hub.interpan.is_on())  # not executed
        self.assertTrue(r.send(msg)[0])  # the counter was not consumed: a resend runs it
        self.assertFalse(r.hub.interpan.is_on())

    def test_accept_write_out_of_heap_runs_nothing_and_consumes_nothing(self):
        # A MemoryError on the way to flash must not leave the counter used in RAM only: the
        # resend would be answered "duplicate" and the command would never run.
        r = Rig()
        msg = command(SUPPLIER, 65, cat.INTERPAN_OFF)
        r.storage.fail_with = MemoryError()
        r.storage.fail_next_write = True
        self.assertEqual(status_of(r.send(msg)[1])[0], "failed")
        self.assertTrue(r.hub.interpan.is_on())
        self.assertTrue(r.send(msg)[0])
        self.assertFalse(r.hub.interpan.is_on())

    def test_lost_outcome_write_still_never_runs_twice(self):
        r = Rig()
        msg = command(SUPPLIER, 70, cat.INTERPAN_OFF)
        r.storage.fail_after_writes = 1  # the accept is written; the outcome write fails
        self.assertTrue(r.send(msg)[0])
        r.boot()  # power cut: what is on storage is the accept only
        q = [SUPPLIER, (70).to_bytes(8, "big")]
        rsp = r.send(command(SUPPLIER, 71, cat.EXECUTED_QUERY, q))[1]
        h = status_of(rsp)[1]
        self.assertEqual(h.data[0], cat.Q_ACCEPTED)
        self.assertEqual(status_of(r.send(msg)[1])[0], "duplicate")


class InterPanChannelTest(unittest.TestCase):
    # Through Hub.on_frame, as the radio delivers them: SE Tunneling TransferData frames.
    def frame(self, msg, seq=1):
        from tests_device import interpan_frames as ipf

        return ipf.frame(0x0704, 0x02, b"\x00\x00" + msg, seq=seq)

    def rx(self, r, psdu, now):
        from contract.frame import RxFrame
        from tests_device import vectors

        return r.hub.on_frame(vectors.load(RxFrame(), psdu), now)

    def reply_status(self, r):
        from firmware import mac
        from firmware import zb_interpan as interpan_frame
        from firmware import zb_zcl as zcl

        buf = r.hub.out.tx_buf
        f = mac.MacFrame()
        self.assertEqual(mac.parse(buf, 0, r.hub.out.tx_len + 2, f), 0)
        ih = interpan_frame.InterPanHeader()
        interpan_frame.parse(buf, f, ih)
        zh = zcl.ZclHeader()
        zcl.parse(buf, ih.zcl_off, r.hub.out.tx_len, zh)
        self.assertEqual((ih.cluster, zh.command), (0x0704, 0x01))
        return status_of(bytes(buf[zh.payload_off + 2 : r.hub.out.tx_len]))[0]

    def test_accepted_answered_and_rejected(self):
        r = Rig()
        msg = command(SUPPLIER, 5, cat.READ_HUB_STATUS)
        hour = 3600 * 1000
        self.assertEqual(self.rx(r, self.frame(msg), hour - 1000), decision.TRANSMIT)
        self.assertEqual(self.reply_status(r), "ok")
        self.assertEqual(r.hub.interpan.seconds_left(hour - 1000), 3600)  # a keep-alive
        self.assertEqual(self.rx(r, self.frame(msg, 2), hour), decision.TRANSMIT)
        self.assertEqual(self.reply_status(r), "duplicate")
        self.assertEqual(r.hub.interpan.seconds_left(hour), 3599)  # answered, not a keep-alive
        forged = command(SUPPLIER, 6, cat.READ_HUB_STATUS, key=b"f" * 32)
        self.assertEqual(self.rx(r, self.frame(forged, 3), hour), decision.NOTHING)
        from firmware import hub_reject as reject

        self.assertEqual(r.hub.rejected[reject.UNAUTHENTICATED], 1)

    def test_a_forged_command_allocates_nothing(self):
        # Verified and refused by the real command layer (HMAC in place, no hash objects), past
        # the budget of its notes: nothing allocated, call frames included; each one counted.
        from contract.frame import RxFrame
        from firmware import dos_limits as d
        from firmware import hub_reject as reject
        from tests_device import vectors
        from tests_device.alloc import heap_bytes

        r = Rig()
        # The budgets opened, so that every frame is verified.
        r.hub.interpan_gate = d.Gate(d.Gcra(1000, 4096), d.TrustedSources(), d.AuthFailures(1))
        forged = command(SUPPLIER, 6, cat.READ_HUB_STATUS, key=b"f" * 32)
        f = vectors.load(RxFrame(), self.frame(forged))
        for _ in range(8):  # the notes' budget (5) spent; the first failure: an alert noted
            r.hub.on_frame(f, 1000)
        self.assertIn(heap_bytes(lambda: r.hub.on_frame(f, 1000), 10), (None, 0))
        before = r.cmds.counts["bad_tag"]
        for _ in range(5):
            r.hub.on_frame(f, 1000)
        self.assertEqual(r.cmds.counts["bad_tag"] - before, 5)  # each one verified, refused
        self.assertEqual(r.hub.rejected[reject.UNAUTHENTICATED], before + 5)
