# The hub's settings: typed defaults, overridden by the persisted record (settings the WAN
# changed) and then by this run's --set overrides. Every key is documented in docs/settings.md.

import json

from firmware import eui64

# Each setting's name and default: a tuple of constants, which a frozen build keeps in flash
# (a dict would be built in RAM at import: ~0.5 KB).
DEFAULTS = (
    # Identity and radio
    ("hub.eui64", "00-23-7E-00-00-12-D6-87"),  # GUID; also the ZigBee Extended PAN ID
    ("radio.channel", 11),  # 11..26 (2.4 GHz O-QPSK)
    ("radio.pan_id", 0x1A2B),
    # Joining (association permit bit in the beacon); the allow-list of devices that may join
    ("join.permit", False),
    ("join.auto", True),  # joining open while the device log lists a device that has not joined
    ("han.device_log_max", 16),
    ("han.device_table_max", 16),
    ("han.indirect_slots", 8),  # frames held for sleepy devices, all devices together
    ("han.indirect_per_device", 4),
    ("han.indirect_expiry_s", 120),
    ("han.devices", ""),  # lab provisioning: "GUID:kind[:install code],...", into the device log
    # NWK security: the budget in front of the CCM* work on received frames (docs/han.md)
    ("han.ccm_per_s", 20),
    ("han.ccm_burst", 10),
    # The battery gas meter's budget per rolling hour, by origin (docs/han.md)
    ("battery.interpan_frames_h", 12),
    ("battery.interpan_airtime_ms_h", 40),  # 12 secured frames of 90 octets (docs/han.md)
    ("battery.wan_frames_h", 48),
    ("battery.wan_airtime_ms_h", 160),
    # Inter-PAN access (seed options 1-3): open from power-up, kept alive by authenticated use
    ("interpan.keepalive_s", 3600),
    ("interpan.max_open_s", 0),  # cap on one keep-alive chain; 0 = no cap
    # DoS defences (docs/dos.md): one shared budget for untrusted inter-PAN commands, a lane of
    # its own for a source that has authenticated, broadcast replies to broadcast queries
    ("dos.interpan_rate_per_s", 40),
    ("dos.interpan_burst", 20),
    ("dos.source_rate_per_s", 4),
    ("dos.source_burst", 16),
    ("dos.trust_s", 600),
    ("dos.trusted_max", 2),
    ("dos.auth_fail_threshold", 10),
    ("dos.auth_fail_window_s", 60),
    ("dos.auth_quiet_s", 300),
    ("dos.assoc_rate_per_s", 4),  # association requests answered, per budget (firmware.han_join)
    ("dos.assoc_burst", 8),
    ("dos.beacon_rate_per_s", 10),
    ("dos.beacon_burst", 5),
    ("discovery.rate_per_s", 5),
    ("discovery.burst", 5),
    # WAN link to the head-end: heartbeats, loss/restore hysteresis, reconnect back-off
    ("wan.heartbeat_s", 30),
    ("wan.loss_after_s", 120),
    ("wan.restore_after_s", 60),
    ("wan.backoff_min_s", 1),
    ("wan.backoff_max_s", 300),
    ("wan.outbox_items", 64),
    ("wan.outbox_bytes", 8192),
    ("wan.headend", ""),  # HOST:PORT of the head-end (the ESP32 board; the sim takes --headend)
    ("wifi.ssid", ""),  # the ESP32 board's WiFi station (docs/esp32.md)
    ("wifi.password", ""),
    # Commands: anti-replay windows (one per originator) and the execution log, persisted
    ("commands.originators_max", 16),
    ("commands.replay_window", 64),  # counters; a multiple of 8
    ("commands.log_max", 64),
    # Logging: rejected-frame counters are reported as one line per reason per interval
    ("log.counters_interval_s", 5),
    # Watchdog (off in the lab so an mpremote session is not reset under the engineer)
    ("watchdog.enabled", False),
    ("watchdog.timeout_s", 30),
)

_RECORD = "settings"


def default(key):
    # A setting's default; KeyError if there is no such setting.
    for k, v in DEFAULTS:
        if k == key:
            return v
    raise KeyError(key)


def known(key):
    for k, _ in DEFAULTS:
        if k == key:
            return True
    return False


def _coerce(key, value):
    # Returns the value converted to the default's type, or raises ValueError.
    d = default(key)
    if isinstance(d, bool):
        if isinstance(value, bool):
            return value
        v = str(value).lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off"):
            return False
        raise ValueError("%s: expected a boolean, got %r" % (key, value))
    if isinstance(d, int):
        try:
            v = value if isinstance(value, int) else int(str(value), 0)
        except ValueError:
            raise ValueError("%s: expected a whole number, got %r" % (key, value)) from None
        if key == "radio.channel" and not 11 <= v <= 26:
            raise ValueError("radio.channel: %d is not a 2.4 GHz channel (11..26)" % v)
        if key == "radio.pan_id" and not 0 <= v < 0xFFFF:
            raise ValueError("radio.pan_id: 0x%X is out of range" % v)
        return v
    v = str(value)
    if key.endswith("eui64") and eui64.parse(v) is None:
        raise ValueError("%s: %r is not an EUI-64" % (key, v))
    return v


class Settings:
    def __init__(self, storage=None, overrides=()):
        # overrides: iterable of "key=value" strings (this run only, not persisted).
        self._storage = storage
        self._values = {}  # what differs from DEFAULTS (a copy of all would cost ~0.7 KB)
        self._persisted = {}
        self.load_errors = 0
        if storage is not None:
            raw = storage.read(_RECORD)
            if raw:
                try:
                    for k, v in json.loads(raw).items():
                        if known(k):
                            self._values[k] = self._persisted[k] = _coerce(k, v)
                except (ValueError, TypeError, AttributeError):
                    self.load_errors += 1  # keep the defaults rather than refuse to boot
        for item in overrides:
            k, sep, v = item.partition("=")
            if not sep or not known(k):
                raise ValueError("unknown setting %r (see docs/settings.md)" % k)
            self._values[k] = _coerce(k, v)

    def __getitem__(self, key):
        v = self._values.get(key, self)
        return default(key) if v is self else v

    def eui64(self, key="hub.eui64"):
        return eui64.parse(self[key])

    def valid(self, key, value):
        # Whether key (bytes or str) names a setting and value (bytes or str) is good for it.
        try:
            key = key.decode() if isinstance(key, bytes) else key
            value = value.decode() if isinstance(value, bytes) else value
            return known(key) and (_coerce(key, value) is not None)
        except (ValueError, UnicodeError):
            return False

    def set(self, key, value, persist=True):
        # A change from a signed set_setting command (firmware.cmd_pipeline): persisted so a
        # reboot keeps it; most settings are read when the hub is built, so at the next boot.
        if not known(key):
            raise ValueError("unknown setting %r" % key)
        v = _coerce(key, value)
        self._values[key] = v
        if persist and self._storage is not None:
            self._persisted[key] = v
            self._storage.write(_RECORD, json.dumps(self._persisted).encode())
        return v

    def items(self):
        return sorted((k, self[k]) for k, _ in DEFAULTS)
