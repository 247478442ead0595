# Heap bytes a call allocates, call frames included: micropython.mem_total() counts every
# allocation, also one freed before the call returns (a bytecode frame of more than 11 words
# is heap-allocated and freed at every call, which gc.mem_alloc() deltas never see). None where
# the interpreter has no such counter (CPython; a board built without MICROPY_MEM_STATS).

try:
    from micropython import mem_total
except ImportError:
    mem_total = None


def heap_bytes(fn, rounds=10):
    # Bytes allocated per call of fn() after a warm-up call, averaged over `rounds` calls and
    # rounded up: one 16-octet block in 100 calls still reads as an allocation.
    if mem_total is None:
        return None
    fn()
    before = mem_total()
    for _ in range(rounds):
        fn()
    return -((before - mem_total()) // rounds)
