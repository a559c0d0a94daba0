"""Hypothesis strategies for deliveries: valid ones that a conforming receiver must accept, and invalid
ones that break exactly one named rule.

The strategies are compiled from ``schemas/`` by a small compiler of our own rather than by
hypothesis-jsonschema (docs/decisions.md#own-schema-compiler): that library fails on the Hypothesis we
ship, re-processes sub-schemas for every example (about 30 payloads/s on a DoSelect event) and knows no
``uuid`` format. Our schemas use a dozen keywords; the compiler knows exactly those and raises
:class:`UnsupportedSchema` at compile time for anything else, so a new platform's schema that needs more
fails loudly instead of producing deliveries that are silently invalid.

Each schema is parsed once into a graph of :class:`_Node` (``$ref`` resolved through the registry of
:mod:`conformance.schema_store`) and compiled once per ``($id, extras)`` into a strategy tree. Hypothesis
charges tens of microseconds per draw, so the tree keeps draws few: a formatted string (uuid, date-time,
uri, email) is composed from small tables of pieces by one draw of random bytes, and which optional
properties an object has is one bit-mask draw. ``st.emails()`` and regex strategies would be the slowest
part of generation (shared/NOTES.md); the tables still reach non-ASCII and odd-but-valid forms:
percent-encoded UTF-8 paths, IPv6 hosts, UTF-8 e-mail addresses, lower-case ``t``/``z`` timestamps.
"""

from __future__ import annotations

import calendar
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote, urljoin
from uuid import UUID

from hypothesis import assume, example
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance import catalog, pointers, schema_store
from conformance.delivery import Delivery, delivery_for

F = TypeVar("F", bound=Callable[..., object])

# How many $refs deep a value may nest before the compiler stops taking optional branches: bounds recursive
# models (Qualified's are chains up to four refs deep, all within this bound).
MAX_REF_DEPTH = 6

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})
ASSERTIONS = frozenset({"type", "properties", "required", "additionalProperties", "const", "enum", "format",
                        "items", "anyOf", "$ref"})
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

    __slots__ = ("additional", "any_of", "const", "enum", "format", "items", "properties", "ref", "required",
                 "types", "where")

    def __init__(self, where: str) -> None:
        self.where = where
        self.types: tuple[str, ...] | None = None
        self.const: Any = _MISSING
        self.enum: tuple[Any, ...] | None = None
        self.format: str | None = None
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
        self._resolver = (registry or schema_store.registry()).resolver()

    def parse_id(self, schema_id: str) -> _Node:
        return self._ref_target(schema_id)

    def _ref_target(self, uri: str) -> _Node:
        if uri in self._targets:
            return self._targets[uri]
        node = self._targets[uri] = _Node(uri)  # registered before filling, so cycles end here
        contents = self._resolver.lookup(uri).contents
        self._fill(node, contents, uri.split("#", 1)[0])
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
            raise UnsupportedSchema(f"{where}: keyword(s) {', '.join(unknown)} not supported by "
                                    f"conformance.strategies (supported: {', '.join(sorted(ASSERTIONS))})")
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
        node.properties = {name: self._parse(sub, base, f"{node.where}/properties/{name}")
                           for name, sub in properties.items()}
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


def _format(schema: dict[str, Any], where: str) -> str | None:
    name = schema.get("format")
    if name is not None and name not in FORMATS:
        raise UnsupportedSchema(f"{where}: format {name!r} not supported (supported: {', '.join(sorted(FORMATS))})")
    return name


# --------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------

# Characters a receiver most often gets wrong: accents, other scripts, right-to-left, zero-width, emoji
# (astral plane, joiners, flags), JSON-escaped ones. Hypothesis's own text() is biased towards ASCII.
_TRICKY_CHARS = ("éßøçñ" "ЖжЯ" "中文日本語한국어" "عربيעברית" "\u202e\u200b\u200d\ufeff" "🙂💩🇮🇳👩\u200d💻"
                 "𝄞𐍈𝕏\U00010000\U0010fffd" "\"\\/'<>&\n\t\x00\x7f")
_EDGE_STRINGS = ("", " ", "null", "true", "0", "-1", "NaN", "ünïcödé", "日本語", "🙂", "𝄞𝄞", "a\u0000b",
                 "\u202eevil", "' OR 1=1 --", "<script>", "line\nbreak", "x" * 300)

TEXT: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=_TRICKY_CHARS, max_size=8),
    st.sampled_from(_EDGE_STRINGS),
)
class _Digits:
    """A big integer read as mixed-radix digits: each ``pick`` spends one digit on one choice.

    Format values are composed this way from a single ``st.binary`` draw instead of a draw per piece:
    Hypothesis charges tens of microseconds per draw, and a payload holds many formatted strings. Zero
    bytes (where shrinking goes) pick the first, simplest piece every time.
    """

    def __init__(self, raw: bytes) -> None:
        self.n = int.from_bytes(raw, "big")

    def below(self, bound: int) -> int:
        self.n, digit = divmod(self.n, bound)
        return digit

    def pick(self, options: tuple[str, ...]) -> str:
        return options[self.below(len(options))]


T = TypeVar("T")


def _composed(nbytes: int, build: Callable[[_Digits], T]) -> st.SearchStrategy[T]:
    return st.binary(min_size=nbytes, max_size=nbytes).map(lambda raw: build(_Digits(raw)))


# -- any JSON value (a property listed without a type, and the values of extra properties). Composed from
# one draw as well: Qualified's models are mostly such properties, and a Hypothesis draw per value (and per
# list element, dict key, ...) made them the slowest events of the catalog. Strings mix printable ASCII,
# the tricky characters above and any code point; numbers reach the edges; containers nest two deep, and
# deeper shapes come from a small pool.
_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
# I-JSON (RFC 7493 §2.2): integers beyond ±(2**53 - 1) are not interoperable, and a sender that parses and
# re-serialises JSON as doubles would change them (docs/decisions.md#generated-values).
SAFE_INT = 2**53 - 1
_INT_EDGES = (0, -1, 1, 2**31 - 1, -(2**31), 2**31, 2**32, SAFE_INT, -SAFE_INT)
_FLOAT_EDGES = (0.0, -0.0, 0.5, -1.5, 0.1, 1e-300, 5e-324, 1.7e308, -1.7e308, 2.0**53, 1e16)
_NESTED = ({}, [], [[]], {"": None}, {"a": {"b": {"c": [1, "two", None]}}}, [{"id": 1}, {"id": "1"}],
           {"🙂": [True, False, -0.0]}, [[[[[]]]]], {"k": {"k": {"k": {"k": "deep"}}}})


def _char(d: _Digits) -> str:
    kind = d.below(4)
    if kind < 2:
        return _ASCII[d.below(len(_ASCII))]
    if kind == 2:
        return _TRICKY_CHARS[d.below(len(_TRICKY_CHARS))]
    code = d.below(0x110000 - 0x800)  # any code point but the surrogates, which UTF-8 cannot carry
    return chr(code if code < 0xD800 else code + 0x800)


def _string(d: _Digits) -> str:
    if d.below(8) == 0:
        return d.pick(_EDGE_STRINGS)
    return "".join(_char(d) for _ in range(d.below(13)))


def _float(d: _Digits) -> float:
    kind = d.below(4)
    if kind == 0:
        return _FLOAT_EDGES[d.below(len(_FLOAT_EDGES))]
    if kind == 1:  # any finite double, from its bits
        value = struct.unpack("<d", d.below(2**64).to_bytes(8, "little"))[0]
        return value if math.isfinite(value) else 0.0
    return (d.below(2_000_001) - 1_000_000) / 10 ** d.below(7)


def _any_json(d: _Digits, depth: int = 0) -> Any:
    kind = d.below(16)
    if kind < 2:
        return None
    if kind == 2:
        return d.below(2) == 1
    if kind < 6:
        return (d.below(2001) - 1000, _INT_EDGES[d.below(len(_INT_EDGES))], d.below(2**64) - 2**63)[kind - 3]
    if kind == 6:
        return _float(d)
    if kind < 12:
        return _string(d)
    if depth >= 2 or kind == 15:
        return _copy(_NESTED[d.below(len(_NESTED))])
    if kind < 14:
        return [_any_json(d, depth + 1) for _ in range(d.below(4))]
    return {_string(d): _any_json(d, depth + 1) for _ in range(d.below(4))}


ANY_JSON: st.SearchStrategy[Any] = _composed(40, _any_json)
INTEGERS: st.SearchStrategy[int] = st.one_of(
    st.integers(-1000, 1000), st.sampled_from(_INT_EDGES), st.integers(-SAFE_INT, SAFE_INT)
)
NUMBERS: st.SearchStrategy[float | int] = st.one_of(
    INTEGERS, st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(_FLOAT_EDGES))


# -- uuid: jsonschema's check is UUID(value) plus hyphens at 8/13/18/23: any 128 bits, either case.
_UUID_EDGES = ("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
               "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "441cd01e-d82d-485c-95d8-c8c498417649")


def _uuid(d: _Digits) -> str:
    kind = d.below(8)
    bits = d.below(2**128)
    if kind == 7:
        return _UUID_EDGES[bits % len(_UUID_EDGES)]
    if kind < 4:  # a version-4 UUID, as most senders make them
        bits = (bits & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    text = str(UUID(int=bits))
    return text.upper() if kind in (3, 6) else text


UUIDS: st.SearchStrategy[str] = _composed(18, _uuid)


# -- date-time: RFC 3339 as rfc3339-validator reads it (no leap second, year >= 1, real calendar days).
_OFFSETS = ("Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-23:59", "z")
_TIMESTAMP_EDGES = ("1970-01-01T00:00:00Z", "2000-02-29T23:59:59.999999999+14:00", "0001-01-01T00:00:00Z",
                    "9999-12-31T23:59:59.9-23:59", "2017-10-07T10:41:31.846531+00:00", "2038-01-19T03:14:08Z")


def _timestamp(d: _Digits) -> str:
    if d.below(16) == 15:
        return d.pick(_TIMESTAMP_EDGES)
    year = 1970 + d.below(131) if d.below(4) else 1 + d.below(9999)
    month = 1 + d.below(12)
    day = min(1 + d.below(31), calendar.monthrange(year, month)[1])  # clamp rather than reject
    clock = f"{d.below(24):02d}:{d.below(60):02d}:{d.below(60):02d}"
    digits = d.below(10)
    fraction = f".{d.below(10**digits):0{digits}d}" if digits else ""
    offset = d.pick(_OFFSETS) if d.below(2) else f"{d.pick(('+', '-'))}{d.below(24):02d}:{d.below(60):02d}"
    return f"{year:04d}-{month:02d}-{day:02d}{d.pick(('T', 'T', 'T', 't'))}{clock}{fraction}{offset}"


DATE_TIMES: st.SearchStrategy[str] = _composed(12, _timestamp)

# -- uri: RFC 3986 as rfc3986-validator reads it. Non-ASCII appears percent-encoded UTF-8 (raw, it would
# be an IRI, which fails `uri`), IDN hosts in punycode.
_HOSTS = ("example.com", "api.example.org", "hooks.example.net", "localhost", "a-b.c-d.example.io",
          "xn--bcher-kva.example", "xn--fsq.xn--0zwm56d", "EXAMPLE.COM", "127.0.0.1", "192.0.2.10",
          "[::1]", "[2001:db8::1]", "[2001:db8:0:0:1:0:0:1]", "[::ffff:192.0.2.1]", "sub.example.co.uk")
_USERINFO = ("", "", "", "", "", "user@", "user:p%40ss@")
_SEGMENTS = ("v1", "hooks", "report", "k016y", "a-b_c.~", "%20", "@", "x:y", "", "!$&'()*+,;=", "index.html",
             "441cd01e-d82d-485c-95d8-c8c498417649", *(quote(s, safe="") for s in (*_EDGE_STRINGS, *_TRICKY_CHARS)))


def _uri(d: _Digits) -> str:
    scheme = d.pick(("https", "http", "HTTPS"))
    authority = d.pick(_USERINFO) + d.pick(_HOSTS) + (f":{1 + d.below(65535)}" if d.below(4) == 3 else "")
    path = "".join("/" + d.pick(_SEGMENTS) for _ in range(d.below(5)))
    query = "&".join(f"{d.pick(_SEGMENTS)}={d.pick(_SEGMENTS)}" for _ in range(d.below(4)))
    fragment = "#" + d.pick(_SEGMENTS) if d.below(4) == 3 else ""
    return f"{scheme}://{authority}{path}" + (f"?{query}" if query else "") + fragment


URIS: st.SearchStrategy[str] = _composed(24, _uri)

# -- email: jsonschema only asks for an "@"; these are also addresses a strict validator (RFC 5322 dot-atom,
# RFC 6531 for the UTF-8 ones) accepts: no quoted local parts, no IP-literal domains, real-looking domains.
_LOCAL_ATOMS = ("a", "jo", "john", "jane.doe", "x_y", "o'neil", "user+tag", "first.last", "a1", "UPPER",
                "test-123", "#!$%&*=?^`{|}~", "name_42")
_UTF8_ATOMS = ("zoë", "用户", "josé", "δοκιμή", "ñandú")
_DOMAINS = ("example.com", "example.org", "mail.example.co.uk", "sub.example.io", "xn--bcher-kva.de", "EXAMPLE.NET")
_UTF8_DOMAINS = ("bücher.de", "例え.jp", "пример.рф")


def _email(d: _Digits) -> str:
    utf8 = d.below(4) == 3  # most addresses are ASCII; a quarter use RFC 6531's UTF-8
    atoms, domains = (_LOCAL_ATOMS + _UTF8_ATOMS, _DOMAINS + _UTF8_DOMAINS) if utf8 else (_LOCAL_ATOMS, _DOMAINS)
    local = ".".join(d.pick(atoms) for _ in range(1 + d.below(3)))
    return f"{local}@{d.pick(('', '', 'mail.', 'a-1.'))}{d.pick(domains)}"


EMAILS: st.SearchStrategy[str] = _composed(8, _email)

FORMATS: dict[str, st.SearchStrategy[str]] = {"uuid": UUIDS, "date-time": DATE_TIMES, "uri": URIS, "email": EMAILS}

# Strings each format's checker rejects: the replacements for "format(...)" breaks.
BAD_FORMAT_VALUES: dict[str, tuple[str, ...]] = {
    "uuid": ("", "not-a-uuid", "441cd01e-d82d-485c-95d8-c8c49841764", "441cd01ed82d485c95d8c8c498417649",
             "{441cd01e-d82d-485c-95d8-c8c498417649}", "g41cd01e-d82d-485c-95d8-c8c498417649"),
    "date-time": ("", "yesterday", "2017-10-07 10:41:31", "2017-10-07T10:41:31", "2017-02-30T00:00:00Z",
                  "2017-10-07T24:00:00Z", "0000-01-01T00:00:00Z", "2017-10-07T10:41:31+0530", "1507372891"),
    "uri": ("", "example.com/path", "/relative/path", "http://exa mple.com/", "https://example.com/ü",
            "://missing-scheme", "1http://example.com"),
    "email": ("", "no-at-sign", "user.example.com"),
}


# --------------------------------------------------------------------------------------------------------
# Compiling nodes into strategies
# --------------------------------------------------------------------------------------------------------

# Names a forward-compatible receiver must ignore, picked to trip naive code: JSON-pointer escapes,
# prototype names, look-alikes of documented names, non-ASCII, the empty name.
_EXTRA_KEYS = ("x_extra", "futureField", "_links", "v2", "ünknown", "🙂", "", "a/b", "a~b", "__proto__",
               "constructor", "$ref", "null", "ID", "id ", "data​", "𝄞")


def _extra_properties(d: _Digits) -> dict[str, Any]:
    return {d.pick(_EXTRA_KEYS) if d.below(2) else _string(d): _any_json(d) for _ in range(d.below(4))}


EXTRA_PROPERTIES: st.SearchStrategy[dict[str, Any]] = _composed(40, _extra_properties)


def _with_extras(base: st.SearchStrategy[dict[str, Any]], known: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects from ``base`` plus undocumented properties; a declared name is never overwritten."""

    def merge(pair: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        body, extra = pair
        for key, value in extra.items():
            if key not in known:
                body[key] = value
        return body

    return st.tuples(base, EXTRA_PROPERTIES).map(merge)


class _Compiler:
    """Strategies for nodes, cached per (node, ref depth): every event of a platform shares its $defs."""

    def __init__(self, extras: bool) -> None:
        self.extras = extras
        self._cache: dict[tuple[int, int], st.SearchStrategy[Any]] = {}

    def strategy(self, node: _Node, depth: int = 0) -> st.SearchStrategy[Any]:
        key = (id(node), depth)
        if key not in self._cache:
            self._cache[key] = self._build(node, depth)
        return self._cache[key]

    def _build(self, node: _Node, depth: int) -> st.SearchStrategy[Any]:
        if node.ref is not None:
            return self.strategy(node.ref, depth + 1) if depth < MAX_REF_DEPTH else _minimal(node.ref, ())
        if node.const is not _MISSING or node.enum is not None:
            return _constants(node)
        if node.any_of:
            return st.one_of([self.strategy(branch, depth) for branch in node.any_of])
        if node.types is None:
            return ANY_JSON
        return st.one_of([self._of_type(node, t, depth) for t in node.types])

    def _of_type(self, node: _Node, json_type: str, depth: int) -> st.SearchStrategy[Any]:
        if json_type == "string":
            return FORMATS[node.format] if node.format else TEXT
        if json_type == "array":
            items = self.strategy(node.items, depth) if node.items else ANY_JSON
            return st.lists(items, max_size=3)
        if json_type == "object":
            return self._object(node, depth)
        return _SCALAR_BY_TYPE[json_type]

    def _object(self, node: _Node, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        props = node.properties
        required = {name: self.strategy(props[name], depth) if name in props else ANY_JSON for name in node.required}
        optional = {name: self.strategy(sub, depth) for name, sub in props.items() if name not in required}
        base = _objects(required, optional)
        if self.extras and node.additional:
            return _with_extras(base, frozenset(props) | frozenset(node.required))
        return base


def _objects(required: dict[str, st.SearchStrategy[Any]],
             optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with every required property and any subset of the optional ones.

    Which optional properties appear is one draw of random bytes used as a bit mask (each property present
    half the time; shrinking drops them): ``st.fixed_dictionaries(optional=...)`` spends two draws per key,
    and Qualified's models have a dozen optional properties each, nested four deep. Bytes rather than an
    integer because Hypothesis leans integers towards small values, which would starve the last properties.
    """
    required_items = tuple(required.items())
    optional_items = tuple(optional.items())
    size = (len(optional_items) + 7) // 8
    mask = st.binary(min_size=size, max_size=size).map(lambda raw: int.from_bytes(raw, "little"))

    @st.composite
    def draw_object(draw: st.DrawFn) -> dict[str, Any]:
        body = {name: draw(strategy) for name, strategy in required_items}
        present = draw(mask) if optional_items else 0
        for bit, (name, strategy) in enumerate(optional_items):
            if present >> bit & 1:
                body[name] = draw(strategy)
        return body

    return draw_object()


_SCALAR_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(), "boolean": st.booleans(), "integer": INTEGERS, "number": NUMBERS}


def _constants(node: _Node) -> st.SearchStrategy[Any]:
    values = _allowed_constants(node)
    strategy = st.sampled_from(values)
    # a fresh copy of an object or array constant each time, so that a check that edits a body edits its own
    return strategy.map(_copy) if any(isinstance(v, (dict, list)) for v in values) else strategy


def _allowed_constants(node: _Node) -> list[Any]:
    """The const/enum values that also satisfy a sibling `type`/`format`; none left is a schema error."""
    values = [node.const] if node.const is not _MISSING else list(node.enum or ())
    ok = [v for v in values
          if _type_ok(v, node.types) and (node.format is None or catalog.FORMAT_CHECKER.conforms(v, node.format))]
    if not ok:
        raise UnsupportedSchema(f"{node.where}: no `const`/`enum` value satisfies its `type`/`format`")
    return ok


def _minimal(node: _Node, seen: tuple[int, ...]) -> st.SearchStrategy[Any]:
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
            return FORMATS[node.format] if cheap == "string" and node.format else _SCALAR_BY_TYPE.get(cheap, TEXT)
    if "array" in types:
        return st.just([])
    required = {name: _minimal(node.properties[name], seen) if name in node.properties else st.none()
                for name in node.required}
    return st.fixed_dictionaries(required)


def _first_minimal(branches: tuple[_Node, ...], seen: tuple[int, ...], where: str) -> st.SearchStrategy[Any]:
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


@cache
def _parser() -> _Parser:
    return _Parser()


@cache
def _schema_node(schema_id: str) -> _Node:
    """The parsed graph of one catalog schema; raises :class:`UnsupportedSchema` for what we cannot generate."""
    return _parser().parse_id(schema_id)


@cache
def _compiler(extras: bool) -> _Compiler:
    return _Compiler(extras)


@cache
def body_strategy(schema_id: str, *, extras: bool = False) -> st.SearchStrategy[Any]:
    """Bodies valid against one schema (format checking on), compiled once per ``(schema_id, extras)``."""
    return _compiler(extras).strategy(_schema_node(schema_id))


ADHOC_URI = "https://hookproof.dev/schemas/adhoc.json"


def strategy_for(schema: dict[str, Any] | bool, *, extras: bool = False) -> st.SearchStrategy[Any]:
    """Values valid against a schema that is not in the catalog (it may ``$ref`` the catalog's); not cached.

    For trying the compiler on a new schema before it joins ``schemas/``, and for tests.
    """
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    node = _Parser(schema_store.registry().with_resource(ADHOC_URI, resource)).parse_id(ADHOC_URI)
    return _Compiler(extras).strategy(node)  # a compiler of its own: its cache is keyed by node identity


# --------------------------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------------------------

def _event_names(platform: str, event: str | None) -> list[str]:
    if event is None:
        return list(catalog.profile(platform).events)
    catalog.event(platform, event)  # raises CatalogError for an unknown name
    return [event]


def events(platform: str, event: str | None = None, *, extras: bool = False,
           secret: str | None = None) -> st.SearchStrategy[Delivery]:
    """Valid deliveries (body and the documented headers) of one event, or of every event of ``platform``.

    For Xobin the "events" are the registration API's ``request`` and ``response`` bodies. With
    ``extras=True`` undocumented properties appear in every open object, for forward-compatibility checks.
    Combine with :func:`with_examples` so that the documented examples are tried first.
    """
    names = _event_names(platform, event)
    return st.one_of([
        body_strategy(catalog.event(platform, name).schema_id, extras=extras).map(
            lambda body, name=name: delivery_for(platform, name, body, secret))
        for name in names
    ])


def documented_deliveries(platform: str, event: str | None = None, secret: str | None = None) -> list[Delivery]:
    """The platform document's own examples as deliveries, in catalog order (bodies are copies: the
    catalog's examples stay as documented whatever a check does to a delivery)."""
    return [delivery_for(platform, name, _copy(ex.body), secret)
            for name in _event_names(platform, event) for ex in catalog.event(platform, name).examples]


def with_examples(platform: str, event: str | None = None, *, argname: str | None = None,
                  secret: str | None = None) -> Callable[[F], F]:
    """A decorator adding the documented examples as ``@example`` cases, so every run tries them first.

    Works above or below ``@given`` and on functions defined inside a test body, as the conformance checks
    do. The delivery goes to the first positional argument, or to ``argname`` if given.
    """
    deliveries = documented_deliveries(platform, event, secret)

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
    replacement: st.SearchStrategy[Any] | None  # None: delete the property

    @property
    def label(self) -> str:
        return f"{self.rule}: {pointers.from_path(self.path) or '/'}"


_WRONG_TYPE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(), "boolean": st.booleans(), "integer": st.integers(-5, 5),
    "number": st.sampled_from((0.5, -1.5, 3.25)), "string": st.text(max_size=5),
    "array": st.lists(st.integers(0, 3), max_size=2),
    "object": st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
}


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
        yield _Break("const", path, st.sampled_from(_other_values(node.const)))
    elif node.enum is not None:
        outside = [v for m in node.enum for v in _other_values(m) if not any(_same_json(v, e) for e in node.enum)]
        yield _Break("enum", path, st.sampled_from(outside or ["\u0000not-in-enum"]))
    elif node.types is not None:
        yield _Break("type", path, _wrong_type(node.types))


def _breaks(node: _Node, value: Any, path: tuple[str | int, ...] = ()) -> Iterator[_Break]:
    """Every rule of ``node`` that ``value`` meets and that one replacement or deletion can break."""
    while node.ref is not None:
        node = node.ref
    yield from _value_breaks(node, path)
    if node.format and isinstance(value, str):
        bad = [v for v in BAD_FORMAT_VALUES[node.format] if not catalog.FORMAT_CHECKER.conforms(v, node.format)]
        yield _Break(f"format({node.format})", path, st.sampled_from(bad))
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
    body = _copy(body)
    parent = body
    for step in brk.path[:-1]:
        parent = parent[step]
    if brk.replacement is None:
        del parent[brk.path[-1]]
    else:
        parent[brk.path[-1]] = replacement
    return body


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def parse_label(label: str) -> tuple[str, str | None, str]:
    """``"format(uuid): /meta/delivery_id"`` -> ``("format", "uuid", "/meta/delivery_id")``; root is ``""``."""
    rule, _, pointer = label.partition(": ")
    fmt = None
    if rule.startswith("format(") and rule.endswith(")"):
        rule, fmt = "format", rule[len("format("):-1]
    return rule, fmt, "" if pointer == "/" else pointer


def breaks_only(schema_id: str, body: Any, label: str) -> bool:
    """Whether ``body`` fails its schema in exactly one place, for the rule and at the pointer ``label`` names.

    "One place" is one top-level error; inside an ``anyOf`` the named rule must be among the reasons.
    """
    errors = list(catalog.validator(schema_id).iter_errors(body))
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
            if where == parent and isinstance(error.instance, dict) and name not in error.instance \
                    and error.message.startswith(repr(name)):
                return True
    return any(_names(sub, rule, fmt, pointer) for sub in error.context or ())


_KIND_ORDER = ("required", "format", "enum", "const", "type")


def _in_drawn_order(draw: st.DrawFn, candidates: list[_Break]) -> list[_Break]:
    """The candidates, starting with one of a drawn kind of rule, then the rest.

    Drawing the kind first keeps rare rules (a bad format, an enum) about as frequent as the many `type`
    rules; kinds are ordered so that Hypothesis's lean towards index 0 favours the most common real break.
    """
    kinds = sorted(dict.fromkeys(brk.rule for brk in candidates), key=lambda r: _KIND_ORDER.index(r.split("(")[0]))
    kind = kinds[draw(st.integers(0, len(kinds) - 1))]
    of_kind = [brk for brk in candidates if brk.rule == kind]
    first = draw(st.integers(0, len(of_kind) - 1))
    return of_kind[first:] + of_kind[:first] + [brk for brk in candidates if brk.rule != kind]


@cache
def _invalid_bodies(schema_id: str) -> st.SearchStrategy[tuple[Any, str]]:
    node = _schema_node(schema_id)
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
            replacement = None if brk.replacement is None else draw(brk.replacement)
            broken = _apply(body, brk, replacement)
            if breaks_only(schema_id, broken, brk.label):
                return broken, brk.label
        assume(False)
        raise AssertionError("unreachable: assume(False) raises")

    return draw_invalid()


def invalid_events(platform: str, event: str | None = None, *,
                   secret: str | None = None) -> st.SearchStrategy[Delivery]:
    """Deliveries that break exactly one rule of their event's schema, named in ``Delivery.breaks``.

    Labels read ``"<rule>: <JSON pointer>"``, the rule being ``required``, ``type``, ``const``, ``enum`` or
    ``format(<name>)`` (e.g. ``"required: /meta/delivery_id"``; the whole body is ``/``). Every delivery is
    checked against the validator before it is returned, so the label is the reason it fails. Breaking a
    ``const`` on an event-name field makes the body name another (or no) event; the headers stay those of
    the event it was generated for.
    """
    names = _event_names(platform, event)
    return st.one_of([
        _invalid_bodies(catalog.event(platform, name).schema_id).map(
            lambda pair, name=name: delivery_for(platform, name, pair[0], secret, breaks=pair[1]))
        for name in names
    ])

