# Test fake: Storage held in a dict, with hooks to make a write fail (a power cut, a bad flash).

import io

from hal.storage import Storage


class MemoryStorage(Storage):
    def __init__(self):
        self.records = {}  # name -> bytes; tests may corrupt them in place
        self.writes = 0
        self.fail_next_write = False
        self.fail_after_writes = -1  # >= 0: that many more writes succeed, then one fails
        self.fail_with = OSError(5)  # EIO; a MemoryError is what a full heap raises on the way

    def read(self, name):
        return self.records.get(name)

    def open(self, name):
        data = self.records.get(name)
        return None if data is None else io.BytesIO(data)

    def write_parts(self, name, parts):
        # A failing write raises before touching the record, as an atomic rename would leave it.
        if self.fail_after_writes == 0:
            self.fail_after_writes = -1
            self.fail_next_write = True
        elif self.fail_after_writes > 0:
            self.fail_after_writes -= 1
        if self.fail_next_write:
            self.fail_next_write = False
            raise self.fail_with
        data = bytearray()
        for p in parts:
            data += p
        self.records[name] = bytes(data)
        self.writes += 1

    def remove(self, name):
        self.records.pop(name, None)
