"""A bridge board with no hardware, for trying tools/bridge.py and for its end-to-end test.

firmware/bridge.py runs on the MicroPython unix port exactly as on a board, driving the real
MRF24J40 driver (hal/esp32/mrf24j40.py) on the register fake of the chip (hal/fake/mrf24j40.py).
The fake chip's "air" is a ZEP medium (tools/medium.py): what it transmits goes there, and what
the medium carries on its channel arrives at the chip as received frames, through the chip's
own filtering and FIFO. The serial line is stdin/stdout: run it on one end of a
pseudo-terminal and give tools/bridge.py the other.

    MICROPYPATH=.frozen:. micropython tools/fake_bridge_board.py --air 127.0.0.1:17754
"""

import asyncio
import sys

from contract.frame import RxFrame
from firmware import bridge
from hal.esp32.mrf24j40 import MRF24J40
from hal.fake.mrf24j40 import FakeMRF24J40
from hal.sim.radio_zep import ZepRadio

_HELLO_MS = 5000


class Air:
    # The fake chip's antenna on a ZEP medium.
    def __init__(self, chip, zep):
        self.chip = chip
        self.zep = zep
        self.frame = RxFrame(zep.HEADROOM)
        self.tx = bytearray(127)
        chip.on_transmit = self._transmit

    def _transmit(self, buf, off, n):
        for i in range(n):
            self.tx[i] = buf[off + i]
        self.zep.channel = self.chip.channel()
        self.zep.send(self.tx, n)  # ZepRadio appends the FCS, as the chip does on air

    async def listen(self):
        zep, f, chip = self.zep, self.frame, self.chip
        while True:
            zep.channel = chip.channel()
            await zep.wait_rx()
            while zep.recv(f):
                if 3 <= f.n <= 127:
                    chip.inject(bytes(f.buf[f.off : f.off + f.n]), f.lqi)

    async def hellos(self):
        while True:
            self.zep.hello()
            await asyncio.sleep_ms(_HELLO_MS)


def main(argv):
    if len(argv) != 2 or argv[0] != "--air" or ":" not in argv[1]:
        sys.stderr.write("usage: fake_bridge_board.py --air HOST:PORT (the ZEP medium)\n")
        return 2
    host, _, port = argv[1].rpartition(":")
    chip = FakeMRF24J40(record=False)
    radio = MRF24J40(chip.spi, chip.cs, reset=chip.reset_pin, int_pin=chip.int_pin)
    air = Air(chip, ZepRadio(medium_port=int(port), medium_host=host))

    async def go():
        tasks = [asyncio.create_task(air.listen()), asyncio.create_task(air.hellos())]
        try:
            await bridge.run(radio)
        finally:
            for t in tasks:
                t.cancel()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
