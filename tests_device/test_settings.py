import unittest

from firmware.settings import Settings, default
from hal.fake.storage import MemoryStorage


class SettingsTest(unittest.TestCase):
    def test_defaults(self):
        s = Settings()
        self.assertEqual(s["radio.channel"], default("radio.channel"))
        self.assertEqual(len(s.eui64()), 8)

    def test_overrides_are_typed(self):
        s = Settings(
            None,
            (
                "radio.channel=15",
                "radio.pan_id=0xBEEF",
                "join.permit=on",
                "hub.eui64=00:23:7e:00:00:00:00:01",
            ),
        )
        self.assertEqual(s["radio.channel"], 15)
        self.assertEqual(s["radio.pan_id"], 0xBEEF)
        self.assertIs(s["join.permit"], True)
        self.assertEqual(s.eui64(), b"\x00\x23\x7e\x00\x00\x00\x00\x01")

    def test_bad_values_are_refused_clearly(self):
        for bad in (
            "radio.channel=27",
            "radio.channel=x",
            "nope=1",
            "join.permit=maybe",
            "hub.eui64=00-11",
            "radio.pan_id=0xFFFF",
            "radio.channel",
        ):
            self.assertRaises(ValueError, Settings, None, (bad,))

    def test_persisted_changes_survive_a_reboot(self):
        st = MemoryStorage()
        Settings(st).set("radio.channel", 20)
        s = Settings(st, ("join.permit=1",))
        self.assertEqual(s["radio.channel"], 20)
        self.assertIs(s["join.permit"], True)
        self.assertIs(Settings(st)["join.permit"], False)  # --set is for one run only

    def test_corrupt_record_falls_back_to_defaults(self):
        st = MemoryStorage()
        st.write("settings", b"{not json")
        s = Settings(st)
        self.assertEqual(s.load_errors, 1)
        self.assertEqual(s["radio.channel"], default("radio.channel"))
