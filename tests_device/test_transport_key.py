import unittest

from firmware import mac
from firmware import sec_frame as secframe
from firmware import sec_install_code as install_code
from firmware import sec_mmo as mmo
from firmware import sec_transport_key as tk
from firmware import zb_nwk as nwk
from tests_device.test_nwk_security import GSME, HUB, NWK_KEY, PAN
from tests_device.vectors import h

CODE = h("83FED3407A939723A5C639B26916D505C3B5")
KTK = mmo.key_transport_key(install_code.link_key(CODE))


def transport_frame(ktk=KTK, counter=77, aps_counter=9, key=NWK_KEY, key_seq=0, dst=GSME):
    # The MPDU (no FCS) of the hub's Transport-Key to a GSME at 0x145D, and the APS offset.
    buf = bytearray(127)
    p = mac.write_header(buf, mac.DATA, 5, PAN, 0x145D, PAN, 0x0000, True)
    p = nwk.write_nwk(buf, p, 0x145D, 0x0000, 3)
    end = tk.write(buf, p, ktk, counter, HUB, aps_counter, key, key_seq, dst)
    return buf[:end], p


class TransportKeyTest(unittest.TestCase):
    def test_layout(self):
        frame, p = transport_frame()
        self.assertEqual(bytes(frame[p : p + 7]), h("21 09 30 4d000000"))
        self.assertEqual(bytes(frame[p + 7 : p + 15]), bytes(reversed(HUB)))
        self.assertEqual(len(frame) - p, 2 + 13 + 35 + 4)
        self.assertFalse(NWK_KEY in bytes(frame))  # the key never travels in clear

    def test_round_trip(self):
        frame, p = transport_frame(key_seq=3)
        got = tk.TransportedKey()
        self.assertEqual(tk.parse(frame, p, len(frame), KTK, got), tk.OK)
        self.assertEqual((got.key, got.key_seq), (NWK_KEY, 3))
        self.assertEqual((got.dst, got.src, got.aux_src), (GSME, HUB, HUB))

    def test_a_device_without_the_install_code_learns_nothing(self):
        # Same EUI-64, another install code: the MIC fails and the key stays unknown.
        other = mmo.key_transport_key(install_code.link_key(h("83FED3407A932B70")))
        frame, p = transport_frame()
        got = tk.TransportedKey()
        self.assertEqual(tk.parse(frame, p, len(frame), other, got), tk.BAD_MIC)
        self.assertIsNone(got.key)
        self.assertFalse(NWK_KEY in bytes(frame))  # and the buffer holds no plaintext

    def test_the_link_key_itself_is_not_the_key_transport_key(self):
        frame, p = transport_frame()
        link = install_code.link_key(CODE)
        self.assertEqual(tk.parse(frame, p, len(frame), link, tk.TransportedKey()), tk.BAD_MIC)

    def test_every_octet_is_authenticated(self):
        frame, p = transport_frame()
        for i in range(p, len(frame)):
            bad = bytearray(frame)
            bad[i] ^= 0x08
            r = tk.parse(bad, p, len(bad), KTK, tk.TransportedKey())
            self.assertTrue(r != tk.OK, i)

    def test_the_level_on_the_air_is_ignored(self):
        # Senders write level 000; a receiver computes with its own level (5) whatever the air
        # says (ZigBee 4.4.1.2), so those three bits carry nothing an attacker could change.
        frame, p = transport_frame()
        frame[p + 2] |= 0x07
        got = tk.TransportedKey()
        self.assertEqual(tk.parse(frame, p, len(frame), KTK, got), tk.OK)
        self.assertEqual(got.key, NWK_KEY)

    def test_other_frames_and_junk(self):
        frame, p = transport_frame()
        got = tk.TransportedKey()
        for n in range(0, len(frame) - p):
            r = tk.parse(bytearray(frame), p, p + n, KTK, got)
            self.assertTrue(r != tk.OK, n)
        data = bytearray(h("00 01 0207 0901 01 05 18"))
        self.assertEqual(tk.parse(data, 0, len(data), KTK, got), tk.NOT_TRANSPORT_KEY)
        nwk_keyed = bytearray(frame)
        nwk_keyed[p + 2] = 0x28  # key id: network key
        r = tk.parse(nwk_keyed, p, len(nwk_keyed), KTK, got)
        self.assertEqual(r, tk.NOT_KEY_TRANSPORT_KEY)
        no_nonce = bytearray(frame)
        no_nonce[p + 2] = 0x10
        r = tk.parse(no_nonce, p, len(no_nonce), KTK, got)
        self.assertEqual(r, tk.NOT_KEY_TRANSPORT_KEY)

    def test_aux_header_length(self):
        self.assertEqual(secframe.length(secframe.KEY_TRANSPORT), 13)
        self.assertEqual(secframe.length(secframe.KEY_NETWORK), 14)
