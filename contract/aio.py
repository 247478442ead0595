# asyncio's millisecond sleep on both interpreters: MicroPython's asyncio.sleep_ms (no float,
# no allocation), else CPython's asyncio.sleep in seconds.

import asyncio

_sleep_ms = getattr(asyncio, "sleep_ms", None)


async def sleep_ms(ms):
    if _sleep_ms:
        await _sleep_ms(ms)
    else:
        await asyncio.sleep(ms / 1000)
