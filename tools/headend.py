"""The head-end simulator: the back office end of the hub's WAN link, a real TCP server.

It accepts hub connections, logs every message it receives as a JSON line, sends heartbeats,
and forwards requests to the connected hub(s) from a control port, so tests and a lab engineer
can drive the hub from the WAN side.

    python tools/headend.py serve [--port 17760] [--control 17761] [--heartbeat-s 30]
    python tools/headend.py send [--control 17761] '{"op": "status"}'

Requests (JSON objects with "op"):
  status                                    asked unsigned: the hub answers status requests
  device_log_add {guid, kind: esme|gsme|other, install_code (hex, optional)},
  device_log_remove {guid}, set_time {epoch}, set_setting {key, value}
                                            state changes: the head-end sends each as a signed
                                            GBCS command (device_log_add, device_log_remove,
                                            set_hub_clock, set_setting), as the network
                                            operator unless "as" names another party
  gbcs {as, counter, message, fields (a list of hex strings), to (GUID; default the hub)}
                                            any catalogue message, signed as party `as`
  wan {state: down|up}                     the lab's control: drop and refuse hub links (as a
                                            cut line would), or accept them again
A counter left out is the party's next one from the lab's counter store (counters.json in
--lab, shared with the HHT): one above the last either tool used and at least the time in
milliseconds, so it stays above what earlier runs sent. The hub refuses unsigned state changes.
`send` prints the hub's reply, or an error (one line on stderr), with the exit codes below; a
bad request gets an error reply and the head-end goes on.

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
from firmware import cmd_ber as ber  # noqa: E402
from firmware import cmd_gbcs as gbcs  # noqa: E402
from firmware import sec_install_code as install_code  # noqa: E402
from firmware.cmd_pipeline import signed  # noqa: E402
from firmware.eui64 import parse as parse_eui  # noqa: E402
from firmware.eui64 import to_guid  # noqa: E402
from firmware.han_device_log import KINDS  # noqa: E402
from tools import cli, describe, labdir, provisioning  # noqa: E402
from tools.counters import Counters  # noqa: E402

# Unsigned-looking operations the head-end turns into signed GBCS commands: the hub takes no
# state change unless it is signed.
SIGNED_OPS = ("device_log_add", "device_log_remove", "set_time", "set_setting")


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
    if op == "set_setting":
        key, value = req.get("key"), req.get("value")
        if not isinstance(key, str) or not isinstance(value, (str, int, bool)):
            raise RequestError("set_setting: key (a setting's name) and value are needed")
        if isinstance(value, bool):
            value = "true" if value else "false"
        fields = [key.encode().hex(), str(value).encode().hex()]
        out.update(message="set_setting", fields=fields)
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
    fields = [eui.hex(), "%02x" % KINDS.index(kind)]
    if req.get("install_code") is not None:
        code = install_code.parse(str(req["install_code"]))
        if code is None:
            raise RequestError("device_log_add: install_code must be hex, as printed on the meter")
        fields.append(code.hex())  # the hub checks its CRC (status bad_install_code)
    out.update(message="device_log_add", fields=fields)
    return out


def emit(event, **fields):
    rec = {"event": event, "t": round(time.time(), 3)}
    rec.update(fields)
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()


class HeadEnd:
    def __init__(self, heartbeat_s, conf, port=0, counters=None):
        self.heartbeat_s = heartbeat_s
        self.conf = conf
        self.hubs = {}  # peer -> writer
        self.guids = {}  # peer -> the hub's GUID from its hello
        self.waiting = []  # control requests awaiting a hub reply: (key, future)
        self.counters = counters  # the lab's counter store (tools/counters.py)
        self.port = port
        self.server = None  # listening for hubs (None while the lab's WAN is down)

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
        if msg[0] == wan_msg.GBCS_COPY:
            # A response the hub gave on another channel: logged, never taken for the answer
            # to one of this head-end's own commands.
            emit("rx", peer=peer, type="gbcs_copy", gbcs=describe.gbcs_message(msg[1:]))
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
            reply = await self.answer(line)
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
        writer.close()

    async def answer(self, line):
        """The reply to one control line, whatever it holds."""
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise RequestError('a request is a JSON object with an "op"')
            return await self.request(req)
        except asyncio.TimeoutError:
            return {"ok": False, "error": "the hub did not answer in time"}
        except cli.Fail as e:
            return {"ok": False, "error": e.message}
        except (ValueError, RequestError, RecursionError) as e:
            return {"ok": False, "error": str(e) or type(e).__name__}
        except Exception as e:  # a bad request costs its reply, never the server
            emit("request_error", error=repr(e))
            return {"ok": False, "error": "head-end error: %s" % (str(e) or type(e).__name__)}

    async def set_wan(self, state):
        # The lab's `wan down`: stop listening and drop the hubs' links (they are refused until
        # `wan up`, as by a cut line); `wan up` listens again.
        if state == "down":
            if self.server is not None:
                self.server.close()
                self.server = None
            for w in list(self.hubs.values()):
                w.close()
        elif self.server is None:
            self.server = await asyncio.start_server(self.on_hub, "127.0.0.1", self.port)
        emit("wan", state=state)
        return {"ok": True, "wan": state}

    async def request(self, req):
        if req.get("op") == "wan" and req.get("state") in ("up", "down"):
            return await self.set_wan(req["state"])
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

    def _counter(self, guid, given):
        if given is not None:
            if not isinstance(given, int) or isinstance(given, bool) or not 0 <= given < 2**64:
                raise RequestError("counter must be a whole number, 0..2^64-1")
            self.counters.learn(guid, given)
            return given
        return self.counters.next(guid)

    async def _gbcs(self, req):
        party = str(req.get("as", "supplier"))
        orig, key = provisioning.party(self.conf, party)
        peer = next(iter(self.hubs))
        to = parse_eui(str(req.get("to") or self.guids.get(peer) or ""))
        if to is None:
            return {"ok": False, "error": "no target GUID"}
        code = describe.message_code(str(req.get("message", "read_hub_status")))
        fields = req.get("fields", ())
        if not isinstance(fields, (list, tuple)) or not all(isinstance(f, str) for f in fields):
            raise RequestError("fields: a list of hex strings")
        try:
            content = ber.sequence(*(bytes.fromhex(f) for f in fields))
        except ValueError:
            raise RequestError("fields: a list of hex strings") from None
        counter = self._counter(to_guid(orig), req.get("counter"))
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
        out = {"ok": rsp.get("status") == "ok", "response": rsp}
        fields = describe.response_fields(rsp)
        if fields is not None:
            out["fields"] = fields
        if rsp.get("status") == "stale":
            out["error"] = (
                "counter %d is stale: below the hub's replay window for %s (it accepts each "
                "counter once, none more than commands.replay_window below the highest it has "
                'accepted). Leave out "counter" and the head-end picks the next one'
                % (counter, party)
            )
        return out


async def serve(args):
    conf = provisioning.load(args.provisioning)
    he = HeadEnd(args.heartbeat_s, conf, args.port, Counters(args.lab))
    try:
        he.server = await asyncio.start_server(he.on_hub, "127.0.0.1", args.port)
        s2 = await asyncio.start_server(he.on_control, "127.0.0.1", args.control)
    except OSError as e:
        raise cli.Fail(
            cli.BUSY, "cannot listen on %d/%d: %s" % (args.port, args.control, e.strerror)
        ) from None
    emit("started", port=args.port, control=args.control, heartbeat_s=args.heartbeat_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if he.server is not None:
        he.server.close()
    s2.close()
    for w in list(he.hubs.values()):
        w.close()
    emit("stopped")


def request(control, req, timeout=45):
    """Send one request to the head-end's control port; the reply as a dict. Fail(NO_LAB) when
    no head-end listens there."""

    async def go():
        r, w = await asyncio.open_connection("127.0.0.1", control)
        w.write((json.dumps(req) + "\n").encode())
        await w.drain()
        line = await asyncio.wait_for(r.readline(), timeout)
        w.close()
        return json.loads(line)

    try:
        return asyncio.run(go())
    except OSError:
        raise cli.Fail(
            cli.NO_LAB,
            "no head-end on control port %d: is the lab running? (make run; or --control)"
            % control,
        ) from None
    except (asyncio.TimeoutError, ValueError):
        raise cli.Fail(cli.NO_ANSWER, "the head-end did not answer in %d s" % timeout) from None


def send(args):
    try:
        req = json.loads(args.request)
    except ValueError as e:
        raise cli.Fail(cli.USAGE, 'not JSON: %s (e.g. \'{"op": "status"}\')' % e) from None
    if not isinstance(req, dict):
        raise cli.Fail(cli.USAGE, 'a request is a JSON object, e.g. \'{"op": "status"}\'')
    reply = request(args.control, req)
    print(json.dumps(reply))
    if reply.get("ok"):
        return cli.OK
    err = reply.get("error") or "refused"
    code = cli.NO_HUB if err == "no hub connected" else cli.FAILED
    raise cli.Fail(code, err)


def main(argv=None):
    codes = (cli.FAILED, cli.USAGE, cli.NO_LAB, cli.NO_HUB, cli.NO_ANSWER)
    ap = argparse.ArgumentParser(
        prog="headend",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=cli.epilog(*(codes + (cli.BUSY,))),
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the head-end")
    p.add_argument("--port", type=int, default=17760, help="TCP port hubs connect to")
    p.add_argument("--control", type=int, default=17761, help="TCP port for requests")
    p.add_argument("--heartbeat-s", type=float, default=30, help="heartbeat interval")
    p.add_argument("--provisioning", help="parties and keys (default tools/demo/lab.json)")
    p.add_argument("--lab", default=labdir.DEFAULT, help="where the counters are kept")
    p = sub.add_parser(
        "send",
        help="send one request to the connected hub, print the reply",
        epilog=cli.epilog(*codes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--control", type=int, help="the head-end's control port (default: the lab's, or 17761)"
    )
    p.add_argument("--lab", default=labdir.DEFAULT, help="the running lab's directory")
    p.add_argument("request", help='a JSON object, e.g. {"op": "status"}')
    args = ap.parse_args(argv)
    if args.command == "serve":
        asyncio.run(serve(args))
        return cli.OK
    if args.control is None:
        args.control = labdir.port(args.lab, "headend_control", 17761)
    return send(args)


if __name__ == "__main__":
    sys.exit(cli.main("headend", main))
