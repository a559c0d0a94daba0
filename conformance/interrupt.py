"""Ctrl-C stops a conformance run once; pressed again while the run stops, it is ignored. SIGTERM stops it after
the check under way.

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
that was gone. In a run that collected conformance checks, the controller takes SIGTERM as a request to stop
after the check under way (``session.shouldstop``, which pytest reads between tests): the run writes what it
judged and what it did not, and exits 2. Not a KeyboardInterrupt raised from the handler: Python runs a
handler wherever the main thread is, a garbage-collector callback of Hypothesis' included, where the exception
is printed and dropped (the run then passed, its SIGTERM lost) or breaks Hypothesis' own state (a check then
failed with an AssertionError of Hypothesis'). A second SIGTERM kills it at once, as before.

``hookproof run`` takes both signals from its first moment, but while pytest starts and collects it only notes
them: a KeyboardInterrupt raised in the middle of an import leaves a module half made, and the next import of
it failed with an ImportError, which pytest reported as an error and exit code 1 ("a check failed"). The
noted signal interrupts the run as soon as its checks are collected (a fraction of a second later); a second
is noted too, and a third ends the process at once, as Python's own handlers would.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

STOPPING = b"hookproof: already stopping: the run's children are being stopped, each within its bound\n"
_changed = False
_terminating = False
_notes = 0  # how many came while pytest started
_noted: str | None = None  # a signal that came while pytest was starting: it interrupts once checks are collected
_session: Any = None  # the pytest session a SIGTERM stops
conformance_run = False  # set by ``hookproof run`` before pytest starts: a conformance run from its first moment


def for_a_conformance_run() -> None:
    """``hookproof run``, before pytest parses a word: a SIGINT or SIGTERM while pytest starts and collects is
    noted, and interrupts the run once its checks are collected (:func:`terminate_as_interrupt`); so a CI job
    cancelled in its first second still gets its summary and its JUnit error. A plain ``pytest --pyargs
    hookproof.conformance`` gets its handlers once the checks are collected."""
    global conformance_run
    conformance_run = True
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(sig) is default:
            signal.signal(sig, _note)


def stopping() -> None:
    """From now on, a SIGINT says that the run is stopping (once) instead of interrupting that."""
    global _changed
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, _note):
        return
    signal.signal(signal.SIGINT, _again)
    _changed = True


def terminate_as_interrupt(session: Any) -> None:
    """The run's checks are collected: from now on the first SIGTERM stops ``session`` after the check under
    way, Ctrl-C is Python's own again, and a signal noted while pytest started interrupts the run now (here, a
    point of our own: no half-made import, no Hypothesis state)."""
    global _terminating, _noted, _session
    if threading.current_thread() is not threading.main_thread():
        return
    _session = session
    if signal.getsignal(signal.SIGINT) is _note:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, _note):
        signal.signal(signal.SIGTERM, _terminated)
        _terminating = True
    if _noted is not None:
        noted, _noted = _noted, None
        if noted == "SIGTERM":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the process, as it always did
        raise KeyboardInterrupt(noted)


def restore() -> None:
    global _changed, _terminating
    if threading.current_thread() is not threading.main_thread():
        return
    if _changed or signal.getsignal(signal.SIGINT) is _note:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _changed = False
    if _terminating or signal.getsignal(signal.SIGTERM) is _note:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _terminating = False


def _note(signum: int, frame: FrameType | None) -> None:
    """While pytest starts: remember the signal. A second one (people press Ctrl-C twice) is said to be taken,
    and noted too: acting on it then broke a half-made import again (a traceback, exit 1, under load); a third
    acts at once, as Python's own handler would."""
    global _noted, _notes
    _notes += 1
    _noted = _noted or signal.Signals(signum).name
    if _notes >= 2:
        os.write(2, b"hookproof: stopping as soon as the run's checks are collected\n")
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


def _terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the process, as it always did
    if _session is not None:
        why = "interrupted by SIGTERM: stopped after the check under way"
        _session.shouldstop = why
        controller = _session.config.pluginmanager.getplugin("dsession")  # pytest-xdist's reads its own
        if controller is not None:
            controller.shouldstop = why


def _again(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once; the shutdown is bounded
    os.write(2, STOPPING)
