"""Receiver checks: what a webhook receiver must do with what the platform may send.

Each check is a small function ``check(ctx, platform)`` registered in :mod:`hookproof.conformance.registry`;
it returns quietly or raises :class:`~hookproof.conformance.report.CheckFailure`. A receiver faces the real
wire, so the checks send what any of the platform's contracts may send (``ctx.contracts`` narrows it). They
know nothing of pytest: ``tests/`` calls them directly against broken receivers.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from hypothesis import given

from hookproof import catalog, pointers, redact
from hookproof.conformance import failure_files
from hookproof.conformance.causes import Findings, Ledger
from hookproof.conformance.draw_ahead import Key, draw
from hookproof.conformance.http_exchange import Exchange, HttpSession
from hookproof.conformance.registry import CHECKS, check
from hookproof.conformance.report import PAYLOAD_CHARS, CheckFailure, curl_command, excerpt, first_check_failure
from hookproof.conformance.run_settings import DEFAULT_EXAMPLES, runner
from hookproof.conformance.shrink import shrink
from hookproof.contract import Contract, NamePart, SharedSecret
from hookproof.wire import Delivery, delivery_for

if TYPE_CHECKING:
    from hookproof.conformance.draw_ahead import DrawAhead

UNKNOWN = "hookproof_unknown"
SHRINK_REQUESTS = 30  # a few dozen requests, so a failing receiver costs a run about twice a passing one
BROKEN_EXAMPLES = 5  # one-rule-broken deliveries per event
DUPLICATE_EXAMPLES = 3  # deliveries sent twice per event
# The checks that send one delivery per event (its documented example, else one drawn): _representatives.
REPRESENTED = ("malformed_bodies", "authentication_required", "answers_in_time", "no_redirect", "unknown_event")
MALFORMED_CASES = 4  # bodies that are no delivery (_malformed)


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
    ledger: Ledger = field(default_factory=Ledger)  # the run's root causes (hookproof.conformance.causes)
    # Recorded deliveries (--hookproof-captures: file, recording), sent with the documented examples.
    captures: tuple[tuple[str, Any], ...] = ()
    # Each event's generated deliveries, drawn once per run for every check that sends them (_Pool).
    pools: dict[tuple[str, str, str], _Pool] = field(default_factory=dict, repr=False)
    ones: dict[Key, Delivery] = field(default_factory=dict, repr=False)  # the events' representatives (_drawn)
    # Where they are drawn ahead of the checks, in a process of their own (conformance.draw_ahead).
    ahead: DrawAhead | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        redact.remember(self.secret)


    @property
    def stopped_sending(self) -> str | None:
        """Why the run sends the target nothing more, once its breaker has opened (for a check's not-checked
        reason: the cause it names is one stall, and that the run then stopped is as much to know)."""
        breaker = self.session.breaker
        if not breaker.open:
            return None
        return (f"after {breaker.timeouts} answers that did not come within {self.session.timeout:g} s, the run "
                "sends the target nothing more")

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
        ids = [entry.pointer for entry in delivery.spec.metadata
               if entry.value == "uuid4" and pointers.has(body, entry.pointer)]
        if not ids:  # most contracts set none: the delivery as drawn
            return delivery
        # Derived from the case, not random: Hypothesis re-sends a failing case and must see it fail the same way.
        # Salted with the check, so that two checks drawing the same body still send two deliveries.
        case_id = str(uuid.uuid5(uuid.NAMESPACE_URL, check + json.dumps(body, sort_keys=True, default=str)))
        for pointer in ids:
            body = pointers.replaced(body, pointer, case_id)
        return delivery._replace(body=body)

    def drawn(self, key: Key) -> list[Any]:
        """The draw of ``key`` (see :func:`draw`), from the drawing process where it got there first."""
        return draw(key, self.seed, self.session.budget) if self.ahead is None else self.ahead.take(key)

    def planned_draws(self, checks: Iterable[tuple[str, str]]) -> list[Key]:
        """The draws the receiver checks ``(platform, check)`` will ask for, in the order they ask (the order
        of ``checks``)."""
        keys: list[Key] = []
        for platform, name in checks:
            for spec in self.contracts(platform):
                for event in self.subscribed(spec):
                    if name in ("generated_valid", "unknown_properties", "duplicate_delivery"):
                        keys.append(("pairs", platform, spec.name, event, self.examples))
                    elif name == "broken_bodies":
                        keys.append(("broken", platform, spec.name, event, min(self.examples, BROKEN_EXAMPLES)))
                    elif name in REPRESENTED and not spec.events[event].examples:
                        keys.append(("one", platform, spec.name, event, 1))
        return list(dict.fromkeys(keys))

    def send(self, delivery: Delivery, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> Exchange:
        """Send a delivery, signed with the run's secret over the bytes sent, unless ``headers`` are given."""
        content = delivery.encoded() if body is None else body
        sent = delivery.wire_headers(self.secret, content) if headers is None else headers
        return self.session.send(self.url_for(delivery.platform), sent, content)


# --- what a check sends, for the run's header ------------------------------------------------------------


def _events(ctx: ReceiverContext, platform: str) -> list[tuple[Contract, str]]:
    return [(spec, name) for spec in ctx.contracts(platform) for name in ctx.subscribed(spec)]


def _per_event(per: Callable[[ReceiverContext], int]) -> Callable[[ReceiverContext, str], int]:
    return lambda ctx, platform: len(_events(ctx, platform)) * per(ctx)


def _examples_sent(ctx: ReceiverContext, platform: str) -> int:
    documented = sum(len(spec.events[name].examples) for spec, name in _events(ctx, platform))
    return documented + sum(rec.repeat for _, rec in ctx.captures if rec.platform == platform)


def _send_capture(ctx: ReceiverContext, where: str, rec: Any) -> None:
    """Send a recorded delivery as it was received (signed again with the run's secret) and hold the answer to
    what a good receiver gives it: a 2XX where it conforms (docs/decisions.md#captures-as-examples)."""
    from hookproof.live import replay

    plat = catalog.platform(rec.platform)
    contract = rec.contract if rec.contract in plat.contract_names else plat.base.name
    origin = f"the capture {rec.id} ({where}" + (f", received {rec.recorded_at})" if rec.recorded_at else ")")
    delivery = Delivery(rec.platform, contract, rec.event or "(an unknown event)", rec.json_body(),
                        origin=origin)
    exchange, ok = replay.resend(ctx.session, ctx.url_for(rec.platform), rec, replay.prepare(rec, ctx.secret))
    if not ok:
        verdict = "a delivery that conforms" if rec.conforms else "a delivery that does not conform"
        raise fail("documented_examples", f"the target {exchange.outcome()} to the capture {rec.id}, {verdict}; "
                   f"expected {rec.expected}", delivery, exchange, ctx, expected=rec.expected,
                   source=delivery.spec.document if rec.conforms else None)


def _broken_sent(ctx: ReceiverContext, platform: str) -> int:
    headers = sum(len(spec.event_naming.header_names) for spec in ctx.contracts(platform) if spec.event_naming)
    return len(_events(ctx, platform)) * min(ctx.examples, BROKEN_EXAMPLES) + 2 * headers


def _renames_sent(ctx: ReceiverContext, platform: str) -> int:
    return max((len(spec.event_naming.parts) for spec in ctx.contracts(platform) if spec.event_naming), default=0)


def _answer_excerpt(exchange: Exchange, ctx: ReceiverContext | None) -> str:
    """The first bytes of the answer, with the secret masked: a receiver may echo the header it got."""
    return excerpt(redact.data(exchange.answer, ctx.secret if ctx else None))


def fail(check: str, summary: str, delivery: Delivery, exchange: Exchange, ctx: ReceiverContext | None = None,
         extra: tuple[str, ...] = (), source: object = None, expected: str | None = None) -> CheckFailure:
    """A failure that shows what was sent, what came back, how to replay it, and the rule (``source``); it carries
    the request as a recording (with what a good receiver answers, ``expected``) for ``--hookproof-failures``."""
    spec = delivery.spec
    due = expected or CHECKS[check].expects  # what a good receiver answers
    answered = f"status {exchange.status}" if exchange.status is not None else "no status"
    details = [
        f"sent: {exchange.method} {exchange.url}  ({len(exchange.body)} bytes"
        + (f"; breaks {delivery.breaks}" if delivery.breaks else "") + ")",
        f"what: {delivery.origin or f'a generated delivery of {delivery.event}'}, as contract {spec.label} sends it"
        + _spelling(spec, delivery.event)
        # A seeded run draws other deliveries than the default one: the seed is what draws this one again.
        + (f" (drawn with --hookproof-seed {ctx.seed})" if ctx is not None and ctx.seed is not None
           and not delivery.origin else ""),
        f"answer: {answered} after {exchange.elapsed:.3f} s: {exchange.error or _answer_excerpt(exchange, ctx)}",
        *extra,
    ]
    if exchange.status in (401, 403) and ctx is not None and not ctx.secret and spec.auth:
        details.append("hint: the target refused the delivery; if it requires a secret, pass --hookproof-secret")
    failure = CheckFailure(check, summary, platform=delivery.platform, event=delivery.event, details=details,
                           payload=exchange.body.decode("utf-8", errors="replace"),
                           cause=cause_of(delivery, exchange, due),
                           source=str(source) if source else None,
                           # curl's --max-time: the run's timeout, or the platform's documented wait where shorter
                           replay=curl_command(exchange.url, exchange.headers, exchange.body, spec.secret_headers,
                                               max_time=min(filter(None, (ctx.session.timeout if ctx is not None
                                                                          else None,
                                                                          failure_files.documented_wait(spec))),
                                                            default=None)))
    failure.recordings = (failure_files.recording_of(check, delivery, exchange, ctx, due),)
    return failure


def cause_of(delivery: Delivery, exchange: Exchange, expected: str = "2XX") -> tuple[str, ...]:
    """What went wrong, without the check: a status for an event, a crash on an event, or - for the whole
    platform - no answer in time (a hung target is one fault, however many requests it leaves unanswered).
    A 2XX where a refusal was due (``expected``) keeps what was due: a receiver that takes a forgery and one that
    takes malformed JSON have two faults, however alike the answers (docs/decisions.md#root-causes)."""
    error = exchange.error
    # A delivery of no known event (a renamed one, an empty event header) meets one fault however it got there.
    event = "(an unknown event)" if delivery.event.startswith("(") or "header" in (delivery.breaks or "") \
        else delivery.event
    if error is None:
        status = f"status {exchange.status}"
        if exchange.status is not None and 200 <= exchange.status < 300 and "2XX" not in expected:
            return (delivery.platform, event, status, f"where {expected} was due")
        return (delivery.platform, event, status)
    if error.startswith(("gave no answer", "was not sent this request", "answered after")):
        return (delivery.platform, "*", "no answer in time")
    if error.startswith("refused the connection"):
        return (delivery.platform, "*", "refused the connection")
    return (delivery.platform, event, error.split(" (")[0])


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
        raise fail(check, f"answered {status} to a valid delivery; expected 2XX", delivery, exchange, ctx,
                   source=delivery.spec.document)
    return exchange


class _Cases:
    """One event's generated cases: the first failure ends them (it is shrunk afterwards, within a budget:
    :mod:`hookproof.conformance.shrink`); a failure whose cause another check found already ends the event's
    sending - it is that check's failure; with ``--hookproof-shrink`` Hypothesis shrinks instead, and a failure
    of another cause met while it does is kept aside, reported unshrunk."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.failed: dict[bytes, CheckFailure] = {}
        self.first: tuple[Delivery, CheckFailure] | None = None
        self.aside: list[CheckFailure] = []
        self.known = False

    @staticmethod
    def _key(delivery: Delivery) -> bytes:
        return delivery.encoded() + repr(sorted(delivery.headers.items())).encode()

    def run(self, delivery: Delivery, send: Callable[[Delivery], object]) -> None:
        # A case Hypothesis replays is not re-sent: the target is asked once. (Keyed only once something
        # failed: encoding every delivery's body for a key no one looks up was a tenth of sending.)
        if self.failed and (key := self._key(delivery)) in self.failed:
            raise self.failed[key]
        if self.known:
            return
        try:
            send(delivery)
        except CheckFailure as failure:
            if self.first is None and self.findings.ledger.knows(failure.cause_key):
                self.known = True
                self.findings.record(failure)
                return
            if self.first is None:
                self.first = (delivery, failure)
            elif failure.cause_key != self.first[1].cause_key:
                self.aside.append(failure)
                return
            self.failed[self._key(delivery)] = failure
            raise


def _sending(ctx: ReceiverContext, check: str, cases: _Cases,
             send: Callable[[Delivery], object]) -> Callable[[Delivery], None]:
    def prop(delivery: Delivery) -> None:
        cases.run(ctx.fresh(delivery, check), send)

    return prop


class _Pool:
    """One event's generated deliveries for a run: ``valid`` for generated_valid (and, its first few,
    duplicate_delivery), ``extras`` with undocumented properties for unknown_properties, ``broken`` breaking one
    rule each for broken_bodies. Drawn once per run, on first use (one Hypothesis run draws valid and extras
    side by side, another the broken ones), not once per check: each check gets as many deliveries per event as
    when it ran Hypothesis itself, derandomized (or from ``--hookproof-seed``) as before."""

    def __init__(self, ctx: ReceiverContext, platform: str, contract: str, event: str) -> None:
        self._ctx, self._platform, self._contract, self._event = ctx, platform, contract, event

    @cached_property
    def _pairs(self) -> list[tuple[Delivery, Delivery]]:
        return self._ctx.drawn(("pairs", self._platform, self._contract, self._event, self._ctx.examples))

    @cached_property
    def valid(self) -> tuple[Delivery, ...]:
        return tuple(pair[0] for pair in self._pairs)

    @cached_property
    def extras(self) -> tuple[Delivery, ...]:
        return tuple(pair[1] for pair in self._pairs)

    @cached_property
    def broken(self) -> tuple[Delivery, ...]:
        count = min(self._ctx.examples, BROKEN_EXAMPLES)
        return tuple(self._ctx.drawn(("broken", self._platform, self._contract, self._event, count)))


def _pool(ctx: ReceiverContext, platform: str, spec: Contract, event: str) -> _Pool:
    key = (platform, spec.name, event)
    if key not in ctx.pools:
        ctx.pools[key] = _Pool(ctx, platform, spec.name, event)
    return ctx.pools[key]


def _each_generated(check: str, ctx: ReceiverContext, platform: str, *, extras: bool = False,
                    examples: int | None = None, send: Callable[[Delivery], object]) -> None:
    """Send generated deliveries of every event of every contract checked, the documented examples first, and
    report every event that fails, each with its smallest failing case within the shrink budget."""
    from hookproof.conformance import strategies

    with Findings(check, ctx.ledger) as findings:
        for spec in ctx.contracts(platform):
            for event in ctx.subscribed(spec):
                if ctx.shrink:  # Hypothesis shrinks: it must draw the cases itself
                    _each_drawn_by_hypothesis(check, ctx, platform, spec, event, findings, extras=extras,
                                              examples=examples, send=send)
                    continue
                cases = _Cases(findings)
                pool = _pool(ctx, platform, spec, event)
                generated = (pool.extras if extras else pool.valid)[:examples]
                for delivery in [*strategies.documented_deliveries(platform, event, contract=spec.name), *generated]:
                    try:
                        cases.run(ctx.fresh(delivery, check), send)
                    except CheckFailure:
                        assert cases.first is not None
                        findings.record(_shrunk(ctx, check, spec.event(event).schema_id, cases.first, send))
                        break
                    if cases.known:
                        break


def _each_drawn_by_hypothesis(check: str, ctx: ReceiverContext, platform: str, spec: Contract, event: str,
                              findings: Findings, *, extras: bool, examples: int | None,
                              send: Callable[[Delivery], object]) -> None:
    """One event's cases under ``@given``, for ``--hookproof-shrink``: Hypothesis shrinks a failing case; a
    failure of another cause met while it does is kept aside, reported unshrunk."""
    from hookproof.conformance import strategies

    decorate = runner(ctx.examples if examples is None else examples, ctx.seed, shrink=True)
    cases = _Cases(findings)
    drawn = strategies.events(platform, event, contract=spec.name, extras=extras)
    prop = decorate(strategies.with_examples(platform, event, contract=spec.name)(  # documented ones first
        given(drawn)(_sending(ctx, check, cases, send))))
    try:
        prop()
    except Exception as exc:
        failure = first_check_failure(exc)
        if failure is None:
            raise
        findings.record(failure)
    for other in cases.aside:
        findings.record(other)


def _shrunk(ctx: ReceiverContext, check: str, schema_id: str, first: tuple[Delivery, CheckFailure],
            send: Callable[[Delivery], object]) -> CheckFailure:
    def attempt(delivery: Delivery) -> None:
        send(delivery)

    smallest, failure, spent = shrink(first[0], first[1], schema_id, attempt, lambda d: ctx.fresh(d, check),
                                      SHRINK_REQUESTS)
    if smallest is not first[0]:
        original = json.dumps(first[0].body, ensure_ascii=False)
        failure = failure.noted(f"shrunk from the first failing case ({first[0].origin or 'generated'}): "
                                f"{original[:PAYLOAD_CHARS]}")
    if spent >= SHRINK_REQUESTS:
        failure = failure.noted(f"shrunk within {SHRINK_REQUESTS} requests; --hookproof-shrink shrinks further "
                                "(slow against a slow target)")
    return failure


def _drawn(ctx: ReceiverContext, platform: str, contract: str, event: str) -> Delivery:
    """One generated delivery of ``event``: a single derandomized draw, so every run sends the same."""
    key: Key = ("one", platform, contract, event, 1)
    if key not in ctx.ones:
        ctx.ones[key] = ctx.drawn(key)[0]
    return ctx.ones[key]


def _representatives(ctx: ReceiverContext, platform: str) -> Iterator[Delivery]:
    """One delivery per event of each contract checked: its documented example where there is one, else a
    generated one."""
    for spec in ctx.contracts(platform):
        yield from _representatives_of(ctx, platform, spec)


def _representatives_of(ctx: ReceiverContext, platform: str, spec: Contract) -> Iterator[Delivery]:
    for name in ctx.subscribed(spec):
        event = spec.events[name]
        if event.examples:
            ex = event.examples[0]
            yield delivery_for(platform, name, ex.body, contract=spec.name,
                               origin=f"the documented example {ex.file} ({ex.source})")
        else:
            yield _drawn(ctx, platform, spec.name, name)


@check("receiver", "documented", needs=("examples",), sends=_examples_sent)
def documented_examples(ctx: ReceiverContext, platform: str) -> None:
    """Every example payload in the platform's documents (and every capture given) is accepted with a 2XX."""
    from hookproof.conformance import strategies

    with Findings("documented_examples", ctx.ledger) as findings:
        for spec in ctx.contracts(platform):
            for event in ctx.subscribed(spec):
                for delivery in strategies.documented_deliveries(platform, event, contract=spec.name):
                    findings.attempt(partial(expect_2xx, "documented_examples", ctx, delivery))
        for where, rec in ctx.captures:
            if rec.platform == platform:
                findings.attempt(partial(_send_capture, ctx, where, rec))


@check("receiver", "documented", sends=_per_event(lambda ctx: ctx.examples))
def generated_valid(ctx: ReceiverContext, platform: str) -> None:
    """Generated payloads valid against each event's schema are accepted with a 2XX, for every event."""
    _each_generated("generated_valid", ctx, platform, send=partial(expect_2xx, "generated_valid", ctx))


@check("receiver", "robustness", sends=_per_event(lambda ctx: ctx.examples))
def unknown_properties(ctx: ReceiverContext, platform: str) -> None:
    """Valid payloads carrying properties the document does not list, at any depth, are accepted."""
    _each_generated("unknown_properties", ctx, platform, extras=True,
                    send=partial(expect_2xx, "unknown_properties", ctx))


@check("receiver", "documented", sends=_per_event(lambda ctx: 2 * min(ctx.examples, DUPLICATE_EXAMPLES)))
def duplicate_delivery(ctx: ReceiverContext, platform: str) -> None:
    """The same delivery sent twice (a retry) is answered 2XX both times."""

    def twice(delivery: Delivery) -> None:
        expect_2xx("duplicate_delivery", ctx, delivery)
        exchange = ctx.send(delivery)
        if exchange.error or not 200 <= (exchange.status or 0) < 300:
            raise fail("duplicate_delivery", f"accepted a delivery, then {exchange.outcome()} to the same delivery "
                       "sent again (a retry must not fail)", delivery, exchange, ctx)

    _each_generated("duplicate_delivery", ctx, platform, examples=min(ctx.examples, DUPLICATE_EXAMPLES), send=twice)


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


class MalformedAcceptedWarning(UserWarning):
    """A receiver answered 2XX to a malformed body of a platform whose event name travels in a header: it may
    be acknowledging an event it ignores without parsing it, which is legitimate; a 5XX stays a failure."""


@check("receiver", "robustness", sends=lambda ctx, platform: MALFORMED_CASES, expects="4XX")
def malformed_bodies(ctx: ReceiverContext, platform: str) -> None:
    """Malformed JSON, an empty body, a JSON array or a non-JSON Content-Type get a 4XX, never a 5XX."""
    delivery = next(_representatives(ctx, platform))
    naming = delivery.spec.event_naming
    named_by_header = bool(naming and naming.header_names)
    with Findings("malformed_bodies", ctx.ledger) as findings:
        for what, headers, body in _malformed(ctx, delivery):
            exchange = ctx.send(delivery, headers=headers, body=body)
            status = exchange.status or 0
            if exchange.error is None and 200 <= status < 300 and named_by_header:
                warnings.warn(MalformedAcceptedWarning(
                    f"{platform}: the target answered {status} to {what}. Its event name travels in a header, so it "
                    "may acknowledge events it ignores without parsing them; if it processes them, a malformed body "
                    "should get a 4XX"), stacklevel=1)
                continue
            if exchange.error or not 400 <= status < 500:
                findings.record(fail("malformed_bodies", f"sent {what}; the target {exchange.outcome()}; expected 4XX, "
                                     "never 5XX", delivery._replace(breaks=what), exchange, ctx))


def _broken_deliveries(ctx: ReceiverContext, platform: str) -> Iterator[Delivery]:
    """Deliveries that break one rule each: of the body (every event, drawn from the schema) and of the
    headers (each header that carries the event name missing, then empty)."""

    for spec in ctx.contracts(platform):
        for event in ctx.subscribed(spec):
            drawn = _pool(ctx, platform, spec, event).broken[:BROKEN_EXAMPLES]
            # A break of the event name makes another event of it: unknown_event's business, not this check's.
            named = {part.body for part in spec.event_naming.parts} if spec.event_naming else set()
            yield from (d for d in drawn if (d.breaks or "").split(": ", 1)[-1] not in named)
        naming = spec.event_naming
        for header in naming.header_names if naming else ():
            base = next(iter(_representatives_of(ctx, platform, spec)), None)
            if base is None:
                continue
            yield base._replace(headers={k: v for k, v in base.headers.items() if k != header},
                          breaks=f"required header {header}: missing")
            yield base._replace(headers={**base.headers, header: ""}, breaks=f"required header {header}: empty")


FORGERIES = 4  # at most, per event: none, a wrong secret, the right value cut short, a shared secret's case swapped


def _forgeries(ctx: ReceiverContext, delivery: Delivery) -> list[tuple[str, dict[str, str]]]:
    """The delivery without its authentication, with it made from a wrong secret, with the right value cut to
    half its length (a receiver that compares only a prefix, or only as long as what it was sent, accepts it),
    and for a shared secret with its letters' case swapped (a case-blind comparison). A signature's hex
    digits are not swapped: either case spells the same bytes."""
    assert ctx.secret
    spec = delivery.spec
    good = delivery.wire_headers(ctx.secret)
    wrong = delivery.wire_headers(ctx.secret + "x")
    names = {h.lower() for h in spec.secret_headers}
    bare = {k: v for k, v in good.items() if k.lower() not in names}
    carried = ", ".join(spec.secret_headers)
    cut = {k: v[:len(v) // 2] if k.lower() in names else v for k, v in good.items()}
    forged = [("no " + carried, bare), (f"{carried} made with a wrong secret", wrong),
              (f"{carried} cut to the first half of the right value", cut)]
    if isinstance(spec.auth[0], SharedSecret) and ctx.secret.swapcase() != ctx.secret:
        swapped = {k: v.swapcase() if k.lower() in names else v for k, v in good.items()}
        forged.append((f"{carried} holding the secret with its letters' case swapped", swapped))
    # Half the secret, or the secret in another case, is as telling as the secret: a receiver that echoes what
    # it was sent must not put either into the report.
    redact.remember(*(v for _, headers in forged[2:] for k, v in headers.items() if k.lower() in names))
    return forged


@check("receiver", "documented", needs=("auth",),
       sends=lambda ctx, platform: len(_events(ctx, platform)) * FORGERIES + 1)
def authentication_required(ctx: ReceiverContext, platform: str) -> None:
    """With a secret configured, a delivery of any event without valid authentication gets 401 or 403; a valid
    one 2XX. Every event is tried: a receiver may check the secret on one route and not on another."""
    with Findings("authentication_required", ctx.ledger) as findings:
        accepted = False  # that a valid delivery gets its 2XX is asked once: another event's refusal is other checks'
        for delivery in _representatives(ctx, platform):
            spec = delivery.spec
            if not spec.auth or not ctx.secret:
                continue
            for what, headers in _forgeries(ctx, delivery):
                exchange = ctx.send(delivery, headers=headers)
                if exchange.error or exchange.status not in (401, 403):
                    kind = "shared secret" if isinstance(spec.auth[0], SharedSecret) else "signature"
                    findings.record(fail("authentication_required", f"sent a delivery with {what}; the target "
                                         f"{exchange.outcome()}; expected 401 or 403 (a receiver that checks no {kind} "
                                         "accepts forgeries)", delivery._replace(breaks=what), exchange, ctx,
                                         (f"rule: {spec.auth[0].source}",), expected="401/403"))
            if not accepted:
                findings.attempt(partial(expect_2xx, "authentication_required", ctx, delivery))
                accepted = True


@check("receiver", "robustness", sends=_per_event(lambda ctx: 1), expects="in time")
def answers_in_time(ctx: ReceiverContext, platform: str) -> None:
    """Every event's delivery is answered within the response timeout (senders give up after a few seconds),
    and within the platform's own timeout where its document states one (Qualified: 5 s)."""
    with Findings("answers_in_time", ctx.ledger) as findings:
        for delivery in _representatives(ctx, platform):

            def timely(delivery: Delivery = delivery) -> None:
                exchange = ctx.send(delivery)
                retry = delivery.spec.retry
                waits = failure_files.documented_wait(delivery.spec)  # what a failure file records as 'within'
                source = None
                if exchange.error is None and waits is not None and exchange.elapsed > waits:
                    # The platform gave up already: it counts the delivery failed and sends it again.
                    exchange.error = (f"answered after {exchange.elapsed:.2f} s, later than the {waits:g} s "
                                      f"{delivery.spec.label} waits for an answer before it counts the delivery "
                                      "failed (and retries it)")
                    source = retry.source if retry is not None else None
                if exchange.error is not None:  # what the answer said is other checks' business: only its time here
                    raise fail("answers_in_time", f"the target {exchange.outcome()}", delivery, exchange, ctx,
                               source=source)

            findings.attempt(timely)


@check("receiver", "robustness", sends=_per_event(lambda ctx: 1), expects="not 3XX")
def no_redirect(ctx: ReceiverContext, platform: str) -> None:
    """No delivery is answered with a 3XX: senders do not follow redirects, so the delivery would be lost."""
    with Findings("no_redirect", ctx.ledger) as findings:
        for delivery in _representatives(ctx, platform):

            def direct(delivery: Delivery = delivery) -> None:
                exchange = ctx.send(delivery)
                if exchange.error:
                    raise fail("no_redirect", f"the target {exchange.outcome()}", delivery, exchange, ctx)
                if exchange.status is not None and 300 <= exchange.status < 400:
                    location = f" to {redact.url(exchange.location)}" if exchange.location else ""
                    raise fail("no_redirect", f"answered {exchange.status}{location}: senders do not follow redirects, "
                               "so the delivery is lost", delivery, exchange, ctx)

            findings.attempt(direct)


def _part_name(part: NamePart) -> str:
    """How a report names one part of an event name: the header, or the body field's last key."""
    if part.header:
        return f"event name ({part.header})"
    assert part.body is not None
    return pointers.keys(part.body)[-1] if pointers.keys(part.body) else "event name"


def _rename(delivery: Delivery, part_index: int, value: str) -> Delivery:
    """The delivery with one part of its event name replaced, where the contract says that part travels."""
    naming = delivery.spec.event_naming
    assert naming is not None
    part = naming.parts[part_index]
    if part.header:
        return delivery._replace(headers={**delivery.headers, part.header: value}, event=f"({part.header}: {value})")
    assert part.body is not None
    body = pointers.replaced(delivery.body, part.body, value)
    return delivery._replace(body=body, event=f"({part.body}: {value})")


@check("receiver", "robustness", sends=_renames_sent, expects="not 5XX")
def unknown_event(ctx: ReceiverContext, platform: str) -> None:
    """A delivery naming an event or action the document does not list is not answered 5XX."""
    delivery = next(_representatives(ctx, platform))
    naming = delivery.spec.event_naming
    assert naming is not None
    with Findings("unknown_event", ctx.ledger) as findings:
        for index, part in enumerate(naming.parts):
            renamed = _rename(delivery, index, f"{UNKNOWN}_{index}")
            exchange = ctx.send(renamed)
            if exchange.error or (exchange.status or 0) >= 500:
                findings.record(fail("unknown_event", f"sent an unknown {_part_name(part)}; the target "
                                     f"{exchange.outcome()}; expected anything but 5XX (vendors add events and "
                                     "actions; a 5XX makes them retry)", renamed, exchange, ctx))


@check("receiver", "robustness", sends=_broken_sent, expects="2XX or 4XX")
def broken_bodies(ctx: ReceiverContext, platform: str) -> None:
    """A delivery that breaks one rule of its schema or headers gets a 2XX or a 4XX: no 5XX, no redirect, no dropped
    connection."""
    with Findings("broken_bodies", ctx.ledger) as findings:
        for delivery in _broken_deliveries(ctx, platform):

            def judge(delivery: Delivery = delivery) -> None:
                exchange = ctx.send(delivery)
                if exchange.error or (exchange.status or 0) // 100 not in (2, 4):  # a 3XX too: no sender follows it
                    raise fail("broken_bodies", f"sent a delivery that breaks one rule ({delivery.breaks}); the "
                               f"target {exchange.outcome()}; expected 2XX or 4XX, never 3XX, 5XX or a dropped "
                               "connection (a sender retries a 5XX, and a crash loses what else was in flight)",
                               delivery, exchange, ctx)

            findings.attempt(judge)
