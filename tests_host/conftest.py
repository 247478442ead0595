import os
import socket
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# scapy decodes 802.15.4 data payloads as 6LoWPAN unless told the network is ZigBee.
from scapy.config import conf  # noqa: E402

conf.dot15d4_protocol = "zigbee"


def free_tcp_pair():
    """A TCP port p with p + 1 also free (the head-end's hub and control ports)."""
    import socket as _s

    for _ in range(50):
        a = _s.socket()
        a.bind(("127.0.0.1", 0))
        p = a.getsockname()[1]
        b = _s.socket()
        try:
            b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise RuntimeError("no free TCP port pair")
