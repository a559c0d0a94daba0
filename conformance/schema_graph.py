"""Schemas as graphs of nodes: what the payload compiler (:mod:`hookproof.conformance.strategies`) and the
one-rule breaker (:mod:`hookproof.conformance.broken_bodies`) both read.

Each schema is parsed once per catalog into a graph of :class:`Node`, its ``$ref`` resolved through the
registry of :mod:`hookproof.catalog` (possibly cyclically). The parser knows exactly the keywords listed in
:data:`ASSERTIONS` and raises :class:`UnsupportedSchema`, naming the place, for anything else, so that a
new platform's schema that needs more fails loudly instead of producing deliveries that are silently
invalid (docs/decisions.md#own-schema-compiler):

- the built-in schemas' dozen: ``$ref``, ``type``, ``const``, ``enum``, ``format``, ``pattern``,
  ``properties``, ``required``, ``additionalProperties`` (true/false), ``items``, ``anyOf``;
- what other webhook schemas commonly add (JSON Schema Validation 2020-12 §6): number bounds and
  ``multipleOf`` (§6.2), ``minLength``/``maxLength`` (§6.3), ``minItems``/``maxItems``/``uniqueItems`` and
  ``prefixItems`` (§6.4; Core §10.3.1.1), ``minProperties``/``maxProperties``/``dependentRequired`` (§6.5),
  ``oneOf`` and ``allOf`` (Core §10.2.1), the latter merged into one node where that is exact
  (:func:`merge`), refused otherwise.

``not``, ``if``/``then``/``else``, ``contains``, ``patternProperties``, ``propertyNames``, schema-valued
``additionalProperties``, ``dependentSchemas`` and the ``unevaluated*`` keywords stay unsupported: generating
for them means generating the complement or an intersection of schemas, which this compiler does not do.

:func:`conforms` judges a value against a node with the same semantics; generation uses it where it must
filter (``oneOf``; the property counts) and the one-rule breaker to find a change that breaks one rule only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from typing import Any
from urllib.parse import urljoin

from referencing import Registry

from hookproof import catalog
from hookproof.catalog import FORMAT_CHECKER, Catalog
from hookproof.conformance import values

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})
NUMBER_KEYWORDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
LENGTH_KEYWORDS = ("minLength", "maxLength")
ARRAY_KEYWORDS = ("minItems", "maxItems", "uniqueItems", "prefixItems")
OBJECT_KEYWORDS = ("minProperties", "maxProperties", "dependentRequired")
# Keywords that constrain a scalar only: beside `const`/`enum` the allowed values are filtered by them.
SCALAR_KEYWORDS = frozenset({"type", "format", "pattern", *NUMBER_KEYWORDS, *LENGTH_KEYWORDS})
ASSERTIONS = frozenset(
    {"type", "properties", "required", "additionalProperties", "const", "enum", "format", "pattern", "items", "anyOf",
     "$ref", "oneOf", "allOf", *NUMBER_KEYWORDS, *LENGTH_KEYWORDS, *ARRAY_KEYWORDS, *OBJECT_KEYWORDS}
)
SUPPORTED_KEYWORDS = ANNOTATIONS | ASSERTIONS
MISSING = object()


class UnsupportedSchema(ValueError):
    """A schema uses a keyword, format or form that this compiler does not know how to generate.

    Raised when the schema is compiled, naming the place, so that a schema needing more than we support
    is noticed at once rather than generating deliveries that no longer match it.
    """


@dataclass(frozen=True)
class NumberRules:
    """A node's number keywords (JSON Schema Validation 2020-12 §6.2): the bounds, inclusive and exclusive,
    and ``multipleOf``. None where the keyword is absent."""

    minimum: int | float | None = None
    exclusive_minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_maximum: int | float | None = None
    multiple_of: int | float | None = None

    def failures(self, value: int | float) -> list[str]:
        """The keywords ``value`` fails, compared as the validators compare: exactly, for the bounds
        (§6.2.2-§6.2.5); for ``multipleOf`` (§6.2.1), the float quotient, as jsonschema computes it."""
        failed = []
        if self.minimum is not None and value < self.minimum:
            failed.append("minimum")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            failed.append("exclusiveMinimum")
        if self.maximum is not None and value > self.maximum:
            failed.append("maximum")
        if self.exclusive_maximum is not None and value >= self.exclusive_maximum:
            failed.append("exclusiveMaximum")
        if self.multiple_of is not None and not is_multiple(value, self.multiple_of):
            failed.append("multipleOf")
        return failed


def is_multiple(value: int | float, step: int | float) -> bool:
    """``multipleOf`` as jsonschema judges it: integers exactly, floats by whether the quotient is integral.

    Generation only makes multiples that are exact (:func:`exact_multiple`), on which every validator
    agrees, so the float rounding jsonschema and ajv differ on never decides a verdict we rely on."""
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    try:
        quotient = value / step
    except OverflowError:
        return False
    return math.isfinite(quotient) and int(quotient) == quotient


def exact_multiple(value: int | float, step: int | float) -> bool:
    """Whether ``value`` is ``k * step`` exactly (as rationals): true for every validator's reading."""
    return (Fraction(value) / Fraction(step)).denominator == 1


class Node:
    """One schema object, with its keywords checked and its ``$ref`` resolved (possibly cyclically)."""

    __slots__ = (
        "additional",
        "any_of",
        "const",
        "dependent",
        "enum",
        "format",
        "items",
        "items_closed",
        "max_items",
        "max_length",
        "max_properties",
        "min_items",
        "min_length",
        "min_properties",
        "numbers",
        "one_of",
        "pattern",
        "prefix",
        "properties",
        "ref",
        "required",
        "types",
        "unique",
        "where",
    )

    def __init__(self, where: str) -> None:
        self.where = where
        self.types: tuple[str, ...] | None = None
        self.const: Any = MISSING
        self.enum: tuple[Any, ...] | None = None
        self.format: str | None = None
        self.pattern: str | None = None
        self.numbers: NumberRules | None = None  # None: no number keyword (the built-in schemas' case)
        self.min_length = 0
        self.max_length: int | None = None
        self.properties: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.additional = True
        self.min_properties = 0
        self.max_properties: int | None = None
        self.dependent: dict[str, tuple[str, ...]] = {}
        self.items: Node | None = None
        self.items_closed = False  # `items: false`: nothing past `prefixItems`
        self.prefix: tuple[Node, ...] = ()
        self.min_items = 0
        self.max_items: int | None = None
        self.unique = False
        self.any_of: tuple[Node, ...] = ()
        self.one_of: tuple[Node, ...] = ()
        self.ref: Node | None = None

    @property
    def is_object(self) -> bool:
        return self.types is not None and "object" in self.types

    @property
    def is_array(self) -> bool:
        return self.types is not None and "array" in self.types

    @property
    def has_lengths(self) -> bool:
        return self.min_length > 0 or self.max_length is not None

    @property
    def has_array_rules(self) -> bool:
        return bool(self.min_items or self.max_items is not None or self.unique or self.prefix or self.items_closed)

    @property
    def has_object_rules(self) -> bool:
        return bool(self.min_properties or self.max_properties is not None or self.dependent)


class Parser:
    """Turns schema documents into :class:`Node` graphs; one instance shares ref targets between events."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._targets: dict[str, Node] = {}
        self._filling: set[int] = set()  # ref targets being filled: not yet mergeable (allOf through a cycle)
        self._resolver = (registry or catalog.active().registry()).resolver()

    def parse_id(self, schema_id: str) -> Node:
        return self._ref_target(schema_id)

    def _ref_target(self, uri: str) -> Node:
        if uri in self._targets:
            return self._targets[uri]
        node = self._targets[uri] = Node(uri)  # registered before filling, so cycles end here
        contents = self._resolver.lookup(uri).contents
        self._filling.add(id(node))
        try:
            self._fill(node, contents, uri.split("#", 1)[0])
        except BaseException:
            del self._targets[uri]  # a half-filled node would generate `{}` the next time it is asked for
            raise
        finally:
            self._filling.discard(id(node))
        return node

    def _parse(self, schema: Any, base: str, where: str, *, branch: bool = False) -> Node:
        node = Node(where)
        self._fill(node, schema, base, branch=branch)
        return node

    def _fill(self, node: Node, schema: Any, base: str, *, branch: bool = False) -> None:
        """Fill ``node`` from ``schema``. A ``branch`` (of an ``allOf``, or of a ``oneOf`` beside other
        keywords) is merged with its siblings before use, so it may leave the type to them."""
        where = node.where
        if schema is True:
            return  # the schema `true`: any value
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"{where}: only object schemas and `true` are supported, not {schema!r}")
        unknown = sorted(set(schema) - SUPPORTED_KEYWORDS)
        if unknown:
            raise UnsupportedSchema(
                f"{where}: keyword(s) {', '.join(unknown)} not supported by "
                f"hookproof's payload generator (supported: {', '.join(sorted(ASSERTIONS))})"
            )
        if "$id" in schema:
            base = urljoin(base, schema["$id"])
        _check_combinations(schema, where)
        if "$ref" in schema:
            node.ref = self._ref_target(urljoin(base, schema["$ref"]))
            return
        if "allOf" in schema:
            self._fill_all_of(node, schema, base, branch)
            return
        if "oneOf" in schema and set(schema) & ASSERTIONS != {"oneOf"}:
            self._fill_one_of_with_siblings(node, schema, base, branch)
            return
        self._fill_own(node, schema, base, branch)
        if not branch:
            check_typed(node)

    def _fill_own(self, node: Node, schema: dict[str, Any], base: str, branch: bool = False) -> None:
        where = node.where
        node.types = _types(schema, where)
        node.const = schema.get("const", MISSING)
        node.enum = _enum(schema, where)
        node.format = _format(schema, where)
        node.pattern = _pattern(schema, where, node.format)
        node.numbers = _numbers(schema, where)
        node.min_length, node.max_length = _bounds(schema, "minLength", "maxLength", where)
        node.any_of = self._branches(schema, "anyOf", base, where, branch)
        node.one_of = self._branches(schema, "oneOf", base, where, branch)
        self._fill_object(node, schema, base)
        self._fill_array(node, schema, base)

    def _branches(self, schema: dict[str, Any], keyword: str, base: str, where: str,
                  branch: bool) -> tuple[Node, ...]:
        """A combinator's branches; those of a node that is itself a branch are typed once merged."""
        subs = schema.get(keyword, [])
        if not isinstance(subs, list) or (keyword in schema and not subs):
            raise UnsupportedSchema(f"{where}: `{keyword}` must be a non-empty list of schemas")
        return tuple(self._parse(sub, base, f"{where}/{keyword}/{i}", branch=branch) for i, sub in enumerate(subs))

    def _fill_all_of(self, node: Node, schema: dict[str, Any], base: str, branch: bool) -> None:
        """``allOf`` (JSON Schema Core 2020-12 §10.2.1.1): the node is its branches and its own other keywords
        merged into one (:func:`merge`); where they cannot be merged exactly, UnsupportedSchema."""
        subs = schema["allOf"]
        if not isinstance(subs, list) or not subs:
            raise UnsupportedSchema(f"{node.where}: `allOf` must be a non-empty list of schemas")
        parts = [self._parse(sub, base, f"{node.where}/allOf/{i}", branch=True) for i, sub in enumerate(subs)]
        own = {k: v for k, v in schema.items() if k != "allOf"}
        parts.insert(0, self._parse(own, base, node.where, branch=True))
        _adopt(node, merge(parts, node.where, self._settled))
        if not branch:
            check_typed(node)

    def _fill_one_of_with_siblings(self, node: Node, schema: dict[str, Any], base: str, branch: bool) -> None:
        """``oneOf`` beside other keywords: each branch is merged with them (a value meets the siblings and
        exactly one branch, so exactly one merged branch); the node keeps the siblings for :func:`conforms`."""
        own = {k: v for k, v in schema.items() if k != "oneOf"}
        self._fill_own(node, own, base)
        subs = schema["oneOf"]
        if not isinstance(subs, list) or not subs:
            raise UnsupportedSchema(f"{node.where}: `oneOf` must be a non-empty list of schemas")
        siblings = _copy(node)  # the node itself, before its branches are added
        merged = []
        for i, sub in enumerate(subs):
            where = f"{node.where}/oneOf/{i}"
            one = merge([siblings, self._parse(sub, base, where, branch=True)], where, self._settled)
            check_typed(one)
            merged.append(one)
        node.one_of = tuple(merged)
        if not branch:
            check_typed(node)

    def _settled(self, node: Node) -> Node:
        """The node past its ``$ref``s, which must be filled already (not a target still being parsed)."""
        while node.ref is not None:
            if id(node.ref) in self._filling:
                raise UnsupportedSchema(f"{node.where}: `allOf`/`oneOf` through a recursive `$ref` is not supported")
            node = node.ref
        return node

    def _fill_object(self, node: Node, schema: dict[str, Any], base: str) -> None:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        names_ok = isinstance(required, list) and all(isinstance(r, str) for r in required)
        if not isinstance(properties, dict) or not names_ok:
            raise UnsupportedSchema(f"{node.where}: `properties` must be an object and `required` a list of names")
        if not isinstance(additional, bool):
            raise UnsupportedSchema(f"{node.where}: only `additionalProperties: true/false` is supported")
        node.properties = {
            name: self._parse(sub, base, f"{node.where}/properties/{name}") for name, sub in properties.items()
        }
        node.required = tuple(required)
        node.additional = additional
        node.min_properties, node.max_properties = _bounds(schema, "minProperties", "maxProperties", node.where)
        node.dependent = _dependent_required(schema, node.where)

    def _fill_array(self, node: Node, schema: dict[str, Any], base: str) -> None:
        node.min_items, node.max_items = _bounds(schema, "minItems", "maxItems", node.where)
        node.unique = _flag(schema, "uniqueItems", node.where)
        prefix = schema.get("prefixItems", [])
        if not isinstance(prefix, list):
            raise UnsupportedSchema(f"{node.where}: `prefixItems` must be a list of schemas")
        node.prefix = tuple(self._parse(sub, base, f"{node.where}/prefixItems/{i}") for i, sub in enumerate(prefix))
        if schema.get("items") is False and prefix:
            node.items_closed = True  # `items: false` after `prefixItems` (Core §10.3.1.2): no more items
        elif "items" in schema:
            node.items = self._parse(schema["items"], base, f"{node.where}/items")


def check_typed(node: Node) -> None:
    """Object or array keywords need a `type`: without one, a value of another type would meet them
    vacuously, and generating "any value" would never exercise them."""
    structural = (node.properties or node.required or node.items or node.has_array_rules or node.has_object_rules)
    if node.ref is None and node.types is None and structural:
        raise UnsupportedSchema(f"{node.where}: object or array keywords without `type`; state the type")
    for branch in (*node.any_of, *node.one_of):
        check_typed(branch)


def _adopt(node: Node, merged: Node) -> None:
    for slot in Node.__slots__:
        if slot != "where":
            setattr(node, slot, getattr(merged, slot))


def _copy(node: Node, where: str | None = None) -> Node:
    out = Node(node.where if where is None else where)
    _adopt(out, node)
    out.properties = dict(node.properties)
    return out


def _check_combinations(schema: dict[str, Any], where: str) -> None:
    """Refuse keyword combinations whose generation would need intersecting schemas."""
    asserting = set(schema) & ASSERTIONS
    for alone in ("$ref", "anyOf"):
        if alone in asserting and asserting != {alone}:
            others = ", ".join(sorted(asserting - {alone}))
            raise UnsupportedSchema(f"{where}: `{alone}` beside {others} is not supported")
    if {"oneOf", "allOf"} <= asserting:
        raise UnsupportedSchema(f"{where}: `oneOf` beside `allOf` is not supported; nest one in the other")
    if {"const", "enum"} & asserting and asserting - {"const", "enum"} - SCALAR_KEYWORDS - {"allOf"}:
        raise UnsupportedSchema(f"{where}: `const`/`enum` beside structural keywords is not supported")


def _types(schema: dict[str, Any], where: str) -> tuple[str, ...] | None:
    if "type" not in schema:
        return None
    types = schema["type"]
    types = (types,) if isinstance(types, str) else tuple(types)
    if not types or any(t not in JSON_TYPES for t in types):
        raise UnsupportedSchema(f"{where}: unknown type {schema['type']!r}")
    return types


def _enum(schema: dict[str, Any], where: str) -> tuple[Any, ...] | None:
    if "enum" not in schema:
        return None
    if not isinstance(schema["enum"], list) or not schema["enum"]:
        raise UnsupportedSchema(f"{where}: `enum` must be a non-empty list")
    return tuple(schema["enum"])


def _pattern(schema: dict[str, Any], where: str, fmt: str | None) -> str | None:
    pattern = schema.get("pattern")
    if pattern is None:
        return None
    if not isinstance(pattern, str) or fmt is not None:
        raise UnsupportedSchema(f"{where}: `pattern` must be a string, and not beside `format`")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UnsupportedSchema(f"{where}: `pattern` {pattern!r} is not a regular expression ({exc})") from None
    return pattern


def _format(schema: dict[str, Any], where: str) -> str | None:
    name = schema.get("format")
    if name is not None and name not in values.FORMATS:
        raise UnsupportedSchema(
            f"{where}: format {name!r} not supported (supported: {', '.join(sorted(values.FORMATS))})"
        )
    return name


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(schema: dict[str, Any], where: str) -> NumberRules | None:
    """The number keywords (Validation §6.2), each a finite number, ``multipleOf`` above zero (§6.2.1)."""
    present = {k: schema[k] for k in NUMBER_KEYWORDS if k in schema}
    if not present:
        return None
    for keyword, value in present.items():
        if not _is_number(value) or (keyword == "multipleOf" and value <= 0):
            raise UnsupportedSchema(f"{where}: `{keyword}` must be a number{' above 0' * (keyword == 'multipleOf')}")
    return NumberRules(present.get("minimum"), present.get("exclusiveMinimum"), present.get("maximum"),
                       present.get("exclusiveMaximum"), present.get("multipleOf"))


def _count(value: Any) -> int | None:
    """A non-negative integer as Validation §6.3-§6.5 require for the min/max keywords (``2.0`` counts)."""
    if _is_number(value) and value >= 0 and float(value).is_integer():
        return int(value)
    return None


def _bounds(schema: dict[str, Any], low: str, high: str, where: str) -> tuple[int, int | None]:
    lo = _count(schema.get(low, 0))
    hi = None if high not in schema else _count(schema[high])
    if lo is None or (high in schema and hi is None):
        raise UnsupportedSchema(f"{where}: `{low}`/`{high}` must be non-negative integers")
    if hi is not None and lo > hi:
        raise UnsupportedSchema(f"{where}: `{low}` {lo} above `{high}` {hi}: no value is valid")
    return lo, hi


def _flag(schema: dict[str, Any], keyword: str, where: str) -> bool:
    value = schema.get(keyword, False)
    if not isinstance(value, bool):
        raise UnsupportedSchema(f"{where}: `{keyword}` must be true or false")
    return value


def _dependent_required(schema: dict[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    """``dependentRequired`` (Validation §6.5.4): property name -> the names required when it is present."""
    value = schema.get("dependentRequired", {})
    ok = isinstance(value, dict) and all(isinstance(v, list) and all(isinstance(n, str) for n in v)
                                         for v in value.values())
    if not ok:
        raise UnsupportedSchema(f"{where}: `dependentRequired` must map names to lists of names")
    return {name: tuple(names) for name, names in value.items() if names}


# --------------------------------------------------------------------------------------------------------
# allOf: merging nodes
# --------------------------------------------------------------------------------------------------------


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


_DEFAULTS = Node("")


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



def type_ok(value: Any, types: tuple[str, ...] | None) -> bool:
    return types is None or json_type(value) in types or (json_type(value) == "integer" and "number" in types)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def could_match(node: Node, value: Any) -> bool:
    """Whether ``value`` has a JSON type the node (past its ``$ref``s) allows: which ``anyOf`` branch it is of."""
    while node.ref is not None:
        node = node.ref
    return type_ok(value, node.types)


# --------------------------------------------------------------------------------------------------------
# Judging a value against a node
# --------------------------------------------------------------------------------------------------------


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it (Core 2020-12 §4.2.2): numbers by value (``1 == 1.0``), booleans
    apart from numbers, arrays item by item, objects name by name."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def json_key(value: Any) -> str:
    """A text equal for JSON-equal values (:func:`json_equal`): for ``uniqueItems`` in linear time."""
    return json.dumps(_canonical(value), sort_keys=True)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def scalar_failures(node: Node, value: Any) -> list[str]:
    """The node's own keywords (past no ``$ref``) that ``value`` fails among those judging one value
    without looking inside it: type, const, enum, format, pattern, the number keywords, the lengths."""
    failed = []
    if not type_ok(value, node.types):
        failed.append("type")
    if node.const is not MISSING and not json_equal(value, node.const):
        failed.append("const")
    if node.enum is not None and not any(json_equal(value, e) for e in node.enum):
        failed.append("enum")
    if isinstance(value, str):
        if node.format is not None and not FORMAT_CHECKER.conforms(value, node.format):
            failed.append("format")
        if node.pattern is not None and not re.search(node.pattern, value):
            failed.append("pattern")
        if len(value) < node.min_length:  # code points, as Validation §6.3.1-§6.3.2 count
            failed.append("minLength")
        if node.max_length is not None and len(value) > node.max_length:
            failed.append("maxLength")
    elif node.numbers is not None and _is_number(value):
        failed += node.numbers.failures(value)
    return failed


def container_failures(node: Node, value: Any) -> list[str]:
    """The node's own array and object keywords that ``value`` fails, not looking into items or properties."""
    failed = []
    if isinstance(value, list):
        if len(value) < node.min_items:
            failed.append("minItems")
        if node.max_items is not None and len(value) > node.max_items:
            failed.append("maxItems")
        if node.items_closed and len(value) > len(node.prefix):
            failed.append("items")
        if node.unique and len({json_key(v) for v in value}) < len(value):
            failed.append("uniqueItems")
    elif isinstance(value, dict):
        if any(name not in value for name in node.required):
            failed.append("required")
        if not node.additional and any(name not in node.properties for name in value):
            failed.append("additionalProperties")
        if len(value) < node.min_properties:
            failed.append("minProperties")
        if node.max_properties is not None and len(value) > node.max_properties:
            failed.append("maxProperties")
        if any(t in value and any(d not in value for d in ds) for t, ds in node.dependent.items()):
            failed.append("dependentRequired")
    return failed


def conforms(node: Node, value: Any) -> bool:
    """Whether ``value`` is valid against ``node``, by the keywords this module supports."""
    while node.ref is not None:
        node = node.ref
    if scalar_failures(node, value) or container_failures(node, value):
        return False
    if node.any_of and not any(conforms(b, value) for b in node.any_of):
        return False
    if node.one_of and sum(conforms(b, value) for b in node.one_of) != 1:
        return False
    if isinstance(value, dict):
        return all(conforms(sub, value[name]) for name, sub in node.properties.items() if name in value)
    if isinstance(value, list):
        return all(conforms(item_node(node, i), item) for i, item in enumerate(value))
    return True


def item_node(node: Node, index: int) -> Node:
    """The node that judges item ``index`` of an array: its ``prefixItems`` entry, else ``items`` (Core
    2020-12 §10.3.1.1-§10.3.1.2), else any value."""
    if index < len(node.prefix):
        return node.prefix[index]
    return node.items if node.items is not None else _DEFAULTS


# Parsed graphs are kept per catalog: a run that adds schema folders of its own (catalog.configure) gets a new
# catalog, and nothing parsed from the old one.


@cache
def _parser(cat: Catalog) -> Parser:
    return Parser(cat.registry())


@cache
def node_of(cat: Catalog, schema_id: str) -> Node:
    return _parser(cat).parse_id(schema_id)


def schema_node(schema_id: str) -> Node:
    """The parsed graph of one catalog schema; raises :class:`UnsupportedSchema` for what we cannot generate."""
    return node_of(catalog.active(), schema_id)
