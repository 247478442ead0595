"""Each signing party's next GBCS originator counter, kept for the lab's tools so that nobody has
to think about counters: the HHT and the head-end both sign as the supplier, and a counter one of
them used must never be offered again by the other (the hub would answer `stale` or
`duplicate`). Kept in the lab directory (counters.json), written atomically under a lock, so
concurrent tools never hand out the same counter and a power cut never loses one in use.

The hub's replay window is per originator: a counter executes once, and a counter more than
`commands.replay_window` below the highest it has accepted is stale. A counter given by hand
(`--counter`) is learnt, so the next one handed out is above it."""

import fcntl
import json
import os
import time

FILE = "counters.json"


class Counters:
    def __init__(self, lab_dir):
        self.dir = lab_dir
        self.path = os.path.join(lab_dir, FILE)

    def _locked(self, update):
        # update(dict) -> result, with the file's content read and rewritten under one lock.
        os.makedirs(self.dir, exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self.path) as f:
                    state = json.load(f)
                if not isinstance(state, dict):
                    state = {}
            except (OSError, ValueError):
                state = {}  # none yet, or unreadable: start again (a stale answer resyncs)
            result = update(state)
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            return result

    def next(self, guid):
        """The party's next counter (persisted as used before it is returned)."""

        def take(state):
            # At least the time in milliseconds too: above whatever an earlier lab, or a tool
            # without this store, has sent (DCC's tools count in milliseconds since 1970).
            n = max(int(state.get(guid, 0)) + 1, time.time_ns() // 1000000)
            state[guid] = n
            return n

        return self._locked(take)

    def learn(self, guid, highest):
        """`highest` has been used for this party: continue above it."""

        def bump(state):
            state[guid] = max(int(state.get(guid, 0)), int(highest))
            return state[guid] + 1

        return self._locked(bump)
