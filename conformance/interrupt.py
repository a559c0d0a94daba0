"""Ctrl-C stops a conformance run once; pressed again while the run stops, it is ignored.

The first SIGINT raises :class:`KeyboardInterrupt` (Python's own handler): pytest ends the run, the fixtures
stop the reference receiver, the sender commands and the drawing process, each within its bound, and the
summary says the run was interrupted. A second one, a moment later (people press it twice), used to land inside
that shutdown: a traceback through pytest's own reporting (once, ``SystemError: AST constructor recursion depth
mismatch`` from the compile it interrupted) and children left to the subreaper. So once pytest has the first
(``pytest_keyboard_interrupt``, before it reports it and before the session's fixtures are torn down), SIGINT
only says, once, that the run is already stopping. Only in the main thread, only over Python's default handler
(never over one a user's conftest installed), and put back when pytest unconfigures.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

STOPPING = b"hookproof: already stopping: the run's children are being stopped, each within its bound\n"
_changed = False


def stopping() -> None:
    """From now on, a SIGINT says that the run is stopping (once) instead of interrupting that."""
    global _changed
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    signal.signal(signal.SIGINT, _again)
    _changed = True


def restore() -> None:
    global _changed
    if _changed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _changed = False


def _again(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once; the shutdown is bounded
    os.write(2, STOPPING)
