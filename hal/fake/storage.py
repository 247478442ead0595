# Test fake: Storage held in a dict, with a hook to make the next write fail.

from hal.storage import Storage


class MemoryStorage(Storage):
    def __init__(self):
        self.records = {}  # name -> bytes; tests may corrupt them in place
        self.writes = 0
        self.fail_next_write = False

    def read(self, name):
        return self.records.get(name)

    def write(self, name, data):
        # A failing write raises before touching the record, as an atomic rename would leave it.
        if self.fail_next_write:
            self.fail_next_write = False
            raise OSError(5)  # EIO
        self.records[name] = bytes(data)
        self.writes += 1

    def remove(self, name):
        self.records.pop(name, None)
