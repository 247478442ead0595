# The contract the functional core (firmware/) and the HAL (hal/) both build on, and nothing
# else: MicroPython/CPython names, wrapping ticks, the 802.15.4 FCS, the received-frame type,
# and the head-end link's framing. Dependencies point into it, never out of it.

from contract import compat  # noqa: F401  (const() as a builtin on CPython)
