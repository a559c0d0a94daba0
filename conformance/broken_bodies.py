"""Hypothesis strategies for deliveries that break exactly one named rule of their event's schema.

A broken body starts as a valid one (:mod:`hookproof.conformance.strategies`); one rule it meets is drawn,
its kind first so that rare rules (a bad format, an enum) come about as often as the many ``type`` rules,
and one replacement or deletion breaks it. The result is checked against the validator before it is
returned, so the label it carries (``"required: /meta/delivery_id"``) is the one reason it fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from hookproof import catalog, pointers
from hookproof.catalog import FORMAT_CHECKER, Catalog
from hookproof.conformance import values
from hookproof.conformance.schema_graph import MISSING, Node, UnsupportedSchema, could_match, json_type, node_of
from hookproof.conformance.strategies import body_strategy, event_names
from hookproof.wire import Delivery, delivery_for


@dataclass(frozen=True)
class _Break:
    """One way to make a valid body invalid: replace (or, for `required`, delete) the value at ``path``."""

    rule: str  # required, type, const, enum, format(<name>)
    path: tuple[str | int, ...]
    # What to put there, built only for the break that is drawn (a body has a dozen candidates, and building a
    # strategy costs more than drawing from one); None: delete the property.
    replacement: Callable[[], st.SearchStrategy[Any]] | None

    @property
    def label(self) -> str:
        return f"{self.rule}: {pointers.from_path(self.path) or '/'}"


# Wrong-type strings come from values.TEXT, not Hypothesis' text(): that draws from every character UTF-8
# encodes, and builds the table of them on first use by encoding all 1.1 million code points (1.5 CPU-s, once
# per storage directory, .hypothesis/ in the working directory: every run on a fresh CI checkout;
# docs/performance.md), and it answers some draws with a string literal of the process's modules
# (values.UNMATCHED_BYTES says why the draws must not).
_WRONG_TYPE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(-5, 5),
    "number": st.sampled_from((0.5, -1.5, 3.25)),
    "string": values.TEXT,
    "array": st.lists(st.integers(0, 3), max_size=2),
    "object": st.dictionaries(values.TEXT, st.integers(0, 3), max_size=2),
}


@cache
def _wrong_type(types: tuple[str, ...]) -> st.SearchStrategy[Any]:
    allowed = set(types) | ({"integer"} if "number" in types else set())
    return st.one_of([s for t, s in _WRONG_TYPE_VALUES.items() if t not in allowed])


def _other_values(value: Any) -> list[Any]:
    """Values near ``value`` (same JSON type where possible) that differ from it."""
    if isinstance(value, str):
        near: list[Any] = [value + "_", value.upper(), "", " " + value, value[:-1], "x"]
    elif isinstance(value, bool):
        near = [not value]
    elif isinstance(value, (int, float)):
        near = [value + 1, -value - 1, 0]
    else:
        near = ["", 0, None, False, [], {}]
    return [v for v in near if not _same_json(v, value)]


def _same_json(a: Any, b: Any) -> bool:
    return json_type(a) == json_type(b) and a == b


def _value_breaks(node: Node, path: tuple[str | int, ...]) -> Iterator[_Break]:
    if node.const is not MISSING:
        yield _Break("const", path, partial(_other_than_const, node.const))
    elif node.enum is not None:
        yield _Break("enum", path, partial(_outside_enum, node.enum))
    elif node.types is not None:
        yield _Break("type", path, partial(_wrong_type, node.types))


def _other_than_const(const: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(_other_values(const))


def _outside_enum(enum: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    outside = [v for m in enum for v in _other_values(m) if not any(_same_json(v, e) for e in enum)]
    return st.sampled_from(outside or ["\u0000not-in-enum"])


@cache
def _bad_format(fmt: str) -> st.SearchStrategy[str]:
    return st.sampled_from([v for v in values.BAD_FORMAT_VALUES[fmt] if not FORMAT_CHECKER.conforms(v, fmt)])


@cache
def _bad_pattern(pattern: str) -> st.SearchStrategy[str]:
    return st.sampled_from([v for v in values.BAD_PATTERN_VALUES if not re.search(pattern, v)])


def _breaks(node: Node, value: Any, path: tuple[str | int, ...] = ()) -> Iterator[_Break]:
    """Every rule of ``node`` that ``value`` meets and that one replacement or deletion can break."""
    while node.ref is not None:
        node = node.ref
    yield from _value_breaks(node, path)
    if node.format and isinstance(value, str):
        yield _Break(f"format({node.format})", path, partial(_bad_format, node.format))
    if node.pattern and isinstance(value, str):
        yield _Break("pattern", path, partial(_bad_pattern, node.pattern))
    if node.any_of:
        matching = [b for b in node.any_of if could_match(b, value)]
        if len(matching) == 1:
            yield from _breaks(matching[0], value, path)
    if isinstance(value, dict) and node.is_object:
        for name in node.required:
            yield _Break("required", (*path, name), None)
        for name, sub in node.properties.items():
            if name in value:
                yield from _breaks(sub, value[name], (*path, name))
    if isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value[:2]):
            yield from _breaks(node.items, item, (*path, index))


def _apply(body: Any, brk: _Break, replacement: Any) -> Any:
    """A copy of ``body`` with one change at ``brk.path`` (the body itself is left alone)."""
    if not brk.path:
        return replacement
    body = values.json_copy(body)
    parent = body
    for step in brk.path[:-1]:
        parent = parent[step]
    if brk.replacement is None:
        del parent[brk.path[-1]]
    else:
        parent[brk.path[-1]] = replacement
    return body


def parse_label(label: str) -> tuple[str, str | None, str]:
    """``"format(uuid): /meta/delivery_id"`` -> ``("format", "uuid", "/meta/delivery_id")``; root is ``""``."""
    rule, _, pointer = label.partition(": ")
    fmt = None
    if rule.startswith("format(") and rule.endswith(")"):
        rule, fmt = "format", rule[len("format(") : -1]
    return rule, fmt, "" if pointer == "/" else pointer


def breaks_only(schema_id: str, body: Any, label: str) -> bool:
    """Whether ``body`` fails its schema in exactly one place, for the rule and at the pointer ``label`` names.

    "One place" is one top-level error; inside an ``anyOf`` the named rule must be among the reasons.
    """
    errors = list(catalog.active().validator(schema_id).iter_errors(body))
    return len(errors) == 1 and _names(errors[0], *parse_label(label))


def _names(error: Any, rule: str, fmt: str | None, pointer: str) -> bool:
    if error.validator == rule and (fmt is None or error.validator_value == fmt):
        where = pointers.from_path(error.absolute_path)
        if rule != "required":
            if where == pointer:
                return True
        else:
            parent, _, name = pointer.rpartition("/")
            name = name.replace("~1", "/").replace("~0", "~")
            if (
                where == parent
                and isinstance(error.instance, dict)
                and name not in error.instance
                and error.message.startswith(repr(name))
            ):
                return True
    return any(_names(sub, rule, fmt, pointer) for sub in error.context or ())


_KIND_ORDER = ("required", "format", "pattern", "enum", "const", "type")


def _in_drawn_order(draw: st.DrawFn, candidates: list[_Break]) -> list[_Break]:
    """The candidates, starting with one of a drawn kind of rule, then the rest.

    Drawing the kind first keeps rare rules (a bad format, an enum) about as frequent as the many `type`
    rules; kinds are ordered so that Hypothesis's lean towards index 0 favours the most common real break.
    """
    kinds = sorted(dict.fromkeys(brk.rule for brk in candidates), key=lambda r: _KIND_ORDER.index(r.split("(")[0]))
    kind = kinds[draw(_index_below(len(kinds)))]
    of_kind = [brk for brk in candidates if brk.rule == kind]
    first = draw(_index_below(len(of_kind)))
    return of_kind[first:] + of_kind[:first] + [brk for brk in candidates if brk.rule != kind]


@cache
def _index_below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def invalid_bodies(schema_id: str) -> st.SearchStrategy[tuple[Any, str]]:
    """(body, label) pairs for one catalog schema: the body breaks exactly the rule ``label`` names."""
    return _invalid_bodies_of(catalog.active(), schema_id)


@cache
def _invalid_bodies_of(cat: Catalog, schema_id: str) -> st.SearchStrategy[tuple[Any, str]]:
    node = node_of(cat, schema_id)
    root = node
    while root.ref is not None:
        root = root.ref
    if root.types is None and root.const is MISSING and root.enum is None:
        raise UnsupportedSchema(f"{schema_id}: the body may be any value, so there is no rule to break")

    @st.composite
    def draw_invalid(draw: st.DrawFn) -> tuple[Any, str]:
        body = draw(body_strategy(schema_id))
        candidates = list(_breaks(node, body))
        assume(candidates)
        for brk in _in_drawn_order(draw, candidates):  # the drawn break, else the next one that works
            replacement = None if brk.replacement is None else draw(brk.replacement())
            broken = _apply(body, brk, replacement)
            if breaks_only(schema_id, broken, brk.label):
                return broken, brk.label
        assume(False)
        raise AssertionError("unreachable: assume(False) raises")

    return draw_invalid()


def _as_delivery(platform: str, event: str, contract: str, pair: tuple[Any, str]) -> Delivery:
    return delivery_for(platform, event, pair[0], contract=contract, breaks=pair[1])


def invalid_events(platform: str, event: str | None = None, *,
                   contract: str | None = None) -> st.SearchStrategy[Delivery]:
    """Deliveries that break exactly one rule of their event's schema, named in ``Delivery.breaks``.

    Labels read ``"<rule>: <JSON pointer>"``, the rule being ``required``, ``type``, ``const``, ``enum`` or
    ``format(<name>)`` (e.g. ``"required: /meta/delivery_id"``; the whole body is ``/``). Every delivery is
    checked against the validator before it is returned, so the label is the reason it fails. Breaking a
    ``const`` on an event-name field makes the body name another (or no) event; the headers stay those of
    the event it was generated for.
    """
    spec = catalog.contract(platform, contract)
    return st.one_of(
        [
            invalid_bodies(spec.event(name).schema_id).map(partial(_as_delivery, platform, name, spec.name))
            for name in event_names(platform, event, contract)
        ]
    )
