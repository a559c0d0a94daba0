r"""The one masking path: every string hookproof prints or writes goes through :func:`text` or :func:`data`.

A run registers every secret it knows (``--hookproof-secret``, the API key, URL passwords, and the wrong
keys the checks derive from the real one) with :func:`remember`; from then on each occurrence is replaced
by ``***`` - in text and in bytes, in the UTF-8 form and in the Latin-1 reading of it that a WSGI server
gives, percent-encoded, JSON string-escaped (``\/``, ``\"``, ``\u00f6``: as any common encoder escapes it),
and inside base64 or hex (a receiver that echoes a Basic ``Authorization``, or logs a value's bytes): a base64
or hex token whose bytes, from any alignment, hold a secret is masked whole, so that no byte of the secret
stays readable at its edges - before anything is cut to length, so that no prefix of a secret survives a
truncation.
"""

from __future__ import annotations

import binascii
import functools
import re
import threading
from collections.abc import Iterable
from typing import AnyStr
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_LENGTH = 3  # shorter "secrets" would mask ordinary text; they are still never printed on purpose

# A token that may be base64: a run of its characters (standard and URL-safe alphabets, RFC 4648, section 5),
# as a peer may have passed them on (percent-encoded: %2B %2F %3D; JSON-escaped: \/), and its padding. The
# lookbehind takes each run whole, from its start (and spares the regex engine a retry inside every word).
_B64_CHARS = r"A-Za-z0-9+/_%\\-"
_B64_TOKEN = r"(?<![{0}])[{0}]{{{1},}}=*"
_HEX_TOKEN = r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{{{0},}}"
# Compiled where first used (re's cache keeps them), not at import: the sender command imports this module.
_BETWEEN_TOKENS = rb"[^A-Za-z0-9+/_%\\=-]"  # where a long value may be cut without cutting a token
_CHUNK = 4096
_NOT_B64 = r"[^A-Za-z0-9+/]+"
_PERCENT = r"%(2[BbFf]|3[Dd])"
_PERCENT_CHARS = {"2b": "+", "2f": "/", "3d": "="}
_STANDARD = str.maketrans("-_", "+/")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_STREAM = bytes.maketrans(b"-_", b"+/"), bytes(set(range(256)) - set(_B64_ALPHABET + b"-_"))
_HEX_STREAM = bytes(set(range(256)) - set(b"0123456789ABCDEFabcdef"))
# What JSON encoders escape inside a string, besides what JSON requires (", \ and control characters): PHP
# the slash (\/), Go and .NET < > & ' + (\u003c ...), Gson = and ', and with ensure_ascii (Python's
# default, PHP's) everything outside ASCII, as \uXXXX in lower or (Jackson) upper case.
_JSON_ESCAPED = frozenset("\"\\/<>&'=+`")
_JSON_SHORT = {'"': r"\"", "\\": r"\\", "/": r"\/", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def _json_unescaped_b64(run: AnyStr) -> AnyStr:
    """Base64's ``+``, ``/`` and ``=`` where a JSON encoder wrote them as ``\\u002B``, ``\\u002F``, ``\\u003D``
    (either case; System.Text.Json does so by default), so that the token decodes."""
    if isinstance(run, bytes):
        return re.sub(rb"\\u00(2[BbFf]|3[Dd])", lambda m: bytes([int(m.group(1), 16)]), run)
    return re.sub(r"\\u00(2[BbFf]|3[Dd])", lambda m: chr(int(m.group(1), 16)), run)


def _padded(run: AnyStr) -> AnyStr:
    """A run of base64 characters as binascii decodes it whole: a missing padding added, and a lone last
    character (which spells no byte) left out."""
    rest = len(run) % 4
    if rest == 1:
        return run[:-1]
    return run + (b"=" if isinstance(run, bytes) else "=") * (-rest % 4)


def _json_escapable(c: str) -> bool:
    return c in _JSON_ESCAPED or not " " <= c <= "~"


def _json_pattern(secret: str, as_bytes: bool) -> str:
    r"""A regex for ``secret`` inside a JSON string as any encoder may have escaped it: each character that one
    escapes as is, as its short escape (``\/``) or as ``\uXXXX`` (a surrogate pair past U+FFFF), in either case.
    ``as_bytes``: for a bytes pattern, once encoded as Latin-1 (each character as its UTF-8 bytes)."""
    parts = []
    for c in secret:
        literal = re.escape(c.encode("utf-8").decode("latin-1") if as_bytes else c)
        if not _json_escapable(c):
            parts.append(literal)
            continue
        code = ord(c)
        units = [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
        forms = [literal, "".join(rf"\\u(?i:{unit:04x})" for unit in units)]
        if c in _JSON_SHORT:
            forms.append(re.escape(_JSON_SHORT[c]))
        parts.append(f"(?:{'|'.join(forms)})")
    return "".join(parts)


def _forms(secret: str) -> set[str]:
    """The secret, the Latin-1 reading of its UTF-8 bytes (how a WSGI server shows a non-ASCII header value),
    and each of those percent-encoded (how it appears once a peer puts it into a URL): the forms replaced as
    they are. Its JSON-escaped forms, base64 and hex are found by :class:`_Masker`."""
    forms = {secret, secret.encode("utf-8").decode("latin-1")}
    for form in list(forms):
        encoded = {quote(form, safe=""), quote(form), quote_plus(form)}
        # RFC 3986 percent-encoding is case-blind (section 2.1): a peer may write %c3%a4 for what quote writes %C3%A4
        forms |= encoded | {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
    return forms


class _Masker:
    """What masks one set of secrets, made once for it: the literal forms (:func:`_forms`), a regex of their
    JSON-escaped forms (run only where a backslash is), and the bytes that no base64 or hex token may decode to.

    Base64 and hex are masked by decoding: a test at C speed first (:meth:`_may_hold`), then, only where it
    finds a secret, the token scan, which decodes each run long enough to spell the shortest secret (22
    characters of base64 for 16 bytes) from each of its four (hex: two) alignments, since a value such as
    ``user:secret`` puts the secret anywhere in its encoding (docs/decisions.md#masking)."""

    def __init__(self, secrets: frozenset[str]) -> None:
        forms: set[str] = set()
        escaped: set[str] = set()
        raw: set[bytes] = set()
        for secret in secrets:
            forms |= _forms(secret)
            if len(secret) < MIN_LENGTH:  # an ``extra`` of one call: as given and percent-encoded only
                continue
            readings = {secret, secret.encode("utf-8").decode("latin-1")}
            escaped |= {r for r in readings if any(_json_escapable(c) for c in r)}
            raw |= {r.encode("utf-8") for r in readings}
            if max(map(ord, secret)) < 256:
                raw.add(secret.encode("latin-1"))  # what a peer that writes Latin-1 makes of it
        self.forms = sorted(forms, key=len, reverse=True)
        self.byte_forms = [form.encode("utf-8") for form in self.forms]
        self.raw = sorted(raw, key=len, reverse=True)
        ordered = sorted(escaped, key=len, reverse=True)
        self.json_text = re.compile("|".join(_json_pattern(s, False) for s in ordered)) if ordered else None
        self.json_bytes = (re.compile("|".join(_json_pattern(s, True) for s in ordered).encode("latin-1"))
                           if ordered else None)
        shortest = len(self.raw[-1]) if self.raw else 0
        self.b64_chars = -(-shortest * 8 // 6)  # the fewest characters that spell ``shortest`` bytes, 6 bits each
        self.b64 = re.compile(_B64_TOKEN.format(_B64_CHARS, self.b64_chars).encode("ascii"))
        self.hex = re.compile(_HEX_TOKEN.format(2 * shortest).encode("ascii"))

    def _holds(self, decoded: bytes) -> bool:
        return any(raw in decoded for raw in self.raw)

    def _may_hold(self, value: bytes) -> tuple[bool, bool]:
        """Whether some base64 token, and some hex token, of ``value`` may hold a secret: a test at C speed that
        spares the token-by-token scan nearly always. Every character of neither alphabet is deleted and the
        rest decoded as one stream, from each alignment: each token is a run of that stream, so at one of them
        its bytes are decoded as they are (a hit can also straddle two tokens: the scan then tells)."""
        if b"%" in value:
            for code, char in ((b"%2B", b"+"), (b"%2b", b"+"), (b"%2F", b"/"), (b"%2f", b"/")):
                value = value.replace(code, char)
        if b"\\" in value:
            value = _json_unescaped_b64(value.replace(b"\\/", b"/"))
        b64 = value.translate(*_B64_STREAM)
        hexa = value.translate(None, _HEX_STREAM)
        return (any(self._holds(binascii.a2b_base64(_padded(b64[k:]))) for k in range(4)),
                any(self._holds(binascii.unhexlify(hexa[k:k + (len(hexa) - k) // 2 * 2])) for k in range(2)))

    def _base64_holds(self, token: str) -> bool:
        """Whether ``token`` (base64 characters, perhaps percent-encoded or JSON-escaped) decodes, from any of
        its four alignments, to bytes that hold a secret. Each run between padding or other characters is
        decoded on its own: binascii stops at padding, and a run may start anywhere in a token."""
        if "%" in token:
            token = re.sub(_PERCENT, lambda m: _PERCENT_CHARS[m.group(1).lower()], token)
        if "\\" in token:
            token = _json_unescaped_b64(token.replace("\\/", "/"))
        token = token.translate(_STANDARD)
        for run in re.split(_NOT_B64, token) if not token.isalnum() else (token,):
            if len(run) < self.b64_chars:
                continue
            if any(self._holds(binascii.a2b_base64(_padded(run[skip:]))) for skip in range(4)):
                return True
        return False

    def _hex_holds(self, token: str) -> bool:
        return any(self._holds(binascii.unhexlify(token[skip:skip + (len(token) - skip) // 2 * 2]))
                   for skip in (0, 1))

    def _hex_mask(self, token: str, escaped: bool) -> str:
        """The token as ``***`` when it holds a secret. ``escaped``: it follows ``\\u``, so its first four digits
        belong to a JSON escape (``\\u00e9``) and are kept, with the rest judged on its own: masking them too left
        ``\\u***``, and a conforming delivery's capture was stored as text that is no JSON."""
        if escaped:
            return token[:4] + (self._hex_mask(token[4:], False) if len(token) > 4 else "")
        return MASK if len(token) >= 2 and self._hex_holds(token) else token

    def _b64_mask(self, token: str) -> str:
        """The token as ``***`` when it holds a secret - but for a backslash at its end that escapes what follows
        (a JSON string's closing quote): it stays, so that a masked JSON text is still JSON."""
        if not self._base64_holds(token):
            return token
        return MASK + "\\" * ((len(token) - len(token.rstrip("\\"))) % 2)

    def _tokens(self, value: bytes, b64: bool, hexa: bool) -> bytes:
        """``value`` with each base64 (when ``b64``) and hex (when ``hexa``) token that holds a secret masked."""
        if b64:
            value = self.b64.sub(lambda m: self._b64_mask(m.group().decode("ascii")).encode("ascii"), value)
        if hexa:
            value = self.hex.sub(lambda m: self._hex_mask(m.group().decode("ascii"), value[m.start() - 2:m.start()]
                                                          == b"\\u").encode("ascii"), value)
        return value

    def _encoded(self, value: bytes) -> bytes:
        """``value`` with each base64 and hex token that holds a secret masked. The token-by-token scan is slow
        (0.8 s a MiB of JSON for a 3-byte secret, every word a token), so it runs only where
        :meth:`_may_hold` finds a secret: in the whole value, then in each 4 KiB piece of it."""
        if not self.raw:
            return value
        b64, hexa = self._may_hold(value)
        if not (b64 or hexa) or len(value) <= _CHUNK:
            return self._tokens(value, b64, hexa) if b64 or hexa else value
        pieces, start = [], 0
        while start < len(value):
            cut = re.compile(_BETWEEN_TOKENS).search(value, start + _CHUNK)
            end = cut.start() if cut else len(value)
            piece = value[start:end]
            b64, hexa = self._may_hold(piece)
            pieces.append(self._tokens(piece, b64, hexa) if b64 or hexa else piece)
            start = end
        return b"".join(pieces)

    def text(self, value: str) -> str:
        if self.raw:
            raw = value.encode("utf-8", "surrogatepass")
            masked = self._encoded(raw)
            if masked is not raw:
                value = masked.decode("utf-8", "surrogatepass")
        if self.json_text is not None and "\\" in value:
            value = self.json_text.sub(MASK, value)
        for form in self.forms:
            value = value.replace(form, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        value = self._encoded(value)
        if self.json_bytes is not None and b"\\" in value:
            value = self.json_bytes.sub(MASK.encode(), value)
        for form in self.byte_forms:
            value = value.replace(form, MASK.encode())
        return value


@functools.lru_cache(maxsize=32)
def _masker(secrets: frozenset[str]) -> _Masker:
    return _Masker(secrets)


def _current(extra: tuple[str | None, ...]) -> _Masker | None:
    """The masker of every known secret and ``extra``; None when there is none (nothing to scan for)."""
    secrets = _secrets  # replaced whole, never changed in place: no lock needed to read it
    if any(extra):
        secrets = secrets.union(e for e in extra if e)
    return _masker(secrets) if secrets else None


def remember(*secrets: str | None) -> None:
    """Mask these from now on (empty values are ignored)."""
    global _secrets
    with _lock:
        _secrets = _secrets.union(s for s in secrets if s and len(s) >= MIN_LENGTH)


def forget_all() -> None:
    """For tests: start again with nothing known."""
    global _secrets
    with _lock:
        _secrets = frozenset()


def known() -> list[str]:
    """The forms of the secrets replaced as they are (:func:`_forms`), longest first, so that one containing
    another is masked whole."""
    masker = _current(())
    return list(masker.forms) if masker else []


def text(value: str, *extra: str | None) -> str:
    """``value`` with every known secret (and ``extra`` ones) masked."""
    masker = _current(extra)
    return masker.text(value) if masker else value


def data(value: bytes, *extra: str | None) -> bytes:
    """``value`` with every known secret (and ``extra`` ones) masked, in UTF-8 and as Latin-1 bytes."""
    masker = _current(extra)
    return masker.data(value) if masker else value


def json_value(value: object) -> object:
    """A parsed JSON value with every known secret masked in its strings and keys; a number whose digits hold
    one becomes the string ``***``. Masking the JSON text instead could leave no JSON (a secret spelled as a
    number, masked in place, is ``"n": ***``): what ``--json`` prints must parse."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(str(k)): json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and text(repr(value)) != repr(value):
        return MASK
    return value


def url(value: str) -> str:
    """The URL without user:password, for records and messages (and the password remembered as a secret)."""
    try:
        parts = urlsplit(value)
        if parts.username is None and parts.password is None:
            return text(value)
        if parts.password:
            remember(parts.password, unquote(parts.password))
        netloc = f"{MASK}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port out of range, a bad IPv6 literal: show nothing of the authority rather than guess
        return "(an unparseable URL)"
    return text(urlunsplit(parts._replace(netloc=netloc)))


def target(value: str) -> str:
    """A request target (path and query) fit to keep: every known secret masked, and any segment, name or value
    that holds one in a percent-encoding of its own (``%2D`` for ``-``, which :func:`text` cannot foresee)
    masked whole, since the sender that wrote it decodes it to the secret."""
    path, mark, query = text(value).partition("?")

    def piece(part: str) -> str:
        decoded = unquote(part.replace("+", " "))
        return MASK if text(decoded) != decoded else part

    kept = "/".join(piece(segment) for segment in path.split("/"))
    if mark:
        kept += "?" + "&".join("=".join(piece(p) for p in field.split("=", 1)) for field in query.split("&"))
    return kept


def headers(items: Iterable[tuple[str, str]], secret_names: Iterable[str]) -> list[tuple[str, str]]:
    """Headers fit to print or keep: those named in ``secret_names`` (any case) as ``***`` whatever they hold,
    since a signature made with a secret is as good as the secret for that body; known secrets masked in the
    others."""
    hidden = {name.lower() for name in secret_names}
    return [(k, MASK if k.lower() in hidden else text(v)) for k, v in items]
