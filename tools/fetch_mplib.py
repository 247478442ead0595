"""Fetch micropython-lib's unittest for the MicroPython unix port from PyPI.

The PyPI package `micropython-unittest` is micropython-lib's unittest published for MicroPython
(an sdist holding one `unittest.py`). pip cannot install it (it has no setup.py), so this script
downloads the pinned sdist, checks its SHA-256 and unpacks `unittest.py` into a directory that
goes on MICROPYPATH. On a board the same module comes from `mpremote mip install unittest`.

    python tools/fetch_mplib.py DEST_DIR
"""

import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request

PACKAGE = "micropython-unittest"
VERSION = "0.4"
SHA256 = "83b4a65c44b2f6382bc3dd8fbbe002b5679dbfc3744b99eaa59802e6fd14cf67"


def main(dest):
    index = os.environ.get("PYPI_JSON", "https://pypi.org/pypi")
    with urllib.request.urlopen("%s/%s/json" % (index, PACKAGE), timeout=60) as r:
        meta = json.load(r)
    files = meta["releases"][VERSION]
    url = [f["url"] for f in files if f["packagetype"] == "sdist"][0]
    with urllib.request.urlopen(url, timeout=60) as r:
        blob = r.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHA256:
        sys.exit("%s %s: sha256 %s does not match the pin %s" % (PACKAGE, VERSION, digest, SHA256))
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        member = [m for m in tar.getmembers() if m.name.endswith("/unittest.py")][0]
        data = tar.extractfile(member).read()
    tmp = os.path.join(dest, "unittest.py.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(dest, "unittest.py"))
    print("fetched %s %s into %s" % (PACKAGE, VERSION, dest))


if __name__ == "__main__":
    main(sys.argv[1])
