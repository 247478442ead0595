# Runs every tests_device/test_*.py with micropython-lib's unittest, on the unix port or a
# board (mpremote), and ends with one line: "device: N passed, N failed, N skipped".
#   MICROPYPATH=.frozen:.:.venv/mplib micropython -X heapsize=110wK tests_device/run.py [test_x]

import gc
import os
import sys
import unittest

_DIR = "tests_device"


def modules(names):
    if names:
        return names
    return sorted(n[:-3] for n in os.listdir(_DIR) if n.startswith("test_") and n.endswith(".py"))


def main(names):
    passed = failed = skipped = 0
    for name in modules(names):
        mod = __import__(_DIR + "." + name, None, None, [name])
        suite = unittest.TestSuite()
        for attr in dir(mod):
            c = getattr(mod, attr)
            if (
                isinstance(c, type)
                and issubclass(c, unittest.TestCase)
                and c is not unittest.TestCase
            ):
                suite.addTest(c)
        print("== " + name)
        res = unittest.TestRunner().run(suite)
        for exc in res.exceptions:
            print(exc)
        bad = res.failuresNum + res.errorsNum
        failed += bad
        skipped += res.skippedNum
        passed += res.testsRun - bad - res.skippedNum
        del sys.modules[_DIR + "." + name]
        pkg = sys.modules.get(_DIR)
        if pkg is not None and hasattr(pkg, name):
            delattr(pkg, name)  # the package holds the module too: free it for the next
        gc.collect()
    print("device: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return failed


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
