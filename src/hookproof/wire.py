"""A delivery as it travels: one event's body, the bytes that carry it, and the headers a sender puts on the
wire with it (the contract's own, then authentication, computed over the exact bytes sent)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from hookproof import auth, catalog
from hookproof.contract import Contract, StandardWebhooks


def encode(body: Any) -> bytes:
    """The body as the wire carries it: UTF-8 JSON, non-ASCII kept as is; NaN and infinities refused
    (JSON has none). A lone surrogate, which UTF-8 cannot carry, travels as JSON's ``\\u`` escape."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, allow_nan=False).encode("ascii")


class Delivery(NamedTuple):
    """One delivery of ``event`` under one contract. ``headers`` are the contract's documented headers;
    authentication is added by :meth:`wire_headers`, once the bytes are known. A named tuple, as the contract
    model is (:mod:`hookproof.contract`): ``delivery._replace(body=...)`` is a changed copy."""

    platform: str
    contract: str
    event: str
    body: Any
    headers: Mapping[str, str] = MappingProxyType({})
    # For deliberately invalid deliveries: the one rule broken (e.g. "required: /meta/delivery_id").
    breaks: str | None = None
    # Where the body comes from, for reports: a documented example (its file and citation), else generated.
    origin: str | None = None

    @property
    def spec(self) -> Contract:
        return catalog.contract(self.platform, self.contract)

    def encoded(self) -> bytes:
        return encode(self.body)

    def wire_headers(self, secret: str | None, content: bytes | None = None) -> dict[str, str]:
        """The headers as sent with ``secret``: the documented ones plus authentication over ``content``
        (default: the encoded body). The Standard Webhooks id is derived from the body, so that a delivery
        sent again is the same message."""
        content = self.encoded() if content is None else content
        spec = self.spec
        msg_id = ""
        if secret and any(isinstance(scheme, StandardWebhooks) for scheme in spec.auth):
            import uuid  # here, not at the top: the reference sender's process imports this module for encode()

            msg_id = "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, content.decode("utf-8", "replace")).hex
        return {**self.headers, **auth.sign(spec, content, self.body, secret, msg_id=msg_id)}


def delivery_for(platform: str, event: str, body: Any, *, contract: str | None = None,
                 breaks: str | None = None, origin: str | None = None) -> Delivery:
    """A delivery with exactly the headers the contract documents for ``event`` (before authentication)."""
    spec = catalog.contract(platform, contract)
    return Delivery(platform, spec.name, event, body, spec.delivery_headers(event), breaks, origin)
