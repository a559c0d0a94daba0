"""Receiver checks: what a webhook receiver must do with what the platform may send.

Each check is a small function ``check(ctx, platform)`` that returns quietly or raises
:class:`~conformance.report.CheckFailure`; ``RECEIVER_CHECKS`` lists them by name with their marker
and source. They know nothing of pytest, so ``tests/`` calls them directly against broken receivers,
and ``conformance/test_receiver.py`` wraps each in a named pytest test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from hypothesis import given

from conformance import catalog, pointers
from conformance.delivery import Delivery, delivery_for
from conformance.http_exchange import Exchange, HttpSession
from conformance.report import MASK, CheckFailure, curl_command, excerpt
from conformance.run_settings import DEFAULT_EXAMPLES, runner

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
    hypothesis: Callable[[Any], Any] = field(init=False)

    def __post_init__(self) -> None:
        self.hypothesis = runner(self.examples, self.seed, self.shrink)

    def signed(self, delivery: Delivery) -> Delivery:
        """The delivery with the configured secret in the platform's secret header, if it has one."""
        header = catalog.profile(delivery.platform).secret_header
        if not (header and self.secret):
            return delivery
        return replace(delivery, headers={**delivery.headers, header: self.secret})

    def fresh(self, delivery: Delivery, check: str = "") -> Delivery:
        """The delivery with new per-delivery ids where the profile says a sender sets one (DoSelect
        meta.delivery_id): generated cases are distinct deliveries, and a real sender never reuses an id."""
        body = delivery.body
        # Derived from the case, not random: Hypothesis re-sends a failing case and must see it fail the same way.
        # Salted with the check, so that two checks drawing the same body still send two deliveries.
        case_id = uuid.uuid5(uuid.NAMESPACE_URL, check + json.dumps(body, sort_keys=True, default=str))
        for entry in catalog.profile(delivery.platform).delivery_metadata:
            if entry["value"] == "uuid4" and pointers.has(body, entry["pointer"]):
                body = pointers.replaced(body, entry["pointer"], str(case_id))
        return replace(delivery, body=body)

    def send(self, delivery: Delivery, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> Exchange:
        return self.session.send(
            self.url_for(delivery.platform),
            headers if headers is not None else delivery.headers,
            delivery.encoded() if body is None else body,
        )


@dataclass(frozen=True)
class ReceiverCheck:
    name: str
    run: Callable[[ReceiverContext, str], None]
    marker: str  # "documented" or "robustness"
    needs: tuple[str, ...]  # "examples", "secret": platforms without these cannot be checked this way


RECEIVER_CHECKS: dict[str, ReceiverCheck] = {}


def receiver_check(name: str, marker: str, needs: tuple[str, ...] = ()) -> Callable:
    def register(fn: Callable[[ReceiverContext, str], None]) -> Callable[[ReceiverContext, str], None]:
        RECEIVER_CHECKS[name] = ReceiverCheck(name, fn, marker, needs)
        return fn

    return register


def _secret_headers(platform: str) -> list[str]:
    header = catalog.profile(platform).secret_header
    return [header] if header else []


def _answer_excerpt(exchange: Exchange, ctx: ReceiverContext | None) -> str:
    """The first bytes of the answer, with the secret masked: a receiver may echo the header it got."""
    answer = exchange.answer
    if ctx is not None and ctx.secret:  # the wrong secret we send is the secret plus a character: masked too
        answer = answer.replace(ctx.secret.encode("utf-8"), MASK.encode())
    return excerpt(answer)


def fail(
    check: str,
    summary: str,
    delivery: Delivery,
    exchange: Exchange,
    ctx: ReceiverContext | None = None,
    extra: tuple[str, ...] = (),
) -> CheckFailure:
    """A failure that shows what was sent, what came back, and how to replay it."""
    answered = f"status {exchange.status}" if exchange.status is not None else "no status"
    details = [
        f"sent: {exchange.method} {exchange.url}  ({len(exchange.body)} bytes"
        + (f"; breaks {delivery.breaks}" if delivery.breaks else "")
        + ")",
        f"answer: {answered} after {exchange.elapsed:.3f} s: {exchange.error or _answer_excerpt(exchange, ctx)}",
        *extra,
    ]
    if exchange.status in (401, 403) and ctx is not None and not ctx.secret and _secret_headers(delivery.platform):
        details.append("hint: the target refused the delivery; if it requires a secret, pass --secret")
    return CheckFailure(
        check,
        summary,
        platform=delivery.platform,
        event=delivery.event,
        details=details,
        payload=exchange.body.decode("utf-8", errors="replace"),
        replay=curl_command(exchange.url, exchange.headers, exchange.body, _secret_headers(delivery.platform)),
    )


def expect_2xx(check: str, ctx: ReceiverContext, delivery: Delivery) -> Exchange:
    exchange = ctx.send(delivery)
    if exchange.error:
        raise fail(check, f"the target {exchange.outcome()}", delivery, exchange, ctx)
    status = exchange.status or 0
    if 300 <= status < 400:
        raise fail(
            check,
            f"answered {status}, a redirect: senders do not follow redirects, so the delivery is lost",
            delivery,
            exchange,
            ctx,
        )
    if not 200 <= status < 300:
        raise fail(check, f"answered {status} to a valid delivery; expected 2XX", delivery, exchange, ctx)
    return exchange


def _events(platform: str) -> list[str]:
    return list(catalog.profile(platform).events)


def _each_generated(
    check: str,
    ctx: ReceiverContext,
    platform: str,
    *,
    extras: bool = False,
    examples: int | None = None,
    body: Callable[[Delivery], None],
) -> None:
    """Run ``body`` on generated deliveries of every event of the platform (the whole catalog)."""
    from conformance import strategies

    decorate = ctx.hypothesis if examples is None else runner(examples, ctx.seed, ctx.shrink)
    for event in _events(platform):

        @decorate
        @strategies.with_examples(platform, event)  # the document's own examples come first
        @given(strategies.events(platform, event, extras=extras))
        def prop(delivery: Delivery) -> None:
            body(ctx.signed(ctx.fresh(delivery, check)))

        prop()


@cache
def _drawn(platform: str, event: str) -> Delivery:
    """One generated delivery of ``event``: a single derandomized draw, so every run sends the same."""
    from conformance import strategies

    captured: list[Delivery] = []

    @runner(1)
    @given(strategies.events(platform, event))
    def grab(delivery: Delivery) -> None:
        captured.append(delivery)

    grab()
    return captured[0]


def _representatives(platform: str) -> Iterator[Delivery]:
    """One delivery per event: its documented example where there is one, else a generated one."""
    for event in _events(platform):
        examples = catalog.event(platform, event).examples
        yield delivery_for(platform, event, examples[0].body) if examples else _drawn(platform, event)


@receiver_check("documented_examples", "documented", needs=("examples",))
def documented_examples(ctx: ReceiverContext, platform: str) -> None:
    """Every example payload in the platform's document is accepted with a 2XX."""
    for example in catalog.documented_examples(platform):
        expect_2xx("documented_examples", ctx, ctx.signed(delivery_for(platform, example.event, example.body)))


@receiver_check("generated_valid", "documented")
def generated_valid(ctx: ReceiverContext, platform: str) -> None:
    """Generated payloads valid against each event's schema are accepted with a 2XX, for every event."""
    _each_generated("generated_valid", ctx, platform, body=lambda d: expect_2xx("generated_valid", ctx, d))


@receiver_check("unknown_properties", "robustness")
def unknown_properties(ctx: ReceiverContext, platform: str) -> None:
    """Valid payloads carrying properties the document does not list, at any depth, are accepted."""
    _each_generated(
        "unknown_properties", ctx, platform, extras=True, body=lambda d: expect_2xx("unknown_properties", ctx, d)
    )


@receiver_check("duplicate_delivery", "documented")
def duplicate_delivery(ctx: ReceiverContext, platform: str) -> None:
    """The same delivery sent twice (a retry) is answered 2XX both times."""

    def twice(delivery: Delivery) -> None:
        expect_2xx("duplicate_delivery", ctx, delivery)
        exchange = ctx.send(delivery)
        if exchange.error or not 200 <= (exchange.status or 0) < 300:
            raise fail(
                "duplicate_delivery",
                f"accepted a delivery, then {exchange.outcome()} to the same delivery sent again "
                "(a retry must not fail)",
                delivery,
                exchange,
                ctx,
            )

    _each_generated("duplicate_delivery", ctx, platform, examples=min(ctx.examples, 3), body=twice)


def _malformed(delivery: Delivery) -> list[tuple[str, dict[str, str], bytes]]:
    json_headers = delivery.headers
    text_headers = {**delivery.headers, "Content-Type": "text/plain"}
    return [
        ("malformed JSON", json_headers, delivery.encoded()[:-1] or b"{"),
        ("an empty body", json_headers, b""),
        ("a JSON array", json_headers, b"[" + delivery.encoded() + b"]"),
        ("a non-JSON Content-Type (text/plain)", text_headers, delivery.encoded()),
    ]


@receiver_check("malformed_bodies", "robustness")
def malformed_bodies(ctx: ReceiverContext, platform: str) -> None:
    """Malformed JSON, an empty body, a JSON array or a non-JSON Content-Type get a 4XX, never a 5XX."""
    delivery = ctx.signed(next(_representatives(platform)))
    for what, headers, body in _malformed(delivery):
        exchange = ctx.send(delivery, headers=headers, body=body)
        if exchange.error or not 400 <= (exchange.status or 0) < 500:
            raise fail(
                "malformed_bodies",
                f"sent {what}; the target {exchange.outcome()}; expected 4XX, never 5XX",
                replace(delivery, breaks=what),
                exchange,
                ctx,
            )


@receiver_check("secret_required", "documented", needs=("secret",))
def secret_required(ctx: ReceiverContext, platform: str) -> None:
    """With a shared secret configured, a missing or wrong secret header gets 401 or 403; the right one 2XX."""
    header = catalog.profile(platform).secret_header
    assert header and ctx.secret, "secret_required needs a platform secret header and --secret"
    delivery = next(_representatives(platform))
    unsigned = {k: v for k, v in delivery.headers.items() if k.lower() != header.lower()}
    for what, headers in (("no " + header, unsigned), ("a wrong " + header, {**unsigned, header: ctx.secret + "x"})):
        exchange = ctx.send(delivery, headers=headers)
        if exchange.error or exchange.status not in (401, 403):
            raise fail(
                "secret_required",
                f"sent a delivery with {what}; the target {exchange.outcome()}; expected 401 or 403",
                replace(delivery, breaks=what),
                exchange,
                ctx,
            )
    expect_2xx("secret_required", ctx, ctx.signed(delivery))


@receiver_check("answers_in_time", "robustness")
def answers_in_time(ctx: ReceiverContext, platform: str) -> None:
    """Every event's delivery is answered within --response-timeout (senders give up after a few seconds)."""
    for delivery in _representatives(platform):
        expect_2xx("answers_in_time", ctx, ctx.signed(delivery))


@receiver_check("no_redirect", "robustness")
def no_redirect(ctx: ReceiverContext, platform: str) -> None:
    """No delivery is answered with a 3XX: senders do not follow redirects, so the delivery would be lost."""
    for delivery in _representatives(platform):
        exchange = ctx.send(ctx.signed(delivery))
        if exchange.error:
            raise fail("no_redirect", f"the target {exchange.outcome()}", delivery, exchange, ctx)
        if exchange.status is not None and 300 <= exchange.status < 400:
            location = f" to {exchange.location}" if exchange.location else ""
            raise fail(
                "no_redirect",
                f"answered {exchange.status}{location}: senders do not follow redirects, so the delivery is lost",
                delivery,
                exchange,
                ctx,
            )


def _rename(delivery: Delivery, part_index: int, value: str) -> Delivery:
    """The delivery with one part of its event name replaced, where the profile says that part travels."""
    prof = catalog.profile(delivery.platform)
    part = prof.name_parts[part_index]
    if "header" in part:
        return replace(
            delivery, headers={**delivery.headers, part["header"]: value}, event=f"({part['header']}: {value})"
        )
    body = pointers.replaced(delivery.body, part["body"], value)
    return replace(delivery, body=body, event=f"({part['body']}: {value})")


@receiver_check("unknown_event", "robustness")
def unknown_event(ctx: ReceiverContext, platform: str) -> None:
    """A delivery naming an event or action the document does not list is not answered 5XX."""
    delivery = ctx.signed(next(_representatives(platform)))
    parts = len(catalog.profile(platform).name_parts)
    for index in range(parts):
        renamed = _rename(delivery, index, f"{UNKNOWN}_{index}")
        exchange = ctx.send(renamed)
        if exchange.error or (exchange.status or 0) >= 500:
            raise fail(
                "unknown_event",
                f"sent an unknown event name; the target {exchange.outcome()}; expected anything but 5XX "
                "(vendors add events; a 5XX makes them retry forever)",
                renamed,
                exchange,
                ctx,
            )
