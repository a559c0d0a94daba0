"""Hypothesis strategies for deliveries: valid ones that a conforming receiver must accept, and invalid
ones that break exactly one named rule.

The strategies are compiled from ``schemas/`` by a small compiler of our own rather than by
hypothesis-jsonschema (docs/decisions.md#own-schema-compiler): that library fails on the Hypothesis we
ship, re-processes sub-schemas for every example (about 30 payloads/s on a DoSelect event) and knows no
``uuid`` format. Our schemas use a dozen keywords; the compiler knows exactly those and raises
:class:`UnsupportedSchema` at compile time for anything else, so a new platform's schema that needs more
fails loudly instead of producing deliveries that are silently invalid.

Each schema is parsed once into a graph of :class:`_Node` (``$ref`` resolved through the registry of
:mod:`hookproof.catalog`) and compiled once per ``($id, extras)`` into a builder (:class:`_Compiled`).
Hypothesis charges tens of microseconds of span and choice bookkeeping per draw, and that, not our code,
was most of the cost of a payload (about 7 choices and 20 draws each). So a builder makes no draws of
its own: it reads the payload's structure (which optional properties, as one bit mask per object; which
branch; how many items; which event) and its values (from :mod:`hookproof.conformance.values`) from one
stream of bytes, :class:`values.Reader`, which Hypothesis draws as one ``st.binary`` chunk for most
payloads. Zero bytes build the simplest payload, so Hypothesis still shrinks towards small ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, TypeVar
from urllib.parse import urljoin

from hypothesis import assume, example
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog, pointers
from hookproof.catalog import FORMAT_CHECKER, Catalog
from hookproof.conformance import values
from hookproof.wire import Delivery, delivery_for

F = TypeVar("F", bound=Callable[..., object])

# How many $refs deep a value may nest before the compiler stops taking optional branches: bounds recursive
# models (Qualified's are chains up to four refs deep, all within this bound).
MAX_REF_DEPTH = 6

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})
ASSERTIONS = frozenset(
    {"type", "properties", "required", "additionalProperties", "const", "enum", "format", "pattern", "items", "anyOf",
     "$ref"}
)
SUPPORTED_KEYWORDS = ANNOTATIONS | ASSERTIONS
_MISSING = object()


class UnsupportedSchema(ValueError):
    """A schema uses a keyword, format or form that this compiler does not know how to generate.

    Raised when the schema is compiled, naming the place, so that a schema needing more than we support
    is noticed at once rather than generating deliveries that no longer match it.
    """


# --------------------------------------------------------------------------------------------------------
# Schemas as a graph of nodes
# --------------------------------------------------------------------------------------------------------


class _Node:
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
        self.const: Any = _MISSING
        self.enum: tuple[Any, ...] | None = None
        self.format: str | None = None
        self.pattern: str | None = None
        self.properties: dict[str, _Node] = {}
        self.required: tuple[str, ...] = ()
        self.additional = True
        self.items: _Node | None = None
        self.any_of: tuple[_Node, ...] = ()
        self.ref: _Node | None = None

    @property
    def is_object(self) -> bool:
        return self.types is not None and "object" in self.types


class _Parser:
    """Turns schema documents into :class:`_Node` graphs; one instance shares ref targets between events."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._targets: dict[str, _Node] = {}
        self._resolver = (registry or catalog.active().registry()).resolver()

    def parse_id(self, schema_id: str) -> _Node:
        return self._ref_target(schema_id)

    def _ref_target(self, uri: str) -> _Node:
        if uri in self._targets:
            return self._targets[uri]
        node = self._targets[uri] = _Node(uri)  # registered before filling, so cycles end here
        contents = self._resolver.lookup(uri).contents
        try:
            self._fill(node, contents, uri.split("#", 1)[0])
        except BaseException:
            del self._targets[uri]  # a half-filled node would generate `{}` the next time it is asked for
            raise
        return node

    def _parse(self, schema: Any, base: str, where: str) -> _Node:
        node = _Node(where)
        self._fill(node, schema, base)
        return node

    def _fill(self, node: _Node, schema: Any, base: str) -> None:
        where = node.where
        if schema is True:
            return  # the schema `true`: any value
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"{where}: only object schemas and `true` are supported, not {schema!r}")
        unknown = sorted(set(schema) - SUPPORTED_KEYWORDS)
        if unknown:
            raise UnsupportedSchema(
                f"{where}: keyword(s) {', '.join(unknown)} not supported by "
                f"conformance.strategies (supported: {', '.join(sorted(ASSERTIONS))})"
            )
        if "$id" in schema:
            base = urljoin(base, schema["$id"])
        _check_combinations(schema, where)
        if "$ref" in schema:
            node.ref = self._ref_target(urljoin(base, schema["$ref"]))
            return
        node.types = _types(schema, where)
        node.const = schema.get("const", _MISSING)
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

    def _fill_object(self, node: _Node, schema: dict[str, Any], base: str) -> None:
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


# --------------------------------------------------------------------------------------------------------
# Compiling nodes into strategies
# --------------------------------------------------------------------------------------------------------

# Names a forward-compatible receiver must ignore, picked to trip naive code: JSON-pointer escapes,
# prototype names, look-alikes of documented names, non-ASCII, the empty name.
_EXTRA_KEYS = (
    "x_extra",
    "futureField",
    "_links",
    "v2",
    "ünknown",
    "🙂",
    "",
    "a/b",
    "a~b",
    "__proto__",
    "constructor",
    "$ref",
    "null",
    "ID",
    "id ",
    "data​",
    "𝄞",
)


def _extra_properties(d: values.Digits) -> dict[str, Any]:
    return {d.pick(_EXTRA_KEYS) if d.below(2) else values.string_from(d): values.any_json(d) for _ in range(d.below(4))}


EXTRA_LEAF: values.Composed[dict[str, Any]] = values.Composed(40, _extra_properties)
EXTRA_PROPERTIES: st.SearchStrategy[dict[str, Any]] = EXTRA_LEAF.strategy

Build = Callable[[values.Reader], Any]


@dataclass(frozen=True)
class _Compiled:
    """How a node's values are built from a payload's bytes, and how many bytes that reads on average (the
    size of the first chunk a payload draws)."""

    build: Build
    size: float


def _leaf(leaf: values.Composed[Any]) -> _Compiled:
    return _Compiled(leaf.build_from, leaf.expected)


def _drawn(strategy: st.SearchStrategy[Any]) -> _Compiled:
    return _Compiled(lambda r: r.draw(strategy), 0)


def _just(value: Any) -> _Compiled:
    # a fresh copy of an object or array constant each time, so that a check that edits a body edits its own
    if isinstance(value, (dict, list)):
        return _Compiled(lambda r: values.json_copy(value), 0)
    return _Compiled(lambda r: value, 0)


def _one_of(options: list[_Compiled]) -> _Compiled:
    """One of the options, each as often (one byte decides)."""
    if len(options) == 1:
        return options[0]
    builds = tuple(o.build for o in options)
    count = len(builds)
    return _Compiled(lambda r: builds[r.below(count)](r), 1 + sum(o.size for o in options) / count)


_ANY = _leaf(values.ANY_JSON_LEAF)
_SCALAR_BY_TYPE: dict[str, _Compiled] = {
    "null": _just(None),
    "boolean": _Compiled(lambda r: r.below(2) == 1, 1),
    "integer": _leaf(values.INTEGER_LEAF),
    "number": _leaf(values.NUMBER_LEAF),
}


def _string(node: _Node) -> _Compiled:
    """Strings for a node: its format's, its pattern's (a known pattern's own builder, else Hypothesis draws
    from the regular expression), or any text."""
    if node.format:
        return _leaf(values.FORMAT_LEAVES[node.format])
    if node.pattern:
        known = values.PATTERN_LEAVES.get(node.pattern)
        return _leaf(known) if known is not None else _drawn(st.from_regex(node.pattern, fullmatch=True))
    return _leaf(values.TEXT_LEAF)


def _array(items: _Compiled) -> _Compiled:
    """Zero to three items, each length as often (one byte decides)."""
    build = items.build
    return _Compiled(lambda r: [build(r) for _ in range(r.below(4))], 1 + 1.5 * items.size)


def _object(required: tuple[tuple[str, _Compiled], ...], optional: tuple[tuple[str, _Compiled], ...]) -> _Compiled:
    """Objects with every required property and any subset of the optional ones.

    Which optional properties appear is one bit mask read from the payload's bytes (each property present
    half the time; zero bytes, where shrinking goes, drop them all). The mask is bytes rather than a
    Hypothesis integer because Hypothesis leans integers towards small values, which would starve the last
    properties.
    """
    required_builds = tuple((name, c.build) for name, c in required)
    optional_builds = tuple((name, c.build) for name, c in optional)
    mask_size = (len(optional_builds) + 7) // 8

    def build(r: values.Reader) -> dict[str, Any]:
        body = {name: part(r) for name, part in required_builds}
        if optional_builds:
            present = int.from_bytes(r.take(mask_size), "little")
            for name, part in optional_builds:
                if present & 1:
                    body[name] = part(r)
                present >>= 1
        return body

    size = sum(c.size for _, c in required) + mask_size + sum(c.size for _, c in optional) / 2
    return _Compiled(build, size)


def _with_extras(base: _Compiled, known: frozenset[str]) -> _Compiled:
    """Objects from ``base`` plus undocumented properties; a declared name is never overwritten."""
    build_base, extra = base.build, EXTRA_LEAF

    def build(r: values.Reader) -> dict[str, Any]:
        body = build_base(r)
        for key, value in r.value(extra).items():
            if key not in known:
                body[key] = value
        return body

    return _Compiled(build, base.size + extra.expected)


class _Compiler:
    """Builders for nodes, cached per (node, ref depth): every event of a platform shares its $defs."""

    def __init__(self, extras: bool) -> None:
        self.extras = extras
        self._cache: dict[tuple[int, int], _Compiled] = {}

    def compiled(self, node: _Node, depth: int = 0) -> _Compiled:
        key = (id(node), depth)
        if key not in self._cache:
            self._cache[key] = self._build(node, depth)
        return self._cache[key]

    def _build(self, node: _Node, depth: int) -> _Compiled:
        if node.ref is not None:
            return self.compiled(node.ref, depth + 1) if depth < MAX_REF_DEPTH else _minimal(node.ref, ())
        if node.const is not _MISSING or node.enum is not None:
            return _constants(node)
        if node.any_of:
            return _one_of([self.compiled(branch, depth) for branch in node.any_of])
        if node.types is None:
            return _ANY
        return _one_of([self._of_type(node, t, depth) for t in node.types])

    def _of_type(self, node: _Node, json_type: str, depth: int) -> _Compiled:
        if json_type == "string":
            return _string(node)
        if json_type == "array":
            return _array(self.compiled(node.items, depth) if node.items else _ANY)
        if json_type == "object":
            props = node.properties
            required = tuple((name, self.compiled(props[name], depth) if name in props else _ANY)
                             for name in node.required)
            optional = tuple((name, self.compiled(sub, depth)) for name, sub in props.items()
                             if name not in node.required)
            base = _object(required, optional)
            if self.extras and node.additional:
                return _with_extras(base, frozenset(props) | frozenset(node.required))
            return base
        return _SCALAR_BY_TYPE[json_type]


@st.composite
def _built(draw: st.DrawFn, compiled: _Compiled) -> Any:
    """Values of one compiled schema: one Hypothesis draw of bytes for most payloads, a few for large ones."""
    return compiled.build(values.Reader(draw, compiled.size))


def _constants(node: _Node) -> _Compiled:
    choices = _allowed_constants(node)
    if len(choices) == 1:
        return _just(choices[0])
    return _one_of([_just(v) for v in choices])


def _allowed_constants(node: _Node) -> list[Any]:
    """The const/enum values that also satisfy a sibling `type`/`format`; none left is a schema error."""
    values = [node.const] if node.const is not _MISSING else list(node.enum or ())
    ok = [
        v
        for v in values
        if _type_ok(v, node.types) and (node.format is None or FORMAT_CHECKER.conforms(v, node.format))
    ]
    if not ok:
        raise UnsupportedSchema(f"{node.where}: no `const`/`enum` value satisfies its `type`/`format`")
    return ok


def _minimal(node: _Node, seen: tuple[int, ...]) -> _Compiled:
    """The smallest values of a node (null, [], only required properties): used past MAX_REF_DEPTH."""
    if id(node) in seen:
        raise UnsupportedSchema(f"{node.where}: a value must contain itself (required recursion)")
    seen = (*seen, id(node))
    if node.ref is not None:
        return _minimal(node.ref, seen)
    if node.const is not _MISSING or node.enum is not None:
        return _constants(node)
    if node.any_of:
        return _first_minimal(node.any_of, seen, node.where)
    types = node.types or ("null",)
    for cheap in ("null", "boolean", "integer", "number", "string"):
        if cheap in types:
            return _string(node) if cheap == "string" else _SCALAR_BY_TYPE[cheap]
    if "array" in types:
        return _Compiled(lambda r: [], 0)
    required = tuple(
        (name, _minimal(node.properties[name], seen) if name in node.properties else _just(None))
        for name in node.required
    )
    return _object(required, ())


def _first_minimal(branches: tuple[_Node, ...], seen: tuple[int, ...], where: str) -> _Compiled:
    ordered = sorted(branches, key=lambda b: b.ref is not None)  # branches without a $ref first
    for branch in ordered:
        try:
            return _minimal(branch, seen)
        except UnsupportedSchema:
            continue
    raise UnsupportedSchema(f"{where}: no `anyOf` branch has a finite value")


def _type_ok(value: Any, types: tuple[str, ...] | None) -> bool:
    return types is None or _json_type(value) in types or (_json_type(value) == "integer" and "number" in types)


def _json_type(value: Any) -> str:
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


# Parsed graphs and compiled strategies are kept per catalog: a run that adds schema folders of its own
# (catalog.configure) gets a new catalog, and nothing compiled from the old one.


@cache
def _parser(cat: Catalog) -> _Parser:
    return _Parser(cat.registry())


@cache
def _node_of(cat: Catalog, schema_id: str) -> _Node:
    return _parser(cat).parse_id(schema_id)


def _schema_node(schema_id: str) -> _Node:
    """The parsed graph of one catalog schema; raises :class:`UnsupportedSchema` for what we cannot generate."""
    return _node_of(catalog.active(), schema_id)


@cache
def _compiler(cat: Catalog, extras: bool) -> _Compiler:
    return _Compiler(extras)


@cache
def _compiled_body(cat: Catalog, schema_id: str, extras: bool) -> _Compiled:
    return _compiler(cat, extras).compiled(_node_of(cat, schema_id))


@cache
def _body_strategy(cat: Catalog, schema_id: str, extras: bool) -> st.SearchStrategy[Any]:
    return _built(_compiled_body(cat, schema_id, extras))


def body_strategy(schema_id: str, *, extras: bool = False) -> st.SearchStrategy[Any]:
    """Bodies valid against one schema (format checking on), compiled once per ``(schema_id, extras)``."""
    return _body_strategy(catalog.active(), schema_id, extras)


ADHOC_URI = "https://hookproof.dev/schemas/adhoc.json"


def strategy_for(schema: dict[str, Any] | bool, *, extras: bool = False) -> st.SearchStrategy[Any]:
    """Values valid against a schema that is not in the catalog (it may ``$ref`` the catalog's); not cached.

    For trying the compiler on a new schema before it joins ``schemas/``, and for tests.
    """
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    node = _Parser(catalog.active().registry().with_resource(ADHOC_URI, resource)).parse_id(ADHOC_URI)
    return _built(_Compiler(extras).compiled(node))  # a compiler of its own: its cache is keyed by node identity


# --------------------------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------------------------


def _event_names(platform: str, event: str | None, contract: str | None) -> list[str]:
    spec = catalog.contract(platform, contract)
    if event is None:
        return list(spec.events)
    spec.event(event)  # raises CatalogError for an unknown name
    return [event]


def _as_broken_delivery(platform: str, event: str, contract: str, pair: tuple[Any, str]) -> Delivery:
    return delivery_for(platform, event, pair[0], contract=contract, breaks=pair[1])


def events(platform: str, event: str | None = None, *, contract: str | None = None,
           extras: bool = False) -> st.SearchStrategy[Delivery]:
    """Valid deliveries (body and the documented headers) of one event, or of every event of a contract
    (default: the platform's base contract).

    For a registration API the "events" are its ``request`` and ``response`` bodies. With ``extras=True``
    undocumented properties appear in every open object, for forward-compatibility checks. Combine with
    :func:`with_examples` so that the documented examples are tried first. Authentication headers are
    added when a delivery is sent (:meth:`hookproof.wire.Delivery.wire_headers`), over the bytes sent.
    """
    spec = catalog.contract(platform, contract)
    cat = catalog.active()
    bodies = tuple((name, _compiled_body(cat, spec.event(name).schema_id, extras))
                   for name in _event_names(platform, event, contract))
    return _deliveries(platform, spec.name, bodies)


@st.composite
def _deliveries(draw: st.DrawFn, platform: str, contract: str, bodies: tuple[tuple[str, _Compiled], ...]) -> Delivery:
    """Which event and its body read the same bytes (the event from the first byte), so that most deliveries
    are one Hypothesis draw: the first chunk fits an average event's body, a larger event's rest is drawn at
    once."""
    if len(bodies) == 1:
        (name, body), = bodies
        reader = values.Reader(draw, body.size)
    else:
        reader = values.Reader(draw, 1 + sum(body.size for _, body in bodies) / len(bodies))
        name, body = bodies[reader.below(len(bodies))]
        reader.expect(body.size)
    return delivery_for(platform, name, body.build(reader), contract=contract)


def default_run_deliveries(examples: int | None = None) -> list[Delivery]:
    """What a default conformance run generates: for every event of every contract of every platform, its
    documented examples, then ``examples`` generated ones (the bench and the generation-time test measure this)."""
    from hypothesis import given

    from hookproof.conformance.run_settings import DEFAULT_EXAMPLES, runner

    drawn: list[Delivery] = []
    for platform in catalog.platforms():
        for spec in catalog.platform(platform).contracts:
            for event in spec.events:

                @runner(DEFAULT_EXAMPLES if examples is None else examples)
                @with_examples(platform, event, contract=spec.name)
                @given(events(platform, event, contract=spec.name))
                def collect(delivery: Delivery) -> None:
                    drawn.append(delivery)

                collect()
    return drawn


def documented_deliveries(platform: str, event: str | None = None, *, contract: str | None = None) -> list[Delivery]:
    """The document's own examples as deliveries, in catalog order (bodies are copies: the catalog's
    examples stay as documented whatever a check does to a delivery)."""
    spec = catalog.contract(platform, contract)
    return [
        delivery_for(platform, name, values.json_copy(ex.body), contract=spec.name,
                     origin=f"the documented example {ex.file} ({ex.source})")
        for name in _event_names(platform, event, contract)
        for ex in spec.event(name).examples
    ]


def with_examples(platform: str, event: str | None = None, *, argname: str | None = None,
                  contract: str | None = None) -> Callable[[F], F]:
    """A decorator adding the documented examples as ``@example`` cases, so every run tries them first.

    Works above or below ``@given`` and on functions defined inside a test body, as the conformance checks
    do. The delivery goes to the first positional argument, or to ``argname`` if given.
    """
    deliveries = documented_deliveries(platform, event, contract=contract)

    def apply(fn: F) -> F:
        for delivery in reversed(deliveries):  # Hypothesis runs stacked examples top-down
            fn = example(**{argname: delivery})(fn) if argname else example(delivery)(fn)
        return fn

    return apply


# --------------------------------------------------------------------------------------------------------
# Invalid deliveries
# --------------------------------------------------------------------------------------------------------


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
    return _json_type(a) == _json_type(b) and a == b


def _value_breaks(node: _Node, path: tuple[str | int, ...]) -> Iterator[_Break]:
    if node.const is not _MISSING:
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


def _breaks(node: _Node, value: Any, path: tuple[str | int, ...] = ()) -> Iterator[_Break]:
    """Every rule of ``node`` that ``value`` meets and that one replacement or deletion can break."""
    while node.ref is not None:
        node = node.ref
    yield from _value_breaks(node, path)
    if node.format and isinstance(value, str):
        yield _Break(f"format({node.format})", path, partial(_bad_format, node.format))
    if node.pattern and isinstance(value, str):
        yield _Break("pattern", path, partial(_bad_pattern, node.pattern))
    if node.any_of:
        matching = [b for b in node.any_of if _could_match(b, value)]
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


def _could_match(node: _Node, value: Any) -> bool:
    while node.ref is not None:
        node = node.ref
    return _type_ok(value, node.types)


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


def _invalid_bodies(schema_id: str) -> st.SearchStrategy[tuple[Any, str]]:
    return _invalid_bodies_of(catalog.active(), schema_id)


@cache
def _invalid_bodies_of(cat: Catalog, schema_id: str) -> st.SearchStrategy[tuple[Any, str]]:
    node = _node_of(cat, schema_id)
    root = node
    while root.ref is not None:
        root = root.ref
    if root.types is None and root.const is _MISSING and root.enum is None:
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
            _invalid_bodies(spec.event(name).schema_id).map(partial(_as_broken_delivery, platform, name, spec.name))
            for name in _event_names(platform, event, contract)
        ]
    )
