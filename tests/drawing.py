"""Draws from a strategy outside a property, for the tests that look at many payloads at once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


class _Enough(Exception):
    """Raised from inside the draws once ``until`` holds: the draws stop there (nothing is shrunk: the only
    phase is generation)."""


def collect(strategy: st.SearchStrategy[Any], n: int, until: Callable[[list[Any]], bool] | None = None) -> list[Any]:
    """``n`` draws (fewer if Hypothesis runs out of distinct ones), deterministically; with ``until`` (called once
    after each draw, with the draws so far), the draws up to the first after which ``until(drawn)`` holds. A
    test asking whether something is reached *within* ``n`` draws asks the same question either way, and stops
    drawing once it is answered."""
    drawn: list[Any] = []
    enough = False

    @settings(max_examples=n, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(value: Any) -> None:
        nonlocal enough
        if not enough:  # once enough, Hypothesis runs the last draw again to report it: not a draw of its own
            drawn.append(value)
            enough = until is not None and until(drawn)
        if enough:
            raise _Enough

    with suppress(_Enough):
        draw()
    return drawn
