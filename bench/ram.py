# The RAM budget and start-up cost (make bench's companions; docs/performance.md): the heap in
# use, after a collection, on the unix port with the ESP32-sized heap, at each stage:
#   imports     the firmware's modules loaded (as bytecode on the heap: .mpy here; a frozen
#               build on the board keeps bytecode in flash, so this stage costs ~0 there)
#   app         the hub built: tables, buffers, budgets (what a board pays whatever it runs)
#   10k frames  after 10,000 mixed legitimate frames
#   flood       after 10,000 spoofed inter-PAN frames and 10,000 beacon requests
#   micropython -X heapsize=256wK bench/ram.py [stage]   (stage "imports" or "app" stops there)
import gc
import sys

gc.collect()
base = gc.mem_alloc()
from boards.fake import FakeBoard  # noqa: E402
from firmware.app import App  # noqa: E402
from hal.radio import Radio  # noqa: E402

gc.collect()
imports = gc.mem_alloc() - base
stop = sys.argv[1] if len(sys.argv) > 1 else ""


class _Radio(Radio):
    def configure(self, *a):
        pass

    def send(self, buf, n):
        return True


if stop != "imports":
    board = FakeBoard(radio=_Radio())
    app = App(board, ("han.devices=00-23-7E-00-00-00-00-01:esme",))
    app.hub.power_up(0)
    gc.collect()
    built = gc.mem_alloc() - base - imports
if stop not in ("imports", "app"):
    from tests_device import interpan_frames as ipf  # noqa: E402
    from tests_device import vectors  # noqa: E402

    frame = app.frame
    frames = [ipf.get_details(seq=i & 0xFF) for i in range(4)] + [vectors.BEACON_REQUEST]
    gc.collect()
    mark = gc.mem_alloc()
    for i in range(10000):
        vectors.load(frame, frames[i % len(frames)])
        app.handle(frame)
        board.clock.advance(10)
        if i % 100 == 0:
            app.tick(board.clock.ticks_ms())
    gc.collect()
    after_frames = gc.mem_alloc() - mark
    spoof = [ipf.tunnel(src=bytes((0x66, i, 1, 2, 3, 4, 5, 6))) for i in range(64)]
    gc.collect()
    mark = gc.mem_alloc()
    for i in range(10000):
        vectors.load(frame, spoof[i & 63])
        app.handle(frame)
        vectors.load(frame, vectors.BEACON_REQUEST)
        app.handle(frame)
        board.clock.advance(1)
    gc.collect()
    after_flood = gc.mem_alloc() - mark
    print(
        "imports %d app %d after_10k_frames %+d after_flood %+d heap_total %d"
        % (imports, built, after_frames, after_flood, gc.mem_alloc() + gc.mem_free())
    )
elif stop == "app":
    print("imports %d app %d" % (imports, built))
else:
    print("imports %d" % imports)
