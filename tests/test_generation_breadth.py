"""What the generated payloads cover, place by place in each event's schema: optional properties both present
and absent, every enum value, every type of a union, arrays both empty and with several items, every format.

Generation draws few, large choices from Hypothesis (docs/performance.md#generation); these tests pin the
breadth that the distribution must keep whatever the draws look like."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from hookproof import catalog
from hookproof.conformance import node_judging, schema_graph, strategies
from tests.drawing import collect

EVENTS = [(p, e) for p in catalog.platforms() for e in catalog.contract(p).events]
SAMPLES = 120
ENOUGH = 20  # a place reached fewer times than this says little about its distribution


@dataclass
class Coverage:
    """Per schema place (its JSON pointer into the schema), what the sample held there."""

    presence: dict[str, Counter[bool]] = field(default_factory=lambda: defaultdict(Counter))
    constants: dict[str, tuple[Counter[str], int]] = field(default_factory=dict)
    types: dict[str, tuple[Counter[str], tuple[str, ...]]] = field(default_factory=dict)
    lengths: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    formats: Counter[str] = field(default_factory=Counter)


def _kind(value: Any) -> str:
    return node_judging.json_type(value)


def _walk(node: Any, value: Any, cov: Coverage) -> None:
    while node.ref is not None:
        node = node.ref
    if node.enum is not None and len(node.enum) > 1:
        seen, _ = cov.constants.setdefault(node.where, (Counter(), len(node.enum)))
        seen[repr(value)] += 1
    if node.types is not None and len(node.types) > 1:
        seen_types, _ = cov.types.setdefault(node.where, (Counter(), node.types))
        seen_types[_kind(value)] += 1
    if node.format is not None and isinstance(value, str):
        cov.formats[node.format] += 1
    for branch in node.any_of:
        if node_judging.could_match(branch, value):
            _walk(branch, value, cov)
            break
    if isinstance(value, dict) and node.is_object:
        for name, sub in node.properties.items():
            if name not in node.required:
                cov.presence[f"{node.where}/properties/{name}"][name in value] += 1
            if name in value:
                _walk(sub, value[name], cov)
    if isinstance(value, list) and node.items is not None:
        cov.lengths[node.where][len(value)] += 1
        for item in value:
            _walk(node.items, item, cov)


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    cov = Coverage()
    for platform, event in EVENTS:
        schema_id = catalog.event(platform, event).schema_id
        node = schema_graph.schema_node(schema_id)
        for body in collect(strategies.body_strategy(schema_id), SAMPLES):
            _walk(node, body, cov)
    return cov


def test_optional_properties_appear_present_and_absent(coverage: Coverage) -> None:
    places = {where: seen for where, seen in coverage.presence.items() if sum(seen.values()) >= ENOUGH}
    assert len(places) > 50
    one_way = {where: dict(seen) for where, seen in places.items() if len(seen) < 2}
    assert not one_way


def test_every_enum_value_appears(coverage: Coverage) -> None:
    places = {w: (seen, n) for w, (seen, n) in coverage.constants.items() if sum(seen.values()) >= 5 * n}
    assert places
    missing = {where: dict(seen) for where, (seen, n) in places.items() if len(seen) < n}
    assert not missing


def test_every_type_of_a_union_appears(coverage: Coverage) -> None:
    places = {w: (seen, t) for w, (seen, t) in coverage.types.items() if sum(seen.values()) >= ENOUGH}
    assert places
    missing = {where: (dict(seen), types) for where, (seen, types) in places.items()
               if not set(types) - {"number"} <= set(seen)}
    assert not missing


def test_arrays_come_empty_and_with_several_items(coverage: Coverage) -> None:
    places = {where: seen for where, seen in coverage.lengths.items() if sum(seen.values()) >= ENOUGH}
    assert places
    narrow = {where: dict(seen) for where, seen in places.items() if 0 not in seen or max(seen) < 2}
    assert not narrow


def test_every_format_of_the_catalog_appears(coverage: Coverage) -> None:
    assert set(coverage.formats) == {"uuid", "date-time", "uri", "email"}
    assert min(coverage.formats.values()) >= ENOUGH
