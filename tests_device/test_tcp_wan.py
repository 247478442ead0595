# The TCP WAN link against a real TCP server on 127.0.0.1, on CPython (pytest) and the
# MicroPython unix port (unittest): reconnecting must not leak sockets or heap. Every way a
# session ends is exercised: the head-end hangs up, the hub drops the link, nobody listens.
# Two tasks sending at once (the uplink's replies beside its deliveries and heartbeats) against
# a head-end that reads slowly must put every message on the wire whole and in order. A send or
# read that fails on a link connect() has since replaced must not close the new one.

import asyncio
import gc
import os
import sys
import unittest

from contract import wan_msg
from hal.tcp_wan import TcpWan

MP = sys.implementation.name == "micropython"
RECONNECTS = 1000
WARM_UP = 30


def open_fds():
    # Sockets and files this process holds (Linux); None where /proc is missing (a board).
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def heap_used():
    gc.collect()
    if MP:
        return gc.mem_alloc()
    return sys.getallocatedblocks() * 16  # CPython: blocks, at least 16 bytes each


def port_from(seed):
    return 20000 + ((seed[0] << 8) | seed[1]) % 30000


class Server:
    # The head-end's side of each connection: "hangup" closes at once, "hold" waits for the hub
    # to close. open counts connections whose server side is not yet closed.
    def __init__(self):
        self.mode = "hangup"
        self.accepted = 0
        self.open = 0
        self.srv = None
        self.port = 0

    async def start(self):
        for _ in range(50):
            self.port = port_from(os.urandom(2))
            try:
                self.srv = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
                return
            except OSError:  # in use: try another
                pass
        raise OSError("no free port")

    async def stop(self):
        self.srv.close()
        await self.srv.wait_closed()

    async def _serve(self, r, w):
        self.accepted += 1
        self.open += 1
        try:
            if self.mode == "hold":
                while await r.read(64):
                    pass
        except OSError:
            pass
        finally:
            w.close()
            try:
                await w.wait_closed()
            except OSError:
                pass
            self.open -= 1

    async def settle(self):
        # Until the server has closed its side of every connection (bounded).
        for _ in range(500):
            if not self.open:
                return
            await asyncio.sleep(0.01)


async def reconnect(link, server, i):
    # One session, ended one of three ways; the link must release everything each time.
    how = i % 3
    if how == 0:  # the head-end hangs up: recv() sees the end and closes the link
        server.mode = "hangup"
        ok = await link.connect()
        got = await link.recv() if ok else None
        assert got is None and not link.is_connected()
    elif how == 1:  # the hub drops the link (a reconnect after a lost heartbeat)
        server.mode = "hold"
        assert await link.connect()
        assert await link.send(b"\x00\x00\x00")
        await link.close()
    else:  # the hub reconnects while still connected: connect() closes the old link first
        server.mode = "hold"
        assert await link.connect()
        assert await link.connect()
        await link.close()


async def refused(link):
    # Nobody listening: on MicroPython the connect "succeeds" and the first read fails.
    if await link.connect():
        assert await asyncio.wait_for(link.recv(), 5) is None
    assert not link.is_connected()


async def measure(n, with_server):
    server = Server()
    await server.start()
    link = TcpWan("127.0.0.1", server.port)
    if not with_server:
        await server.stop()
    for i in range(WARM_UP):  # first-use allocations (asyncio's IO queue, the loop) happen here
        await (reconnect(link, server, i) if with_server else refused(link))
    await server.settle()
    fds0, heap0 = open_fds(), heap_used()
    for i in range(n):
        await (reconnect(link, server, i) if with_server else refused(link))
    await server.settle()
    fds1, heap1 = open_fds(), heap_used()
    if with_server:
        await server.stop()
    return fds0, fds1, heap0, heap1, server.accepted


def run(coro):
    try:
        return asyncio.run(coro)
    finally:
        if MP:
            asyncio.new_event_loop()  # a fresh queue for the next test (CPython's run closes)


class ReconnectLeakTest(unittest.TestCase):
    def check_flat(self, fds0, fds1, heap0, heap1):
        if fds0 is not None:
            self.assertEqual(fds1, fds0, "open sockets grew from %d to %d" % (fds0, fds1))
        # A socket leaked per reconnect costs far more than this (its object, buffers and
        # stream); the margin is for the interpreter's own caches.
        self.assertTrue(heap1 - heap0 < 4096, "heap grew from %d to %d" % (heap0, heap1))

    def test_a_thousand_reconnects_leak_no_socket_and_no_heap(self):
        fds0, fds1, heap0, heap1, accepted = run(measure(RECONNECTS, True))
        sessions = sum(2 if i % 3 == 2 else 1 for i in range(WARM_UP))
        sessions += sum(2 if i % 3 == 2 else 1 for i in range(RECONNECTS))
        self.assertEqual(accepted, sessions)  # every reconnect reached the server
        self.check_flat(fds0, fds1, heap0, heap1)

    def test_refused_connects_leak_nothing(self):
        fds0, fds1, heap0, heap1, _ = run(measure(RECONNECTS // 4, False))
        self.check_flat(fds0, fds1, heap0, heap1)

    def test_close_releases_the_socket_at_once(self):
        # Not left for a finalizer: MicroPython's unix sockets have none.
        async def go():
            server = Server()
            await server.start()
            server.mode = "hold"
            link = TcpWan("127.0.0.1", server.port)
            before = open_fds()
            ok = await link.connect()
            during = open_fds()
            await link.close()
            after = open_fds()
            await server.settle()
            await server.stop()
            return ok, before, during, after

        ok, before, during, after = run(go())
        self.assertTrue(ok)
        if before is not None:
            self.assertTrue(during > before)
            self.assertTrue(after < during, "the hub's socket is still open after close()")


async def concurrent_senders(per_sender, body_len):
    # Two tasks send over one link while the head-end reads nothing for a while, so that both
    # wait on a full socket at once; then it reads every frame and checks it as it arrives (the
    # frames are not kept: 2.4 MB). Returns what each sender was told, the frames read whole and
    # in order, and the first wrong one.
    seen = {wan_msg.JSON: 0, wan_msg.GBCS: 0}
    wrong = []
    done = asyncio.Event()

    async def serve(r, w):
        await asyncio.sleep(0.3)
        try:
            while not wrong and sum(seen.values()) < 2 * per_sender:
                n = wan_msg.length(await r.readexactly(wan_msg.HEADER_LEN))
                if n != body_len + 1:
                    wrong.append("a header no sender wrote: %d" % n)
                    break
                msg = await r.readexactly(n)
                kind = msg[0]
                i = seen.get(kind, -1)
                if i < 0 or msg[1:3] != bytes((i & 0xFF, i >> 8)):
                    wrong.append("kind %d, index %r, expected %d" % (kind, bytes(msg[1:3]), i))
                elif msg[3:] != bytes((kind,)) * (body_len - 2):
                    wrong.append("kind %d, message %d mixed with another" % (kind, i))
                else:
                    seen[kind] = i + 1
        except (OSError, EOFError) as e:
            wrong.append(repr(e))
        finally:
            done.set()
            w.close()
            await w.wait_closed()

    server = Server()
    server._serve = serve
    await server.start()
    link = TcpWan("127.0.0.1", server.port)
    assert await link.connect()

    async def sender(kind):
        ok = 0
        for i in range(per_sender):
            body = bytes((i & 0xFF, i >> 8)) + bytes((kind,)) * (body_len - 2)
            ok += await link.send(wan_msg.encode(kind, body))
        return ok

    a = asyncio.create_task(sender(wan_msg.JSON))
    b = asyncio.create_task(sender(wan_msg.GBCS))
    try:  # bounded: a sender that lost its wake-up would wait for ever
        sent = (await asyncio.wait_for(a, 30), await asyncio.wait_for(b, 30))
        await asyncio.wait_for(done.wait(), 30)
    except Exception as e:  # a broken link: what the test reports
        sent = repr(e)
    await link.close()
    await server.stop()
    return sent, seen[wan_msg.JSON] + seen[wan_msg.GBCS], wrong


class ConcurrentSendTest(unittest.TestCase):
    def test_two_senders_at_once_put_every_message_whole_and_in_order(self):
        per_sender, body_len = 1000, wan_msg.MAX_LEN - 1  # 8 MB: past the socket buffers
        sent, whole, wrong = run(concurrent_senders(per_sender, body_len))
        self.assertEqual((wrong, sent, whole), ([], (per_sender, per_sender), 2 * per_sender))


class _Held:
    # A stream double for one end of a link: its drain and reads wait until go is set, then
    # fail as a reset connection does.
    def __init__(self):
        self.go = asyncio.Event()
        self.closed = False

    def write(self, buf):
        pass

    async def drain(self):
        await self.go.wait()
        raise OSError(104)

    async def readexactly(self, n):
        await self.go.wait()
        raise OSError(104)

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass


async def stale_failure(op):
    # A send (or read) in flight on a link that connect() replaces before it fails: seen with a
    # send stuck on a full socket while the uplink reconnected. It must close its own link
    # only, and leave the new one as it is.
    link = TcpWan("127.0.0.1", 1)
    old = _Held()
    link._r = link._w = old
    t = asyncio.create_task(link.send(b"x") if op == "send" else link.recv())
    for _ in range(3):
        await asyncio.sleep(0)  # until it waits on the old link
    new = _Held()
    link._r = link._w = new  # what connect() leaves
    old.go.set()
    got = await t
    return got, link._w is new and link._r is new, new.closed


class StaleFailureTest(unittest.TestCase):
    def test_a_send_that_fails_on_a_replaced_link_leaves_the_new_one_open(self):
        self.assertEqual(run(stale_failure("send")), (False, True, False))

    def test_a_read_that_fails_on_a_replaced_link_leaves_the_new_one_open(self):
        self.assertEqual(run(stale_failure("recv")), (None, True, False))


if __name__ == "__main__":
    unittest.main()
