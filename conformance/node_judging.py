"""Whether a value satisfies a node, by the keywords the parser supports and with JSON Schema's semantics.

Generation uses :func:`conforms` where it must filter (``oneOf``; the property counts), and the one-rule
breaker (:mod:`hookproof.conformance.broken_bodies`) uses the keyword-level judges (:func:`scalar_failures`,
:func:`container_failures`) to find a change that breaks one rule only.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hookproof.catalog import FORMAT_CHECKER
from hookproof.conformance.schema_nodes import _DEFAULTS, MISSING, Node


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
