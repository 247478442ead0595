# File storage: one file per record in a directory, replaced atomically (write name.tmp, flush,
# fsync where the port has it, rename over name, fsync the directory). Rename is atomic on POSIX
# (the sim board) and on littlefs (the ESP32's default filesystem), so a power cut leaves either
# the old or the new record; a stale .tmp is ignored and removed at start. On POSIX a rename is
# durable only once its directory is synced (fsync(2), "Calling fsync() does not necessarily
# ensure that the entry in the directory containing the file has also reached disk"); littlefs
# commits a rename before it returns. The MicroPython unix port has no fsync: the sim board's
# writes are as durable as the host's page cache.

import os

_fsync = getattr(os, "fsync", None)  # CPython; the MicroPython unix port has none


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


# The steps of a write, in order, at which a test can cut the power (FileStorage.fault).
# flushed: the new content is synced; renamed: the rename is done, not yet synced; synced: the
# directory is synced, the new record is durable.
STEPS = ("open", "half_written", "flushed", "renamed", "synced")


class FileStorage:
    # The hal.storage.Storage interface, not subclassed: on the board every class and module
    # costs RAM, even frozen (tests_host/test_hal_interfaces.py checks the methods).
    def __init__(self, directory, fault=None):
        # fault(step, name): called at each of STEPS; raising there is a power cut at that
        # instant (the power-loss tests use it; None in the product).
        self.fault = fault
        self.dir = directory
        if not _exists(directory):
            os.mkdir(directory)
        for name in os.listdir(directory):
            if name.endswith(".tmp"):
                os.remove(self._path(name))

    def _path(self, name):
        return self.dir + "/" + name

    def read(self, name):
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def open(self, name):
        try:
            return open(self._path(name), "rb")
        except OSError:
            return None

    def write(self, name, data):
        self.write_parts(name, (data,))

    def write_parts(self, name, parts):
        final = self._path(name)
        tmp = final + ".tmp"
        cut = self.fault
        if cut:
            cut("open", name)
        with open(tmp, "wb") as f:
            if cut:  # tests: the whole record, so the cut can land in its middle
                data = bytearray()
                for p in parts:
                    data += p
                half = len(data) // 2
                f.write(data[:half])
                f.flush()
                cut("half_written", name)
                f.write(data[half:])
            else:
                for p in parts:
                    f.write(p)
            f.flush()
            if _fsync:
                _fsync(f.fileno())
        if cut:
            cut("flushed", name)
        os.rename(tmp, final)
        if cut:
            cut("renamed", name)
        if _fsync:
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                _fsync(fd)
            finally:
                os.close(fd)
        if cut:
            cut("synced", name)

    def remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass
