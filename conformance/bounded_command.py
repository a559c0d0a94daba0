"""Running a sender command under bounds: a time limit, capped output, and nothing left running afterwards.

A sender command is the user's code; it may hang, print gigabytes, or start children that outlive it - even
in sessions of their own, out of reach of a process-group kill. :func:`run_bounded` runs it in a session of
its own, reads its output through pipes keeping only the last ``OUTPUT_TAIL`` bytes (so it never blocks and
memory stays bounded), kills the session when the time is up, and afterwards kills every process the command
left behind: those still in its session and, on Linux, those that escaped into a new session (this process is
made their "child subreaper", so orphans are reparented to it and can be found). The outcome says how many had
to be killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

OUTPUT_TAIL = 4000  # bytes of stdout and of stderr a report shows (after secrets are masked)
OUTPUT_KEEP = 64 * 1024  # bytes kept while reading, so masking sees whole secrets before the tail is cut
PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS = 10

_running: set[int] = set()  # sessions (= leader pids) of the commands running now
_running_lock = threading.Lock()
_commands: set[int] = set()  # those of them run_bounded runs (not tracked_child's servers), for stop_commands
_subreaper = False


@dataclass
class Outcome:
    elapsed: float = 0.0
    exit_code: int | None = None
    timed_out: bool = False
    spawn_error: str | None = None
    stdout: str = ""
    stderr: str = ""
    killed_leftovers: int = 0  # processes the command left running, killed after it ended


def _become_subreaper() -> None:
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
            _subreaper = True


class _Tail:
    """Reads a pipe to its end, keeping the last ``OUTPUT_KEEP`` bytes. It polls, so that it can be told to stop
    while a process that cannot be killed still holds the pipe open (a blocked read could not be interrupted,
    and closing the pipe under it would wait for that read)."""

    def __init__(self, fd: int) -> None:
        self.kept = bytearray()
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(fd,), daemon=True, name="hookproof-output")
        self._thread.start()

    def _read(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                block = os.read(fd, 65536)
                if not block:
                    break
                self.total += len(block)
                self.kept += block
                if len(self.kept) > OUTPUT_KEEP:
                    del self.kept[: len(self.kept) - OUTPUT_KEEP]

    def text(self, wait: float) -> str:
        self._thread.join(timeout=wait)
        self._stop.set()
        self._thread.join(timeout=1)
        return bytes(self.kept).decode("utf-8", errors="replace")


def _read_stat(pid: str) -> bytes:
    """One process's ``/proc/<pid>/stat`` line, or nothing if it is gone. Plain ``os`` calls on bytes: the sweep
    reads every process after every command, and ``pathlib`` plus text decoding tripled its cost."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _stat_fields(stat: bytes) -> list[bytes]:
    """The fields after "pid (comm) " (the command name may hold spaces and parentheses): state ppid pgrp
    session ..."""
    return stat[stat.rfind(b")") + 2:].split()


def _processes() -> list[tuple[int, int, int, str, int]]:
    """(pid, ppid, session id, state, start time in clock ticks) of every process we can see (Linux /proc;
    elsewhere nothing)."""
    try:
        names = os.listdir("/proc") if os.path.exists("/proc/self/stat") else []
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit():
            continue
        fields = _stat_fields(_read_stat(name))
        if len(fields) < 20:
            continue
        found.append((int(name), int(fields[1]), int(fields[3]), fields[0].decode("ascii", "replace"),
                      int(fields[19])))
    return found


def _start_time(pid: int) -> int:
    """The process's start time, from its own ``/proc`` entry (a scan of every process costs ms per command)."""
    fields = _stat_fields(_read_stat(str(pid)))
    return int(fields[19]) if len(fields) >= 20 else 0


def _leftovers(session: int, started: int, killed: set[int]) -> tuple[list[int], bool]:
    """Processes the command ``session`` left behind, not yet ``killed``, and whether one already killed is
    still dying. Those in its session; orphans reparented to us that started after it did and belong to no
    other running command (a process of ours started before it is not its); and the children of a process
    killed in an earlier round: one forked while we killed its parent is a child of it until the parent is
    gone, in a session of its own if it made one, so only its parent names it. Never one in this process's
    own session: the command runs in a session of its own, and what it starts stays there or makes a new one
    (no process can join an existing session), so a process in ours is a child something else here started
    meanwhile (another test's ``subprocess.run``, a worker's helper), whose parent is alive."""
    me, own_session = os.getpid(), os.getsid(0)
    others = set(_running) - {session}  # the caller holds _running_lock: no command starts while we look
    victims, dying = [], False
    for pid, ppid, sid, state, start in _processes():
        if pid == me or state == "Z" or pid in others or sid in others or sid == own_session:
            continue
        if pid in killed:
            dying = True
        elif sid == session or ppid in killed or (ppid == me and start >= started):
            victims.append(pid)
    return victims, dying


def _reap_orphans(tracked: set[int]) -> None:
    """Collect the zombies of orphans reparented to us (never a child subprocess is still waiting on)."""
    me = os.getpid()
    for pid, ppid, _sid, state, _start in _processes():
        if ppid == me and state == "Z" and pid not in tracked:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def environ_now() -> dict[str, str]:
    """A copy of ``os.environ``, safe from any thread. Commands start from threads of the sender harness while
    pytest, in the run's main thread, sets ``PYTEST_CURRENT_TEST`` at each phase of each test and removes it
    after the last: a copy taken meanwhile meets a name that is gone (KeyError) or a mapping that changed size
    (RuntimeError), and the case it was for failed for nothing the command did. Such a copy is taken again."""
    for _ in range(1000):
        try:
            return dict(os.environ)
        except (KeyError, RuntimeError):
            time.sleep(0)  # let the thread that changes it finish
    return dict(os.environ)


def run_bounded(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> Outcome:
    """Run ``argv`` in a session of its own; past ``timeout`` the session is killed; afterwards every process
    it left running is killed too."""
    _become_subreaper()
    outcome = Outcome()
    began = time.monotonic()
    with _running_lock:  # spawned and registered at once, so that no leftover sweep mistakes it for an orphan
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=dict(env) if env is not None else None)
        except OSError as exc:
            outcome.spawn_error = f"{argv[0]}: {exc.strerror or exc}"
            return outcome
        _running.add(proc.pid)
        _commands.add(proc.pid)
    started = _start_time(proc.pid)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Tail(proc.stdout.fileno()), _Tail(proc.stderr.fileno())
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
            kill_session(proc)  # the session we created: the command and its children
        except BaseException:  # Ctrl-C or SIGTERM while it ran: the command and what it started end with the run
            kill_session(proc)
            _sweep(proc.pid, started)
            raise
        outcome.elapsed = time.monotonic() - began
        outcome.exit_code = proc.returncode
        outcome.killed_leftovers = _sweep(proc.pid, started)
        # Pipes a killed grandchild held are closed now; a child of an unkillable process is not waited for.
        outcome.stdout, outcome.stderr = out.text(wait=2), err.text(wait=2)
    finally:
        with _running_lock:
            _commands.discard(proc.pid)
        _forget(proc, proc.stdout, proc.stderr)
        _reap_orphans({proc.pid})
    return outcome


def _sweep(session: int, started: int) -> int:
    """Kill every process the command ``session`` left running; how many there were. Killing a parent hands its
    children to us, and one may fork as it dies: look again until none is left and every process killed is
    gone (a process stuck in the kernel costs the rounds, no more)."""
    killed: set[int] = set()
    for _ in range(KILL_ROUNDS):
        with _running_lock:
            leftovers, dying = _leftovers(session, started, killed)
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if not leftovers and not dying:
            break
        killed.update(leftovers)
        time.sleep(0.02)
    return len(killed)


def stop_commands() -> None:
    """Kill the session of every command :func:`run_bounded` is running now, in any thread: the run is ending
    (interrupted, or its fixtures torn down), and a command other threads wait on must not outlive it. Each
    of those waits then returns, and sweeps what its command left, as after a timeout."""
    with _running_lock:
        running = list(_commands)
    for pid in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command runs in: ours, with ``$HOOKPROOF_SCHEMAS`` naming the schema folders of the
    active catalog (``--hookproof-schemas``), so that a sender built on hookproof, the reference sender first,
    knows the platforms the run checks it against, and ``$HOOKPROOF_CHECKED_PROFILES`` saying which of their
    profiles this run has checked already (their digests), so that such a sender reads them without checking
    them again; then ``extra``, where an empty value removes a variable."""
    from hookproof import catalog, profiles
    from hookproof.schema_store import ENV as SCHEMAS_ENV

    env = {**environ_now(), SCHEMAS_ENV: os.pathsep.join(os.path.abspath(d) for d in catalog.active().folders.extra),
           profiles.CHECKED_ENV: profiles.checked_profiles(), **(extra or {})}
    return {name: value for name, value in env.items() if value or name not in (extra or {})}


@contextmanager
def tracked_child(argv: Sequence[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start a long-running process of the run's own (a reference server) in a session of its own, with a
    pipe on its standard input (closed when this process ends, however it ends) and its output on one pipe.
    It is registered like a running command for as long as the block lasts, so that the sweep after a sender
    command never mistakes it for something that command left behind. The caller ends it; on the way out it
    is killed if still running, and reaped."""
    with _running_lock:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, env=dict(env))
        _running.add(proc.pid)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_session(proc)
        _forget(proc, proc.stdin, proc.stdout)


def kill_session(proc: subprocess.Popen[bytes], wait: float = 5.0) -> None:
    """SIGKILL the session ``proc`` leads (started with ``start_new_session``) and reap ``proc``, waiting at
    most ``wait`` seconds (a process stuck in the kernel is left to the sweep)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait)


def _forget(proc: subprocess.Popen[bytes], *pipes: IO[bytes] | None) -> None:
    """A process of ours is over: no longer one the sweep must spare, and its pipes closed."""
    with _running_lock:
        _running.discard(proc.pid)
    for pipe in pipes:
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def tail(text: str) -> str:
    """The last ``OUTPUT_TAIL`` characters of output already masked (mask first, then cut)."""
    return text[-OUTPUT_TAIL:]
