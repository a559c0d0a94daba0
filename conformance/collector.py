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
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (10_000, 20, 20)  # CPython's default is (700, 10, 10)


def tune() -> tuple[int, int, int] | None:
    """Freeze what is alive now and raise the thresholds; returns the thresholds before, for :func:`restore`
    (None where they are raised already: a run inside a run, as pytest in process is, leaves them be)."""
    before = gc.get_threshold()
    if before == THRESHOLDS:
        return None
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return before


def restore(before: tuple[int, int, int] | None) -> None:
    """Undo :func:`tune`: what was frozen may be collected again (a process that runs pytest in process many
    times, as the project's tests do, would otherwise keep every run's frozen cycles)."""
    if before is None:
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
