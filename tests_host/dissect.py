"""Independent decoders for what the hub sends: scapy (always) and tshark (when installed)."""

import os
import shutil
import subprocess

from tools.pcap import PcapWriter


def tshark_fields(psdus, tmp_path, fields):
    """Write PSDUs (FCS included) to a linktype-195 pcap and dissect them with tshark.
    Returns (rows of field values, full verbose text), or None when tshark is absent."""
    tshark = shutil.which("tshark")
    if not tshark:
        return None
    path = os.path.join(str(tmp_path), "frames.pcap")
    w = PcapWriter(path)
    for p in psdus:
        w.write(bytes(p))
    w.close()
    env = dict(os.environ, HOME=str(tmp_path))  # no user profile: default dissectors
    cmd = [tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    rows = [line.split("|") for line in out.splitlines()]
    verbose = subprocess.run(
        [tshark, "-n", "-V", "-r", path], capture_output=True, text=True, env=env, check=True
    ).stdout
    return rows, verbose


def zigbee_keys(tmp_path, *entries):
    """Wireshark's ZigBee keys, as its preferences dialog saves them in the profile that
    tshark_fields points HOME at: one "key","byte order","label" line per (key hex, label)."""
    d = os.path.join(str(tmp_path), ".config", "wireshark")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "zigbee_pc_keys"), "w") as f:
        for key, label in entries:
            f.write('"%s","Normal","%s"\n' % (key, label))
