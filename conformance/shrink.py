"""A bounded shrink of one failing delivery: the smallest body, within a few dozen requests, that still fails
for the same reason.

Hypothesis's own shrinking is thorough, and against a live target it re-sends for minutes; even when its
requests are capped, its search costs seconds of CPU per event on the larger schemas. This is greedy and
cheap instead: drop an optional property, empty or halve a string, zero a number, shorten an array - keeping a
step only where the body still validates against its event's schema and the target still fails it with the
same cause. Every candidate is sent at most once, so the budget is a bound on requests; ``--hookproof-shrink``
hands the work back to Hypothesis for a thorough search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hookproof import validation
from hookproof.conformance.report import CheckFailure
from hookproof.conformance.run_budget import RunOutOfTime
from hookproof.pointers import set_at, walk
from hookproof.wire import Delivery


def _candidates(body: Any) -> Iterator[Any]:
    """Smaller bodies than ``body``, one change each."""
    for path, value in walk(body):
        if path:
            yield set_at(body, path, None, delete=True)
        if isinstance(value, str) and value:
            yield set_at(body, path, "")
            if len(value) > 1:
                yield set_at(body, path, value[: len(value) // 2])
        elif isinstance(value, bool):
            if value:
                yield set_at(body, path, False)
        elif isinstance(value, (int, float)) and value != 0:
            yield set_at(body, path, 0)
        elif isinstance(value, list) and len(value) > 1:
            yield set_at(body, path, value[:1])
        if value is not None and path:
            yield set_at(body, path, None)


def shrink(delivery: Delivery, failure: CheckFailure, schema_id: str, send: Callable[[Delivery], None],
           fresh: Callable[[Delivery], Delivery], budget: int) -> tuple[Delivery, CheckFailure, int]:
    """The smallest delivery found, the failure it gets, and how many requests the search spent."""
    spent = 0
    tried: set[str] = set()
    improved = True
    while improved and spent < budget:
        improved = False
        for body in _candidates(delivery.body):
            if spent >= budget:
                break
            shown = repr(body)
            if shown in tried or not validation.conforms(schema_id, body):
                continue  # a candidate that broke its schema would prove nothing about a valid delivery
            tried.add(shown)
            candidate = fresh(delivery._replace(body=body))
            spent += 1
            try:
                send(candidate)
            except RunOutOfTime:  # the run's time limit: the smallest failing case so far is the one reported
                return delivery, failure, spent
            except CheckFailure as found:
                if found.cause_key == failure.cause_key:
                    delivery, failure, improved = candidate, found, True
                    break
    return delivery, failure, spent
