"""Authentication on the wire, for every scheme a contract may state: a shared secret in a header, an HMAC
signature header, and the Standard Webhooks scheme.

The reference sender signs with :func:`sign`; the reference receiver, the sender checks and
``hookproof validate`` verify with :func:`verify`; the receiver checks forge with both. Secrets and
signatures are compared in constant time on bytes (``hmac.compare_digest`` raises for non-ASCII ``str``),
and the bytes are the ones sent: a WSGI server hands headers over decoded as Latin-1 (PEP 3333), which
:func:`header_bytes` undoes (docs/decisions.md#header-bytes).

``hmac`` and ``hashlib`` (OpenSSL's, about 3 ms to import) are imported where a digest is made or compared
(:func:`same_bytes`, ``_hmac``), and ``base64`` where a digest or key is encoded or decoded: the
reference sender command imports this module at each of a run's dozens of starts, and a shared secret or no
authentication at all (every platform's first contract) needs neither.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from hookproof import pointers
from hookproof.contract import AuthScheme, Contract, HmacSignature, SharedSecret, StandardWebhooks, header_value

STANDARD_PREFIX = "whsec_"


def header_bytes(value: str) -> bytes:
    """A header's bytes as sent, from the Latin-1 reading a WSGI server gives (PEP 3333)."""
    return value.encode("latin-1", errors="replace")


def as_received(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as a sender writes them (text, sent as UTF-8) read as a receiver reads them (PEP 3333's Latin-1),
    the form :func:`verify` takes: a non-ASCII secret, read back from the text it was sent as, was "wrong"."""
    return {name: value.encode("utf-8").decode("latin-1") for name, value in headers.items()}


def secret_bytes(secret: str) -> bytes:
    return secret.encode("utf-8")


def same_bytes(given: bytes, expected: bytes) -> bool:
    """Whether two byte strings are equal, in constant time (``hmac.compare_digest``)."""
    import hmac  # here and in _hmac only: see the module's docstring

    return hmac.compare_digest(given, expected)


def _hmac(key: bytes, message: bytes, algorithm: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def refusal_status(given: str | None, expected: bytes) -> int | None:
    """401 when the header is missing or empty, 403 when it holds anything but ``expected``, else None."""
    if not given:
        return 401
    return None if same_bytes(header_bytes(given), expected) else 403


def _signed_bytes(scheme: HmacSignature, content: bytes, body: Any) -> bytes | None:
    if scheme.signs == "body":
        return content
    value = pointers.find(body, scheme.signs)
    if value is None:
        return None
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).encode("utf-8")


def _encode(digest: bytes, encoding: str) -> str:
    import base64  # here, in standard_key and standard_signature: only a signing contract needs it

    return base64.b64encode(digest).decode("ascii") if encoding == "base64" else digest.hex()


def _accepted_values(scheme: HmacSignature, digest: bytes) -> list[bytes]:
    """Every header value that carries ``digest`` in the scheme's encoding (hex in either case)."""
    encodings = ("hex", "base64") if scheme.encoding == "hex-or-base64" else (scheme.encoding,)
    values = []
    for encoding in encodings:
        text = _encode(digest, encoding)
        values += [text, text.upper()] if encoding == "hex" else [text]
    return [(scheme.prefix + v).encode("ascii") for v in values]


def _digest(scheme: HmacSignature, secret: str, content: bytes, body: Any) -> bytes | None:
    signed = _signed_bytes(scheme, content, body)
    if signed is None:
        return None
    return _hmac(secret_bytes(secret), signed, scheme.algorithm)


def hmac_value(scheme: HmacSignature, secret: str, content: bytes, body: Any) -> str | None:
    """The header value an HMAC scheme puts on this delivery (None when the signed field is absent)."""
    digest = _digest(scheme, secret, content, body)
    return None if digest is None else scheme.prefix + _encode(digest, scheme.encoding)


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after ``whsec_``; any other secret as its bytes."""
    import base64

    if secret.startswith(STANDARD_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret_bytes(secret)


def standard_signature(secret: str, msg_id: str, timestamp: str, content: bytes) -> str:
    import base64

    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii", errors="replace") + b"." + content
    return "v1," + base64.b64encode(_hmac(standard_key(secret), signed, "sha256")).decode("ascii")


def sign(contract: Contract, content: bytes, body: Any, secret: str | None, *, msg_id: str = "",
         timestamp: float | None = None) -> dict[str, str]:
    """The authentication headers of one request carrying ``content`` (the bytes) of ``body`` (the JSON)."""
    if not secret:
        return {}
    headers: dict[str, str] = {}
    for scheme in contract.auth:
        if isinstance(scheme, SharedSecret):
            headers[scheme.header] = secret
        elif isinstance(scheme, HmacSignature):
            value = hmac_value(scheme, secret, content, body)
            if value is not None:
                headers[scheme.header] = value
        else:
            ts = str(int(time.time() if timestamp is None else timestamp))
            headers.update({"webhook-id": msg_id, "webhook-timestamp": ts,
                            "webhook-signature": standard_signature(secret, msg_id, ts, content)})
    return headers


class AuthProblem(NamedTuple):
    """Why one request does not authenticate; ``missing`` tells a missing header from a wrong value."""

    scheme: AuthScheme
    header: str
    missing: bool
    message: str


def verify(contract: Contract, headers: Mapping[str, str], content: bytes, body: Any, secret: str,
           now: float | None = None) -> list[AuthProblem]:
    """Every way the request fails the contract's authentication with ``secret``; empty when it passes.

    ``headers`` are as a WSGI server gives them (Latin-1 text) or as sent (ASCII): both read back as the
    bytes on the wire. The values themselves never appear in a problem.
    """
    return verify_schemes(contract.auth, headers, content, body, secret, now)


def schemes_of(contracts: Iterable[Contract]) -> tuple[AuthScheme, ...]:
    """The authentication schemes of several contracts, each once."""
    seen: dict[tuple[str, tuple[str, ...]], AuthScheme] = {}
    for contract in contracts:
        for scheme in contract.auth:
            seen.setdefault((scheme.scheme, scheme.headers), scheme)
    return tuple(seen.values())


def present(scheme: AuthScheme, headers: Mapping[str, str]) -> bool:
    return any(header_value(headers, name) for name in scheme.headers)


def verify_schemes(schemes: Iterable[AuthScheme], headers: Mapping[str, str], content: bytes, body: Any,
                   secret: str, now: float | None = None) -> list[AuthProblem]:
    problems: list[AuthProblem] = []
    for scheme in schemes:
        if isinstance(scheme, SharedSecret):
            got = header_value(headers, scheme.header)
            if got is None or got == "":
                problems.append(AuthProblem(scheme, scheme.header, True, f"header {scheme.header} is missing"))
            elif not same_bytes(header_bytes(got), secret_bytes(secret)):
                problems.append(AuthProblem(scheme, scheme.header, False,
                                            f"header {scheme.header} differs from the configured secret"))
        elif isinstance(scheme, HmacSignature):
            problems += _verify_hmac(scheme, headers, content, body, secret)
        else:
            problems += _verify_standard(scheme, headers, content, secret, time.time() if now is None else now)
    return problems


def _verify_hmac(scheme: HmacSignature, headers: Mapping[str, str], content: bytes, body: Any,
                 secret: str) -> list[AuthProblem]:
    got = header_value(headers, scheme.header)
    if not got:
        return [AuthProblem(scheme, scheme.header, True, f"header {scheme.header} is missing")]
    digest = _digest(scheme, secret, content, body)
    if digest is None:
        return [AuthProblem(scheme, scheme.header, False,
                            f"header {scheme.header} signs {scheme.signs}, which the body does not have")]
    given = header_bytes(got).strip()
    if not any([same_bytes(given, value) for value in _accepted_values(scheme, digest)]):
        what = "the body as sent" if scheme.signs == "body" else f"the body's {scheme.signs}"
        form = scheme.encoding + (f", prefix {scheme.prefix!r}" if scheme.prefix else "")
        return [AuthProblem(scheme, scheme.header, False, f"header {scheme.header} is not the "
                            f"HMAC-{scheme.algorithm.upper()} of {what} with the configured secret ({form})")]
    return []


def _verify_standard(scheme: StandardWebhooks, headers: Mapping[str, str], content: bytes, secret: str,
                     now: float) -> list[AuthProblem]:
    values = {name: header_value(headers, name) for name in scheme.headers}
    missing = [name for name, value in values.items() if not value]
    if missing:
        return [AuthProblem(scheme, missing[0], True, f"header {', '.join(missing)} missing")]
    msg_id, stamp, signatures = (str(values[n]) for n in scheme.headers)
    try:
        at = int(stamp)
    except ValueError:
        return [AuthProblem(scheme, "webhook-timestamp", False, "header webhook-timestamp is not whole seconds")]
    if abs(now - at) > scheme.tolerance:
        return [AuthProblem(scheme, "webhook-timestamp", False,
                            f"header webhook-timestamp is {now - at:+.0f} s off, more than {scheme.tolerance:g} s")]
    expected = standard_signature(secret, header_bytes(msg_id).decode("utf-8", "replace"), stamp, content)
    offered = [s for s in header_bytes(signatures).decode("ascii", "replace").split(" ") if s]
    if not any(same_bytes(s.encode("ascii", "replace"), expected.encode("ascii")) for s in offered):
        return [AuthProblem(scheme, "webhook-signature", False,
                            "header webhook-signature holds no v1 signature of id.timestamp.body with the configured "
                            "secret")]
    return []
