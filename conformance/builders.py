"""How a node's values are built from a payload's bytes (:class:`_Compiled`), and the builders for the keywords
of the built-in schemas: leaves, constants, choices, strings, plain arrays and objects, undocumented properties.

Hypothesis charges tens of microseconds of span and choice bookkeeping per draw, and that, not our code,
was most of the cost of a payload (about 7 choices and 20 draws each). So a builder makes no draws of
its own: it reads the payload's structure (which optional properties, as one bit mask per object; which
branch; how many items; which event) and its values (from :mod:`hookproof.conformance.values`) from one
stream of bytes, :class:`values.Reader`, which Hypothesis draws as one ``st.binary`` chunk for most
payloads. Zero bytes build the simplest payload, so Hypothesis still shrinks towards small ones.

The builders of the keywords beyond these are :mod:`hookproof.conformance.keyword_builders`; which builder a
node gets is :mod:`hookproof.conformance.compiler`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from hookproof.conformance import values
from hookproof.conformance.node_judging import conforms
from hookproof.conformance.schema_nodes import MISSING, Node, UnsupportedSchema

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


def _constants(node: Node) -> _Compiled:
    choices = _allowed_constants(node)
    if len(choices) == 1:
        return _just(choices[0])
    return _one_of([_just(v) for v in choices])


def _allowed_constants(node: Node) -> list[Any]:
    """The const/enum values that also satisfy a sibling `type`/`format`; none left is a schema error."""
    values = [node.const] if node.const is not MISSING else list(node.enum or ())
    ok = [v for v in values if conforms(node, v)]  # its siblings too: type, format, pattern, bounds, lengths
    if not ok:
        raise UnsupportedSchema(f"{node.where}: no `const`/`enum` value satisfies its sibling keywords")
    return ok
