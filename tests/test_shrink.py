"""The bounded shrink of a failing delivery (``hookproof.conformance.shrink``): it keeps only bodies that still
validate against their event's schema and still fail for the same cause, and it never sends more than its
budget."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hookproof import catalog, validation
from hookproof.conformance.report import CheckFailure
from hookproof.conformance.shrink import shrink
from hookproof.wire import Delivery

PLATFORM, EVENT = "doselect", "solution.submit"


def _start() -> tuple[Delivery, str]:
    spec = catalog.contract(PLATFORM)
    example = spec.event(EVENT).examples[0].body
    return Delivery(PLATFORM, spec.name, EVENT, example), spec.event(EVENT).schema_id


def _failure(cause: str) -> CheckFailure:
    return CheckFailure("generated_valid", f"answered 500 ({cause})", cause=(cause,))


def _size(body: Any) -> int:
    return len(json.dumps(body))


def test_every_body_sent_validates_and_the_smallest_still_fails_the_same_way() -> None:
    start, schema_id = _start()
    sent: list[Any] = []

    def send(delivery: Delivery) -> None:
        sent.append(delivery.body)
        raise _failure("crash")  # a receiver that fails every delivery, for one cause

    smallest, failure, spent = shrink(start, _failure("crash"), schema_id, send, lambda d: d, budget=200)
    assert sent and spent == len(sent)
    assert all(not validation.check_instance(schema_id, body) for body in sent)
    assert not validation.check_instance(schema_id, smallest.body)
    assert _size(smallest.body) < _size(start.body)
    assert failure.cause_key == ("crash",)


def test_a_body_that_fails_for_another_cause_is_not_kept() -> None:
    start, schema_id = _start()

    def send(delivery: Delivery) -> None:
        raise _failure("something else")

    smallest, failure, spent = shrink(start, _failure("crash"), schema_id, send, lambda d: d, budget=200)
    assert smallest is start and failure.cause_key == ("crash",)
    assert spent > 0  # each candidate was tried, and none kept


@pytest.mark.parametrize("cause", ["crash", "something else"])  # every candidate kept, or none
def test_the_budget_bounds_the_requests(cause: str) -> None:
    start, schema_id = _start()
    sent: list[Any] = []

    def send(delivery: Delivery) -> None:
        sent.append(delivery.body)
        raise _failure(cause)

    _, _, spent = shrink(start, _failure("crash"), schema_id, send, lambda d: d, budget=3)
    assert spent == len(sent) == 3


def test_a_candidate_that_breaks_its_schema_is_never_sent() -> None:
    """Removing a required property would prove nothing about a valid delivery: the shrink skips it."""
    start, schema_id = _start()
    required = catalog.active().schema(schema_id).get("required", [])
    assert required, "the event's schema names required properties"
    sent: list[Any] = []

    def send(delivery: Delivery) -> None:
        sent.append(delivery.body)

    shrink(start, _failure("crash"), schema_id, send, lambda d: d, budget=500)
    assert sent  # every candidate passed, so nothing was kept and each valid one was sent once
    assert all(set(required) <= set(body) for body in sent)
    assert len({json.dumps(body, sort_keys=True) for body in sent}) == len(sent)
