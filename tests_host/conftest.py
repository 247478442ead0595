import os
import socket
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Tools run by the tests keep their counters here, never in a developer's own lab/.
if "COMMSHUB_LAB" not in os.environ:
    import tempfile

    os.environ["COMMSHUB_LAB"] = tempfile.mkdtemp(prefix="commshub-tests-")


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


def start_lab(tmp_path, *extra):
    """The lab as `make run` starts it, on free ports: (its Proc, ZEP port, head-end port)."""
    import sys as _sys

    from tools import procs

    zep, he = free_udp_port(), free_tcp_pair()
    lab = procs.Proc(
        "lab",
        [
            _sys.executable,
            "tools/lab.py",
            "--dir",
            str(tmp_path),
            "--port",
            str(zep),
            "--headend",
            str(he),
        ]
        + list(extra),
        echo=False,
    )
    assert lab.wait_for("The lab is up", timeout=30) is not None, "\n".join(lab.lines)
    return lab, zep, he


def events_of(lines, name="hub"):
    """The JSON events one lab process printed (its lines are prefixed "name   | ")."""
    import json as _json

    return [_json.loads(x.split("| ", 1)[1]) for x in lines if x.startswith(name) and "| {" in x]


def hht(port, *args, timeout=60):
    """tools/hht.py as an installer runs it, on the medium at `port`: its CompletedProcess."""
    import subprocess

    return subprocess.run(
        [sys.executable, "tools/hht.py", "--medium", "127.0.0.1:%d" % port] + list(args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
