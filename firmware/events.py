# The hub's event log: one JSON object per line ({"event": name, "t": wall s, "up": uptime s,
# ...fields}) written to a sink (stdout in simulation, so `| jq` works). Events are for state
# changes and summaries; per-frame drops are counted and reported in aggregate.

import json


class Events:
    def __init__(self, write, clock):
        self._write = write
        self._clock = clock

    def emit(self, name, **fields):
        c = self._clock
        rec = {"event": name, "t": c.time(), "up": c.uptime_ms() // 1000}
        rec.update(fields)
        self._write(json.dumps(rec) + "\n")
        return rec
