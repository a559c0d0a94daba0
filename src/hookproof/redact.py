"""The one masking path: every string hookproof prints or writes goes through :func:`text` or :func:`data`.

A run registers every secret it knows (``--hookproof-secret``, the API key, URL passwords, and the wrong
keys the checks derive from the real one) with :func:`remember`; from then on each occurrence is replaced
by ``***`` - in text and in bytes, in the UTF-8 form and in the Latin-1 reading of it that a WSGI server
gives, percent-encoded, and in base64 and hex (a receiver that echoes a Basic ``Authorization`` or logs a
value's bytes) - before anything is cut to length, so that no prefix of a secret survives a truncation.
"""

from __future__ import annotations

import binascii
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_LENGTH = 3  # shorter "secrets" would mask ordinary text; they are still never printed on purpose
_URLSAFE = str.maketrans("+/", "-_")  # base64's URL-safe alphabet (RFC 4648, section 5)
MIN_ENCODED = 8  # characters: a shorter base64 piece (two bytes of a short secret) is found in ordinary text

_lock = threading.Lock()
_secrets: set[str] = set()


def _encoded(raw: bytes) -> set[str]:
    """The forms of ``raw`` that survive inside a longer encoded value: its hex (either case), and its base64
    (standard and URL-safe) as it appears wherever the value holds it. Base64 encodes three bytes at a time, so
    the secret's encoding inside, say, ``user:secret``'s depends on where the secret starts: for each of the three
    alignments, the groups made of the secret's bytes alone, which no neighbour changes. Only the up to two
    bytes at each end that share a group with a neighbour stay partly visible (a few bits each). binascii, not
    base64: the reference sender command's delivery imports only what it uses (tests/test_plain_http.py)."""
    def b64(data: bytes) -> list[str]:
        standard = binascii.b2a_base64(data, newline=False).decode("ascii")
        return [standard, standard.translate(_URLSAFE)]

    forms = {raw.hex(), raw.hex().upper()}
    for skip in range(3):
        forms.update(b64(raw[skip:skip + (len(raw) - skip) // 3 * 3]))
    for form in b64(raw):  # the value alone, padded and not
        forms |= {form, form.rstrip("=")}
    return {form for form in forms if len(form) >= MIN_ENCODED}


def _forms(secret: str) -> set[str]:
    """The secret, the Latin-1 reading of its UTF-8 bytes (how a WSGI server shows a non-ASCII header value),
    its base64 and hex (:func:`_encoded`), and each of those percent-encoded (how it appears once a peer puts it
    into a URL)."""
    forms = {secret, secret.encode("utf-8").decode("latin-1"), *_encoded(secret.encode("utf-8"))}
    for form in list(forms):
        forms |= {quote(form, safe=""), quote(form), quote_plus(form)}
    return forms


def remember(*secrets: str | None) -> None:
    """Mask these from now on (empty values are ignored)."""
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_LENGTH:
                _secrets.update(_forms(secret))


def forget_all() -> None:
    """For tests: start again with nothing known."""
    with _lock:
        _secrets.clear()


def known() -> list[str]:
    """The secrets, longest first, so that one containing another is masked whole."""
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def text(value: str, *extra: str | None) -> str:
    """``value`` with every known secret (and ``extra`` ones) masked."""
    for secret in sorted({*known(), *(form for e in extra if e for form in _forms(e))}, key=len, reverse=True):
        value = value.replace(secret, MASK)
    return value


def data(value: bytes, *extra: str | None) -> bytes:
    """``value`` with every known secret (and ``extra`` ones) masked, in UTF-8 and as Latin-1 bytes."""
    for secret in sorted({*known(), *(form for e in extra if e for form in _forms(e))}, key=len, reverse=True):
        value = value.replace(secret.encode("utf-8"), MASK.encode())
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
