"""Draws from a strategy outside a property, for the tests that look at many payloads at once."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


def collect(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` draws (fewer if Hypothesis runs out of distinct ones), deterministically."""
    drawn: list[Any] = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(value: Any) -> None:
        drawn.append(value)

    draw()
    return drawn
