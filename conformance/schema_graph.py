"""Schemas as graphs of nodes: what the payload compiler (:mod:`hookproof.conformance.strategies`) and the
one-rule breaker (:mod:`hookproof.conformance.broken_bodies`) both read.

Each schema is parsed once per catalog into a graph of :class:`Node`, its ``$ref`` resolved through the
registry of :mod:`hookproof.catalog` (possibly cyclically). Our schemas use a dozen keywords; the parser
knows exactly those and raises :class:`UnsupportedSchema`, naming the place, for anything else, so that a
new platform's schema that needs more fails loudly instead of producing deliveries that are silently
invalid (docs/decisions.md#own-schema-compiler).
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

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})
ASSERTIONS = frozenset(
    {"type", "properties", "required", "additionalProperties", "const", "enum", "format", "pattern", "items", "anyOf",
     "$ref"}
)
SUPPORTED_KEYWORDS = ANNOTATIONS | ASSERTIONS
MISSING = object()


class UnsupportedSchema(ValueError):
    """A schema uses a keyword, format or form that this compiler does not know how to generate.

    Raised when the schema is compiled, naming the place, so that a schema needing more than we support
    is noticed at once rather than generating deliveries that no longer match it.
    """


class Node:
    """One schema object, with its keywords checked and its ``$ref`` resolved (possibly cyclically)."""

    __slots__ = (
        "additional",
        "any_of",
        "const",
        "enum",
        "format",
        "items",
        "pattern",
        "properties",
        "ref",
        "required",
        "types",
        "where",
    )

    def __init__(self, where: str) -> None:
        self.where = where
        self.types: tuple[str, ...] | None = None
        self.const: Any = MISSING
        self.enum: tuple[Any, ...] | None = None
        self.format: str | None = None
        self.pattern: str | None = None
        self.properties: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.additional = True
        self.items: Node | None = None
        self.any_of: tuple[Node, ...] = ()
        self.ref: Node | None = None

    @property
    def is_object(self) -> bool:
        return self.types is not None and "object" in self.types


class Parser:
    """Turns schema documents into :class:`Node` graphs; one instance shares ref targets between events."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._targets: dict[str, Node] = {}
        self._resolver = (registry or catalog.active().registry()).resolver()

    def parse_id(self, schema_id: str) -> Node:
        return self._ref_target(schema_id)

    def _ref_target(self, uri: str) -> Node:
        if uri in self._targets:
            return self._targets[uri]
        node = self._targets[uri] = Node(uri)  # registered before filling, so cycles end here
        contents = self._resolver.lookup(uri).contents
        try:
            self._fill(node, contents, uri.split("#", 1)[0])
        except BaseException:
            del self._targets[uri]  # a half-filled node would generate `{}` the next time it is asked for
            raise
        return node

    def _parse(self, schema: Any, base: str, where: str) -> Node:
        node = Node(where)
        self._fill(node, schema, base)
        return node

    def _fill(self, node: Node, schema: Any, base: str) -> None:
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
        node.types = _types(schema, where)
        node.const = schema.get("const", MISSING)
        node.enum = _enum(schema, where)
        node.format = _format(schema, where)
        node.pattern = _pattern(schema, where, node.format)
        branches = enumerate(schema.get("anyOf", ()))
        node.any_of = tuple(self._parse(sub, base, f"{where}/anyOf/{i}") for i, sub in branches)
        self._fill_object(node, schema, base)
        if "items" in schema:
            node.items = self._parse(schema["items"], base, f"{where}/items")
        if node.types is None and (node.properties or node.required or node.items):
            raise UnsupportedSchema(f"{where}: object or array keywords without `type`; state the type")

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


def _check_combinations(schema: dict[str, Any], where: str) -> None:
    """Refuse keyword combinations whose generation would need intersecting schemas."""
    asserting = set(schema) & ASSERTIONS
    for alone in ("$ref", "anyOf"):
        if alone in asserting and asserting != {alone}:
            others = ", ".join(sorted(asserting - {alone}))
            raise UnsupportedSchema(f"{where}: `{alone}` beside {others} is not supported")
    if {"const", "enum"} & asserting and asserting - {"const", "enum", "type", "format"}:
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
