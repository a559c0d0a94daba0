"""The one registry of conformance checks, for all three roles (receiver, sender, registration API).

A check is a function ``check(ctx, platform)`` registered with :func:`check`: it returns quietly or raises
:class:`~hookproof.conformance.report.CheckFailure`. Its name is its function's name, used everywhere (``-k``,
the summary, JUnit, README); its rule is the first line of its docstring. The pytest items are generated from
this registry (:mod:`hookproof.conformance.plugin`), so a check's marker, needs and docstring are written
once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Role = Literal["receiver", "sender", "registration"]
Marker = Literal["documented", "robustness"]
# What a check needs: documented examples to send, an authentication scheme (and a secret to use it with).
Need = Literal["examples", "auth"]

F = TypeVar("F", bound=Callable[..., None])


@dataclass(frozen=True)
class Check:
    """One conformance check. ``retry`` checks follow the contract's retry policy: they are marked
    ``documented`` where the platform's document states it, ``retry_policy_inferred`` where another
    platform's is applied (docs/decisions.md#retry-policy)."""

    name: str
    role: Role
    marker: Marker
    func: Callable[[Any, str], None]
    needs: tuple[Need, ...] = ()
    retry: bool = False
    # At most how many requests it sends the target of one platform, given its context (the run's header
    # says how many a run will send, so that a receiver with side effects is not surprised).
    sends: Callable[[Any, str], int] | None = None
    # What a good target answers to what it sends ("2XX", "4XX", "not 5XX"...: hookproof.live.recording.meets),
    # kept with a failing request's recording so that a replay judges it as the check did.
    expects: str = "2XX"

    @property
    def rule(self) -> str:
        """The one-line rule, as README and the summary show it."""
        return (self.func.__doc__ or "").strip().splitlines()[0]

    def __call__(self, ctx: Any, platform: str) -> None:
        self.func(ctx, platform)


CHECKS: dict[str, Check] = {}


def check(role: Role, marker: Marker, *, needs: tuple[Need, ...] = (), retry: bool = False,
          sends: Callable[[Any, str], int] | None = None, expects: str = "2XX") -> Callable[[F], F]:
    """Register the decorated function as a check of ``role`` named after it."""

    def register(fn: F) -> F:
        known = CHECKS.get(fn.__name__)
        # The same function registering again is its module imported anew (pytester does that); another
        # function with the name of a known check is a mistake.
        if known is not None and (known.func.__module__, known.func.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"two checks are named {fn.__name__!r}")
        CHECKS[fn.__name__] = Check(fn.__name__, role, marker, fn, needs, retry, sends, expects)
        return fn

    return register


def checks_of(role: Role) -> list[Check]:
    load_all()
    return [c for c in CHECKS.values() if c.role == role]


def load_all() -> dict[str, Check]:
    """Import every module that registers checks (they register on import)."""
    from hookproof.conformance import receiver_checks, registration_checks, sender_checks  # noqa: F401

    return CHECKS
