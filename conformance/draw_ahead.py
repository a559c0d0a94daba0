"""The receiver checks' generated payloads, drawn in a process of their own ahead of the checks that send them.

A run's main thread draws each event's payloads, then sends them one at a time and waits for every answer:
about half of its time was drawing (docs/performance.md). A thread cannot draw beside it (the interpreter
lock is theirs in turn), a process can: ``python -m hookproof.conformance.draw_ahead`` is started with the
receiver checks, is given every draw the selected checks will ask for, in the order they ask, and hands the
payloads back as it draws them (docs/decisions.md#draw-ahead).

The draws are derandomized (one seed for one strategy), so what the process draws is what the check would
have drawn itself (``tests/test_draw_ahead.py`` compares them). Where the process has not reached a draw
when a check needs it (at the start, while it imports), the check draws it itself and tells the process to
skip it: the run waits for the process only to finish the draw it is making, and a process that fails costs
its head start, nothing else. It is a command of its own rather than a ``multiprocessing`` child, because a
spawned child imports the run's main script again, and a user's script may run the suite at import.

The protocol, over the child's standard input and output: the parent writes one pickled ``(keys, seed,
folders)``, then the 4-byte index of each draw the child is to skip; the child writes a byte once it has
imported, then for each draw it makes its index, its length and the pickled draw (an empty one where it
failed). It stops at the end of its draws or once its standard input closes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from hookproof.wire import Delivery

if TYPE_CHECKING:
    import subprocess

    from hookproof.conformance.run_budget import RunBudget

# (what, platform, contract, event, how many): "pairs" (valid and with extras, generated_valid's pool),
# "broken" (broken_bodies'), "one" (an event's representative where it documents no example)
Key = tuple[str, str, str, str, int]
# Below this many payloads the run draws most of them itself before the process has imported (about half a
# CPU-second; a payload is drawn in about 0.35 ms): the process would cost more CPU than it saves.
WORTH_IT = 1000
# After this many draws in a row that the process was still making when asked for, drawing is what the checks
# wait on (a fast receiver): the next draw is then made here meanwhile. Sooner, it would only take time from
# the checks that the process would have saved them (the reference run: the receiver's answers are slower).
BEHIND = 2
CURRENT_WAIT = 10.0  # seconds to wait for the draw the process is making (a few ms; bounded all the same)
_HEAD = struct.Struct(">II")
_INDEX = struct.Struct(">I")
_READY = b"R"


def draw(key: Key, seed: int | None, budget: RunBudget | None = None) -> list[Any]:
    """One draw a check makes: ``("pairs", platform, contract, event, n)`` n (valid, with extras) pairs,
    ``("broken", ...)`` n deliveries breaking one rule each, ``("one", ...)`` a single valid delivery. The same
    for the same key and seed, in whichever process it is drawn. With the run's ``budget``, a draw past its
    limit stops at its next value (:class:`~hookproof.conformance.run_budget.RunOutOfTime`): a run of
    ``--hookproof-examples 100000`` drew for over a minute past ``--hookproof-max-time 3``. The check is a
    ``map`` over the strategy, which draws nothing: the values are the same with it or without it."""
    from hypothesis import strategies as st

    from hookproof.conformance import broken_bodies, strategies
    from hookproof.conformance.run_settings import draws

    def bounded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if budget is None:
            return strategy

        def checked(value: Any) -> Any:
            budget.check()
            return value

        return strategy.map(checked)

    kind, platform, contract, event, count = key
    if kind == "pairs":
        return draws(bounded(st.tuples(strategies.events(platform, event, contract=contract),
                                       strategies.events(platform, event, contract=contract, extras=True))),
                     count, seed)
    if kind == "broken":
        return draws(bounded(broken_bodies.invalid_events(platform, event, contract=contract)), count, seed)
    if kind == "one":
        return draws(bounded(strategies.events(platform, event, contract=contract)), count)  # derandomized
    raise ValueError(f"no draw of kind {kind!r}")


def _plain(delivery: Delivery) -> tuple[Any, ...]:
    return (*delivery[:4], dict(delivery.headers), *delivery[5:])  # a mapping proxy does not pickle


def _delivery(fields: tuple[Any, ...]) -> Delivery:
    platform, contract, event, body, headers, breaks, origin = fields
    return Delivery(platform, contract, event, body, MappingProxyType(headers), breaks, origin)


def _portable(drawn: list[Any]) -> list[Any]:
    return [tuple(_plain(d) for d in item) if not isinstance(item, Delivery) else _plain(item) for item in drawn]


def _rebuilt(items: list[Any]) -> list[Any]:
    return [tuple(_delivery(d) for d in item) if item and isinstance(item[0], tuple) else _delivery(item)
            for item in items]


@contextmanager
def spawn() -> Iterator[subprocess.Popen[bytes]]:
    """The drawing process, started: it imports what drawing needs, then waits for its draws (:class:`DrawAhead`
    gives them); it is stopped and reaped when the block ends."""
    from hookproof.conformance.bounded_command import environ_now, tracked_child

    with tracked_child([sys.executable, "-m", "hookproof.conformance.draw_ahead"], environ_now()) as proc:
        yield proc


class DrawAhead:
    """The drawing process and the draws handed to it; :meth:`take` gives a draw, from it or made here
    (``here``, the same draw in this process). ``started`` is a process :func:`spawn` started earlier, with
    what stops it (:mod:`hookproof.conformance.head_start`); else one is started here."""

    def __init__(self, keys: Iterable[Key], seed: int | None, folders: Sequence[str],
                 here: Callable[[Key], list[Any]],
                 started: tuple[subprocess.Popen[bytes], ExitStack] | None = None,
                 budget: RunBudget | None = None) -> None:
        self._here = here
        self._budget = budget  # the run's time limit: no wait for the process outlasts it
        self._keys = list(dict.fromkeys(keys))
        self._order = {key: index for index, key in enumerate(self._keys)}
        self._results: dict[int, bytes] = {}
        self._mine: dict[int, list[Any]] = {}  # drawn here while the process made the draw before it
        self._behind = 0  # how many draws in a row the checks asked for while the process was making them
        self._ready = False
        self._ended = False
        self._next = 0  # the index the process draws now (it draws in order, skipping what it was told to)
        self._skipped: set[int] = set()
        self._changed = threading.Condition()
        if started is None:
            self._stack = ExitStack()
            self._proc = self._stack.enter_context(spawn())
        else:
            self._proc, self._stack = started
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        try:
            header = pickle.dumps((list(self._order), seed, list(folders)))
            self._stdin.write(_INDEX.pack(len(header)) + header)
            self._stdin.flush()
            # From now on only 4-byte skips: never block the checks on a process that stopped reading them (a
            # skip that does not fit is lost, and the process only draws it in vain).
            os.set_blocking(self._stdin.fileno(), False)
        except OSError:
            self._ended = True
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True,
                                        name="hookproof-draw-ahead")
        self._reader.start()

    def _read(self, out: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError, struct.error):
            if out.read(1) == _READY:
                with self._changed:
                    self._ready = True
                while head := out.read(_HEAD.size):
                    index, size = _HEAD.unpack(head)
                    data = out.read(size)
                    if len(data) < size:
                        break
                    with self._changed:
                        self._results[index] = data
                        self._next = index + 1
                        self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _current(self) -> int:
        """The index the process is drawing now (the first after its last that it was not told to skip)."""
        current = self._next
        while current in self._skipped:
            current += 1
        return current

    def take(self, key: Key) -> list[Any]:
        """The draw of ``key``: the process's where it has it or is making it, else drawn here (and the
        process told to skip it). Where the checks keep catching up with the process (:data:`BEHIND`), the
        next draw is made here while it makes the one asked for: the two then draw side by side."""
        index = self._order.get(key)
        if index is None:
            return self._here(key)
        if index in self._mine:
            return self._mine.pop(index)
        with self._changed:
            making = index not in self._results and self._ready and not self._ended and index == self._current()
        self._behind = self._behind + 1 if making else 0
        if self._behind >= BEHIND and index + 1 < len(self._keys) and self._claim(index + 1):
            self._mine[index + 1] = self._here(self._keys[index + 1])
        with self._changed:
            if making:
                wait = CURRENT_WAIT if self._budget is None else min(CURRENT_WAIT, self._budget.left + 0.01)
                self._changed.wait_for(lambda: index in self._results or self._ended, wait)
            data = self._results.pop(index, None)
        if not data:  # not drawn there (then it is told to skip it), or it failed there: drawn here, which says why
            if data is None:
                self._claim(index)
            return self._here(key)
        return _rebuilt(pickle.loads(data))  # written by the run's own child

    def _claim(self, index: int) -> bool:
        """Take draw ``index`` from the process (it is told to skip it) unless it has it or is making it."""
        with self._changed:
            if index in self._results or (self._ready and not self._ended and index == self._current()):
                return False
            self._skipped.add(index)
        with contextlib.suppress(OSError, ValueError):
            self._stdin.write(_INDEX.pack(index))
            self._stdin.flush()
        return True

    def close(self) -> None:
        """Stop the process (its standard input closed; killed if it does not end) and reap it."""
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=2)
        self._stack.close()  # kills its session if it still runs, and reaps it
        self._reader.join(timeout=1)


def _exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        block = os.read(fd, size - len(data))
        if not block:
            raise EOFError("the run closed the pipe")
        data += block
    return data


def _serve(fd: int, sink: BinaryIO) -> None:
    """The drawing process: read the draws, make them in order, skip what the parent drew itself. Its input
    is read unbuffered, so that ``select`` sees every index the parent wrote. What drawing imports is imported
    first: a process started before the run has collected its checks does that while it waits for them."""
    from hookproof import catalog
    from hookproof.conformance import broken_bodies, run_settings, strategies  # noqa: F401 - imported ahead of the draws

    (size,) = _INDEX.unpack(_exactly(fd, _INDEX.size))
    keys, seed, folders = pickle.loads(_exactly(fd, size))  # written by the run that started it
    catalog.configure(folders)
    from hookproof.conformance import collector

    collector.tune()  # for the process's whole life: it only draws
    sink.write(_READY)
    sink.flush()
    skipped: set[int] = set()
    pending = b""
    for index, key in enumerate(keys):
        while select.select([fd], [], [], 0)[0]:  # what the parent drew itself meanwhile
            raw = os.read(fd, 4096)
            if not raw:
                return  # the parent is gone, or done
            pending += raw
            whole = len(pending) - len(pending) % _INDEX.size
            skipped.update(i for (i,) in _INDEX.iter_unpack(pending[:whole]))
            pending = pending[whole:]
        if index in skipped:
            continue
        try:
            data = pickle.dumps(_portable(draw(key, seed)))
        except Exception:  # the parent draws it itself and meets the error there, with its traceback
            data = b""
        sink.write(_HEAD.pack(index, len(data)) + data)
        sink.flush()


def main() -> None:
    protocol = os.fdopen(os.dup(1), "wb")
    with open(os.devnull, "wb") as devnull:  # nothing else may write into the protocol: warnings go nowhere
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
    with contextlib.suppress(BrokenPipeError, EOFError, KeyboardInterrupt):
        _serve(sys.stdin.fileno(), protocol)


if __name__ == "__main__":
    main()
