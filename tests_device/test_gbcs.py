import unittest

from firmware import cmd_gbcs as gbcs
from tests_device.vectors import h

# RTDS 4.5.0 test data, ECS01c immediate command (SmartDCCInnovation/gbcs-parser, file
# test/rtds/RTDS-4.5.0/1.1.2_ECS01c/ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX), inside its
# General Ciphering wrapper, which starts 15 octets earlier. The content is 0x1D2 octets of
# DLMS starting D9; the real command is signed with ECDSA; here the tail is a 0-length
# signature field.
RTDS_HEADER = h(
    "DF 09 01 00 00 00 00 00 00 03 EA 08 90 B3 D5 1F 30 01 00 00"
    " 08 00 DB 12 34 56 78 90 A0 00 02 00 B7 82 01 D2"
)


def rtds():
    return RTDS_HEADER + b"\xd9" + bytes(0x1D2 - 1) + b"\x00"


class GbcsHeaderTest(unittest.TestCase):
    def test_rtds_worked_example(self):
        m = rtds()
        hd = gbcs.GbcsHeader()
        self.assertEqual(gbcs.parse(m, 0, len(m), hd), gbcs.OK)
        self.assertEqual(hd.cra, gbcs.COMMAND)
        self.assertEqual(hd.counter, 1002)
        self.assertEqual(gbcs.eui(m, hd.orig_off), h("90B3D51F30010000"))
        self.assertEqual(gbcs.eui(m, hd.recip_off), h("00DB1234567890A0"))
        self.assertEqual(hd.msg_code, 0x00B7)
        self.assertEqual(hd.content_len, 0x1D2)
        self.assertEqual(m[hd.content_off], 0xD9)
        self.assertEqual((hd.date_off, hd.auth_len), (-1, 0))

    def test_build_round_trip_and_signed_span(self):
        tag = bytes(range(16))
        m = gbcs.build(
            gbcs.RESPONSE,
            2**63 - 1,
            h("0011223344556677"),
            h("8899aabbccddeeff"),
            0x0001,
            b"\x00\x01\x02",
            tag,
            date=bytes(12),
        )
        hd = gbcs.GbcsHeader()
        self.assertEqual(gbcs.parse(m, 0, len(m), hd), gbcs.OK)
        self.assertEqual((hd.cra, hd.counter, hd.msg_code), (2, 2**63 - 1, 1))
        self.assertEqual(m[hd.auth_off : hd.auth_off + hd.auth_len], tag)
        self.assertEqual(
            m[: hd.signed_end],
            gbcs.signed_part(
                2,
                2**63 - 1,
                h("0011223344556677"),
                h("8899aabbccddeeff"),
                1,
                b"\x00\x01\x02",
                bytes(12),
            ),
        )
        self.assertEqual(hd.date_off, 30)  # DF 09 CRA counter(8) 08 EUI 08 EUI 0C | date

    def test_long_content_lengths(self):
        for n in (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x300):
            m = gbcs.build(1, 5, bytes(8), bytes(8), 7, bytes(n), b"\x01")
            hd = gbcs.GbcsHeader()
            self.assertEqual(gbcs.parse(m, 0, len(m), hd), gbcs.OK, n)
            self.assertEqual(hd.content_len, n)

    def test_every_truncation_is_rejected(self):
        m = gbcs.build(1, 5, bytes(8), bytes(8), 7, b"abc", bytes(16))
        hd = gbcs.GbcsHeader()
        for cut in range(len(m)):
            self.assertNotEqual(gbcs.parse(m, 0, cut, hd), gbcs.OK, cut)

    def test_bad_fields(self):
        m = bytearray(gbcs.build(1, 5, bytes(8), bytes(8), 7, b"abc", bytes(16)))
        hd = gbcs.GbcsHeader()
        for i, v, why in (
            (0, 0xDD, gbcs.BAD_FORMAT),
            (1, 0x08, gbcs.BAD_FORMAT),
            (2, 0, gbcs.BAD_CRA),
            (2, 4, gbcs.BAD_CRA),
            (11, 7, gbcs.BAD_FORMAT),
            (29, 5, gbcs.BAD_FORMAT),
        ):
            bad = bytearray(m)
            bad[i] = v
            self.assertEqual(gbcs.parse(bad, 0, len(bad), hd), why, (i, v))
        self.assertEqual(gbcs.parse(m + b"\x00", 0, len(m) + 1, hd), gbcs.TRAILING)
