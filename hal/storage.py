# Storage interface: named records, each replaced atomically.
#
# write() either leaves the old record or the new one, never a mix, whatever instant power is
# lost: implementations write a temporary file, flush it and rename it over the old one (rename
# is atomic on littlefs and POSIX). Records are small (settings, tables, queues), read whole.


class Storage:
    def read(self, name):
        # The record's bytes, or None if it does not exist.
        raise NotImplementedError

    def write(self, name, data):
        raise NotImplementedError

    def remove(self, name):
        raise NotImplementedError
