"""The hub's event log (one JSON object per line, lab/hub.log) read back: the state it implies
now (for `hht.py watch`) and its history as time series (for tools/timeline.py). One fold over
the events serves both, so the live view and the picture never disagree.

Hub time: each event carries "up", seconds since the hub's power-up, on the hub's own clock
(it runs fast with --speed). A power-up ("started") starts "up" again from 0; the series put the
boots end to end (x = seconds of hub time since the log began)."""

import json

from firmware.ipan_discovery import STATES

OFF, ON, ON_NO_TIMEOUT = STATES


def parse(line):
    """The event a log line holds, or None (lines that are not hub events are skipped)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and isinstance(ev.get("event"), str) else None


class State:
    """What the events so far say about the hub. feed() each event in order."""

    def __init__(self):
        self.boots = 0
        self.offset = 0  # hub seconds before the current boot (boots end to end)
        self.up = 0  # "up" of the latest event
        self.interpan = None  # off | on | on_no_timeout, None until an event says
        self.interpan_left = None  # seconds left at interpan_at
        self.interpan_at = 0
        self.interpan_reason = None
        self.wan = None  # present | lost
        self.wan_link = None  # up | down (the TCP session, before the hysteresis)
        self.members = {}  # GUID -> kind
        self.drops = {}  # reason -> total this boot
        self.commands = {}  # (channel, status) -> count
        self.stats_gap = None  # seconds between housekeeping reports

    def x(self, ev=None):
        return self.offset + (ev.get("up", self.up) if ev is not None else self.up)

    def feed(self, ev):
        name = ev["event"]
        up = ev.get("up")
        if name == "started":
            if self.boots:
                self.offset += self.up
            self.boots += 1
            self.up = 0
            self.members = {}
            self.drops = {}
            self.wan_link = None
        if isinstance(up, (int, float)):
            if name == "stats" and self._last_stats is not None and up > self._last_stats:
                gap = up - self._last_stats
                self.stats_gap = gap if self.stats_gap is None else min(self.stats_gap, gap)
            self.up = up
        if name == "stats":
            self._last_stats = self.up
        elif name == "started":
            self._last_stats = None
        elif name == "interpan":
            self.interpan = ev.get("state")
            if self.interpan == ON and ev.get("seconds_left") is None:
                self.interpan = ON_NO_TIMEOUT  # logs written before the one vocabulary
            self.interpan_left = ev.get("seconds_left")
            self.interpan_at = self.up
            self.interpan_reason = ev.get("reason")
        elif name == "wan":
            self.wan = ev.get("state")
        elif name == "wan_link":
            self.wan_link = ev.get("state")
        elif name == "han":
            self.members = {d["guid"]: d.get("kind") for d in ev.get("devices", ())}
        elif name == "device_joined":
            self.members[ev.get("guid")] = ev.get("kind")
        elif name == "device_removed":
            self.members.pop(ev.get("guid"), None)
        elif name == "frame_rejected":
            self.drops[ev.get("reason")] = ev.get("total", 0)
        elif name == "command":
            key = (ev.get("channel"), ev.get("status"))
            self.commands[key] = self.commands.get(key, 0) + 1

    _last_stats = None

    def seconds_left(self):
        """The inter-PAN countdown now, as the log tells it (None: no timeout, or unknown)."""
        if self.interpan != ON or self.interpan_left is None:
            return None
        return max(0, self.interpan_left - (self.up - self.interpan_at))


class Follower:
    """Reads a growing log file: poll() feeds the new complete lines, returns the State."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = ""
        self.state = State()

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                chunk = f.read()
                self.pos = f.tell()
        except OSError:
            return self.state
        text = self.partial + chunk
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            ev = parse(line)
            if ev is not None:
                self.state.feed(ev)
        return self.state


def view(details, state, guid):
    """The live view as a dict: the radio's answer (discovery) where there is one, the log for
    what the radio does not carry. details None: the hub did not answer discovery."""
    v = {"guid": guid, "answering": details is not None}
    if details is not None:
        v["interpan"] = details["interpan_state"]
        v["seconds_left"] = details["seconds_left"]
        v["wan"] = "present" if details["wan_present"] else "lost"
        v["device_log"] = details["devices"]
        v["channel"] = details["channel"]
    elif state is not None and state.interpan is not None:
        v["interpan"] = state.interpan
        v["seconds_left"] = state.seconds_left()
    else:
        v["interpan"] = OFF  # a hub that does not answer inter-PAN has it off, as far as we see
        v["seconds_left"] = None
    if state is not None:
        if details is None and state.wan is not None:
            v["wan"] = state.wan
        v["wan_link"] = state.wan_link
        v["interpan_reason"] = state.interpan_reason
        v["joined"] = dict(sorted(state.members.items()))
        v["drops"] = dict(sorted(state.drops.items()))
        v["commands"] = {"%s %s" % k: n for k, n in sorted(state.commands.items())}
        v["hub_up_s"] = state.up
    return v


def render(v):
    """The live view for a terminal."""
    left = v.get("seconds_left")
    ip = v["interpan"] + ("" if left is None else " (%d s left)" % left)
    if v.get("interpan_reason"):
        ip += "  [last change: %s]" % v["interpan_reason"]
    if not v["answering"]:
        ip += "  (no inter-PAN answer)"
    rows = [
        ("hub", v["guid"] + ("  up %d s" % v["hub_up_s"] if "hub_up_s" in v else "")),
        ("inter-PAN", ip),
        (
            "WAN",
            "%s%s"
            % (v.get("wan", "?"), "  (link %s)" % v["wan_link"] if v.get("wan_link") else ""),
        ),
    ]
    if "device_log" in v:
        rows.append(("device log", ", ".join(v["device_log"]) or "empty"))
    if "joined" in v:
        rows.append(
            ("joined", ", ".join("%s %s" % (g, k) for g, k in v["joined"].items()) or "none")
        )
        rows.append(
            ("drops", ", ".join("%s %d" % (r, n) for r, n in v["drops"].items()) or "none")
        )
        rows.append(
            ("commands", ", ".join("%s %d" % (k, n) for k, n in v["commands"].items()) or "none")
        )
    return "\n".join("%-11s %s" % r for r in rows)


class History:
    """The log as time series for a picture: x is hub seconds since the log began."""

    def __init__(self):
        self.state = State()
        self.interpan = []  # (x, state, reason)
        self.wan = []  # (x, present | lost)
        self.links = []  # (x, up | down)
        self.commands = []  # (x, channel, outcome)
        self.drops = []  # (x, count, reason)
        self.boots = []  # x of each power-up
        self.controls = []  # (x, text): the lab's controls
        self.end = 0

    def feed(self, ev):
        st = self.state
        name = ev["event"]
        if name == "lab_control":  # the lab's own line: no hub time, placed at the last event
            text = ev.get("control", "?")
            for k in ("state", "p"):
                if k in ev:
                    text += " %s" % ev[k]
            self.controls.append((st.x(), text))
            return
        st.feed(ev)
        x = st.x()
        self.end = max(self.end, x)
        if name == "started":
            self.boots.append(x)
            if not self.wan or self.wan[-1][1] != "present":
                self.wan.append((x, "present"))  # declared present at power-up
        elif name == "interpan":
            self.interpan.append((x, st.interpan, ev.get("reason")))
        elif name == "wan":
            self.wan.append((x, ev.get("state")))
        elif name == "wan_link":
            self.links.append((x, ev.get("state")))
        elif name == "command":
            self.commands.append((x, ev.get("channel"), ev.get("status")))
        elif name == "command_rejected":
            self.commands.append((x, ev.get("channel"), "rejected"))
        elif name == "frame_rejected":
            self.drops.append((x, ev.get("count", 0), ev.get("reason")))

    def report_interval(self):
        return self.state.stats_gap or 5

    def spans(self, changes):
        """[(start, end, value)] from a list of (x, value, ...) changes, up to the end."""
        out = []
        for i, c in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else self.end
            if end > c[0] or i + 1 == len(changes):
                out.append((c[0], max(end, c[0]), c[1]))
        return out


def history(lines):
    h = History()
    for line in lines:
        ev = parse(line)
        if ev is not None:
            h.feed(ev)
    return h
