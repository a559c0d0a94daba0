"""A reference server in a child process of its own, for the run without a target.

The receiver checks send thousands of deliveries to the reference receiver. Served from a thread of the run's
own process, it shared the interpreter lock with the checks: every delivery handed the lock from the checks
to the server's event loop, to a worker thread and back, and the run used one core of two. In a child process
the receiver decides a delivery on the other core while the checks draw the next one
(docs/performance.md).

The child is ``python -m MODULE --port 0 --until-stdin-closes`` (a reference server's own command line, as a
user runs it); it prints ``... listening on URL`` once it listens, which is how the run learns the port, and
it stops when the pipe on its standard input closes, which happens however the run ends. Its secret travels in
the environment (``$HOOKPROOF_SECRET``), never on the command line. It is registered with
:mod:`hookproof.conformance.bounded_command` so that the sweep for what a sender command left behind never
takes it for a leftover, waited for with a bound, and killed and reaped when the session ends.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from hookproof.conformance.bounded_command import environ_now, kill_session, tracked_child

START_TIMEOUT = 30.0  # seconds for the child to import and listen, on a loaded machine
STOP_TIMEOUT = 5.0
OUTPUT_LINES = 20  # lines of the child's output kept for an error message
_LISTENING = re.compile(r"listening on (http://\S+)")


class ChildServerError(RuntimeError):
    """The child did not start listening: the message has its exit status and last lines of output."""


class _Output:
    """Reads the child's output to its end: the first ``listening on URL`` line gives the URL, the last
    lines are kept for an error message, and the pipe never fills up however much the child writes."""

    def __init__(self, fd: int) -> None:
        self.url: str | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES)
        self.listening = threading.Event()
        self._fd = fd
        self._thread = threading.Thread(target=self._read, daemon=True, name="hookproof-child-output")
        self._thread.start()

    def _read(self) -> None:
        pending = b""
        with contextlib.suppress(OSError, ValueError):
            while True:
                block = os.read(self._fd, 65536)
                if not block:
                    break
                pending += block
                *whole, pending = pending.split(b"\n")
                pending = pending[-4096:]  # a line without an end is kept in part
                for raw in whole:
                    line = raw.decode("utf-8", errors="replace").rstrip()
                    self.lines.append(line[:500])
                    found = _LISTENING.search(line)
                    if found and self.url is None:
                        self.url = found.group(1)
                        self.listening.set()
        self.listening.set()  # the output ended: the child exited (or closed it) without listening

    def join(self) -> None:
        self._thread.join(timeout=1)


class ChildServer:
    """A child server started and not yet waited for: the run starts it, goes on with work of its own while the
    child imports and binds (on the other core), and asks for :meth:`url` when it needs it."""

    def __init__(self, proc: subprocess.Popen[bytes], module: str, start_timeout: float) -> None:
        assert proc.stdout is not None
        self.proc, self.module, self.start_timeout = proc, module, start_timeout
        self._output = _Output(proc.stdout.fileno())
        self._began = time.monotonic()

    def url(self) -> str:
        """The URL it listens on, once it does (at once after that); :class:`ChildServerError` when it exits
        first or does not listen within ``start_timeout`` of its start (it is then stopped at once)."""
        output, proc = self._output, self.proc
        if output.url is not None:
            return output.url
        while not output.listening.wait(0.05):
            if proc.poll() is not None or time.monotonic() - self._began > self.start_timeout:
                break
        if output.url is None:  # nothing to stop gracefully: the session goes at once
            _stop(proc, grace=0)
            output.join()
            how = (f"exited with status {proc.returncode}" if proc.returncode is not None and proc.returncode >= 0
                   else f"did not listen within {self.start_timeout:g} s")
            last = " | ".join(output.lines) or "no output"
            raise ChildServerError(f"{self.module} {how}: {last}")
        return output.url

    def stop(self) -> None:
        _stop(self.proc)
        self._output.join()


@contextmanager
def started_child(module: str, env: Mapping[str, str], start_timeout: float = START_TIMEOUT) -> Iterator[ChildServer]:
    """Start ``python -m module --port 0`` with ``env`` added to the environment, without waiting for it to
    listen; it is stopped (and reaped) when the block ends."""
    argv = [sys.executable, "-m", module, "--port", "0", "--until-stdin-closes"]
    with tracked_child(argv, {**environ_now(), **env}) as proc:
        child = ChildServer(proc, module, start_timeout)
        try:
            yield child
        finally:
            child.stop()


@contextmanager
def child_server(module: str, env: Mapping[str, str], start_timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Run ``python -m module --port 0`` with ``env`` added to the environment until the block ends; yields
    the URL it listens on. Raises :class:`ChildServerError` when it does not listen within ``start_timeout``."""
    with started_child(module, env, start_timeout) as child:
        yield child.url()


def _stop(proc: subprocess.Popen[bytes], grace: float = STOP_TIMEOUT) -> None:
    """End the child: its standard input closed (it stops serving), its session killed past ``grace``."""
    if proc.poll() is None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_session(proc, STOP_TIMEOUT)

