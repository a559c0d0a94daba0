"""Hypothesis strategies for deliveries that break exactly one named rule of their event's schema.

A broken body starts as a valid one (:mod:`hookproof.conformance.strategies`); one rule it meets is drawn,
its kind first so that rare rules (a bad format, an enum) come about as often as the many ``type`` rules,
and one replacement or deletion breaks it. The result is checked against the validator before it is
returned, so the label it carries (``"required: /meta/delivery_id"``) is the one reason it fails.

Besides ``required``, ``type``, ``const``, ``enum``, ``format`` and ``pattern``, every keyword the generator
knows beyond the built-in schemas' can be broken alone (a number past a bound, a string a code point too
long, a duplicate item, a value in two ``oneOf`` branches or none, ...: docs/decisions.md#own-schema-compiler).
Their replacements are chosen so that the node's own keywords (:func:`node_judging.scalar_failures`,
:func:`node_judging.container_failures`) fail that keyword only; the validator then confirms it for the body.
"""

from __future__ import annotations

import math
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
from hookproof.conformance.node_judging import (
    conforms,
    container_failures,
    could_match,
    item_node,
    json_type,
    scalar_failures,
)
from hookproof.conformance.schema_graph import node_of
from hookproof.conformance.schema_nodes import JSON_TYPES, MISSING, Node, NumberRules, UnsupportedSchema
from hookproof.conformance.strategies import body_strategy, event_names, node_strategy
from hookproof.wire import Delivery, delivery_for


@dataclass(frozen=True)
class _Break:
    """One way to make a valid body invalid: replace (or, for `required`, delete) the value at ``path``."""

    rule: str  # required, type, const, enum, format(<name>), or another keyword's name (minimum, oneOf, ...)
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
    if node.numbers is not None and json_type(value) in ("integer", "number"):
        yield from _number_breaks(node, value, path)
    if isinstance(value, str) and node.has_lengths:
        yield from _length_breaks(node, value, path)
    if node.one_of:
        yield from _one_of_breaks(node, value, path)
        matching = [b for b in node.one_of if conforms(b, value)]
        if len(matching) == 1:
            yield from _breaks(matching[0], value, path)
    if isinstance(value, dict) and node.is_object:
        for name in node.required:
            yield _Break("required", (*path, name), None)
        if node.has_object_rules:
            yield from _object_breaks(node, value, path)
        for name, sub in node.properties.items():
            if name in value:
                yield from _breaks(sub, value[name], (*path, name))
    if isinstance(value, list) and node.has_array_rules and node.is_array:
        yield from _array_breaks(node, value, path)
    if isinstance(value, list) and (node.items is not None or node.prefix):
        for index, item in enumerate(value[:2]):
            yield from _breaks(item_node(node, index), item, (*path, index))


# -- the keywords beyond the built-in schemas': each break is a replacement that the node's own keywords
# judge to fail that keyword alone (node_judging.scalar_failures / container_failures); the validator then
# confirms it for the whole body, as for every break.

def _only(failures: Callable[[Node, Any], list[str]], node: Node, rule: str, candidates: list[Any]) -> list[Any]:
    return [c for c in candidates if failures(node, c) == [rule]]


def _as_json_number(value: float) -> int | float:
    """An integral float as an int (``2`` rather than ``2.0``), so that an `integer` stays one for every
    validator; within I-JSON's range only."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= values.SAFE_INT:
        return int(value)
    return value


_RULE_FIELDS = {"minimum": "minimum", "exclusiveMinimum": "exclusive_minimum", "maximum": "maximum",
                "exclusiveMaximum": "exclusive_maximum"}


def _number_candidates(rules: NumberRules, value: float, rule: str) -> list[Any]:
    """Numbers just past the bound ``rule`` names (Validation §6.2.2-§6.2.5), or half a step off a multiple
    (§6.2.1: far from any multiple, so that no validator's float rounding calls it one)."""
    if rule == "multipleOf":
        step = rules.multiple_of or 1
        base = round(value / step) * step
        out = [base + step / 2, value + step / 2, step * 1.5]
    else:
        bound = getattr(rules, _RULE_FIELDS[rule])
        step = rules.multiple_of or 1
        if rule in ("minimum", "exclusiveMinimum"):
            out = [bound, bound - 1, bound - 0.5, math.nextafter(bound, -math.inf), math.ceil(bound) - 1,
                   (math.ceil(bound / step) - 1) * step]
        else:
            out = [bound, bound + 1, bound + 0.5, math.nextafter(bound, math.inf), math.floor(bound) + 1,
                   (math.floor(bound / step) + 1) * step]
    return [_as_json_number(c) for c in out if math.isfinite(c)]


def _number_breaks(node: Node, value: Any, path: tuple[str | int, ...]) -> Iterator[_Break]:
    rules = node.numbers
    assert rules is not None
    for rule, bound in (("minimum", rules.minimum), ("exclusiveMinimum", rules.exclusive_minimum),
                        ("maximum", rules.maximum), ("exclusiveMaximum", rules.exclusive_maximum),
                        ("multipleOf", rules.multiple_of)):
        if bound is not None:
            ok = _only(scalar_failures, node, rule, _number_candidates(rules, value, rule))
            if ok:
                yield _Break(rule, path, partial(st.sampled_from, ok))


def _length_breaks(node: Node, value: str, path: tuple[str | int, ...]) -> Iterator[_Break]:
    """One code point too few or too many (Validation §6.3.1-§6.3.2), astral ones among them: a receiver
    counting UTF-16 units or bytes misjudges those."""
    lo, hi = node.min_length, node.max_length
    if lo > 0:
        short = _only(scalar_failures, node, "minLength", [value[:lo - 1], "🙂" * (lo - 1), "x" * (lo - 1)])
        if short:
            yield _Break("minLength", path, partial(st.sampled_from, short))
    if hi is not None:
        more = hi + 1 - len(value)
        long = _only(scalar_failures, node, "maxLength", [value + "🙂" * more, value + "x" * more, "🙂" * (hi + 1)])
        if long:
            yield _Break("maxLength", path, partial(st.sampled_from, long))


def _array_breaks(node: Node, value: list[Any], path: tuple[str | int, ...]) -> Iterator[_Break]:
    """Too few items (the first ``minItems - 1`` kept), too many (valid items added), a duplicate (item 1
    made a copy of item 0, or a copy appended): Validation §6.4.1-§6.4.3."""
    if node.min_items > 0:
        fewer = _only(container_failures, node, "minItems", [value[:node.min_items - 1]])
        if fewer:
            yield _Break("minItems", path, partial(st.just, values.json_copy(fewer[0])))
    if node.max_items is not None and 0 < node.max_items + 1 - len(value) <= 50:
        more = [node_strategy(item_node(node, i)) for i in range(len(value), node.max_items + 1)]
        yield _Break("maxItems", path, partial(_extended, value, tuple(more)))
    if node.unique and value:
        copies = [[*value[:1], values.json_copy(value[0]), *value[2:]], [*value, values.json_copy(value[0])]]
        copies = [c for c in copies if conforms(item_node(node, 1), value[0])]
        dup = _only(container_failures, node, "uniqueItems", copies)
        if dup:
            yield _Break("uniqueItems", path, partial(st.just, values.json_copy(dup[0])))


def _extended(value: list[Any], more: tuple[st.SearchStrategy[Any], ...]) -> st.SearchStrategy[list[Any]]:
    return st.tuples(*more).map(lambda extra: values.json_copy(value) + list(extra))


def _object_breaks(node: Node, value: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[_Break]:
    """Too few properties (optional ones dropped), too many (undeclared ones added, where the object is
    open), a dependent dropped while the property that requires it stays (Validation §6.5.1, §6.5.2, §6.5.4)."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    if node.min_properties > 0:
        optional = [k for k in value if k not in node.required]
        keep = len(value) - (node.min_properties - 1)
        if 0 < keep <= len(optional):
            dropped = set(optional[-keep:])
            candidates.append(("minProperties", {k: v for k, v in value.items() if k not in dropped}))
    if node.max_properties is not None and node.additional:
        fillers = [f"x_extra_{i}" for i in range(node.max_properties + 1) if f"x_extra_{i}" not in node.properties]
        more = {**value, **dict.fromkeys(fillers[:max(0, node.max_properties + 1 - len(value))])}
        candidates.append(("maxProperties", more))
    for trigger, names in node.dependent.items():
        for name in names if trigger in value else ():
            if name in value and name not in node.required:
                candidates.append(("dependentRequired", {k: v for k, v in value.items() if k != name}))
    for rule, changed in candidates:
        if container_failures(node, changed) == [rule]:
            yield _Break(rule, path, partial(st.just, values.json_copy(changed)))


def _one_of_breaks(node: Node, value: Any, path: tuple[str | int, ...]) -> Iterator[_Break]:
    """A value no branch accepts (a type none allows), or one two accept (another branch's value, merged
    into this one where both are objects): Core 2020-12 §10.2.1.3."""
    types = [t for b in node.one_of for t in (_settled(b).types or JSON_TYPES)]
    if set(types) | {"integer"} != set(JSON_TYPES) | {"integer"} and node.types is None:
        yield _Break("oneOf", path, partial(_wrong_type, tuple(dict.fromkeys(types))))
    others = [b for b in node.one_of if not conforms(b, value)]
    if others:
        yield _Break("oneOf", path, partial(_in_two_branches, value, others[0]))


def _settled(node: Node) -> Node:
    while node.ref is not None:
        node = node.ref
    return node


def _in_two_branches(value: Any, other: Node) -> st.SearchStrategy[Any]:
    def both(theirs: Any) -> Any:
        if isinstance(value, dict) and isinstance(theirs, dict):
            return {**theirs, **values.json_copy(value)}
        return theirs

    return node_strategy(other).map(both)


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


_KIND_ORDER = ("required", "format", "pattern", "enum", "const", "minimum", "exclusiveMinimum", "maximum",
               "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
               "minProperties", "maxProperties", "dependentRequired", "oneOf", "type")


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

    Labels read ``"<rule>: <JSON pointer>"``, the rule being ``required``, ``type``, ``const``, ``enum``,
    ``format(<name>)``, ``pattern`` or, where a schema uses them, ``minimum``, ``exclusiveMinimum``,
    ``maximum``, ``exclusiveMaximum``, ``multipleOf``, ``minLength``, ``maxLength``, ``minItems``,
    ``maxItems``, ``uniqueItems``, ``minProperties``, ``maxProperties``, ``dependentRequired`` or ``oneOf``
    (e.g. ``"required: /meta/delivery_id"``; the whole body is ``/``). Every delivery is
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
