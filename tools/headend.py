"""The head-end simulator: the back office end of the hub's WAN link, a real TCP server.

It accepts hub connections, logs every message it receives as a JSON line, sends heartbeats,
and forwards requests to the connected hub(s) from a control port, so tests and a lab engineer
can drive the hub from the WAN side.

    python tools/headend.py serve [--port 17760] [--control 17761] [--heartbeat-s 30]
    python tools/headend.py send [--control 17761] '{"op": "status"}'

Requests (JSON objects with "op"):
  status                                    asked unsigned: the hub answers status requests
  device_log_add {guid, kind: esme|gsme|other}, device_log_remove {guid}, set_time {epoch}
                                            state changes: the head-end sends each as a signed
                                            GBCS command (device_log_add, device_log_remove,
                                            set_hub_clock), as the network operator unless "as"
                                            names another party
  gbcs {as, counter, message, fields (a list of hex strings), to (GUID; default the hub)}
                                            any catalogue message, signed as party `as`
A counter left out is the next one for that party: one above the last this head-end used and
at least the time in milliseconds, so it stays above what earlier runs sent. The hub refuses
unsigned state changes; `send` prints the hub's reply, or an error, and exits 1 on either.

    python tools/headend.py send '{"op": "gbcs", "as": "supplier", "message": "read_hub_status"}'
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contract import wan_msg  # noqa: E402
from firmware import ber, gbcs  # noqa: E402
from firmware.commands import signed  # noqa: E402
from firmware.device_log import KINDS  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from tools import describe, provisioning  # noqa: E402

# Unsigned-looking operations the head-end turns into signed GBCS commands: the hub takes no
# state change unless it is signed.
SIGNED_OPS = ("device_log_add", "device_log_remove", "set_time")


class RequestError(Exception):
    """A request the head-end cannot carry out; its text is the reply's error."""


def _as_gbcs(req):
    # A state-changing request as the equivalent gbcs request.
    op = req["op"]
    out = {"op": "gbcs", "as": req.get("as", "network_operator"), "counter": req.get("counter")}
    if op == "set_time":
        epoch = req.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**32:
            raise RequestError("set_time: epoch must be whole seconds since 1970, 0..2^32-1")
        out.update(message="set_hub_clock", fields=[epoch.to_bytes(4, "big").hex()])
        return out
    eui = parse_eui(str(req.get("guid", "")))
    if eui is None:
        raise RequestError("%s: guid must look like 00-23-7E-00-00-00-00-01" % op)
    if op == "device_log_remove":
        out.update(message="device_log_remove", fields=[eui.hex()])
        return out
    kind = req.get("kind", "other")
    if kind not in KINDS:
        raise RequestError("device_log_add: kind must be one of %s" % ", ".join(KINDS))
    out.update(message="device_log_add", fields=[eui.hex(), "%02x" % KINDS.index(kind)])
    return out


def emit(event, **fields):
    rec = {"event": event, "t": round(time.time(), 3)}
    rec.update(fields)
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()


class HeadEnd:
    def __init__(self, heartbeat_s, conf):
        self.heartbeat_s = heartbeat_s
        self.conf = conf
        self.hubs = {}  # peer -> writer
        self.guids = {}  # peer -> the hub's GUID from its hello
        self.waiting = []  # control requests awaiting a hub reply: (key, future)
        self.counters = {}  # party name -> the last counter this head-end signed with

    async def on_hub(self, reader, writer):
        peer = "%s:%d" % writer.get_extra_info("peername")[:2]
        self.hubs[peer] = writer
        emit("hub_connected", peer=peer)
        writer.write(wan_msg.encode(wan_msg.HEARTBEAT))  # greet: the hub trusts a link it hears
        beat = asyncio.ensure_future(self._heartbeats(writer))
        try:
            while True:
                n = wan_msg.length(await reader.readexactly(wan_msg.HEADER_LEN))
                if n < 0:
                    emit("protocol_error", peer=peer)
                    break
                msg = await reader.readexactly(n)
                self._on_message(peer, msg)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the hub went away, or we are stopping
        finally:
            beat.cancel()
            self.hubs.pop(peer, None)
            writer.close()
            emit("hub_disconnected", peer=peer)

    def _resolve(self, key, value):
        for i, (k, fut) in enumerate(self.waiting):
            if k == key and not fut.done():
                fut.set_result(value)
                del self.waiting[i]
                return

    def _on_message(self, peer, msg):
        if msg[0] == wan_msg.HEARTBEAT:
            emit("rx", peer=peer, type="heartbeat")
            return
        if msg[0] == wan_msg.GBCS:
            d = describe.gbcs_message(msg[1:])
            emit("rx", peer=peer, type="gbcs", gbcs=d)
            if d.get("cra") == "response":
                self._resolve(("gbcs", d["counter"], d["recipient"]), d)
            return
        obj = wan_msg.decode_json(msg)
        if obj is None:
            emit("rx", peer=peer, type=msg[0], hex=msg[1:].hex())
            return
        emit("rx", peer=peer, type="json", msg=obj)
        if obj.get("msg") == "hello":
            self.guids[peer] = obj.get("guid")
        if obj.get("msg") == "reply":
            self._resolve(obj.get("op"), obj)

    async def _heartbeats(self, writer):
        while True:
            await asyncio.sleep(self.heartbeat_s)
            writer.write(wan_msg.encode(wan_msg.HEARTBEAT))
            await writer.drain()

    async def on_control(self, reader, writer):
        # One JSON request per line; the hub's reply (or an error) comes back as one line.
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise RequestError('a request is a JSON object with an "op"')
                reply = await self.request(req)
            except asyncio.TimeoutError:
                reply = {"ok": False, "error": "the hub did not answer in time"}
            except (ValueError, RequestError, RecursionError) as e:
                reply = {"ok": False, "error": str(e) or type(e).__name__}
            except Exception as e:  # a bad request costs its reply, never the server
                emit("request_error", error=repr(e))
                reply = {"ok": False, "error": "head-end error: %s" % (str(e) or type(e).__name__)}
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
        writer.close()

    async def request(self, req):
        if not self.hubs:
            return {"ok": False, "error": "no hub connected"}
        if req.get("op") in SIGNED_OPS:
            req = _as_gbcs(req)
        if req.get("op") == "gbcs":
            return await self._gbcs(req)
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append((req.get("op"), fut))
        for w in self.hubs.values():
            w.write(wan_msg.encode_json(req))
            await w.drain()
        emit("tx", msg=req)
        return await asyncio.wait_for(fut, 10)

    def _counter(self, party, given):
        if given is not None:
            if not isinstance(given, int) or isinstance(given, bool) or not 0 <= given < 2**64:
                raise RequestError("counter must be a whole number, 0..2^64-1")
            c = given
        else:
            c = max(self.counters.get(party, 0) + 1, int(time.time() * 1000))
        self.counters[party] = max(self.counters.get(party, 0), c)
        return c

    async def _gbcs(self, req):
        party = str(req.get("as", "supplier"))
        try:
            orig, key = provisioning.party(self.conf, party)
        except SystemExit as e:
            raise RequestError(str(e)) from None
        peer = next(iter(self.hubs))
        to = parse_eui(str(req.get("to") or self.guids.get(peer) or ""))
        if to is None:
            return {"ok": False, "error": "no target GUID"}
        try:
            code = describe.message_code(str(req.get("message", "read_hub_status")))
        except SystemExit as e:
            raise RequestError(str(e)) from None
        fields = req.get("fields", ())
        if not isinstance(fields, (list, tuple)) or not all(isinstance(f, str) for f in fields):
            raise RequestError("fields: a list of hex strings")
        try:
            content = ber.sequence(*(bytes.fromhex(f) for f in fields))
        except ValueError:
            raise RequestError("fields: a list of hex strings") from None
        counter = self._counter(party, req.get("counter"))
        msg = signed(gbcs.COMMAND, counter, orig, to, code, content, key)
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append((("gbcs", counter, describe.gbcs_message(msg)["originator"]), fut))
        w = self.hubs[peer]
        w.write(wan_msg.encode(wan_msg.GBCS, msg))
        await w.drain()
        emit("tx", type="gbcs", gbcs=describe.gbcs_message(msg))
        rsp = await asyncio.wait_for(fut, 10)
        if rsp.get("status") == "forwarded":  # the meter's own answer follows
            fut = asyncio.get_running_loop().create_future()
            self.waiting.append((("gbcs", counter, rsp["recipient"]), fut))
            try:
                rsp = await asyncio.wait_for(fut, 30)
            except asyncio.TimeoutError:
                pass
        return {"ok": rsp.get("status") == "ok", "response": rsp}


async def serve(args):
    he = HeadEnd(args.heartbeat_s, provisioning.load(args.provisioning))
    s1 = await asyncio.start_server(he.on_hub, "127.0.0.1", args.port)
    s2 = await asyncio.start_server(he.on_control, "127.0.0.1", args.control)
    emit("started", port=args.port, control=args.control, heartbeat_s=args.heartbeat_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    s1.close()
    s2.close()
    for w in list(he.hubs.values()):
        w.close()
    emit("stopped")


def request(control, req, timeout=15):
    """Send one request to the head-end's control port; the reply as a dict."""

    async def go():
        r, w = await asyncio.open_connection("127.0.0.1", control)
        w.write((json.dumps(req) + "\n").encode())
        await w.drain()
        line = await asyncio.wait_for(r.readline(), timeout)
        w.close()
        return json.loads(line)

    return asyncio.run(go())


def send(args):
    reply = request(args.control, json.loads(args.request))
    print(json.dumps(reply))
    return 0 if reply.get("ok") else 1


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="headend", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the head-end")
    p.add_argument("--port", type=int, default=17760, help="TCP port hubs connect to")
    p.add_argument("--control", type=int, default=17761, help="TCP port for requests")
    p.add_argument("--heartbeat-s", type=float, default=30, help="heartbeat interval")
    p.add_argument("--provisioning", help="parties and keys (default tools/demo/lab.json)")
    p = sub.add_parser("send", help="send one request to the connected hub, print the reply")
    p.add_argument("--control", type=int, default=17761)
    p.add_argument("request", help='a JSON object, e.g. {"op": "status"}')
    args = ap.parse_args(argv)
    if args.command == "serve":
        asyncio.run(serve(args))
        return 0
    return send(args)


if __name__ == "__main__":
    sys.exit(main())
