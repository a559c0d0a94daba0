"""Hypothesis strategies for valid deliveries, the ones a conforming receiver must accept (the deliveries that
break exactly one named rule are :mod:`hookproof.conformance.broken_bodies`).

The strategies are compiled from ``schemas/`` by a small compiler of our own rather than by
hypothesis-jsonschema (docs/decisions.md#own-schema-compiler): that library fails on the Hypothesis we
ship, re-processes sub-schemas for every example (about 30 payloads/s on a DoSelect event) and knows no
``uuid`` format. The parser and the compiler know exactly the keywords
:mod:`hookproof.conformance.schema_graph` lists (the built-in schemas' dozen, and the number, length, count,
``uniqueItems``, ``prefixItems``, ``dependentRequired``, ``oneOf`` and mergeable ``allOf`` keywords a
company's own schema commonly adds) and raise :class:`~hookproof.conformance.schema_nodes.UnsupportedSchema`
for anything else, or for a combination they cannot generate faithfully, so a new platform's schema that
needs more fails loudly instead of producing deliveries that are silently invalid. A keyword's builder is
used only where the keyword is present: the built-in schemas, which use none of the later ones, pay nothing
for them.

Each schema is parsed once into a graph of nodes (:mod:`hookproof.conformance.schema_graph`) and compiled
once per ``($id, extras)`` into a builder (:mod:`hookproof.conformance.compiler`), which reads a payload's
structure and values from one stream of bytes (:mod:`hookproof.conformance.builders` says why); this module
turns those builders into the Hypothesis strategies the checks and users draw from, and deliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from hypothesis import example
from hypothesis import strategies as st
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog
from hookproof.catalog import Catalog
from hookproof.conformance import values
from hookproof.conformance.builders import _Compiled

# The two `as` imports re-export what a user of strategy_for and body_strategy meets: how many $refs deep
# values nest, and the error for a schema the compiler cannot generate.
from hookproof.conformance.compiler import MAX_REF_DEPTH as MAX_REF_DEPTH
from hookproof.conformance.compiler import _Compiler
from hookproof.conformance.schema_graph import Parser, node_of
from hookproof.conformance.schema_nodes import Node
from hookproof.conformance.schema_nodes import UnsupportedSchema as UnsupportedSchema
from hookproof.wire import Delivery, delivery_for

F = TypeVar("F", bound=Callable[..., object])


# --------------------------------------------------------------------------------------------------------
# Bodies and single nodes
# --------------------------------------------------------------------------------------------------------

# Compiled strategies for single nodes, for the one-rule breaker (values to add to an array, another oneOf
# branch's value): keyed by node identity, the node kept alive beside its strategy so the key stays its own.
_NODE_STRATEGIES: dict[int, tuple[Node, st.SearchStrategy[Any]]] = {}


def node_strategy(node: Node) -> st.SearchStrategy[Any]:
    """Values valid against one node of a parsed graph (no extras)."""
    if id(node) not in _NODE_STRATEGIES:
        _NODE_STRATEGIES[id(node)] = (node, _built(_Compiler(False).compiled(node)))
    return _NODE_STRATEGIES[id(node)][1]


@st.composite
def _built(draw: st.DrawFn, compiled: _Compiled) -> Any:
    """Values of one compiled schema: one Hypothesis draw of bytes for most payloads, a few for large ones."""
    return compiled.build(values.Reader(draw, compiled.size))


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
