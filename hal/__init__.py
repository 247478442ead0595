import contract  # noqa: F401  (const() as a builtin on CPython: contract/compat.py)
