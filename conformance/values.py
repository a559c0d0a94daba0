"""JSON values that real validators accept, as cheap Hypothesis strategies: text, numbers, and the
four formats our schemas use (uuid, date-time, uri, email).

Hypothesis charges tens of microseconds per draw, so a formatted string is composed from small tables of
pieces by random digits (:class:`Composed`) rather than by ``st.emails()`` or regex strategies, the
slowest part of generation (docs/performance.md#generation): alone, from one draw of random bytes; inside
a payload, from the payload's own byte stream (:class:`Reader`), with no draw of its own. The tables
still reach non-ASCII and odd-but-valid forms: percent-encoded UTF-8 paths, IPv6 hosts, odd-but-valid
mailboxes, lower-case ``t``/``z`` timestamps (docs/decisions.md#generated-values).
:mod:`hookproof.conformance.strategies` builds deliveries from these.
"""

from __future__ import annotations

import calendar
import math
import random
import re
import struct
from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from uuid import UUID

from hypothesis import strategies as st

# Characters a receiver most often gets wrong: accents, other scripts, right-to-left, zero-width, emoji
# (astral plane, joiners, flags), JSON-escaped ones. Hypothesis's own text() is biased towards ASCII.
_TRICKY_CHARS = (
    "éßøçñ"
    "ЖжЯ"
    "中文日本語한국어"
    "عربيעברית"
    "\u202e\u200b\u200d\ufeff"
    "🙂💩🇮🇳👩\u200d💻"
    "𝄞𐍈𝕏\U00010000\U0010fffd"
    "\"\\/'<>&\n\t\x00\x7f"
)
_EDGE_STRINGS = (
    "",
    " ",
    "null",
    "true",
    "0",
    "-1",
    "NaN",
    "ünïcödé",
    "日本語",
    "🙂",
    "𝄞𝄞",
    "a\u0000b",
    "\u202eevil",
    "' OR 1=1 --",
    "<script>",
    "line\nbreak",
    "x" * 300,
)


class Digits:
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


class Reader:
    """The bytes one payload is built from, drawn from Hypothesis in a few large chunks.

    A Hypothesis draw costs tens of microseconds of span and choice bookkeeping, a byte of a drawn chunk
    about half a microsecond. So a payload's structure (which optional properties, which branch, how many
    items) and its values all read from the same chunks: one drawn when the first byte is asked for
    (comfortably more than the payload reads on average), more when a large payload runs past it.
    Decisions read the bytes in order, each its own, so shrinking a byte towards zero simplifies the
    decision that read it, and zero bytes make the simplest payload.
    """

    REFILL = 64
    __slots__ = ("_buf", "_draw", "_next", "_pos")

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], expected: float) -> None:
        self._draw = draw
        self._next = self._ample(expected)  # the size of the next chunk drawn
        self._buf = b""
        self._pos = 0

    @staticmethod
    def _ample(expected: float) -> int:
        # Payloads vary about their average size; a spare byte costs a hundredth of another draw.
        return math.ceil(expected * 1.5) + 16

    def expect(self, expected: float) -> None:
        """The rest of the payload reads about ``expected`` bytes: draw that much at once if they run out."""
        self._next = max(self.REFILL, self._ample(expected) - (len(self._buf) - self._pos))

    def _refill(self, need: int) -> None:
        size = max(need, self._next)
        self._buf = self._buf[self._pos:] + self._draw(_chunk(size))
        self._pos, self._next = 0, self.REFILL

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            self._refill(n)
        chunk = self._buf[self._pos:self._pos + n]
        self._pos += n
        return chunk

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            self._refill(1)
        self._pos += 1
        return self._buf[self._pos - 1]

    def below(self, bound: int) -> int:
        """A structural choice in ``range(bound)`` from one byte (two past 256 options); byte 0 picks 0."""
        if bound <= 1:
            return 0
        if bound <= 256:
            return self.byte() * bound >> 8
        return int.from_bytes(self.take(2), "big") * bound >> 16

    def draw(self, strategy: st.SearchStrategy[T]) -> T:
        """A value Hypothesis draws itself, for the rare part of a schema no :class:`Composed` covers."""
        return self._draw(strategy)

    def value(self, leaf: Composed[T]) -> T:
        return leaf.build(_StreamDigits(self.byte))


class _StreamDigits(Digits):
    """:class:`Digits` over a payload's byte stream, reading bytes only as the digits need them.

    A value's own fixed slice would have to fit its longest form, and most values are short (a JSON value
    reads 8 of its 40 bytes on average). Here ``n`` is kept uniform over ``range(span)``: a byte read adds
    ``byte * span`` (the new byte the most significant digit), and a digit divides both. ``span`` stays at
    least 256 times the bound, so each digit is even within 1/256; zero bytes still give digit 0.
    """

    __slots__ = ("_byte", "span")

    def __init__(self, byte: Callable[[], int]) -> None:
        self.n = 0
        self.span = 1
        self._byte = byte

    def below(self, bound: int) -> int:
        if bound <= 1:
            return 0
        limit = bound << 8
        while self.span < limit:
            self.n += self._byte() * self.span
            self.span <<= 8
        self.n, digit = divmod(self.n, bound)
        self.span //= bound
        return digit


_CHUNKS: dict[int, st.SearchStrategy[bytes]] = {}
# Hypothesis (6.131 and later) answers a draw of n bytes now and then with a bytes literal of length n from the
# process's own modules (hypothesis.internal.constants_ast: those outside site-packages, the standard library
# and test files), but never with one longer than 50 bytes. What a run draws would otherwise depend on which
# modules it imported (the user's application code their conftest.py imports, an editable install), and the
# process that draws ahead, which imports fewer, would draw otherwise than the run. So every draw of bytes
# here is longer than that
# (tests/test_strategies.py::test_what_is_drawn_does_not_depend_on_the_literals_of_the_processs_modules).
UNMATCHED_BYTES = 51


def _chunk(size: int) -> st.SearchStrategy[bytes]:
    """``size`` random bytes, or more: never few enough for a literal of the process's modules to stand in."""
    size = max(size, UNMATCHED_BYTES)
    if size not in _CHUNKS:
        _CHUNKS[size] = st.binary(min_size=size, max_size=size)
    return _CHUNKS[size]


class Composed(Generic[T]):
    """A value built from random digits: alone as :attr:`strategy` (one draw of ``nbytes`` bytes), or read
    from a payload's :class:`Reader` beside the other values of that payload."""

    __slots__ = ("_expected", "build", "nbytes", "strategy")

    def __init__(self, nbytes: int, build: Callable[[Digits], T]) -> None:
        self.nbytes = nbytes
        self.build = build
        self.strategy: st.SearchStrategy[T] = _chunk(nbytes).map(lambda raw: build(Digits(raw)))
        self._expected: float | None = None

    def build_from(self, reader: Reader) -> T:
        return self.build(_StreamDigits(reader.byte))

    @property
    def expected(self) -> float:
        """How many bytes of a :class:`Reader` a value reads on average (it sizes a payload's first chunk):
        measured once over fixed pseudo-random bytes, so it follows the builder as that changes."""
        if self._expected is None:
            source = random.Random(0)
            count = [0]

            def byte() -> int:
                count[0] += 1
                return source.getrandbits(8)

            for _ in range(200):
                self.build(_StreamDigits(byte))
            self._expected = count[0] / 200
        return self._expected


# -- text (a property typed `string` without format or pattern): a third each of mostly-ASCII text, text of
# the tricky characters, and the edge strings; the simplest is "".
def _text(d: Digits) -> str:
    kind = d.below(3)
    if kind == 0:
        return _EDGE_STRINGS[d.below(len(_EDGE_STRINGS))]
    if kind == 1:
        return "".join(_char(d) for _ in range(d.below(13)))
    return "".join(_TRICKY_CHARS[d.below(len(_TRICKY_CHARS))] for _ in range(d.below(9)))


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
_NESTED: tuple[Any, ...] = (
    {},
    [],
    [[]],
    {"": None},
    {"a": {"b": {"c": [1, "two", None]}}},
    [{"id": 1}, {"id": "1"}],
    {"🙂": [True, False, -0.0]},
    [[[[[]]]]],
    {"k": {"k": {"k": {"k": "deep"}}}},
)


def _char(d: Digits) -> str:
    kind = d.below(4)
    if kind < 2:
        return _ASCII[d.below(len(_ASCII))]
    if kind == 2:
        return _TRICKY_CHARS[d.below(len(_TRICKY_CHARS))]
    code = d.below(0x110000 - 0x800)  # any code point but the surrogates, which UTF-8 cannot carry
    return chr(code if code < 0xD800 else code + 0x800)


def string_from(d: Digits) -> str:
    if d.below(8) == 0:
        return d.pick(_EDGE_STRINGS)
    return "".join(_char(d) for _ in range(d.below(13)))


def _float(d: Digits) -> float:
    kind = d.below(4)
    if kind == 0:
        return _FLOAT_EDGES[d.below(len(_FLOAT_EDGES))]
    if kind == 1:  # any finite double, from its bits
        value = struct.unpack("<d", d.below(2**64).to_bytes(8, "little"))[0]
        return value if math.isfinite(value) else 0.0
    return (d.below(2_000_001) - 1_000_000) / 10 ** d.below(7)


def any_json(d: Digits, depth: int = 0) -> Any:
    kind = d.below(16)
    if kind < 2:
        return None
    if kind == 2:
        return d.below(2) == 1
    if kind < 6:
        choices = (d.below(2001) - 1000, _INT_EDGES[d.below(len(_INT_EDGES))], d.below(2 * SAFE_INT + 1) - SAFE_INT)
        return choices[kind - 3]
    if kind == 6:
        return _float(d)
    if kind < 12:
        return string_from(d)
    if depth >= 2 or kind == 15:
        return json_copy(_NESTED[d.below(len(_NESTED))])
    if kind < 14:
        return [any_json(d, depth + 1) for _ in range(d.below(4))]
    return {string_from(d): any_json(d, depth + 1) for _ in range(d.below(4))}


def _integer(d: Digits) -> int:
    kind = d.below(4)
    if kind < 2:  # the edges a quarter of the time each way: 0 is the simplest
        return _INT_EDGES[d.below(len(_INT_EDGES))]
    if kind == 2:
        return d.below(2001) - 1000
    bits = (8, 16, 32, 53)[d.below(4)]  # small magnitudes as often as large ones, as Hypothesis leans
    return max(-SAFE_INT, min(SAFE_INT, d.below(2 ** (bits + 1) + 1) - 2**bits))


def _number(d: Digits) -> float | int:
    kind = d.below(3)
    if kind == 0:
        return _integer(d)
    if kind == 1:
        return _FLOAT_EDGES[d.below(len(_FLOAT_EDGES))]
    return _float(d)


ANY_JSON_LEAF: Composed[Any] = Composed(40, any_json)
TEXT_LEAF: Composed[str] = Composed(24, _text)
INTEGER_LEAF: Composed[int] = Composed(10, _integer)
NUMBER_LEAF: Composed[float | int] = Composed(12, _number)
ANY_JSON: st.SearchStrategy[Any] = ANY_JSON_LEAF.strategy
TEXT: st.SearchStrategy[str] = TEXT_LEAF.strategy


# -- uuid: RFC 4122's string form (hookproof.formats): any 128 bits as 8-4-4-4-12 hex digits, either case.
_UUID_EDGES = (
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "441cd01e-d82d-485c-95d8-c8c498417649",
)


def _uuid(d: Digits) -> str:
    kind = d.below(8)
    bits = d.below(2**128)
    if kind == 7:
        return _UUID_EDGES[bits % len(_UUID_EDGES)]
    if kind < 4:  # a version-4 UUID, as most senders make them
        bits = (bits & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    text = str(UUID(int=bits))
    return text.upper() if kind in (3, 6) else text


UUIDS_LEAF: Composed[str] = Composed(18, _uuid)
UUIDS: st.SearchStrategy[str] = UUIDS_LEAF.strategy


# -- date-time: RFC 3339 (hookproof.formats): real calendar days, either case of T and Z. Never a space for the
# T (ajv-formats takes it, the RFC's grammar does not), never a leap second (valid, but Python's datetime, and so
# pydantic, cannot hold second 60: docs/decisions.md#format-semantics).
_OFFSETS = ("Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-23:59", "z")
_TIMESTAMP_EDGES = (
    "1970-01-01T00:00:00Z",
    "2000-02-29T23:59:59.999999999+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9-23:59",
    "2017-10-07T10:41:31.846531+00:00",
    "2038-01-19T03:14:08Z",
)


def _timestamp(d: Digits) -> str:
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


DATE_TIMES_LEAF: Composed[str] = Composed(12, _timestamp)
DATE_TIMES: st.SearchStrategy[str] = DATE_TIMES_LEAF.strategy

# -- uri: RFC 3986 (hookproof.formats), absolute with an authority, as every validator reads it. Non-ASCII
# appears percent-encoded UTF-8 (raw, it would be an IRI, which fails `uri`), IDN hosts in punycode.
_HOSTS = (
    "example.com",
    "api.example.org",
    "hooks.example.net",
    "localhost",
    "a-b.c-d.example.io",
    "xn--bcher-kva.example",
    "xn--fsq.xn--0zwm56d",
    "EXAMPLE.COM",
    "127.0.0.1",
    "192.0.2.10",
    "[::1]",
    "[2001:db8::1]",
    "[2001:db8:0:0:1:0:0:1]",
    "[::ffff:192.0.2.1]",
    "sub.example.co.uk",
)
_USERINFO = ("", "", "", "", "", "user@", "user:p%40ss@")
_SEGMENTS = (
    "v1",
    "hooks",
    "report",
    "k016y",
    "a-b_c.~",
    "%20",
    "@",
    "x:y",
    "",
    "!$&'()*+,;=",
    "index.html",
    "441cd01e-d82d-485c-95d8-c8c498417649",
    *(quote(s, safe="") for s in (*_EDGE_STRINGS, *_TRICKY_CHARS)),
)


def _uri(d: Digits) -> str:
    scheme = d.pick(("https", "http", "HTTPS"))
    authority = d.pick(_USERINFO) + d.pick(_HOSTS) + (f":{1 + d.below(65535)}" if d.below(4) == 3 else "")
    path = "".join("/" + d.pick(_SEGMENTS) for _ in range(d.below(5)))
    query = "&".join(f"{d.pick(_SEGMENTS)}={d.pick(_SEGMENTS)}" for _ in range(d.below(4)))
    fragment = "#" + d.pick(_SEGMENTS) if d.below(4) == 3 else ""
    return f"{scheme}://{authority}{path}" + (f"?{query}" if query else "") + fragment


URIS_LEAF: Composed[str] = Composed(24, _uri)
URIS: st.SearchStrategy[str] = URIS_LEAF.strategy

# -- email: RFC 5321 mailboxes (hookproof.formats), and only the ones every mainstream validator accepts too
# (docs/decisions.md#format-semantics): dot-atom local parts (no quoted strings), domains of two or more LDH
# labels (no address literals, no single label). ASCII only: UTF-8 addresses are `idn-email`, which our
# schemas do not use.
_LOCAL_ATOMS = (
    "a",
    "jo",
    "john",
    "jane.doe",
    "x_y",
    "o'neil",
    "user+tag",
    "first.last",
    "a1",
    "UPPER",
    "test-123",
    "#!$%&*=?^`{|}~",
    "name_42",
)
_DOMAINS = ("example.com", "example.org", "mail.example.co.uk", "sub.example.io", "xn--bcher-kva.de", "EXAMPLE.NET",
            "xn--e1afmkfd.xn--p1ai", "a1.b2.example")


def _email(d: Digits) -> str:
    local = ".".join(d.pick(_LOCAL_ATOMS) for _ in range(1 + d.below(3)))
    return f"{local}@{d.pick(('', '', 'mail.', 'a-1.'))}{d.pick(_DOMAINS)}"


EMAILS_LEAF: Composed[str] = Composed(8, _email)
EMAILS: st.SearchStrategy[str] = EMAILS_LEAF.strategy

FORMAT_LEAVES: dict[str, Composed[str]] = {"uuid": UUIDS_LEAF, "date-time": DATE_TIMES_LEAF, "uri": URIS_LEAF,
                                       "email": EMAILS_LEAF}
FORMATS: dict[str, st.SearchStrategy[str]] = {name: leaf.strategy for name, leaf in FORMAT_LEAVES.items()}

# -- ISO 8601 date-times (viasto's `time`): RFC 3339 ones, and the forms ISO 8601 allows beyond them - no
# offset, basic format, a space for the T, a comma before the fraction, week and ordinal dates, minutes only.
ISO_8601 = (r"^\d{4}(-?\d{2}-?\d{2}|-?W\d{2}-?\d|-?\d{3})([Tt ]\d{2}(:?\d{2}(:?\d{2}([.,]\d+)?)?)?"
            r"([Zz]|[+-]\d{2}(:?\d{2})?)?)?$")
_OFFSET = re.compile(r"([Zz]|[+-]\d{2}:\d{2})$")
_ISO_EDGES = ("2015-03-16T15:32:34.174752", "20150316T153234Z", "2015-03-16 15:32:34", "2015-W12-1T15:32Z",
              "2015-075T15:32:34,5+01", "2015-03-16", "2015-03-16T15:32+0100")


def _iso_8601(d: Digits) -> str:
    kind = d.below(4)
    if kind == 0:
        return d.pick(_ISO_EDGES)
    stamp = _timestamp(d)
    if kind == 1:  # naive: the offset dropped
        return _OFFSET.sub("", stamp)
    return stamp


PATTERN_LEAVES: dict[str, Composed[str]] = {ISO_8601: Composed(13, _iso_8601)}
# Strings no pattern of ours matches: the replacements for "pattern" breaks.
BAD_PATTERN_VALUES: tuple[str, ...] = ("", "yesterday", "16/03/2015 15:32", "2015-3-16", "1426520354", "T15:32:34Z")

# Strings each format's checker rejects: the replacements for "format(...)" breaks.
BAD_FORMAT_VALUES: dict[str, tuple[str, ...]] = {
    "uuid": (
        "",
        "not-a-uuid",
        "441cd01e-d82d-485c-95d8-c8c49841764",
        "441cd01ed82d485c95d8c8c498417649",
        "{441cd01e-d82d-485c-95d8-c8c498417649}",
        "g41cd01e-d82d-485c-95d8-c8c498417649",
    ),
    "date-time": (
        "",
        "yesterday",
        "2017-10-07 10:41:31",
        "2017-10-07T10:41:31",
        "2017-02-30T00:00:00Z",
        "2017-10-07T24:00:00Z",
        "2017-10-07T10:41:60Z",
        "2017-10-07T10:41:31.Z",
        "1507372891",
    ),
    "uri": (
        "",
        "example.com/path",
        "/relative/path",
        "http://exa mple.com/",
        "https://example.com/ü",
        "://missing-scheme",
        "1http://example.com",
    ),
    "email": ("", "no-at-sign", "user.example.com", "a..b@example.com", ".a@example.com", "a@-x.example.com",
              "a b@example.com"),
}


def json_copy(value: Any) -> Any:
    """A copy of a JSON value, nested objects and arrays included (cheaper than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value
