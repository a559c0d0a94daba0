"""Receiver checks: what a webhook receiver must do with what the platform may send.

Each check is a small function ``check(ctx, platform)`` registered in :mod:`hookproof.conformance.registry`;
it returns quietly or raises :class:`~hookproof.conformance.report.CheckFailure`. A receiver faces the real
wire, so the checks send what any of the platform's contracts may send (``ctx.contracts`` narrows it). They
know nothing of pytest: ``tests/`` calls them directly against broken receivers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache

from hypothesis import given

from hookproof import catalog, pointers, redact
from hookproof.conformance.http_exchange import Exchange, HttpSession
from hookproof.conformance.registry import check
from hookproof.conformance.report import CheckFailure, curl_command, excerpt
from hookproof.conformance.run_settings import DEFAULT_EXAMPLES, runner
from hookproof.contract import Contract, SharedSecret
from hookproof.wire import Delivery, delivery_for

UNKNOWN = "hookproof_unknown"


@dataclass
class ReceiverContext:
    """Where the receiver is and how to talk to it, for one run."""

    url_for: Callable[[str], str]  # platform -> URL its deliveries go to
    session: HttpSession
    secret: str | None = field(default=None, repr=False)
    examples: int = DEFAULT_EXAMPLES
    seed: int | None = None
    shrink: bool = False
    contract: str | None = None  # check against this contract only (default: every contract of the platform)
    # The events the receiver subscribed to, in any contract's spelling (default: all); Qualified and Codewars let
    # an account choose, and a receiver is not to be sent what it did not ask for.
    events: frozenset[str] | None = None
    hypothesis: Callable[[Callable[..., None]], Callable[..., None]] = field(init=False)

    def __post_init__(self) -> None:
        self.hypothesis = runner(self.examples, self.seed, self.shrink)
        redact.remember(self.secret)

    def contracts(self, platform: str) -> list[Contract]:
        """The contracts whose deliveries the receiver is sent: the one asked for, else every current one
        (a historical contract only when named). With a secret, a contract that authenticates nothing is left
        out where another contract of the platform authenticates (docs/decisions.md#auth-schemes)."""
        plat = catalog.platform(platform)
        if self.contract:
            return [plat.contract(self.contract)]
        chosen = [c for c in plat.contracts if not c.historical]
        if self.secret and any(c.auth for c in chosen):
            chosen = [c for c in chosen if c.auth]
        return chosen

    def subscribed(self, spec: Contract) -> list[str]:
        """The events of ``spec`` the receiver is sent: those it subscribed to, by its name or the document's."""
        if self.events is None:
            return list(spec.events)
        return [name for name, event in spec.events.items() if name in self.events or event.base_name in self.events]

    def fresh(self, delivery: Delivery, check: str = "") -> Delivery:
        """The delivery with new per-delivery ids where the contract says a sender sets one (DoSelect
        meta.delivery_id): generated cases are distinct deliveries, and a real sender never reuses an id."""
        body = delivery.body
        # Derived from the case, not random: Hypothesis re-sends a failing case and must see it fail the same way.
        # Salted with the check, so that two checks drawing the same body still send two deliveries.
        case_id = uuid.uuid5(uuid.NAMESPACE_URL, check + json.dumps(body, sort_keys=True, default=str))
        for entry in delivery.spec.metadata:
            if entry.value == "uuid4" and pointers.has(body, entry.pointer):
                body = pointers.replaced(body, entry.pointer, str(case_id))
        return replace(delivery, body=body)

    def send(self, delivery: Delivery, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> Exchange:
        """Send a delivery, signed with the run's secret over the bytes sent, unless ``headers`` are given."""
        content = delivery.encoded() if body is None else body
        sent = delivery.wire_headers(self.secret, content) if headers is None else headers
        return self.session.send(self.url_for(delivery.platform), sent, content)


def _answer_excerpt(exchange: Exchange, ctx: ReceiverContext | None) -> str:
    """The first bytes of the answer, with the secret masked: a receiver may echo the header it got."""
    return excerpt(redact.data(exchange.answer, ctx.secret if ctx else None))


def fail(check: str, summary: str, delivery: Delivery, exchange: Exchange, ctx: ReceiverContext | None = None,
         extra: tuple[str, ...] = ()) -> CheckFailure:
    """A failure that shows what was sent, what came back, and how to replay it."""
    spec = delivery.spec
    answered = f"status {exchange.status}" if exchange.status is not None else "no status"
    details = [
        f"sent: {exchange.method} {exchange.url}  ({len(exchange.body)} bytes"
        + (f"; breaks {delivery.breaks}" if delivery.breaks else "") + ")",
        f"what: {delivery.origin or f'a generated delivery of {delivery.event}'}, as contract {spec.label} sends it"
        + _spelling(spec, delivery.event),
        f"answer: {answered} after {exchange.elapsed:.3f} s: {exchange.error or _answer_excerpt(exchange, ctx)}",
        *extra,
    ]
    if exchange.status in (401, 403) and ctx is not None and not ctx.secret and spec.auth:
        details.append("hint: the target refused the delivery; if it requires a secret, pass --hookproof-secret")
    return CheckFailure(check, summary, platform=delivery.platform, event=delivery.event, details=details,
                        payload=exchange.body.decode("utf-8", errors="replace"),
                        replay=curl_command(exchange.url, exchange.headers, exchange.body, spec.secret_headers))


def _spelling(spec: Contract, event: str) -> str:
    """Where the contract renamed the event: how the document spells it (a receiver may know only that name)."""
    known = spec.events.get(event)
    if known is None or known.base_name is None:
        return ""
    return f" ({spec.title}; the document spells this event {known.base_name})"


def expect_2xx(check: str, ctx: ReceiverContext, delivery: Delivery) -> Exchange:
    exchange = ctx.send(delivery)
    if exchange.error:
        raise fail(check, f"the target {exchange.outcome()}", delivery, exchange, ctx)
    status = exchange.status or 0
    if 300 <= status < 400:
        raise fail(check, f"answered {status}, a redirect: senders do not follow redirects, so the delivery is lost",
                   delivery, exchange, ctx)
    if not 200 <= status < 300:
        raise fail(check, f"answered {status} to a valid delivery; expected 2XX", delivery, exchange, ctx)
    return exchange


def _accepted(check: str, ctx: ReceiverContext, delivery: Delivery) -> None:
    expect_2xx(check, ctx, delivery)


def _each_generated(check: str, ctx: ReceiverContext, platform: str, *, extras: bool = False,
                    examples: int | None = None, body: Callable[[Delivery], None]) -> None:
    """Run ``body`` on generated deliveries of every event of every contract checked."""
    from hookproof.conformance import strategies

    decorate = ctx.hypothesis if examples is None else runner(examples, ctx.seed, ctx.shrink)
    for spec in ctx.contracts(platform):
        for event in ctx.subscribed(spec):

            @decorate
            @strategies.with_examples(platform, event, contract=spec.name)  # the document's own examples first
            @given(strategies.events(platform, event, contract=spec.name, extras=extras))
            def prop(delivery: Delivery) -> None:
                body(ctx.fresh(delivery, check))

            prop()


@cache
def _drawn(platform: str, contract: str, event: str) -> Delivery:
    """One generated delivery of ``event``: a single derandomized draw, so every run sends the same."""
    from hookproof.conformance import strategies

    captured: list[Delivery] = []

    @runner(1)
    @given(strategies.events(platform, event, contract=contract))
    def grab(delivery: Delivery) -> None:
        captured.append(delivery)

    grab()
    return captured[0]


def _representatives(ctx: ReceiverContext, platform: str) -> Iterator[Delivery]:
    """One delivery per event of each contract checked: its documented example where there is one, else a
    generated one."""
    for spec in ctx.contracts(platform):
        for name in ctx.subscribed(spec):
            event = spec.events[name]
            if event.examples:
                ex = event.examples[0]
                yield delivery_for(platform, name, ex.body, contract=spec.name,
                                   origin=f"the documented example {ex.file} ({ex.source})")
            else:
                yield _drawn(platform, spec.name, name)


@check("receiver", "documented", needs=("examples",))
def documented_examples(ctx: ReceiverContext, platform: str) -> None:
    """Every example payload in the platform's documents is accepted with a 2XX."""
    from hookproof.conformance import strategies

    for spec in ctx.contracts(platform):
        for event in ctx.subscribed(spec):
            for delivery in strategies.documented_deliveries(platform, event, contract=spec.name):
                expect_2xx("documented_examples", ctx, delivery)


@check("receiver", "documented")
def generated_valid(ctx: ReceiverContext, platform: str) -> None:
    """Generated payloads valid against each event's schema are accepted with a 2XX, for every event."""
    _each_generated("generated_valid", ctx, platform, body=lambda d: _accepted("generated_valid", ctx, d))


@check("receiver", "robustness")
def unknown_properties(ctx: ReceiverContext, platform: str) -> None:
    """Valid payloads carrying properties the document does not list, at any depth, are accepted."""
    _each_generated("unknown_properties", ctx, platform, extras=True,
                    body=lambda d: _accepted("unknown_properties", ctx, d))


@check("receiver", "documented")
def duplicate_delivery(ctx: ReceiverContext, platform: str) -> None:
    """The same delivery sent twice (a retry) is answered 2XX both times."""

    def twice(delivery: Delivery) -> None:
        expect_2xx("duplicate_delivery", ctx, delivery)
        exchange = ctx.send(delivery)
        if exchange.error or not 200 <= (exchange.status or 0) < 300:
            raise fail("duplicate_delivery", f"accepted a delivery, then {exchange.outcome()} to the same delivery "
                       "sent again (a retry must not fail)", delivery, exchange, ctx)

    _each_generated("duplicate_delivery", ctx, platform, examples=min(ctx.examples, 3), body=twice)


def _malformed(ctx: ReceiverContext, delivery: Delivery) -> list[tuple[str, dict[str, str], bytes]]:
    """Bodies that are not a delivery, each signed as a real sender would sign those bytes."""
    encoded = delivery.encoded()
    cases = [("malformed JSON", encoded[:-1] or b"{", False), ("an empty body", b"", False),
             ("a JSON array", b"[" + encoded + b"]", False),
             ("a non-JSON Content-Type (text/plain)", encoded, True)]
    out = []
    for what, body, as_text in cases:
        headers = delivery.wire_headers(ctx.secret, body)
        if as_text:
            headers = {**headers, "Content-Type": "text/plain"}
        out.append((what, headers, body))
    return out


@check("receiver", "robustness")
def malformed_bodies(ctx: ReceiverContext, platform: str) -> None:
    """Malformed JSON, an empty body, a JSON array or a non-JSON Content-Type get a 4XX, never a 5XX."""
    delivery = next(_representatives(ctx, platform))
    for what, headers, body in _malformed(ctx, delivery):
        exchange = ctx.send(delivery, headers=headers, body=body)
        if exchange.error or not 400 <= (exchange.status or 0) < 500:
            raise fail("malformed_bodies", f"sent {what}; the target {exchange.outcome()}; expected 4XX, never 5XX",
                       replace(delivery, breaks=what), exchange, ctx)


def _forgeries(ctx: ReceiverContext, delivery: Delivery) -> list[tuple[str, dict[str, str]]]:
    """The delivery without its authentication, and with it made from a wrong secret."""
    assert ctx.secret
    spec = delivery.spec
    good = delivery.wire_headers(ctx.secret)
    wrong = delivery.wire_headers(ctx.secret + "x")
    names = {h.lower() for h in spec.secret_headers}
    bare = {k: v for k, v in good.items() if k.lower() not in names}
    return [("no " + ", ".join(spec.secret_headers), bare),
            (f"{', '.join(spec.secret_headers)} made with a wrong secret", wrong)]


@check("receiver", "documented", needs=("auth",))
def authentication_required(ctx: ReceiverContext, platform: str) -> None:
    """With a secret configured, a delivery without valid authentication gets 401 or 403; a valid one 2XX."""
    for delivery in _representatives(ctx, platform):
        spec = delivery.spec
        if not spec.auth or not ctx.secret:
            continue
        for what, headers in _forgeries(ctx, delivery):
            exchange = ctx.send(delivery, headers=headers)
            if exchange.error or exchange.status not in (401, 403):
                kind = "shared secret" if isinstance(spec.auth[0], SharedSecret) else "signature"
                raise fail("authentication_required", f"sent a delivery with {what}; the target {exchange.outcome()}; "
                           f"expected 401 or 403 (a receiver that checks no {kind} accepts forgeries)",
                           replace(delivery, breaks=what), exchange, ctx,
                           (f"rule: {spec.auth[0].source}",))
        expect_2xx("authentication_required", ctx, delivery)
        return


@check("receiver", "robustness")
def answers_in_time(ctx: ReceiverContext, platform: str) -> None:
    """Every event's delivery is answered within the response timeout (senders give up after a few seconds)."""
    for delivery in _representatives(ctx, platform):
        expect_2xx("answers_in_time", ctx, delivery)


@check("receiver", "robustness")
def no_redirect(ctx: ReceiverContext, platform: str) -> None:
    """No delivery is answered with a 3XX: senders do not follow redirects, so the delivery would be lost."""
    for delivery in _representatives(ctx, platform):
        exchange = ctx.send(delivery)
        if exchange.error:
            raise fail("no_redirect", f"the target {exchange.outcome()}", delivery, exchange, ctx)
        if exchange.status is not None and 300 <= exchange.status < 400:
            location = f" to {redact.url(exchange.location)}" if exchange.location else ""
            raise fail("no_redirect", f"answered {exchange.status}{location}: senders do not follow redirects, so "
                       "the delivery is lost", delivery, exchange, ctx)


def _rename(delivery: Delivery, part_index: int, value: str) -> Delivery:
    """The delivery with one part of its event name replaced, where the contract says that part travels."""
    naming = delivery.spec.event_naming
    assert naming is not None
    part = naming.parts[part_index]
    if part.header:
        return replace(delivery, headers={**delivery.headers, part.header: value}, event=f"({part.header}: {value})")
    assert part.body is not None
    body = pointers.replaced(delivery.body, part.body, value)
    return replace(delivery, body=body, event=f"({part.body}: {value})")


@check("receiver", "robustness")
def unknown_event(ctx: ReceiverContext, platform: str) -> None:
    """A delivery naming an event or action the document does not list is not answered 5XX."""
    delivery = next(_representatives(ctx, platform))
    naming = delivery.spec.event_naming
    assert naming is not None
    for index in range(len(naming.parts)):
        renamed = _rename(delivery, index, f"{UNKNOWN}_{index}")
        exchange = ctx.send(renamed)
        if exchange.error or (exchange.status or 0) >= 500:
            raise fail("unknown_event", f"sent an unknown event name; the target {exchange.outcome()}; expected "
                       "anything but 5XX (vendors add events; a 5XX makes them retry forever)", renamed, exchange, ctx)
