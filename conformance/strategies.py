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
once per ``($id, extras)`` into a builder (:class:`_Compiled`).
Hypothesis charges tens of microseconds of span and choice bookkeeping per draw, and that, not our code,
was most of the cost of a payload (about 7 choices and 20 draws each). So a builder makes no draws of
its own: it reads the payload's structure (which optional properties, as one bit mask per object; which
branch; how many items; which event) and its values (from :mod:`hookproof.conformance.values`) from one
stream of bytes, :class:`values.Reader`, which Hypothesis draws as one ``st.binary`` chunk for most
payloads. Zero bytes build the simplest payload, so Hypothesis still shrinks towards small ones.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any, TypeVar

from hypothesis import example, reject
from hypothesis import strategies as st
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog
from hookproof.catalog import Catalog
from hookproof.conformance import values
from hookproof.conformance.node_judging import conforms, container_failures, json_key
from hookproof.conformance.schema_graph import Parser, node_of
from hookproof.conformance.schema_nodes import MISSING, Node, NumberRules, UnsupportedSchema
from hookproof.wire import Delivery, delivery_for

F = TypeVar("F", bound=Callable[..., object])
# The standard library's own regular expression parser, for a pattern's shortest and longest match (typeshed
# has no stubs for it: it is private, but it is what `re` itself compiles with).
re_parser: Any = importlib.import_module("re._parser")

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


# --------------------------------------------------------------------------------------------------------
# The keywords beyond the built-in schemas' (schema_graph's docstring lists them). Each builder below is
# used only where its keyword is present, so the built-in platforms, which use none, build as before.
# --------------------------------------------------------------------------------------------------------

_FILTER_TRIES = 4  # how many values a filtered builder reads before it falls back on its compile-time one


def _sample(build: Callable[[values.Digits], Any], ok: Callable[[Any], bool], tries: int = 400) -> Any:
    """A value ``build`` makes that is ``ok``, from fixed pseudo-random bytes (compile time); MISSING if none."""
    source = random.Random(0)
    for _ in range(tries):
        value = build(values.Digits(source.randbytes(64)))
        if ok(value):
            return value
    return MISSING


def _filtered(leaf: values.Composed[Any], ok: Callable[[Any], bool], where: str, what: str) -> _Compiled:
    """Values of ``leaf`` that are also ``ok``: a few read from the payload's bytes, else one found when the
    schema was compiled (none found: UnsupportedSchema). Bounded, and every value returned is ``ok``."""
    anchor = _sample(leaf.build, ok)
    if anchor is MISSING:
        raise UnsupportedSchema(f"{where}: cannot generate {what}")
    build = leaf.build_from

    def filtered(r: values.Reader) -> Any:
        for _ in range(_FILTER_TRIES):
            value = build(r)
            if ok(value):
                return value
        return anchor

    return _Compiled(filtered, leaf.expected * 1.5)


# -- numbers: Validation 2020-12 §6.2. Integers stay within I-JSON's ±(2**53 - 1) (generated-values).

def _integer_range(rules: NumberRules) -> tuple[int, int]:
    """The integers meeting the bounds (§6.2.2-§6.2.5), exactly: ``Fraction`` reads a float bound as it is."""
    lows, highs = [-values.SAFE_INT], [values.SAFE_INT]
    if rules.minimum is not None:
        lows.append(math.ceil(Fraction(rules.minimum)))
    if rules.exclusive_minimum is not None:
        lows.append(math.floor(Fraction(rules.exclusive_minimum)) + 1)
    if rules.maximum is not None:
        highs.append(math.floor(Fraction(rules.maximum)))
    if rules.exclusive_maximum is not None:
        highs.append(math.ceil(Fraction(rules.exclusive_maximum)) - 1)
    return max(lows), min(highs)


def _in_range_leaf(lo: int, hi: int) -> values.Composed[int]:
    """Integers in ``[lo, hi]``: the edges a quarter of the time, else the usual integers folded into range."""
    edges = tuple(dict.fromkeys(v for v in (lo, hi, 0, lo + 1, hi - 1, 1, -1) if lo <= v <= hi))
    span = hi - lo + 1
    integer = values.INTEGER_LEAF.build

    def build(d: values.Digits) -> int:
        if d.below(4) == 0:
            return edges[d.below(len(edges))]
        value = integer(d)
        return value if lo <= value <= hi else lo + (value - lo) % span

    return values.Composed(12, build)


def _bounded_integer(node: Node, rules: NumberRules) -> _Compiled:
    lo, hi = _integer_range(rules)
    step = 1
    if rules.multiple_of is not None:
        # n is a multiple of a/b (lowest terms) exactly when a divides n: multiples of the numerator (§6.2.1)
        step = Fraction(rules.multiple_of).numerator
        lo, hi = -(-lo // step), hi // step
    if lo > hi:
        raise UnsupportedSchema(f"{node.where}: no integer within ±(2**53 - 1) meets the number keywords")
    leaf = _in_range_leaf(lo, hi)
    if step == 1:
        return _leaf(leaf)
    build = leaf.build_from
    return _Compiled(lambda r: build(r) * step, leaf.expected)


def _bounded_number(node: Node, rules: NumberRules) -> _Compiled:
    """Numbers meeting the bounds: integers and floats, the bounds themselves (or the next double past an
    exclusive one) among them; multiples of a fractional ``multipleOf`` when there is one."""
    step = rules.multiple_of
    if step is not None and Fraction(step).denominator != 1:
        return _fractional_multiples(node, rules, Fraction(step))
    if step is not None:
        return _bounded_integer(node, rules)
    return _real_range(node, rules)


def _real_range(node: Node, rules: NumberRules) -> _Compiled:
    low = [(b, False) for b in (rules.minimum,) if b is not None] + \
        [(b, True) for b in (rules.exclusive_minimum,) if b is not None]
    high = [(b, False) for b in (rules.maximum,) if b is not None] + \
        [(b, True) for b in (rules.exclusive_maximum,) if b is not None]
    edges = [math.nextafter(b, math.inf) if excl else float(b) for b, excl in low]
    edges += [math.nextafter(b, -math.inf) if excl else float(b) for b, excl in high]
    lo = max((e for e in edges[:len(low)]), default=-1.7e308)
    hi = min((e for e in edges[len(low):]), default=1.7e308)
    ok = _number_ok(rules)
    edges = [e for e in (*edges, 0.0, 0.5, (lo + hi) / 2 if lo > -1e308 and hi < 1e308 else 1.5) if ok(e)]
    integers = _integer_range(rules)
    integer_leaf = _in_range_leaf(*integers) if integers[0] <= integers[1] else None
    if not edges and integer_leaf is None:
        raise UnsupportedSchema(f"{node.where}: no number meets the number keywords")
    anchor = edges[0] if edges else integers[0]
    number = values.NUMBER_LEAF.build

    def build(d: values.Digits) -> int | float:
        kind = d.below(4)
        if kind == 0 and edges:
            return edges[d.below(len(edges))]
        if kind == 1 and integer_leaf is not None:
            return integer_leaf.build(d)
        value = number(d)
        if not ok(value):
            fraction = d.below(2**32) / 2**32
            value = lo + abs(value) if hi >= 1e308 else hi - abs(value) if lo <= -1e308 else \
                lo * (1 - fraction) + hi * fraction
        return value if ok(value) else anchor

    return _leaf(values.Composed(16, build))


def _number_ok(rules: NumberRules) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, (int, float)) and math.isfinite(v) and not rules.failures(v)


def _fractional_multiples(node: Node, rules: NumberRules, step: Fraction) -> _Compiled:
    """Multiples ``k * step`` (§6.2.1) that a double holds exactly: the quotient every validator computes is
    then exactly ``k``, so jsonschema, jsonschema-rs and ajv (``%``) all accept them, whatever their float
    arithmetic. A ``k`` too wide to be exact loses low bits; past the bounds, one found at compile time."""
    lows = [Fraction(b) for b in (rules.minimum, rules.exclusive_minimum) if b is not None]
    highs = [Fraction(b) for b in (rules.maximum, rules.exclusive_maximum) if b is not None]
    k_lo = max([-values.SAFE_INT, *(math.ceil(b / step) for b in lows)])
    k_hi = min([values.SAFE_INT, *(math.floor(b / step) for b in highs)])
    free = max(1, 53 - _odd(step.numerator).bit_length())

    def value_of(k: int) -> float | None:
        exact = k * step
        try:
            value = float(exact)
        except OverflowError:
            return None
        return value if Fraction(value) == exact and not rules.failures(value) else None

    anchor = next((v for k in _anchor_ks(k_lo, k_hi) if (v := value_of(k)) is not None), None)
    if k_lo > k_hi or anchor is None:
        raise UnsupportedSchema(f"{node.where}: no exact multiple of {rules.multiple_of} meets the number keywords")
    leaf = _in_range_leaf(k_lo, k_hi)

    def build(d: values.Digits) -> float:
        k = leaf.build(d)
        shift = max(0, abs(k).bit_length() - free)
        k = (abs(k) >> shift << shift) * (1 if k >= 0 else -1)
        value = value_of(k)
        return anchor if value is None else value

    return _leaf(values.Composed(12, build))


def _odd(n: int) -> int:
    return n // (n & -n) if n else 1


def _anchor_ks(k_lo: int, k_hi: int) -> list[int]:
    """Candidate ``k`` near the bounds with few significant bits (exact as doubles sooner)."""
    out = [k for k in (0, k_lo, k_hi) if k_lo <= k <= k_hi]
    for bits in range(1, 64):
        unit = 1 << bits
        out += [k for k in (-(-k_lo // unit) * unit, k_hi // unit * unit) if k_lo <= k <= k_hi]
    return out


# -- string lengths: Validation §6.3.1-§6.3.2, in code points (a Python str's len)

_PADDING = ("x", "é", "中", "🙂", "𝄞", " ", "0")
_LONGEST_EXACT = 1024  # strings of exactly maxLength only up to this: a larger bound is reached by its tests


def _fit(text: str, lo: int, hi: int | None, pad: str) -> str:
    if hi is not None and len(text) > hi:
        return text[:hi]
    if len(text) < lo:
        return text + pad * (lo - len(text))
    return text


def _sized_text(lo: int, hi: int | None) -> values.Composed[str]:
    """Text of ``lo`` to ``hi`` code points: a quarter exactly ``lo``, a quarter exactly ``hi`` (where it is
    not huge), the rest text as usual cut or padded (astral characters among the padding, so a receiver
    counting UTF-16 units or bytes is caught)."""
    longest = hi if hi is not None and hi <= _LONGEST_EXACT else None
    text = values.TEXT_LEAF.build

    def build(d: values.Digits) -> str:
        kind, pad = d.below(4), d.pick(_PADDING)
        drawn = text(d)
        if kind == 0:
            return _fit(drawn, lo, lo, pad)
        if kind == 1 and longest is not None:
            return _fit(drawn, longest, longest, pad)
        return _fit(drawn, lo, hi, pad)

    return values.Composed(26, build)


def _length_ok(lo: int, hi: int | None) -> Callable[[Any], bool]:
    return lambda s: len(s) >= lo and (hi is None or len(s) <= hi)


def _sized_string(node: Node) -> _Compiled:
    """Strings with ``minLength``/``maxLength``: any text is cut or padded; a format's or a pattern's values
    are filtered by length (cutting would break them), and refused where no such value can be found."""
    lo, hi = node.min_length, node.max_length
    ok = _length_ok(lo, hi)
    bounds = f"{lo}..{'' if hi is None else hi} code points"
    if node.format:
        return _filtered(values.FORMAT_LEAVES[node.format], ok, node.where, f"`{node.format}` strings of {bounds}")
    if node.pattern:
        known = values.PATTERN_LEAVES.get(node.pattern)
        if known is not None:
            return _filtered(known, ok, node.where, f"strings of the pattern and of {bounds}")
        return _pattern_of_length(node.pattern, lo, hi, node.where)
    return _leaf(_sized_text(lo, hi))


def _pattern_of_length(pattern: str, lo: int, hi: int | None, where: str) -> _Compiled:
    """A regular expression's strings of a length: Hypothesis draws them, filtered by length where the
    pattern's widths do not already lie within the bounds; refused where no width can meet them."""
    shortest, longest = re_parser.parse(pattern).getwidth()
    if longest < lo or (hi is not None and shortest > hi):
        raise UnsupportedSchema(f"{where}: `pattern` {pattern!r} matches no string of {lo}..{hi} code points")
    strategy = st.from_regex(pattern, fullmatch=True)
    if shortest < lo or (hi is not None and longest > hi):
        strategy = strategy.filter(_length_ok(lo, hi))
    return _drawn(strategy)


# -- arrays: Validation §6.4.1-§6.4.3, and prefixItems/items: false (Core §10.3.1)

def _bounded_array(node: Node, prefix: tuple[_Compiled, ...], items: _Compiled | None) -> _Compiled:
    """Arrays of ``minItems`` to ``maxItems`` items (up to 3 more than the minimum, each length as often),
    positions of ``prefixItems`` from their own schemas; with ``uniqueItems``, each item is redrawn a few
    times until it differs from those before (a JSON-equal one is a duplicate), the array ending early if
    the minimum is already met, and the example rejected if it is not."""
    lo = node.min_items
    hi = node.max_items
    if items is None:  # `items: false`: nothing after the prefix
        hi = len(prefix) if hi is None else min(hi, len(prefix))
    if hi is not None and lo > hi:
        raise UnsupportedSchema(f"{node.where}: `minItems` {lo} needs more items than `prefixItems` allows")
    top = lo + 3 if hi is None else min(hi, lo + 3)
    prefix_builds = tuple(c.build for c in prefix)
    rest = (items or _ANY).build
    unique = node.unique

    def item(r: values.Reader, index: int) -> Any:
        return prefix_builds[index](r) if index < len(prefix_builds) else rest(r)

    def build(r: values.Reader) -> list[Any]:
        count = lo + r.below(top - lo + 1)
        if not unique:
            return [item(r, i) for i in range(count)]
        out: list[Any] = []
        seen: set[str] = set()
        for index in range(count):
            fresh = _fresh_item(r, index, item, seen)
            if fresh is MISSING:
                if len(out) < lo:
                    reject()
                break
            out.append(fresh)
        return out

    per_item = (sum(c.size for c in prefix) + (items.size if items else 0)) / max(1, len(prefix) + (items is not None))
    return _Compiled(build, 1 + (lo + top) / 2 * per_item)


def _fresh_item(r: values.Reader, index: int, item: Callable[[values.Reader, int], Any], seen: set[str]) -> Any:
    for _ in range(_FILTER_TRIES):
        value = item(r, index)
        key = json_key(value)
        if key not in seen:
            seen.add(key)
            return value
    return MISSING


# -- objects: Validation §6.5.1-§6.5.2 (property counts), §6.5.4 (dependentRequired)

def _object_rules(node: Node, base: _Compiled, declared: dict[str, _Compiled]) -> _Compiled:
    """Objects from ``base`` adjusted to the node's property counts and ``dependentRequired``: declared
    properties are added while there are too few (then filler names, if the object is open), a present
    property's dependents are added, optional properties are dropped while there are too many. What still
    breaks a rule after that is rejected (count bounds that leave no room)."""
    _check_object_rules(node, declared)
    build_base = base.build
    fillers = tuple(f"x_extra_{i}" for i in range(node.min_properties) if f"x_extra_{i}" not in node.properties)
    required = frozenset(node.required)

    def build(r: values.Reader) -> dict[str, Any]:
        body = build_base(r)
        for name, part in declared.items():
            if len(body) >= node.min_properties:
                break
            if name not in body:
                body[name] = part.build(r)
        for name in fillers if node.additional else ():
            if len(body) >= node.min_properties:
                break
            body.setdefault(name, r.value(values.ANY_JSON_LEAF))
        _add_dependents(body, node, declared, r)
        _drop_optional(body, node, required)
        if container_failures(node, body):
            reject()
        return body

    return _Compiled(build, base.size + sum(c.size for c in declared.values()) / 4)


def _check_object_rules(node: Node, declared: dict[str, _Compiled]) -> None:
    undeclared = [d for ds in node.dependent.values() for d in ds if d not in declared]
    if undeclared and not node.additional:
        raise UnsupportedSchema(f"{node.where}: `dependentRequired` names {undeclared}, which the closed object "
                                "does not allow")
    if not node.additional and len(declared) < node.min_properties:
        raise UnsupportedSchema(f"{node.where}: `minProperties` {node.min_properties} exceeds the properties allowed")
    if node.max_properties is not None and len(node.required) > node.max_properties:
        raise UnsupportedSchema(f"{node.where}: more properties required than `maxProperties` allows")


def _add_dependents(body: dict[str, Any], node: Node, declared: dict[str, _Compiled], r: values.Reader) -> None:
    pending = [t for t in node.dependent if t in body]
    while pending:
        for name in node.dependent.get(pending.pop(), ()):
            if name not in body:
                body[name] = declared[name].build(r) if name in declared else r.value(values.ANY_JSON_LEAF)
                pending.append(name)


def _drop_optional(body: dict[str, Any], node: Node, required: frozenset[str]) -> None:
    if node.max_properties is None:
        return
    for name in reversed(list(body)):
        if len(body) <= node.max_properties:
            return
        needed = name in required or any(name in ds for t, ds in node.dependent.items() if t in body and t != name)
        if not needed:
            del body[name]


# -- oneOf: Core 2020-12 §10.2.1.3

def _exclusive(branches: tuple[Node, ...], options: list[_Compiled]) -> _Compiled:
    """Values of exactly one branch: a branch is chosen (one byte), its value kept if no other branch
    accepts it (:func:`node_judging.conforms`), else the next branch tried; after every branch and a few
    more, the example is rejected. Bounded; disjoint branches, the usual case, pass at the first try."""
    builds = tuple(o.build for o in options)
    count = len(builds)

    def build(r: values.Reader) -> Any:
        first = r.below(count)
        for attempt in range(count + _FILTER_TRIES):
            value = builds[(first + attempt) % count](r)
            if _matches_one(branches, value):
                return value
        reject()

    return _Compiled(build, 1 + sum(o.size for o in options) / count)


def _matches_one(branches: tuple[Node, ...], value: Any) -> bool:
    matched = 0
    for branch in branches:
        if conforms(branch, value):
            matched += 1
            if matched > 1:
                return False
    return matched == 1


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
