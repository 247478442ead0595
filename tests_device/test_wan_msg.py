import unittest

from contract import wan_msg
from firmware import ipan_discovery as discovery


class WanMsgTest(unittest.TestCase):
    def test_round_trip(self):
        m = wan_msg.encode_json({"op": "status"})
        self.assertEqual(wan_msg.length(m[:4]), len(m) - 4)
        self.assertEqual(wan_msg.decode_json(m[4:]), {"op": "status"})
        hb = wan_msg.encode(wan_msg.HEARTBEAT)
        self.assertEqual(hb, b"\x00\x00\x00\x01\x00")

    def test_lengths_out_of_bounds(self):
        self.assertEqual(wan_msg.length(b"\x00\x00\x00\x00"), -1)
        self.assertEqual(wan_msg.length(b"\x00\x00\x10\x01"), -1)  # 4097
        self.assertEqual(wan_msg.length(b"\xff\xff\xff\xff"), -1)
        self.assertEqual(wan_msg.length(b"\x00\x00\x10\x00"), 4096)

    def test_junk_json_is_none(self):
        for junk in (b"", b"\x01", b"\x01{", b"\x01[1]", b"\x01\xff\xfe", b"\x00{}", b'\x01"x"'):
            self.assertIsNone(wan_msg.decode_json(junk), junk)


class DiscoveryCodecTest(unittest.TestCase):
    def test_pages_of_the_device_log(self):
        euis = [bytes((0, 0x23, 0x7E, 0, 0, 0, 0, i)) for i in range(11)]
        buf = bytearray(127)
        eui = b"\x00\x23\x7e\x00\x00\x12\xd6\x87"
        end = discovery.write_details(buf, 3, eui, 0x1A2B, 11, 42, True, euis, 0)
        d = discovery.parse_details(buf, 3, end)
        self.assertEqual(len(d["devices"]), discovery.PAGE)
        self.assertEqual((d["devices_total"], d["start"], d["seconds_left"]), (11, 0, 42))
        end = discovery.write_details(buf, 3, eui, 0x1A2B, 11, None, False, euis, 8)
        d = discovery.parse_details(buf, 3, end)
        self.assertEqual(d["devices"], euis[8:])
        self.assertEqual((d["seconds_left"], d["wan_present"]), (None, False))
        self.assertEqual(d["interpan_state"], "on_no_timeout")
        self.assertTrue(end - 3 + 23 + 2 + 5 + 3 + 2 <= 127)  # a full page fits one frame

    def test_truncated_details_are_none(self):
        buf = bytearray(127)
        end = discovery.write_details(buf, 0, bytes(8), 1, 11, 1, True, [bytes(8)], 0)
        for cut in range(end):
            self.assertIsNone(discovery.parse_details(buf, 0, cut))


class DeepNestingTest(unittest.TestCase):
    def test_deeply_nested_json_is_junk(self):
        self.assertIsNone(wan_msg.decode_json(bytes((wan_msg.JSON,)) + b"[" * 2000))
