# Storage interface: named records, each replaced atomically.
#
# write() either leaves the old record or the new one, never a mix, whatever instant power is
# lost: implementations write a temporary file, flush it and rename it over the old one (rename
# is atomic on littlefs and POSIX). Records are small (settings, tables, queues): most are read
# and written whole; a large one (the outbox) is read in place through open() and written in
# pieces through write_parts(), so that it never needs its own size in RAM.


class Storage:
    def read(self, name):
        # The record's bytes, or None if it does not exist.
        raise NotImplementedError

    def open(self, name):
        # The record opened for reading (a binary file: seek, readinto, close), or None if it
        # does not exist.
        raise NotImplementedError

    def write(self, name, data):
        self.write_parts(name, (data,))

    def write_parts(self, name, parts):
        # Replaces the record with the concatenation of parts, an iterable of buffers, each
        # consumed before the next is asked for (so a producer may refill one buffer). A reader
        # the producer holds on the old record must be closed once the last part is given.
        raise NotImplementedError

    def remove(self, name):
        raise NotImplementedError
