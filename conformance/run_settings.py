"""How Hypothesis runs inside a conformance check: deterministic, bounded, and replayable.

A CI gate must give the same verdict twice, so runs are derandomized (or seeded with ``--hookproof-seed``)
and keep no example database. Network checks do not shrink by default: against a slow target a failing
case can shrink for minutes (``--hookproof-shrink`` turns it on for local, fast targets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.strategies import SearchStrategy

DEFAULT_EXAMPLES = 10

F = TypeVar("F", bound=Callable[..., object])
T = TypeVar("T")


def conformance_settings(max_examples: int = DEFAULT_EXAMPLES, *, derandomize: bool = True,
                         shrink: bool = False) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=max_examples,
        deadline=None,  # network round trips vary; the per-request timeout bounds them instead
        database=None,  # a verdict must not depend on what an earlier run found
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),  # big schemas are slow to draw from; that is not a failure
        phases=phases,
        print_blob=False,
        report_multiple_bugs=False,  # one failure, reported as a CheckFailure, not an exception group
    )


def runner(max_examples: int = DEFAULT_EXAMPLES, run_seed: int | None = None, shrink: bool = False) -> Callable[[F], F]:
    """A decorator that applies the conformance settings (and the seed, if one is given) to a property."""
    chosen = conformance_settings(max_examples, derandomize=run_seed is None, shrink=shrink)

    def apply(fn: F) -> F:
        fn = chosen(fn)
        return seed(run_seed)(fn) if run_seed is not None else fn

    return apply


def draws(strategy: SearchStrategy[T], count: int, run_seed: int | None = None) -> list[T]:
    """The first ``count`` values Hypothesis draws from ``strategy`` under the conformance settings: the same
    every time for one seed (derandomized without one). The first is Hypothesis' simplest; later ones are
    typical.

    A run draws a few hundred times. Derandomized, Hypothesis seeds each from a digest of the test function's
    source (tokenized and parsed anew every time), and it digests the source again for an example database
    key the settings never use: a tenth of the drawing, for one function whose source never changes. So the
    seed is taken from the digest once, which draws exactly what derandomizing did, and the key is given."""
    drawn: list[T] = []

    @runner(count, run_seed)
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    # The digest covers the decorator lines above too (Hypothesis strips decorators only from source that
    # parses alone, and an indented definition does not): keep them as they are, or the draws change.
    inner = collect.hypothesis.inner_test  # type: ignore[attr-defined]  # what @given wraps, as documented
    derandomized = _derandomized_seed(inner) if run_seed is None else None
    if derandomized is not None:
        seed(derandomized)(collect)
    collect._hypothesis_internal_database_key = None  # type: ignore[attr-defined]  # no database to key
    collect()
    return drawn


_DIGEST: list[int | None] = []


def _derandomized_seed(collect: Callable[..., object]) -> int | None:
    """The seed ``derandomize=True`` gives ``collect`` (Hypothesis' digest of its source), computed once; None
    where this Hypothesis has no such helper (it then derandomizes by itself, as before)."""
    if not _DIGEST:
        try:
            from hypothesis.internal.reflection import function_digest
        except ImportError:
            _DIGEST.append(None)
        else:  # as hypothesis.core.get_random_for_wrapped_test turns it into a seed
            _DIGEST.append(int.from_bytes(function_digest(collect), "big"))
    return _DIGEST[0]
