"""Ctrl-C stops a conformance run once; pressed again while the run stops, it is ignored. SIGTERM stops it as
Ctrl-C does.

The first SIGINT raises :class:`KeyboardInterrupt` (Python's own handler): pytest ends the run, the fixtures
stop the reference receiver, the sender commands and the drawing process, each within its bound, and the
summary says the run was interrupted. A second one, a moment later (people press it twice), used to land inside
that shutdown: a traceback through pytest's own reporting (once, ``SystemError: AST constructor recursion depth
mismatch`` from the compile it interrupted) and children left to the subreaper. So once pytest has the first
(``pytest_keyboard_interrupt``, before it reports it and before the session's fixtures are torn down), SIGINT
only says, once, that the run is already stopping. Only in the main thread, only over Python's default handler
(never over one a user's conftest installed), and put back when pytest unconfigures.

SIGTERM is how a CI system cancels a job (GitHub Actions and GitLab send it, then SIGKILL a few seconds
later). Python's default dies at once: no summary, no JUnit file - the dashboard shows no verdict at all - and
under pytest-xdist each worker printed a ``PluggyTeardownRaisedWarning`` (``cannot send``) for the controller
that was gone. In a run that collected conformance checks, the controller takes SIGTERM as an interrupt: the
run stops as after Ctrl-C, writes what it judged and what it did not, and exits 2. A second SIGTERM kills it
as before.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

STOPPING = b"hookproof: already stopping: the run's children are being stopped, each within its bound\n"
_changed = False
_terminating = False


def stopping() -> None:
    """From now on, a SIGINT says that the run is stopping (once) instead of interrupting that."""
    global _changed
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    signal.signal(signal.SIGINT, _again)
    _changed = True


def terminate_as_interrupt() -> None:
    """From now on, the first SIGTERM interrupts the run as Ctrl-C does."""
    global _terminating
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _terminated)
    _terminating = True


def restore() -> None:
    global _changed, _terminating
    if threading.current_thread() is not threading.main_thread():
        return
    if _changed:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _changed = False
    if _terminating:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _terminating = False


def _terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the process, as it always did
    raise KeyboardInterrupt("SIGTERM")


def _again(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once; the shutdown is bounded
    os.write(2, STOPPING)
