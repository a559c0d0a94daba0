"""What a parsed schema is: :class:`Node`, its number rules, and the error for what cannot be generated.

Apart from the parser (:mod:`hookproof.conformance.schema_graph`) so that what the parser calls, the ``allOf``
merge (:mod:`hookproof.conformance.schema_merge`), and what reads the graphs, the judges
(:mod:`hookproof.conformance.node_judging`) and the compiler, can use nodes without importing the parser: the
dependencies point one way, from the parser to the merge to this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
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

    Generation only makes multiples that are exact (``k * step`` in rationals, :mod:`keyword_builders`), on
    which every validator agrees, so the float rounding jsonschema and ajv differ on never decides a verdict we
    rely on."""
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    try:
        quotient = value / step
    except OverflowError:
        return False
    return math.isfinite(quotient) and int(quotient) == quotient


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


# Every slot at its default: what an unset keyword is (for merging), and the node that accepts any value.
_DEFAULTS = Node("")


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
