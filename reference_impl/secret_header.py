"""Checking a shared secret sent in a header, as both reference servers do (Codewars' X-Webhook-Secret,
Xobin's API key): constant time, on the bytes that were sent."""

from __future__ import annotations

import hmac

from conformance.delivery import header_bytes


def refusal_status(given: str | None, expected: bytes) -> int | None:
    """401 when the header is missing or empty, 403 when it holds anything but ``expected``, else None.

    ``hmac.compare_digest`` on bytes: on ``str`` it raises for non-ASCII text (shared/NOTES.md), and the
    bytes are the ones the client sent, not WSGI's Latin-1 reading of them.
    """
    if not given:
        return 401
    return None if hmac.compare_digest(header_bytes(given), expected) else 403
