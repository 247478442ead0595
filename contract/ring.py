# A FIFO of preallocated buffers, the idea of peterhinch's micropython-async ringbuf_queue:
# claim() the free buffer at the tail and fill it, push(n) to queue it with its length, pop()
# the oldest (its buffer in .buf until that slot is claimed again). Nothing is allocated after
# construction; a full ring refuses (claim() returns None) and counts it.


class SlotRing:
    def __init__(self, bufs):
        self._bufs = bufs
        self._lens = [0] * len(bufs)
        self._head = 0
        self._n = 0
        self.buf = None
        self.dropped = 0

    def __len__(self):
        return self._n

    def clear(self):
        self._n = 0

    def _tail(self):
        i = self._head + self._n
        return i - len(self._bufs) if i >= len(self._bufs) else i

    def claim(self):
        if self._n >= len(self._bufs):
            self.dropped += 1
            return None
        return self._bufs[self._tail()]

    def push(self, n):
        self._lens[self._tail()] = n
        self._n += 1

    def pop(self):
        # The oldest buffer's length, with the buffer in self.buf; 0 when empty.
        if not self._n:
            return 0
        i = self._head
        self._head = i + 1 if i + 1 < len(self._bufs) else 0
        self._n -= 1
        self.buf = self._bufs[i]
        return self._lens[i]
