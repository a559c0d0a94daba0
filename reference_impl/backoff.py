"""How long the reference sender waits between two tries of one delivery, derived from the contract's retry
policy (:class:`hookproof.contract.RetryPolicy`).

``none`` waits only the policy's minimum (at once where it has none);
``constant`` waits the documented delay every time; ``increasing`` is exponential
(``base * factor ** n``, capped), from the documented delay where there is one and 1 s where the document
says only "with a backoff" (DoSelect). No wait is shorter than the policy's ``min_delay``. A ``time_scale``
multiplies every wait, so that a test run compresses a documented 60 s into 20 ms. Jitter only ever *adds*
time and a wait is never shorter than the one before it, so the schedule stays non-decreasing
(docs/decisions.md#backoff-verification).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, Self

from hookproof.contract import RetryPolicy

DEFAULT_BASE = 1.0  # first wait of an increasing backoff whose document gives no delay
DEFAULT_CAP = 60.0


class Uniform(Protocol):
    def random(self) -> float: ...


class _Waits(NamedTuple):  # the fields; their defaults are Backoff.__new__'s
    base: float
    factor: float
    cap: float
    jitter: float
    floor: float


class Backoff(_Waits):
    """The wait before try ``n + 2`` is ``min(cap, base * factor ** n)``, plus up to ``jitter * that`` at random,
    and never less than ``floor`` nor than the previous wait. A named tuple checked when it is made, as the
    contract model is a named tuple (:mod:`hookproof.contract`: the sender's start-up)."""

    __slots__ = ()

    def __new__(cls, base: float = DEFAULT_BASE, factor: float = 2.0, cap: float = DEFAULT_CAP, jitter: float = 0.0,
                floor: float = 0.0) -> Self:
        if base < 0 or cap < 0 or floor < 0:
            raise ValueError("backoff base, cap and floor must not be negative")
        if factor < 1:
            raise ValueError("backoff factor must be at least 1 (a shrinking backoff is not a backoff)")
        if jitter < 0:
            raise ValueError("backoff jitter must not be negative")
        return super().__new__(cls, base, factor, cap, jitter, floor)

    def delay(self, retry: int, previous: float = 0.0, rng: Uniform | None = None) -> float:
        """The wait before retry number ``retry`` (0 for the wait after the first try).

        ``previous`` is the wait actually used before the previous retry: the result is never below it, which
        is what keeps a jittered schedule non-decreasing.
        """
        wait = min(self.cap, self.base * self.factor**retry)
        if self.jitter:
            if rng is None:
                import random  # here: a sender without jitter (every reference run) never needs it

                rng = random
            wait = min(self.cap, wait * (1.0 + rng.random() * self.jitter))
        return max(wait, previous, self.floor)

    def schedule(self, retries: int, rng: Uniform | None = None) -> list[float]:
        """The waits before each of ``retries`` retries, in order."""
        waits: list[float] = []
        for n in range(retries):
            waits.append(self.delay(n, waits[-1] if waits else 0.0, rng))
        return waits


def for_policy(policy: RetryPolicy, *, time_scale: float = 1.0, jitter: float = 0.0,
               base: float | None = None) -> Backoff:
    """The waits that keep ``policy``, scaled by ``time_scale``; ``base`` (absolute seconds) replaces the first
    wait of an increasing backoff."""
    floor = policy.min_delay * time_scale
    if policy.backoff == "none":
        return Backoff(base=0.0, factor=1.0, cap=floor, floor=floor)
    if policy.backoff == "constant":
        delay = (policy.delay or 0.0) * time_scale
        return Backoff(base=max(delay, floor), factor=1.0, cap=max(delay, floor), floor=floor)
    first = base if base is not None else (policy.first_delay() or DEFAULT_BASE) * time_scale
    cap = max(DEFAULT_CAP * time_scale, first, floor)
    return Backoff(base=max(first, floor), factor=2.0, cap=cap, jitter=jitter, floor=floor)
