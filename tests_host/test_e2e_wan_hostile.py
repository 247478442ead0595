"""Everything an attacker who can speak on the WAN link might send, unsigned, at the hub running
on the MicroPython unix port, from a head-end that this test plays itself over a real loopback
socket: no message crashes the hub or changes its state (clock, device log, inter-PAN), each
refusal is counted and logged, and afterwards the hub still serves status on the same link.
A stream that breaks the framing costs the link, which the hub then re-opens."""

import json
import socket
import time

from conftest import free_udp_port
from test_e2e_wan import events

from contract import wan_msg
from fuzz import hostile_wan
from tools import procs

SETTINGS = ["wan.heartbeat_s=30", "wan.backoff_min_s=1", "wan.backoff_max_s=1"]


class Link:
    # The head-end's end of one hub connection, blocking with a deadline (generous: a loaded
    # host compiles the hub from source and drains the hostile catalogue slowly).
    def __init__(self, server, timeout=120):
        server.settimeout(timeout)
        self.sock, _ = server.accept()
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, body):
        self.sock.sendall(len(body).to_bytes(4, "big") + body)
        self.take_what_arrived()

    def take_what_arrived(self):
        # Reads whatever the hub has sent so far without waiting, as a head-end keeps reading
        # while it writes: a hub blocked on a full socket would stop reading ours.
        self.sock.setblocking(False)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(self.timeout)

    def recv(self, deadline=None):
        # The next whole message; None when the hub closed the link. With a deadline (a
        # time.monotonic() value) it gives up then: messages that keep arriving without
        # completing one (a broken framing) must not hold the test for ever.
        while True:
            if len(self.buf) >= 4:
                n = int.from_bytes(self.buf[:4], "big")
                if len(self.buf) >= 4 + n:
                    msg, self.buf = self.buf[4 : 4 + n], self.buf[4 + n :]
                    return msg
            left = self.timeout if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no whole message in time: %d octets pending" % len(self.buf))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def request(self, req, timeout=60):
        # A JSON request; the hub's reply to it (matched by its id), skipping the events and
        # the replies to other requests that it sends meanwhile.
        self.rid = getattr(self, "rid", 0) + 1
        self.send(bytes((wan_msg.JSON,)) + json.dumps(dict(req, id=self.rid)).encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline)
            assert msg is not None, "the hub closed the link"
            obj = wan_msg.decode_json(msg)
            if obj and obj.get("msg") == "reply" and obj.get("id") == self.rid:
                return obj
        raise AssertionError("no reply")


def test_hostile_messages_change_nothing_and_the_link_still_serves(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    hub = procs.Proc(
        "hub",
        procs.hub_command(free_udp_port(), str(tmp_path / "hub"), SETTINGS, headend_port=port),
        echo=False,
        env=procs.micropython_env(),
    )
    try:
        link = Link(server)
        hello = wan_msg.decode_json(link.recv())
        assert hello["msg"] == "hello"
        link.send(bytes((wan_msg.HEARTBEAT,)))  # the hub trusts a link it hears
        before = link.request({"op": "status"})
        assert before["ok"] and before["interpan"] == "on"
        catalogue = hostile_wan.messages()
        assert len(catalogue) >= 100
        for body in catalogue:
            link.send(body)
        after = link.request({"op": "status"}, timeout=120)  # the same link, still served
        assert after["ok"]
        assert after["devices"] == before["devices"] == []
        assert abs(after["time"] - before["time"]) < 120  # the clock was not set
        assert after["interpan"] == "on"
        evs = events(hub)
        assert not [e for e in evs if e["event"] in ("fatal", "wan_message_error")]
        refused = [e for e in evs if e["event"] == "wan_request_refused"]
        unsigned = [e for e in refused if e["reason"] == "unsigned"]
        assert len(unsigned) >= 3 * len(hostile_wan._VALUES)  # set_time, device_log_*: counted
        assert refused[-1]["total"] == len(refused)
        assert not [e for e in evs if e["event"] in ("time_set", "device_log")]

        # Framing attacks: each costs the link; the hub connects again and answers.
        for stream in hostile_wan.framing_attacks():
            link.sock.sendall(stream)
            old = link
            link = Link(server)  # the hub gave up on the old link and opened a new one
            old.sock.close()
            assert wan_msg.decode_json(link.recv())["msg"] == "hello"
            link.send(bytes((wan_msg.HEARTBEAT,)))
            assert link.request({"op": "status"})["ok"]
        assert hub.p.poll() is None
    finally:
        hub.stop()
        server.close()
