"""A power-cut model for hal.file_storage.FileStorage: as a journaling or flash file system
behaves, a cut loses whatever was not yet synced. Content is durable once its file is synced
(step "flushed"); a rename is durable once its directory is synced (step "synced"). After a cut,
restore() puts the directory back to exactly what was durable."""

import os

from hal.file_storage import STEPS


class PowerCut(Exception):
    pass


class Flash:
    def __init__(self, directory):
        self.dir = directory
        self.durable = {}
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                self.durable[name] = self._read(name)
        self.armed = None  # (record, nth write of it, step)
        self.writes = {}
        self.seen = []  # every (record, step) reached, in order

    def _read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def arm(self, record, n, step):
        assert step in STEPS
        self.armed = (record, n, step)

    def __call__(self, step, name):
        # FileStorage's fault hook.
        if step == STEPS[0]:
            self.writes[name] = self.writes.get(name, 0) + 1
        self.seen.append((name, step))
        if step == "flushed":
            self.durable[name + ".tmp"] = self._read(name + ".tmp")
        elif step == "synced":
            self.durable[name] = self._read(name)
            self.durable.pop(name + ".tmp", None)
        if self.armed == (name, self.writes[name], step):
            raise PowerCut("%s write %d at %s" % (name, self.writes[name], step))

    def restore(self):
        # The power comes back: the directory holds what was durable, nothing else.
        for name in os.listdir(self.dir):
            if name not in self.durable:
                os.remove(os.path.join(self.dir, name))
        for name, data in self.durable.items():
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(data)
