# The inter-PAN octet functions (firmware.ipan_octets): native code where this port has an
# emitter and the same source as bytecode (contract.native) give the same answer on every frame,
# junk included; each verdict is the one the frame's octets call for; offsets outside the
# buffer are refused, never read; and none of them allocates.
import unittest

from firmware import zb_interpan as ip
from firmware import zb_zcl as zcl
from tests_device import interpan_frames as ipf
from tests_device import native_pair
from tests_device.alloc import heap_bytes
from tests_device.native_pair import both

NATIVE, BYTECODE = both("firmware.ipan_octets")
ME = b"\x34\x12" + bytes(reversed(ipf.HUB))  # the same hub on PAN 0x1234
OUR_PAN = b"\x2b\x1a" + bytes(reversed(ipf.HUB))  # PAN 0x1A2B, the hub's EUI-64 on air
HEADER_FIELDS = ("delivery", "cluster", "profile", "zcl_off", "src_pan", "src_ext_off")
ZCL_FIELDS = ("fc", "manufacturer", "seq", "command", "payload_off")


def frames():
    # What an HHT sends, and what a flood sends: every verdict of classify.
    other = b"\x00\x23\x7e\x00\x00\x12\xd6\x88"
    return (
        ipf.command(),  # a command: the GBCS offset
        ipf.get_details(),  # DISCOVERY
        ipf.tunnel(),  # OTHER: a Tunneling command the hub does not serve
        ipf.command(dst=other),  # FOREIGN: another hub's EUI-64
        ipf.command(dst_pan=0x1234),  # FOREIGN: another PAN
        ipf.command(dst=0xFFFF),  # a broadcast destination (short)
        ipf.command(dst_pan=0x1A2B),  # our PAN
        ipf.get_details(fc=zcl.CLUSTER_SPECIFIC | zcl.SERVER_TO_CLIENT),  # OTHER
    )


def need_source():
    native_pair.need_source(BYTECODE, "firmware/ipan_octets.py")


class VerdictTest(unittest.TestCase):
    def test_a_drop_is_its_reject_code_negated(self):
        # The hub counts classify()'s drops at rejected[-verdict], with no decision of its own.
        from firmware import hub_reject as reject

        self.assertEqual(-ip.OTHER, reject.NOT_A_COMMAND)
        self.assertEqual(-ip.FOREIGN, reject.NOT_FOR_US)
        self.assertEqual(-NATIVE.OTHER, reject.NOT_A_COMMAND)
        self.assertEqual(-NATIVE.FOREIGN, reject.NOT_FOR_US)
        self.assertFalse(-ip.DISCOVERY in (reject.NOT_A_COMMAND, reject.NOT_FOR_US))

    def test_each_frame_gets_its_verdict(self):
        got = []
        for psdu in frames():
            src = ip.header_source(psdu, 0, len(psdu))
            self.assertTrue(src > 0)
            got.append(ip.classify(psdu, 0, len(psdu), src, OUR_PAN))
        self.assertTrue(got[0] > 0 and ipf.command()[got[0]] == 0xDF)
        self.assertEqual(got[1:5], [ip.DISCOVERY, ip.OTHER, ip.FOREIGN, ip.FOREIGN])
        self.assertEqual(got[5:7], [got[0] - 6, got[0]])  # a short destination is 6 octets less
        self.assertEqual(got[7], ip.OTHER)

    def test_a_truncated_command_is_not_one(self):
        psdu = ipf.command()
        src = ip.header_source(psdu, 0, len(psdu))
        self.assertEqual(ip.classify(psdu, 0, len(psdu) - 1, src, OUR_PAN), ip.OTHER)

    def test_parse_at_agrees_with_the_general_parse(self):
        from firmware import hub_reject as reject
        from firmware import mac

        for psdu in frames():
            f = mac.MacFrame()
            self.assertEqual(mac.parse(psdu, 0, len(psdu), f), 0)
            h1 = ip.InterPanHeader()
            h2 = ip.InterPanHeader()
            z = zcl.ZclHeader()
            self.assertEqual(ip.parse(psdu, f, h1), ip.OK)
            self.assertEqual(zcl.parse(psdu, h1.zcl_off, h1.payload_end, z), zcl.OK)
            src = ip.header_source(psdu, 0, len(psdu))
            verdict = ip.parse_at(psdu, 0, len(psdu), src, h2)
            if z.fc & zcl.SERVER_TO_CLIENT:
                self.assertEqual(verdict, reject.UNKNOWN_COMMAND)
            elif h1.cluster == zcl.TUNNELING:
                self.assertEqual(verdict, 0)  # for the command layer, whatever the command
            else:
                self.assertEqual(verdict, ip.DISCOVERY)
            for name in ip.PARSED:  # what parse_at fills, as the general parse has it
                want = getattr(z if name in ZCL_FIELDS else h1, name)
                self.assertEqual(want, getattr(h2, name), name)

    def test_parse_at_refuses_what_the_general_parse_refuses(self):
        from firmware import hub_reject as reject

        h = ip.InterPanHeader()
        psdu = bytearray(ipf.command())
        src = ip.header_source(psdu, 0, len(psdu))
        psdu[1] |= 0x20  # frame version 2
        self.assertEqual(ip.parse_at(psdu, 0, len(psdu), src, h), reject.RESERVED_VERSION)
        psdu = bytearray(ipf.command())
        psdu[src + 10] = 0x13  # an APS frame control with the ack bit
        self.assertEqual(ip.parse_at(psdu, 0, len(psdu), src, h), reject.BAD_APS)
        psdu = ipf.command(profile=0x0104)
        self.assertEqual(ip.parse_at(psdu, 0, len(psdu), src, h), reject.WRONG_PROFILE)
        psdu = ipf.command(fc=0x40)  # a reserved ZCL frame control bit
        self.assertEqual(ip.parse_at(psdu, 0, len(psdu), src, h), reject.BAD_ZCL)
        psdu = ipf.command()
        self.assertEqual(ip.parse_at(psdu, 0, len(psdu) - 1, src, h), 0)  # one octet short
        self.assertEqual(ip.parse_at(psdu, 0, src + 11, src, h), reject.TRUNCATED)
        self.assertEqual(ip.parse_at(psdu, 0, src + 13, src, h), reject.BAD_APS)


class SameAnswersTest(unittest.TestCase):
    def test_on_junk(self):
        need_source()
        h1, h2 = ip.InterPanHeader(), ip.InterPanHeader()
        z1, z2 = zcl.ZclHeader(), zcl.ZclHeader()
        seen = set()
        for buf, off, n in native_pair.mutated(native_pair.rng(16), frames(), 1500):
            src = NATIVE.header_source(buf, off, n)
            self.assertEqual(src, BYTECODE.header_source(buf, off, n), (bytes(buf), off, n))
            for k in (src, off + 9, off + 15):
                for me in (ME, OUR_PAN):
                    v = NATIVE.classify(buf, off, n, k, me)
                    self.assertEqual(v, BYTECODE.classify(buf, off, n, k, me), (bytes(buf), k))
                    seen.add(v if v < 0 else 0)
                r = NATIVE.parse_at(buf, off, n, k, h1)
                self.assertEqual(r, BYTECODE.parse_at(buf, off, n, k, h2))
                if r <= 0:  # a Tunneling frame, or a discovery request
                    for name in ip.PARSED:
                        self.assertEqual(getattr(h1, name), getattr(h2, name), name)
                    end = h1.payload_end
                    # the stub APS header's fields (aps), for the ZCL header's offset
                    self.assertEqual(NATIVE.aps(buf, k + 10, end, h1), 0)
                    self.assertEqual(BYTECODE.aps(buf, k + 10, end, h2), 0)
                    for name in HEADER_FIELDS:
                        self.assertEqual(getattr(h1, name), getattr(h2, name), name)
                    r = NATIVE.zcl_header(buf, h1.zcl_off, end, z1)
                    self.assertEqual(r, BYTECODE.zcl_header(buf, h1.zcl_off, end, z2))
                    if r == 0:
                        for name in ZCL_FIELDS:
                            self.assertEqual(getattr(z1, name), getattr(z2, name), name)
        self.assertEqual(seen, {0, ip.OTHER, ip.DISCOVERY, ip.FOREIGN})

    def test_offsets_outside_the_buffer_are_refused_not_read(self):
        need_source()
        psdu = bytearray(ipf.command())
        n = len(psdu)
        src = ip.header_source(psdu, 0, n)
        h = ip.InterPanHeader()
        z = zcl.ZclHeader()
        for fns in (NATIVE, BYTECODE):
            self.assertEqual(fns.header_source(psdu, 1, n), -1)
            self.assertEqual(fns.header_source(psdu, -1, n), -1)
            self.assertEqual(fns.classify(psdu, 3, n, src + 3, OUR_PAN), ip.OTHER)
            self.assertEqual(fns.classify(psdu, 0, n, n, OUR_PAN), ip.OTHER)
            self.assertEqual(fns.classify(psdu, 0, n, src, b"\xff"), ip.OTHER)  # `me` too short
            self.assertNotEqual(fns.parse_at(psdu, 1, n, src + 1, h), 0)
            self.assertNotEqual(fns.parse_at(psdu, 0, n, n - 4, h), 0)
            self.assertEqual(fns.aps(psdu, n - 3, n + 5, h), ip.BAD_APS)
            self.assertEqual(fns.zcl_header(psdu, n - 4, n + 1, z), zcl.BAD)


class Find8Test(unittest.TestCase):
    def test_finds_each_entry_and_nothing_else(self):
        table = b"".join(bytes((0, 0x23, 0x7E, 0, 0, 0, k, 0x5A)) for k in range(5))
        buf = bytearray(3) + table
        for fns in (NATIVE, BYTECODE or NATIVE):
            for k in range(5):
                self.assertEqual(fns.find8(table, 5, buf, 3 + 8 * k), k)
            self.assertEqual(fns.find8(table, 4, buf, 3 + 32), -1)  # only the first four
            self.assertEqual(fns.find8(table, 5, buf, 4), -1)  # straddling two entries
            self.assertEqual(fns.find8(table, 5, buf, len(buf) - 7), -1)  # past the end
            self.assertEqual(fns.find8(table, 5, buf, -1), -1)
            self.assertEqual(fns.find8(b"", 0, buf, 3), -1)
            self.assertEqual(fns.find8(table[:-1], 5, buf, 3), -1)  # more than the table holds


class NoAllocationTest(unittest.TestCase):
    def test_the_octet_functions_allocate_nothing(self):
        psdu = ipf.command()
        n = len(psdu)
        src = ip.header_source(psdu, 0, n)
        h = ip.InterPanHeader()
        z = zcl.ZclHeader()
        table = psdu[:24]
        for fns in (NATIVE, BYTECODE or NATIVE):
            for name, call in (
                ("header_source", lambda f=fns.header_source: f(psdu, 0, n)),
                ("classify", lambda f=fns.classify: f(psdu, 0, n, src, OUR_PAN)),
                ("parse_at", lambda f=fns.parse_at: f(psdu, 0, n, src, h)),
                ("zcl_header", lambda f=fns.zcl_header: f(psdu, h.zcl_off, n - 2, z)),
                ("find8", lambda f=fns.find8: f(table, 3, psdu, 16)),
            ):
                self.assertIn(heap_bytes(call), (None, 0), name)


if __name__ == "__main__":
    unittest.main()
