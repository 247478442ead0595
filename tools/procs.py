"""Child processes for the host tools: started so they die with their parent (no orphans even
if the parent is killed), with each output line shown prefixed and kept in a log file."""

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: Ctrl-C still stops everything through stop()


def micropython():
    return os.path.join(BIN, "micropython")


def hub_command(
    medium_port, state, settings=(), speed=None, start_ticks=None, zep_port=0, headend_port=None
):
    """The command line `make run` uses to start the hub on the MicroPython unix port."""
    cmd = [micropython(), "-m", "boards.sim", "--medium", "127.0.0.1:%d" % medium_port]
    cmd += ["--state", state, "--zep-port", str(zep_port)]
    if headend_port:
        cmd += ["--headend", "127.0.0.1:%d" % headend_port]
    if speed is not None:
        cmd += ["--speed", str(speed)]
    if start_ticks is not None:
        cmd += ["--start-ticks", str(start_ticks)]
    for kv in settings:
        cmd += ["--set", kv]
    return cmd


def headend_command(port, control, heartbeat_s=30, lab_dir=None):
    cmd = [sys.executable, "tools/headend.py", "serve", "--port", str(port)]
    cmd += ["--control", str(control), "--heartbeat-s", str(heartbeat_s)]
    return cmd + ["--lab", lab_dir] if lab_dir else cmd


def medium_command(port, pcap=None):
    cmd = [sys.executable, "tools/medium.py", "--port", str(port)]
    return cmd + ["--pcap", pcap] if pcap else cmd


def micropython_env():
    return dict(os.environ, MICROPYPATH=".frozen:" + ROOT)


class Proc:
    def __init__(self, name, cmd, log_path=None, echo=True, env=None, stdin=False):
        # stdin: keep a pipe to the process's standard input (send_line) instead of none.
        self.name = name
        self.cmd = cmd
        self.lines = []
        self._cond = threading.Condition()
        self._log = open(log_path, "a") if log_path else None
        self._echo = echo
        self.p = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="backslashreplace",  # a child's stray byte must not stop the reader
            bufsize=1,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # the terminal's Ctrl-C reaches the parent only; it stops us
        )
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for line in self.p.stdout:
            if self._log:
                self._log.write(line)
                self._log.flush()
            if self._echo:
                sys.stdout.write("%-7s| %s" % (self.name, line))
                sys.stdout.flush()
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def note(self, line, prefix=None):
        """A line of our own in this process's log and echo (e.g. a lab control), marked by
        its prefix on the terminal; the log gets it as it is."""
        if self._log:
            self._log.write(line + "\n")
            self._log.flush()
        if self._echo:
            sys.stdout.write("%-7s| %s\n" % (prefix or self.name, line))
            sys.stdout.flush()

    def send_line(self, line):
        """One line to the process's standard input (started with stdin=True). False if gone."""
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            return True
        except (OSError, ValueError, AttributeError):
            return False

    def alive(self):
        return self.p.poll() is None

    def tail(self, n=3):
        with self._cond:
            return list(self.lines[-n:])

    def wait_for(self, text, timeout=10.0, start=0):
        """Index of the first output line from `start` on that contains text, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None and not self._t.is_alive():
                    return None
                self._cond.wait(min(left, 0.1))

    def interrupt(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)

    def kill(self):
        """SIGKILL, as a power cut: no chance to tidy up. The return code."""
        return self.stop(timeout=0)

    def stop(self, timeout=10.0):
        """SIGINT, then up to `timeout` s for a clean exit, then SIGKILL. The return code."""
        if timeout > 0:
            self.interrupt()
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self._t.join(2)
        if self._log:
            self._log.close()
            self._log = None
        return self.p.returncode


def stop_all(procs, timeout=10.0):
    """Interrupt every process at once, then wait for each: shutdown takes the slowest one's
    time, not the sum."""
    for p in procs:
        p.interrupt()
    return [p.stop(timeout) for p in procs]
