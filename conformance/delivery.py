"""A delivery: one event's body and the headers a sender puts on the wire with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance import catalog


@dataclass(frozen=True)
class Delivery:
    platform: str
    event: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    # For deliberately invalid deliveries: the one rule broken (e.g. "required: /meta/delivery_id").
    breaks: str | None = None

    def encoded(self) -> bytes:
        """The body as the wire carries it: UTF-8 JSON, non-ASCII kept as is."""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def header_bytes(value: str) -> bytes:
    """A header's bytes as sent: a WSGI server hands them over decoded as Latin-1 (PEP 3333), which this
    undoes. Compare them with the UTF-8 bytes of the expected text, so that a non-ASCII secret matches
    when it was sent as UTF-8 (docs/decisions.md#header-bytes)."""
    return value.encode("latin-1", errors="replace")


def delivery_for(
    platform: str, event: str, body: Any, secret: str | None = None, breaks: str | None = None
) -> Delivery:
    """A delivery with exactly the headers the platform documents for ``event``."""
    return Delivery(platform, event, body, catalog.profile(platform).delivery_headers(event, secret), breaks)
