# The hub's event log: one JSON object per line ({"event": name, "t": wall s, "up": uptime s,
# ...fields}) written to a sink (stdout in simulation, so `| jq` works). Events are for state
# changes and summaries; per-frame drops are counted and reported in aggregate.

import json


class Events:
    def __init__(self, write, clock):
        self._write = write
        self._clock = clock

    def emit(self, event, **fields):
        c = self._clock
        fields["t"] = c.time()
        fields["up"] = c.uptime_ms() // 1000
        # "event" first whatever the interpreter's dict order, so lines read well unparsed.
        self._write('{"event": %s, %s\n' % (json.dumps(event), json.dumps(fields)[1:]))
        fields["event"] = event
        return fields
