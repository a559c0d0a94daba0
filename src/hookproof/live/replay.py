"""Send a recording again: the same method, body and headers, authenticated again as it was when recorded.

A recording never holds a secret, so a header that carried one (or a signature made with one) is ``***`` in
it; a replay signs the bytes it sends with the secret the user gives now - the right one where the request
was authenticated, a wrong one where the check sent a forgery on purpose, none where it sent none - or says
that it cannot (docs/decisions.md#replay-signing). ``fresh`` gives the delivery new per-delivery metadata
(DoSelect ``meta.delivery_id`` and ``meta.timestamp``, a Standard Webhooks ``webhook-id``), so that a
receiver that drops repeats processes it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookproof import auth, catalog, pointers, redact
from hookproof.contract import CatalogError, Contract, header_value
from hookproof.live.recording import HOP_BY_HOP, Recording, meets
from hookproof.wire import encode

WRONG_SUFFIX = "x"  # a forgery is signed with the secret plus this (receiver_checks' wrong secret)


class ReplayError(ValueError):
    """A recording that cannot be sent as it was: the message says what is missing."""


@dataclass(frozen=True)
class Prepared:
    """What a replay puts on the wire."""

    method: str
    headers: dict[str, str]
    body: bytes


def _contracts(rec: Recording) -> list[Contract]:
    try:
        plat = catalog.platform(rec.platform)
        if rec.contract and rec.contract in plat.contract_names:
            return [plat.contract(rec.contract)]
        return list(plat.contracts)
    except CatalogError as exc:
        raise ReplayError(f"recording {rec.id}: {exc}") from None


def _freshened(body: Any, spec: Contract) -> Any:
    now = datetime.now(UTC).isoformat()
    for entry in spec.metadata:
        if entry.value in ("uuid4", "now") and pointers.has(body, entry.pointer):
            body = pointers.replaced(body, entry.pointer, str(uuid.uuid4()) if entry.value == "uuid4" else now)
    return body


def prepare(rec: Recording, secret: str | None, *, fresh: bool = False) -> Prepared:
    """The request to send for ``rec``: its headers without the hop-by-hop ones the client sets itself, its
    body (with new metadata when ``fresh``), and authentication made again over those bytes."""
    specs = _contracts(rec)
    content = rec.body
    body = rec.json_body()
    if fresh and body is not None:
        body = _freshened(body, specs[0])
        content = encode(body)
    headers = {k: v for k, v in rec.headers if k.lower() not in HOP_BY_HOP}
    schemes = auth.schemes_of(specs)
    hidden = {h.lower() for s in schemes for h in s.headers}
    present = [s for s in schemes if auth.present(s, headers)]
    msg_id = header_value(headers, "webhook-id") or ""
    if fresh and msg_id:
        msg_id = "msg_" + uuid.uuid4().hex
    headers = {k: v for k, v in headers.items() if k.lower() not in hidden}
    if rec.auth == "none" or not present:
        return Prepared(rec.method, headers, content)
    if not secret:
        names = ", ".join(h for s in present for h in s.headers)
        raise ReplayError(f"recording {rec.id} was authenticated ({names}), which it keeps masked: give the secret "
                          "with --secret or $HOOKPROOF_SECRET to sign it again")
    key = secret + WRONG_SUFFIX if rec.auth == "wrong" else secret
    redact.remember(secret, key)
    signer = specs[0]._replace(auth=tuple(present))
    headers.update(auth.sign(signer, content, body, key, msg_id=msg_id))
    return Prepared(rec.method, headers, content)


def resend(session: Any, url: str, rec: Recording, out: Prepared) -> tuple[Any, bool]:
    """Send ``out`` to ``url`` as often as ``rec`` was sent (a duplicate pair twice) through ``session`` (a
    :class:`hookproof.conformance.http_exchange.HttpSession`), and whether the last answer is the one ``rec``
    expects (for a failure: whether the fault is fixed). The answer is held to the stricter of the session's
    timeout and the recording's ``within`` (the seconds its platform documents it waits): one later than
    ``within`` gets an error saying so, as ``answers_in_time`` gives it in a run."""
    for _ in range(rec.repeat):
        exchange = session.send(url, out.headers, out.body, method=out.method)
    if exchange.error is None and rec.within is not None and exchange.elapsed > rec.within:
        exchange.error = (f"answered after {exchange.elapsed:.2f} s, later than the {rec.within:g} s "
                          f"{_waiter(rec)} waits for an answer (the recording's 'within')")
    return exchange, meets(rec.expected, exchange.status, exchange.error)


def _waiter(rec: Recording) -> str:
    """Who waits ``within``: the recording's contract by its label (``qualified 2024-01``), else its platform."""
    try:
        plat = catalog.platform(rec.platform)
        if rec.contract and rec.contract in plat.contract_names:
            return plat.contract(rec.contract).label
    except CatalogError:
        pass
    return rec.platform


def word(rec: Recording, ok: bool) -> str:
    """A failure is FIXED or STILL FAILING (as Schemathesis' replay says); a capture is OK or FAILED."""
    if rec.kind == "failure":
        return "FIXED" if ok else "STILL FAILING"
    return "OK" if ok else "FAILED"
