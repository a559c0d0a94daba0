"""Hypothesis strategies for valid deliveries, the ones a conforming receiver must accept (the deliveries that
break exactly one named rule are :mod:`hookproof.conformance.broken_bodies`).

The strategies are compiled from ``schemas/`` by a small compiler of our own rather than by
hypothesis-jsonschema (docs/decisions.md#own-schema-compiler): that library fails on the Hypothesis we
ship, re-processes sub-schemas for every example (about 30 payloads/s on a DoSelect event) and knows no
``uuid`` format. Our schemas use a dozen keywords; the parser and the compiler know exactly those and raise
:class:`~hookproof.conformance.schema_graph.UnsupportedSchema` for anything else, so a new platform's schema
that needs more fails loudly instead of producing deliveries that are silently invalid.

Each schema is parsed once into a graph of nodes (:mod:`hookproof.conformance.schema_graph`) and compiled
once per ``($id, extras)`` into a builder (:class:`_Compiled`).
Hypothesis charges tens of microseconds of span and choice bookkeeping per draw, and that, not our code,
was most of the cost of a payload (about 7 choices and 20 draws each). So a builder makes no draws of
its own: it reads the payload's structure (which optional properties, as one bit mask per object; which
branch; how many items; which event) and its values (from :mod:`hookproof.conformance.values`) from one
stream of bytes, :class:`values.Reader`, which Hypothesis draws as one ``st.binary`` chunk for most
payloads. Zero bytes build the simplest payload, so Hypothesis still shrinks towards small ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from hypothesis import example
from hypothesis import strategies as st
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog
from hookproof.catalog import FORMAT_CHECKER, Catalog
from hookproof.conformance import values
from hookproof.conformance.schema_graph import MISSING, Node, Parser, UnsupportedSchema, node_of, type_ok
from hookproof.wire import Delivery, delivery_for

F = TypeVar("F", bound=Callable[..., object])

# How many $refs deep a value may nest before the compiler stops taking optional branches: bounds recursive
# models (Qualified's are chains up to four refs deep, all within this bound).
MAX_REF_DEPTH = 6


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


def _string(node: Node) -> _Compiled:
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

    def compiled(self, node: Node, depth: int = 0) -> _Compiled:
        key = (id(node), depth)
        if key not in self._cache:
            self._cache[key] = self._build(node, depth)
        return self._cache[key]

    def _build(self, node: Node, depth: int) -> _Compiled:
        if node.ref is not None:
            return self.compiled(node.ref, depth + 1) if depth < MAX_REF_DEPTH else _minimal(node.ref, ())
        if node.const is not MISSING or node.enum is not None:
            return _constants(node)
        if node.any_of:
            return _one_of([self.compiled(branch, depth) for branch in node.any_of])
        if node.types is None:
            return _ANY
        return _one_of([self._of_type(node, t, depth) for t in node.types])

    def _of_type(self, node: Node, json_type: str, depth: int) -> _Compiled:
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


def _constants(node: Node) -> _Compiled:
    choices = _allowed_constants(node)
    if len(choices) == 1:
        return _just(choices[0])
    return _one_of([_just(v) for v in choices])


def _allowed_constants(node: Node) -> list[Any]:
    """The const/enum values that also satisfy a sibling `type`/`format`; none left is a schema error."""
    values = [node.const] if node.const is not MISSING else list(node.enum or ())
    ok = [
        v
        for v in values
        if type_ok(v, node.types) and (node.format is None or FORMAT_CHECKER.conforms(v, node.format))
    ]
    if not ok:
        raise UnsupportedSchema(f"{node.where}: no `const`/`enum` value satisfies its `type`/`format`")
    return ok


def _minimal(node: Node, seen: tuple[int, ...]) -> _Compiled:
    """The smallest values of a node (null, [], only required properties): used past MAX_REF_DEPTH."""
    if id(node) in seen:
        raise UnsupportedSchema(f"{node.where}: a value must contain itself (required recursion)")
    seen = (*seen, id(node))
    if node.ref is not None:
        return _minimal(node.ref, seen)
    if node.const is not MISSING or node.enum is not None:
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


def _first_minimal(branches: tuple[Node, ...], seen: tuple[int, ...], where: str) -> _Compiled:
    ordered = sorted(branches, key=lambda b: b.ref is not None)  # branches without a $ref first
    for branch in ordered:
        try:
            return _minimal(branch, seen)
        except UnsupportedSchema:
            continue
    raise UnsupportedSchema(f"{where}: no `anyOf` branch has a finite value")


# Compiled strategies are kept per catalog, as the parsed graphs are (schema_graph.node_of).


@cache
def _compiler(cat: Catalog, extras: bool) -> _Compiler:
    return _Compiler(extras)


@cache
def _compiled_body(cat: Catalog, schema_id: str, extras: bool) -> _Compiled:
    return _compiler(cat, extras).compiled(node_of(cat, schema_id))


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
    node = Parser(catalog.active().registry().with_resource(ADHOC_URI, resource)).parse_id(ADHOC_URI)
    return _built(_Compiler(extras).compiled(node))  # a compiler of its own: its cache is keyed by node identity


# --------------------------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------------------------


def event_names(platform: str, event: str | None, contract: str | None) -> list[str]:
    spec = catalog.contract(platform, contract)
    if event is None:
        return list(spec.events)
    spec.event(event)  # raises CatalogError for an unknown name
    return [event]


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
                   for name in event_names(platform, event, contract))
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
        for name in event_names(platform, event, contract)
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
