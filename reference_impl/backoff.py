"""How long the reference sender waits between two tries of one delivery.

DoSelect documents "up to 5 times with a backoff" and nothing more, so the shape is ours: exponential
(``base * factor ** n``), capped, with optional jitter. Jitter only ever *adds* time and a wait is never
shorter than the one before it, so the schedule stays non-decreasing - the property the sender
conformance check requires (docs/decisions.md#backoff-verification).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol


class Uniform(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: the wait before try ``n + 2`` is ``min(cap, base * factor ** n)``, plus up to
    ``jitter * that`` at random, and never less than the previous wait."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("backoff base and cap must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1 (a shrinking backoff is not a backoff)")
        if self.jitter < 0:
            raise ValueError("backoff jitter must not be negative")

    def delay(self, retry: int, previous: float = 0.0, rng: Uniform | None = None) -> float:
        """The wait before retry number ``retry`` (0 for the wait after the first try).

        ``previous`` is the wait actually used before the previous retry: the result is never below it, which
        is what keeps a jittered schedule non-decreasing.
        """
        wait = min(self.cap, self.base * self.factor**retry)
        if self.jitter:
            wait = min(self.cap, wait * (1.0 + (rng or random).random() * self.jitter))
        return max(wait, previous)

    def schedule(self, retries: int, rng: Uniform | None = None) -> list[float]:
        """The waits before each of ``retries`` retries, in order."""
        waits: list[float] = []
        for n in range(retries):
            waits.append(self.delay(n, waits[-1] if waits else 0.0, rng))
        return waits
