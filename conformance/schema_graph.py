"""Schemas parsed into graphs of nodes: what the payload compiler (:mod:`hookproof.conformance.strategies`) and
the one-rule breaker (:mod:`hookproof.conformance.broken_bodies`) both read.

Each schema is parsed once per catalog into a graph of :class:`~hookproof.conformance.schema_nodes.Node`, its
``$ref`` resolved through the registry of :mod:`hookproof.catalog` (possibly cyclically). The parser knows
exactly the keywords listed in :data:`ASSERTIONS` and raises :class:`UnsupportedSchema`, naming the place,
for anything else, so that a new platform's schema that needs more fails loudly instead of producing
deliveries that are silently invalid (docs/decisions.md#own-schema-compiler):

- the built-in schemas' dozen: ``$ref``, ``type``, ``const``, ``enum``, ``format``, ``pattern``,
  ``properties``, ``required``, ``additionalProperties`` (true/false), ``items``, ``anyOf``;
- what other webhook schemas commonly add (JSON Schema Validation 2020-12 §6): number bounds and
  ``multipleOf`` (§6.2), ``minLength``/``maxLength`` (§6.3), ``minItems``/``maxItems``/``uniqueItems`` and
  ``prefixItems`` (§6.4; Core §10.3.1.1), ``minProperties``/``maxProperties``/``dependentRequired`` (§6.5),
  ``oneOf`` and ``allOf`` (Core §10.2.1), the latter merged into one node where that is exact
  (:func:`~hookproof.conformance.schema_merge.merge`), refused otherwise.

``not``, ``if``/``then``/``else``, ``contains``, ``patternProperties``, ``propertyNames``, schema-valued
``additionalProperties``, ``dependentSchemas`` and the ``unevaluated*`` keywords stay unsupported: generating
for them means generating the complement or an intersection of schemas, which this compiler does not do.

:func:`~hookproof.conformance.node_judging.conforms` judges a value against a node with the same semantics;
generation uses it where it must filter (``oneOf``; the property counts) and the one-rule breaker to find a
change that breaks one rule only.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import urljoin

from referencing import Registry

from hookproof import catalog
from hookproof.catalog import Catalog
from hookproof.conformance import values
from hookproof.conformance.node_judging import _is_number
from hookproof.conformance.schema_merge import merge
from hookproof.conformance.schema_nodes import (
    JSON_TYPES,
    MISSING,
    Node,
    NumberRules,
    UnsupportedSchema,
    _adopt,
    _copy,
    check_typed,
)

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
