"""Which builder each node of a parsed graph gets (:class:`_Compiler`), cached per node and ``$ref`` depth; past
:data:`MAX_REF_DEPTH`, a node's smallest values (:func:`_minimal`), so that recursive schemas stay finite.

The builders themselves are :mod:`hookproof.conformance.builders` (the built-in schemas' keywords) and
:mod:`hookproof.conformance.keyword_builders` (the keywords beyond them); the Hypothesis strategies over the
compiled builders are :mod:`hookproof.conformance.strategies`.
"""

from __future__ import annotations

from hookproof.conformance.builders import (
    _ANY,
    _SCALAR_BY_TYPE,
    _array,
    _Compiled,
    _constants,
    _just,
    _object,
    _one_of,
    _string,
    _with_extras,
)
from hookproof.conformance.keyword_builders import (
    _bounded_array,
    _bounded_integer,
    _bounded_number,
    _exclusive,
    _object_rules,
    _sized_string,
)
from hookproof.conformance.schema_nodes import MISSING, Node, UnsupportedSchema

# How many $refs deep a value may nest before the compiler stops taking optional branches: bounds recursive
# models (Qualified's are chains up to four refs deep, all within this bound).
MAX_REF_DEPTH = 6


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
        if node.one_of:
            return _exclusive(node.one_of, [self.compiled(branch, depth) for branch in node.one_of])
        if node.types is None:
            return _ANY
        return _one_of([self._of_type(node, t, depth) for t in node.types])

    def _of_type(self, node: Node, json_type: str, depth: int) -> _Compiled:
        if json_type == "string":
            return _sized_string(node) if node.has_lengths else _string(node)
        if json_type == "array":
            return self._array(node, depth)
        if json_type == "object":
            return self._object(node, depth)
        if node.numbers is not None and json_type in ("integer", "number"):
            return _bounded_integer(node, node.numbers) if json_type == "integer" else \
                _bounded_number(node, node.numbers)
        return _SCALAR_BY_TYPE[json_type]

    def _array(self, node: Node, depth: int) -> _Compiled:
        items = self.compiled(node.items, depth) if node.items else _ANY
        if not node.has_array_rules:
            return _array(items)
        prefix = tuple(self.compiled(sub, depth) for sub in node.prefix)
        return _bounded_array(node, prefix, None if node.items_closed else items)

    def _object(self, node: Node, depth: int) -> _Compiled:
        props = node.properties
        required = tuple((name, self.compiled(props[name], depth) if name in props else _ANY)
                         for name in node.required)
        optional = tuple((name, self.compiled(sub, depth)) for name, sub in props.items()
                         if name not in node.required)
        base = _object(required, optional)
        known = frozenset(props) | frozenset(node.required)
        if node.has_object_rules:
            known |= frozenset(node.dependent) | {d for ds in node.dependent.values() for d in ds}
        if self.extras and node.additional:
            base = _with_extras(base, known)
        if node.has_object_rules:
            return _object_rules(node, base, dict(optional + required))
        return base


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
    if node.one_of:
        return _exclusive(node.one_of, [_minimal(branch, seen) for branch in node.one_of])
    types = node.types or ("null",)
    for cheap in ("null", "boolean", "integer", "number", "string"):
        if cheap in types:
            return _Compiler(False)._of_type(node, cheap, MAX_REF_DEPTH)
    if "array" in types:
        if not node.min_items:
            return _Compiled(lambda r: [], 0)
        prefix = tuple(_minimal(sub, seen) for sub in node.prefix[:node.min_items])
        items = None if node.items_closed else _minimal(node.items, seen) if node.items else _ANY
        return _bounded_array(node, prefix, items)
    required = tuple(
        (name, _minimal(node.properties[name], seen) if name in node.properties else _just(None))
        for name in node.required
    )
    if node.has_object_rules:
        return _object_rules(node, _object(required, ()), dict(required))
    return _object(required, ())


def _first_minimal(branches: tuple[Node, ...], seen: tuple[int, ...], where: str) -> _Compiled:
    ordered = sorted(branches, key=lambda b: b.ref is not None)  # branches without a $ref first
    for branch in ordered:
        try:
            return _minimal(branch, seen)
        except UnsupportedSchema:
            continue
    raise UnsupportedSchema(f"{where}: no `anyOf` branch has a finite value")
