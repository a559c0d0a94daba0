"""Python's cyclic garbage collector in the processes that draw payloads for a whole run.

Drawing with Hypothesis allocates millions of short-lived objects, and CPython's collector passes over the
young generation every 700 allocations more than deallocations, over the middle one every tenth of those, and
over everything every tenth of those again once enough has survived: everything being what the run imported
(pytest, Hypothesis, the schemas, the strategies: a few hundred thousand objects that live as long as the
process). Reference counting frees nearly all of the payloads' objects; the collector's time goes to walking
the long-lived ones again and again. So, once a run has imported and collected
what it needs, the objects alive then are frozen (``gc.freeze``: the collector no longer walks them) and the
young generation is made larger, for the span of the run only (:func:`for_the_run` restores both). Measured
in `docs/performance.md`: about 8% of the CPU of drawing-heavy work, the same payloads (the collector decides
nothing that Hypothesis draws).

A process that ends with its run keeps what it froze frozen to its end (:func:`until_the_process_ends`).
Restoring would give pytest's own full collections as it ends (its unraisable-exception plugin collects at
the session's end and again at unconfigure) and the interpreter's at exit everything the run imported to
walk again, about 75 ms. ``hookproof run`` also collects nothing before its run: nothing while it imports and
collects (a full pass there and one before the freeze, about 60 ms). Its start-up and end are on its
critical path, with one core of two at work. Its xdist workers keep the freeze to their end too. What was
garbage before the run stays in memory until the process ends, a few megabytes at most.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (10_000, 20, 20)  # CPython's default is (700, 10, 10)
_kept = False  # whether the process ends with its run: what the run tuned stays tuned (until_the_process_ends)
_held = False  # whether until_the_process_ends disabled the collector, for tune to enable it again


def until_the_process_ends(*, starting: bool = True) -> None:
    """The process ends when its run does: :func:`restore` leaves the collector as the run tuned it, and
    where the process is ``starting`` (it has not imported pytest yet), nothing is collected until the run
    tunes it (:func:`tune`). An xdist worker is not starting: it learns that it runs checks once it has
    collected them."""
    global _kept, _held
    _kept = True
    if starting and gc.isenabled():
        gc.disable()
        _held = True


def tune() -> tuple[int, int, int] | None:
    """Freeze what is alive now and raise the thresholds; returns the thresholds before, for :func:`restore`
    (None where they are raised already: a run inside a run, as pytest in process is, leaves them be)."""
    global _held
    before = gc.get_threshold()
    if before == THRESHOLDS:
        return None
    if not _kept:
        gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if _held:  # disabled until now by until_the_process_ends
        gc.enable()
        _held = False
    return before


def restore(before: tuple[int, int, int] | None) -> None:
    """Undo :func:`tune`: what was frozen may be collected again (a process that runs pytest in process many
    times, as the project's tests do, would otherwise keep every run's frozen cycles)."""
    if before is None or _kept:
        return
    gc.unfreeze()
    gc.set_threshold(*before)


@contextmanager
def for_the_run() -> Iterator[None]:
    before = tune()
    try:
        yield
    finally:
        restore(before)
