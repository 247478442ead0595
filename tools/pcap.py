"""Classic pcap files (libpcap 2.4) for 802.15.4 captures.

The default link type is 195 (IEEE802_15_4_WITHFCS): each record is the PSDU as on air, FCS
included, which Wireshark, tshark and scapy dissect directly. Records are flushed one by one so
a capture can be opened while it is still growing.
"""

import struct
import time

LINKTYPE_IEEE802_15_4_WITHFCS = 195
LINKTYPE_IEEE802_15_4_NOFCS = 230

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_GLOBAL = "IHHiIII"  # magic, major, minor, thiszone, sigfigs, snaplen, linktype
_RECORD = "IIII"  # ts_sec, ts_frac, incl_len, orig_len


class PcapWriter:
    def __init__(self, path, linktype=LINKTYPE_IEEE802_15_4_WITHFCS, snaplen=65535):
        self.path = path
        self.snaplen = snaplen
        self.count = 0
        self._f = open(path, "wb")
        self._f.write(struct.pack("<" + _GLOBAL, _MAGIC_US, 2, 4, 0, 0, snaplen, linktype))
        self._f.flush()

    def write(self, data, ts=None):
        if ts is None:
            ts = time.time()
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        data = bytes(data)
        incl = data[: self.snaplen]
        self._f.write(struct.pack("<" + _RECORD, sec, usec, len(incl), len(data)) + incl)
        self._f.flush()
        self.count += 1

    def close(self):
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_pcap(path):
    """Returns (linktype, [(timestamp_seconds, bytes), ...]); either byte order, us or ns."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("not a pcap file: %d octets" % len(data))
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", data, 0)[0]
        if magic in (_MAGIC_US, _MAGIC_NS):
            break
    else:
        raise ValueError("not a pcap file: magic %s" % data[:4].hex())
    scale = 1e-6 if magic == _MAGIC_US else 1e-9
    linktype = struct.unpack_from(endian + _GLOBAL, data, 0)[6] & 0x0FFFFFFF
    records = []
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError("truncated record header at offset %d" % off)
        sec, frac, incl, _orig = struct.unpack_from(endian + _RECORD, data, off)
        off += 16
        if off + incl > len(data):
            raise ValueError("truncated record at offset %d" % (off - 16))
        records.append((sec + frac * scale, data[off : off + incl]))
        off += incl
    return linktype, records
