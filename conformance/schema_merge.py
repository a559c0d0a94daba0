"""``allOf`` (JSON Schema Core 2020-12 §10.2.1.1): nodes merged into one where that is exact, refused otherwise.

The parser (:mod:`hookproof.conformance.schema_graph`) calls :func:`merge` for an ``allOf`` and for a
``oneOf`` beside other keywords, so that the compiler and the one-rule breaker only ever see single nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hookproof.conformance.schema_nodes import (
    _DEFAULTS,
    JSON_TYPES,
    MISSING,
    Node,
    NumberRules,
    UnsupportedSchema,
    _copy,
    check_typed,
)


def merge(parts: list[Node], where: str, settle: Callable[[Node], Node]) -> Node:
    """One node that accepts exactly the values every part accepts, or UnsupportedSchema naming ``where``.

    Exact merges only: types intersect, bounds take the tightest, ``required`` and ``dependentRequired``
    unite, properties merge name by name (a closed part, ``additionalProperties: false``, admits only its
    own names), ``uniqueItems`` if any part says so. Everything else (``const``/``enum``, ``format``,
    ``pattern``, ``multipleOf``, ``items``, ``prefixItems``, combinators) may come from one part only, or be
    the same in each: an intersection of two patterns or two branch lists is not something we generate.
    One part's ``anyOf``/``oneOf`` is distributed over the others: each branch is merged with them.
    ``settle`` follows a part's ``$ref`` (and refuses one whose target is still being parsed).
    """
    parts = [p for p in (settle(p) for p in parts) if not _is_true(p)]
    if not parts:
        return Node(where)
    if len(parts) == 1:
        return parts[0]
    combined = [p for p in parts if p.any_of or p.one_of]
    if combined:
        return _distributed(parts, combined, where, settle)
    out = Node(where)
    out.types = _merged_types(parts, where)
    for slot in ("const", "enum", "format", "pattern", "items", "prefix"):
        setattr(out, slot, _one_only(parts, slot, where))
    out.items_closed = any(p.items_closed for p in parts)
    out.numbers = _merged_numbers(parts, where)
    out.min_length, out.max_length = _tightest(parts, "min_length", "max_length", where)
    out.min_items, out.max_items = _tightest(parts, "min_items", "max_items", where)
    out.min_properties, out.max_properties = _tightest(parts, "min_properties", "max_properties", where)
    out.unique = any(p.unique for p in parts)
    out.required = tuple(dict.fromkeys(name for p in parts for name in p.required))
    out.dependent = _merged_dependent(parts)
    _merge_properties(out, parts, where, settle)
    if out.const is not MISSING or out.enum is not None:
        _check_scalar_only(out, where)
    return out


def _distributed(parts: list[Node], combined: list[Node], where: str, settle: Callable[[Node], Node]) -> Node:
    """``A and (B1 or B2)`` as ``(A and B1) or (A and B2)``: exact for ``anyOf``, and for ``oneOf`` (a value
    meeting A meets exactly one ``A and Bi`` when it meets exactly one Bi). One combinator only."""
    part = combined[0]
    if len(combined) > 1 or (part.any_of and part.one_of):
        raise UnsupportedSchema(f"{where}: `anyOf`/`oneOf` in more than one `allOf` part is not supported")
    bare = _copy(part)
    bare.any_of = bare.one_of = ()
    rest = merge([p for p in parts if p is not part] + [bare], where, settle)
    keyword, branches = ("anyOf", part.any_of) if part.any_of else ("oneOf", part.one_of)
    merged = tuple(merge([rest, b], f"{where}/{keyword}/{i}", settle) for i, b in enumerate(branches))
    for branch in merged:
        check_typed(branch)
    out = _copy(rest, where)
    if keyword == "anyOf":
        out.any_of = merged
    else:
        out.one_of = merged
    return out


def _is_true(node: Node) -> bool:
    """Whether a node constrains nothing (the schema ``true``, or annotations only)."""
    return node.ref is None and all(getattr(node, s) == getattr(_DEFAULTS, s) for s in Node.__slots__ if s != "where")


def _merged_types(parts: list[Node], where: str) -> tuple[str, ...] | None:
    types: tuple[str, ...] | None = None
    for part in parts:
        if part.types is None:
            continue
        if types is None:
            types = part.types
            continue
        mine = set(part.types) | ({"integer"} if "number" in part.types else set())
        theirs = set(types) | ({"integer"} if "number" in types else set())
        types = tuple(t for t in JSON_TYPES if t in mine & theirs)
        if not types:
            raise UnsupportedSchema(f"{where}: `allOf` parts have no `type` in common: no value is valid")
    return types


def _one_only(parts: list[Node], slot: str, where: str) -> Any:
    default = getattr(_DEFAULTS, slot)
    set_by = [getattr(p, slot) for p in parts if getattr(p, slot) != default and getattr(p, slot) is not default]
    distinct = [v for i, v in enumerate(set_by) if all(v is not w and v != w for w in set_by[:i])]
    if len(distinct) > 1:
        keyword = {"any_of": "anyOf", "one_of": "oneOf", "prefix": "prefixItems"}.get(slot, slot)
        raise UnsupportedSchema(f"{where}: `{keyword}` in more than one `allOf` part cannot be merged")
    return distinct[0] if distinct else default


def _tightest(parts: list[Node], low: str, high: str, where: str) -> tuple[int, int | None]:
    lo = max(getattr(p, low) for p in parts)
    highs = [getattr(p, high) for p in parts if getattr(p, high) is not None]
    hi = min(highs) if highs else None
    if hi is not None and lo > hi:
        raise UnsupportedSchema(f"{where}: merged bounds {lo} > {hi}: no value is valid")
    return lo, hi


def _merged_numbers(parts: list[Node], where: str) -> NumberRules | None:
    rules = [p.numbers for p in parts if p.numbers is not None]
    if len(rules) <= 1:
        return rules[0] if rules else None

    def pick(name: str, better: Any) -> Any:
        given = [getattr(r, name) for r in rules if getattr(r, name) is not None]
        return better(given) if given else None

    steps = {r.multiple_of for r in rules if r.multiple_of is not None}
    if len(steps) > 1:
        raise UnsupportedSchema(f"{where}: `multipleOf` in more than one `allOf` part cannot be merged")
    return replace(NumberRules(), minimum=pick("minimum", max), exclusive_minimum=pick("exclusive_minimum", max),
                   maximum=pick("maximum", min), exclusive_maximum=pick("exclusive_maximum", min),
                   multiple_of=next(iter(steps), None))


def _merged_dependent(parts: list[Node]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in parts:
        for name, names in part.dependent.items():
            out[name] = tuple(dict.fromkeys((*out.get(name, ()), *names)))
    return out


def _merge_properties(out: Node, parts: list[Node], where: str, settle: Callable[[Node], Node]) -> None:
    closed = [p for p in parts if not p.additional]
    names = list(dict.fromkeys(name for p in parts for name in p.properties))
    if closed:
        allowed = set.intersection(*(set(p.properties) for p in closed))
        names = [n for n in names if n in allowed]
        outside = [n for n in (*out.required, *(d for ds in out.dependent.values() for d in ds)) if n not in allowed]
        if outside:
            raise UnsupportedSchema(f"{where}: `allOf` requires {outside} that a closed part does not allow")
    out.additional = not closed
    for name in names:
        subs = [p.properties[name] for p in parts if name in p.properties]
        out.properties[name] = subs[0] if len(subs) == 1 else merge(subs, f"{where}/properties/{name}", settle)


def _check_scalar_only(node: Node, where: str) -> None:
    if node.properties or node.required or node.items or node.has_array_rules or node.has_object_rules:
        raise UnsupportedSchema(f"{where}: `const`/`enum` beside structural keywords is not supported")
    if node.any_of or node.one_of:
        raise UnsupportedSchema(f"{where}: `const`/`enum` beside `anyOf`/`oneOf` is not supported")
