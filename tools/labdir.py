"""The running lab's description, lab.json in its directory: the ports, the hub's GUID and the
lab process's control port, written by tools/lab.py when the lab is up and removed when it stops.
The other tools read their defaults from it, so a lab started on other ports needs no flags."""

import json
import os

# The lab directory tools use when not told (--lab / --dir): $COMMSHUB_LAB, else lab/ here.
DEFAULT = os.environ.get("COMMSHUB_LAB") or "lab"
FILE = "lab.json"


def read(lab_dir):
    """The running lab's description, or None when no lab runs there."""
    try:
        with open(os.path.join(lab_dir, FILE)) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None  # left behind by a lab that was killed
        except PermissionError:
            pass
    return info


def port(lab_dir, key, default):
    info = read(lab_dir) or {}
    value = info.get(key)
    return value if isinstance(value, int) and value > 0 else default


def write(lab_dir, info):
    path = os.path.join(lab_dir, FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def remove(lab_dir):
    try:
        os.remove(os.path.join(lab_dir, FILE))
    except OSError:
        pass
