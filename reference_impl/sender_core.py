"""What the reference senders share, without an HTTP client: the options, the records, building a delivery
(:func:`prepare`: the contract's headers and metadata, set once and repeated on every try), the schedule of
tries and when a delivery ends.

:mod:`hookproof.reference_impl.sender` puts it on httpx (:class:`~hookproof.reference_impl.sender.Sender`,
:class:`~hookproof.reference_impl.sender.AsyncSender`); :mod:`hookproof.reference_impl.sender_plain` on the
standard library's ``http.client``, for the command line, which starts a process per delivery and so should
not import what one delivery does not need (docs/performance.md). Both share this module, so their retry
timing and the requests they send cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from hookproof import auth, catalog, pointers, redact
from hookproof.contract import CatalogError, Contract, RetryPolicy
from hookproof.reference_impl.backoff import Backoff, Uniform, for_policy
from hookproof.wire import encode

if TYPE_CHECKING:
    import httpx

USER_AGENT = "hookproof-reference-sender/0.2"  # sent only where the contract documents no User-Agent
MAX_TIME_SCALE = 1e6


class SenderError(ValueError):
    """Bad input: an unknown platform, contract or event, or a body that names another event than the one given."""


# --- options and records ---------------------------------------------------------------------------------


class _Options(NamedTuple):  # the fields; their defaults are SendOptions.__new__'s
    time_scale: float
    jitter: float  # add up to this fraction of each increasing wait at random
    backoff: Backoff | None
    backoff_base: float | None  # absolute first wait of an increasing backoff
    max_tries: int | None
    connect_timeout: float
    read_timeout: float
    attempt_deadline: float  # the whole try, however slowly the answer trickles in
    max_response_bytes: int  # read this much of an answer at most; the status is what counts


class SendOptions(_Options):
    """How the reference sender paces and bounds its tries. The retry *rules* are the contract's; these only
    scale its waits (``time_scale``), or replace them for a test (``backoff``, ``max_tries``). Checked when made.

    This module's records are named tuples, as the contract model is (:mod:`hookproof.contract`): the sender
    command imports them at every start, and ``dataclasses`` cost a quarter of that start-up."""

    __slots__ = ()

    def __new__(cls, time_scale: float = 1.0, jitter: float = 0.0, backoff: Backoff | None = None,
                backoff_base: float | None = None, max_tries: int | None = None, connect_timeout: float = 5.0,
                read_timeout: float = 10.0, attempt_deadline: float = 15.0,
                max_response_bytes: int = 64 * 1024) -> Self:
        if max_tries is not None and max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if min(connect_timeout, read_timeout, attempt_deadline) <= 0:
            raise ValueError("timeouts and the attempt deadline must be positive")
        if not 0 < time_scale <= MAX_TIME_SCALE:
            raise ValueError(f"the time scale must be positive and at most {MAX_TIME_SCALE:g}")
        return super().__new__(cls, time_scale, jitter, backoff, backoff_base, max_tries, connect_timeout,
                               read_timeout, attempt_deadline, max_response_bytes)

    def timeout(self) -> httpx.Timeout:
        import httpx  # only the httpx senders ask: the command line does not import it

        cap = self.attempt_deadline
        return httpx.Timeout(connect=min(self.connect_timeout, cap), read=min(self.read_timeout, cap),
                             write=min(self.read_timeout, cap), pool=min(self.connect_timeout, cap))

    def tries(self, policy: RetryPolicy) -> int:
        return self.max_tries or policy.max_tries

    def waits(self, policy: RetryPolicy) -> Backoff:
        return self.backoff or for_policy(policy, time_scale=self.time_scale, jitter=self.jitter,
                                          base=self.backoff_base)


class Attempt(NamedTuple):
    """One try: when it began, what came back (a status, or an error), and how long it took."""

    number: int
    started_at: str  # wall clock, ISO 8601 UTC
    offset: float  # seconds since the delivery's first try began (monotonic clock)
    duration: float
    status: int | None
    error: str | None = None
    response_bytes: int = 0
    truncated: bool = False  # the answer was longer than max_response_bytes and was not read to its end

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class DeliveryRecord:
    """What happened to one delivery: every try, in order (filled in as the tries are made)."""

    __slots__ = ("attempts", "contract", "event", "gave_up", "metadata", "platform", "url")

    def __init__(self, platform: str, contract: str, event: str, url: str, metadata: dict[str, Any],
                 attempts: list[Attempt] | None = None, gave_up: str | None = None) -> None:
        self.platform, self.contract, self.event, self.url = platform, contract, event, url
        self.metadata = metadata  # the per-delivery values the sender set, by JSON pointer
        self.attempts: list[Attempt] = attempts if attempts is not None else []
        self.gave_up = gave_up  # why it stopped before its last try, e.g. "answer 400 is not retried"

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "contract": self.contract, "event": self.event, "url": self.url,
                "metadata": self.metadata, "attempts": [attempt._asdict() for attempt in self.attempts],
                "gave_up": self.gave_up, "delivered": self.delivered}

    def __repr__(self) -> str:
        return f"DeliveryRecord({self.to_dict()!r})"


class Outgoing(NamedTuple):
    """One request as it goes on the wire."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes

    @property
    def wire_headers(self) -> dict[bytes, bytes]:
        """Header values as UTF-8 bytes: httpx would refuse a non-ASCII ``str`` (a secret such as 'Ünï')."""
        return {name.encode("ascii"): value.encode("utf-8") for name, value in self.headers.items()}


class Prepared(NamedTuple):
    """A delivery ready to send: the request every try repeats, and the metadata set for it."""

    contract: Contract
    event: str
    outgoing: Outgoing
    body: Any
    metadata: dict[str, Any]
    secret: str | None = None
    delivery_id: str = ""

    def __repr__(self) -> str:  # never the secret
        return f"Prepared({self.contract.label}, {self.event!r}, {self.outgoing.url!r}, id {self.delivery_id!r})"

    @property
    def platform(self) -> str:
        return self.contract.platform

    @property
    def policy(self) -> RetryPolicy:
        assert self.contract.retry is not None
        return self.contract.retry


class Job(NamedTuple):
    """One delivery for :meth:`AsyncSender.deliver_many`."""

    url: str
    platform: str
    event: str
    body: Any
    secret: str | None = None
    contract: str | None = None

    def __repr__(self) -> str:  # never the secret
        return f"Job({self.url!r}, {self.platform!r}, {self.event!r}, contract {self.contract!r})"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_delivery_id() -> str:
    """A random (version 4) UUID as text, RFC 9562 section 5.4: the version nibble 4, the variant bits 10, the
    other 122 bits random. ``str(uuid.uuid4())`` builds a UUID object on the way, a tenth of what prepare()
    and the records cost per delivery (bench/sender.py); this formats the text straight from the bytes."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def webhook_contract(platform: str, contract: str | None = None) -> Contract:
    """A webhook contract; :class:`SenderError` for an unknown platform or contract, or a registration API."""
    try:
        spec = catalog.contract(platform, contract)
    except CatalogError as exc:
        raise SenderError(str(exc)) from None
    if spec.kind != "webhook" or spec.retry is None:
        raise SenderError(f"{platform} is a {spec.kind}, not a webhook platform: there is nothing to send")
    return spec


def prepare(url: str, platform: str, event: str | None, body: Any, secret: str | None = None, *,
            contract: str | None = None, now: Callable[[], datetime] = utc_now,
            new_id: Callable[[], str] = new_delivery_id) -> Prepared:
    """Build the request of one delivery; its metadata is set here, once, and every retry repeats it.

    ``event`` may be None when the body names its event by itself (every platform but Codewars).
    """
    spec = webhook_contract(platform, contract)
    naming = spec.event_naming
    assert naming is not None
    if not event:
        if naming.header_names:
            raise SenderError(f"part of a {spec.platform_name} event name travels in "
                              f"{', '.join(naming.header_names)}, not in the body: give --event")
        try:
            event = spec.event_of(body, {})
        except CatalogError as exc:
            raise SenderError(f"{exc}: give --event") from None
    if event not in spec.events:
        raise SenderError(f"unknown {spec.platform_name} event {event!r} (contract {spec.name}); events: "
                          f"{', '.join(spec.events)}")
    if secret and any(ord(c) < 32 or ord(c) == 127 for c in secret):
        raise SenderError("the secret contains a control character: it cannot travel in a header")
    headers = spec.delivery_headers(event)
    try:
        claimed = spec.event_of(body, headers) if any(p.body for p in naming.parts) else event
    except CatalogError as exc:
        raise SenderError(str(exc)) from None
    if claimed != event:
        raise SenderError(f"the body belongs to event {claimed!r}, not {event!r}")
    delivery_id = new_id()
    metadata = {}
    for entry in spec.metadata:
        kind = entry.value
        if kind not in ("uuid4", "now", "url"):
            raise KeyError(kind)  # the profile schema allows no other kind
        value = delivery_id if kind == "uuid4" else now().isoformat() if kind == "now" else url
        metadata[entry.pointer] = value
        body = pointers.replaced(body, entry.pointer, value)
    try:
        content = encode(body)
    except ValueError as exc:
        raise SenderError(f"the body cannot be sent as JSON: {exc}") from None
    if secret:  # remember() ignores an empty one; skip its lock
        redact.remember(secret)
    outgoing = Outgoing(spec.method, url, headers, content)
    return Prepared(spec, event, outgoing, body, metadata, secret, delivery_id)


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Outcome:
    """What one try learnt so far; kept outside the exchange so that a deadline does not lose the status."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.error: str | None = None
        self.received = 0
        self.truncated = False

    def count(self, chunk: bytes, cap: int) -> bool:
        """Count a chunk of the answer; True once the cap is reached and reading should stop."""
        self.received += len(chunk)
        if self.received >= cap:
            self.truncated = True
            return True
        return False


class _SenderBase:
    """What the sync and async senders share: the options, the injected clocks, the schedule and the record."""

    def __init__(self, options: SendOptions | None, *, clock: Callable[[], float], now: Callable[[], datetime],
                 new_id: Callable[[], str], rng: Uniform | None) -> None:
        self.options = options or SendOptions()
        self._clock, self._now, self._new_id = clock, now, new_id
        self._rng = rng  # None: a jittered backoff draws from the random module (Backoff.delay)

    def prepare(self, url: str, platform: str, event: str | None, body: Any, secret: str | None,
                contract: str | None = None) -> Prepared:
        return prepare(url, platform, event, body, secret, contract=contract, now=self._now, new_id=self._new_id)

    def outgoing(self, prepared: Prepared, number: int) -> Outgoing:
        """The request of try ``number``: the same request every time, authenticated over its bytes (a seam
        for deliberately broken senders)."""
        out = prepared.outgoing
        if not prepared.secret:  # nothing to sign with (auth.sign would return no header)
            return out
        signed = auth.sign(prepared.contract, out.content, prepared.body, prepared.secret,
                           msg_id=prepared.delivery_id, timestamp=self._now().timestamp())
        return out._replace(headers={**out.headers, **signed}) if signed else out

    def _record(self, prepared: Prepared) -> DeliveryRecord:
        return DeliveryRecord(prepared.platform, prepared.contract.name, prepared.event,
                              redact.url(prepared.outgoing.url), dict(prepared.metadata))

    def _attempt(self, number: int, started_at: str, first: float, began: float, outcome: _Outcome) -> Attempt:
        return Attempt(number, started_at, round(began - first, 6), round(self._clock() - began, 6),
                       outcome.status, outcome.error, outcome.received, outcome.truncated)

    def _schedule(self, prepared: Prepared) -> Iterator[tuple[int, float]]:
        """(try number, seconds to wait before it) for every try the policy allows; the sync and async
        senders share it, so their retry timing cannot drift apart."""
        policy, backoff = prepared.policy, None
        wait = 0.0
        for number in range(1, self.options.tries(policy) + 1):
            if number > 1:
                backoff = backoff or self.options.waits(policy)  # built at the first retry: most deliveries have none
                wait = backoff.delay(number - 2, wait, self._rng)
            yield number, wait

    @staticmethod
    def _done(prepared: Prepared, attempt: Attempt, record: DeliveryRecord) -> bool:
        """Whether the delivery ends after this try: delivered, or failed in a way the policy does not retry."""
        if attempt.ok:
            return True
        policy = prepared.policy
        if attempt.status is not None and not policy.retries(attempt.status):
            record.gave_up = f"an answer of {attempt.status} is not retried ({policy.retried_statuses} are)"
            return True
        if attempt.status is None and not policy.transport_failures:
            record.gave_up = "a failed connection or timeout is not retried"
            return True
        return False


class _SyncSender(_SenderBase):
    """The one-at-a-time delivery loop the httpx and the http.client senders share; each supplies ``_try``."""

    _sleep: Callable[[float], None]

    def deliver(self, url: str, platform: str, event: str | None, body: Any, *, secret: str | None = None,
                contract: str | None = None) -> DeliveryRecord:
        """Deliver one event, retrying as the contract's policy says; never raises for network trouble."""
        return self.deliver_prepared(self.prepare(url, platform, event, body, secret, contract))

    def deliver_prepared(self, prepared: Prepared) -> DeliveryRecord:
        record = self._record(prepared)
        first = self._clock()
        for number, wait in self._schedule(prepared):
            if wait:
                self._sleep(wait)
            record.attempts.append(self._try(self.outgoing(prepared, number), number, first))
            if self._done(prepared, record.attempts[-1], record):
                break
        return record

    def _try(self, out: Outgoing, number: int, first: float) -> Attempt:
        raise NotImplementedError
