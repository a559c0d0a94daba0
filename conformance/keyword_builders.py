"""Builders for the keywords beyond the built-in schemas' (:mod:`hookproof.conformance.schema_graph`'s docstring
lists them): number bounds and ``multipleOf``, string lengths, array bounds, ``uniqueItems`` and
``prefixItems``, property counts and ``dependentRequired``, and ``oneOf``'s exclusivity.

Each builder here is used only where its keyword is present, so the built-in platforms, which use none,
build as before and pay nothing for them. What cannot be generated faithfully raises
:class:`~hookproof.conformance.schema_nodes.UnsupportedSchema` at compile time.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from hookproof.conformance import values
from hookproof.conformance.builders import _ANY, _Compiled, _drawn, _leaf
from hookproof.conformance.node_judging import conforms, container_failures, json_key
from hookproof.conformance.schema_nodes import MISSING, Node, NumberRules, UnsupportedSchema

# The standard library's own regular expression parser, for a pattern's shortest and longest match (typeshed
# has no stubs for it: it is private, but it is what `re` itself compiles with).
re_parser: Any = importlib.import_module("re._parser")

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
