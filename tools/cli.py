"""What every host tool does with a mistake: one line on stderr saying what to do, and an exit
code a script can act on. Never a traceback. The codes are shared by the tools, and each tool's
--help lists the ones it uses (`epilog`)."""

import sys

OK = 0
FAILED = 1  # the hub (or the lab) answered, and the answer is a failure
USAGE = 2  # a bad argument, file or value (argparse uses 2 too)
NO_LAB = 3  # nothing listening: no medium, no head-end, no running lab
NO_HUB = 4  # no hub answered on the channel, or none with that GUID
INTERPAN_OFF = 5  # the hub beacons but answers no inter-PAN frame: its inter-PAN is off
NO_ANSWER = 6  # inter-PAN is on but the command went unanswered, or the link was lost
BUSY = 7  # a port is in use, or a lab already runs in that directory
DIED = 8  # a lab process died and could not be restarted
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

MEANING = {
    OK: "done",
    FAILED: "the hub answered: the command did not succeed (its status says why)",
    USAGE: "bad arguments, file or value",
    NO_LAB: "nothing listening: start the lab (make run), or check --medium/--control/--dir",
    NO_HUB: "no hub answered on the channel, or none with that GUID",
    INTERPAN_OFF: "the hub beacons but its inter-PAN is off (power-cycle it: tools/lab.py reset)",
    NO_ANSWER: "inter-PAN is on but no answer: a key the hub does not trust, or rate-limited",
    BUSY: "a port is in use, or a lab already runs in that directory",
    DIED: "a lab process died; its log says why",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


class Fail(Exception):
    """Raised anywhere in a tool: main() prints `tool: message` and exits with code."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


def epilog(*codes):
    """The exit-code table for a --help text."""
    rows = ["exit codes:"]
    for c in (OK,) + codes:
        rows.append("  %-4d %s" % (c, MEANING[c]))
    return "\n".join(rows)


def main(name, func, argv=None, on_interrupt=None):
    """Run func(argv) -> exit code, turning every expected failure into one line and a code.
    on_interrupt() may return the line to print on Ctrl-C (e.g. how to resume)."""
    try:
        code = func(argv)
    except Fail as e:
        sys.stderr.write("%s: %s\n" % (name, e.message))
        code = e.code
    except KeyboardInterrupt:
        hint = on_interrupt() if on_interrupt else None
        sys.stderr.write("%s: interrupted%s\n" % (name, "; " + hint if hint else ""))
        code = INTERRUPTED
    except BrokenPipeError:  # `tool ... | head`
        code = OK
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone: nothing more to say, and no error at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def read_json(path, what):
    """A JSON file, or Fail(USAGE) naming the file and the problem."""
    import json

    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise Fail(USAGE, "%s: no such file (%s)" % (path, what)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise Fail(USAGE, "%s: cannot read it: %s" % (path, e)) from None
    except ValueError as e:
        raise Fail(USAGE, "%s: not valid JSON (%s)" % (path, e)) from None


def hex_field(text, what="field"):
    """Octets from a hex argument, or Fail(USAGE) saying which argument is wrong."""
    try:
        return bytes.fromhex(text)
    except (ValueError, TypeError):
        raise Fail(
            USAGE, "%s %r is not hex (two digits per octet, e.g. 00237E)" % (what, text)
        ) from None
