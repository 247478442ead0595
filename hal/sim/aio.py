# Park the current asyncio task until a non-blocking socket is readable, on both interpreters.
#
# MicroPython's asyncio polls sockets itself: a coroutine yields the IO queue's read request, as
# asyncio/stream.py does. CPython's loop has add_reader instead. One waiter per socket at a time
# (MicroPython asserts it; CPython would silently replace the first). A wake-up only means
# "try a non-blocking read": a pending error such as ECONNREFUSED also makes a socket readable.

import asyncio
import sys

if sys.implementation.name == "micropython":

    async def wait_readable(sock):
        yield asyncio.core._io_queue.queue_read(sock)

else:

    async def wait_readable(sock):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fd = sock.fileno()

        def ready():
            # The reader can fire again before the task runs; resolve once.
            loop.remove_reader(fd)
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            loop.remove_reader(fd)
