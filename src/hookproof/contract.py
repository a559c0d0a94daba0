"""The contract model: what one platform's webhooks look like on the wire, as frozen, typed data.

A :class:`Platform` has one or more :class:`Contract` s: the contract of the document hookproof started from
(always first, its names spelt as the document spells them) and the contracts the vendor published later,
each derived from another by renaming, adding and dropping events and by overriding transport facts. Every
fact carries the :class:`Citation` it rests on, so that a verdict can say where its rule comes from.

This module holds types and the few rules that follow from them alone (how an event name is split, which
statuses a policy retries). Reading profiles into these types is :mod:`hookproof.profiles`' job; nothing
here does I/O.

The types are named tuples, not dataclasses: every reference sender process loads a profile into them, and
``dataclasses`` (with the ``inspect`` it imports) and the code it generates for each frozen class were a
quarter of that process's start-up (docs/performance.md). As tuples they are immutable and compare by value;
``x._replace(field=value)`` is a changed copy. A mapping field defaults to a read-only empty mapping.

Unlike the other modules, this one does not import ``annotations`` from ``__future__``: ``typing.NamedTuple``
compiles every annotation it is given as a string (108 of them here): the module took 3.6 ms to run with them,
2.5 ms without, in each sender process. A field's type must so be defined above the class that uses it.
"""

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from hookproof import pointers

DECISIONS = "docs/decisions.md"  # shipped in the wheel as hookproof/docs/decisions.md

MetadataKind = Literal["uuid4", "now", "url"]
BackoffKind = Literal["none", "constant", "increasing"]
Kind = Literal["webhook", "registration_api"]


class CatalogError(Exception):
    """Bad input from a user: an unknown platform, contract or event, or a delivery that names no event."""


class ProfileError(CatalogError):
    """A profile (or a schema folder) that cannot be used; the message names the file and the field."""


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, looked up without regard to case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


# --- citations -------------------------------------------------------------------------------------------


class Document(NamedTuple):
    """A public document a contract is read from: what a user opens to check a verdict."""

    id: str
    title: str
    url: str
    repository: str | None = None  # where its source text is versioned, e.g. https://github.com/owner/repo
    path: str | None = None
    commit: str | None = None
    date: str | None = None

    @property
    def text_as_of(self) -> str:
        """`` (text as of <the commit-pinned file>)`` where the text is versioned: the live page may have changed
        since its words were read (empty where it is not)."""
        if not (self.repository and self.commit):
            return ""
        return f" (text as of {self.repository}/blob/{self.commit}/{self.path or ''}".rstrip("/") + ")"

    def __str__(self) -> str:
        return f"{self.title} <{self.url}>{self.text_as_of}"


class Citation(NamedTuple):
    """Where one fact comes from: a document's section (and its words), and/or a recorded hookproof decision
    where the document is silent or ambiguous."""

    document: Document | None = None
    section: str = ""
    quote: str = ""
    decision: str = ""  # an anchor of docs/decisions.md
    note: str = ""

    def __str__(self) -> str:
        parts = []
        if self.document is not None:
            where = self.document.title + (f", {self.section}" if self.section else "")
            parts.append(f"{where} <{self.document.url}>{self.document.text_as_of}")
        if self.quote:
            parts.append(json.dumps(self.quote, ensure_ascii=False))
        if self.note:
            parts.append(self.note)
        if self.decision:
            parts.append(f"hookproof decision {DECISIONS}#{self.decision}")
        return "; ".join(parts) or "(no source given)"


NO_SOURCE = Citation()


# --- where things travel ---------------------------------------------------------------------------------


class NamePart(NamedTuple):
    """One part of an event name: read from the body at a JSON pointer, or from a header."""

    body: str | None = None
    header: str | None = None

    @property
    def where(self) -> str:
        return f"header {self.header}" if self.header else str(self.body)


class EventNaming(NamedTuple):
    """How a delivery names its event: parts joined by ``separator`` (Codewars: header ``X-Webhook-Event`` +
    ``.`` + body ``/action``)."""

    parts: tuple[NamePart, ...]
    separator: str
    source: Citation

    def split(self, event: str) -> list[str]:
        return event.split(self.separator, len(self.parts) - 1) if self.separator else [event]

    @property
    def header_names(self) -> tuple[str, ...]:
        return tuple(p.header for p in self.parts if p.header)

    def of(self, body: Any, headers: Mapping[str, str], platform_name: str) -> str:
        """The event a delivery claims to be; :class:`CatalogError` when a part is missing or not a string."""
        values = []
        for part in self.parts:
            if part.header:
                value = header_value(headers, part.header)
                if value is None:
                    raise CatalogError(f"cannot tell the {platform_name} event: header {part.header} is missing")
            else:
                assert part.body is not None
                try:
                    value = pointers.get(body, part.body)
                except KeyError:
                    raise CatalogError(f"cannot tell the {platform_name} event: the body has no {part.body}") from None
                if not isinstance(value, str):
                    shown = json.dumps(value, ensure_ascii=False)[:80]
                    raise CatalogError(f"cannot tell the {platform_name} event: {part.body} is {shown}, not a string")
            values.append(value)
        return self.separator.join(values)


class MetadataField(NamedTuple):
    """A value a sender sets once per delivery and repeats on every retry (DoSelect ``meta.delivery_id``)."""

    pointer: str
    value: MetadataKind
    source: Citation


# --- retries ---------------------------------------------------------------------------------------------


class StatusRange(NamedTuple):
    low: int
    high: int

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and self.low <= status <= self.high

    def __str__(self) -> str:
        if self.low == self.high:
            return str(self.low)
        if self.low % 100 == 0 and self.high == self.low + 99:
            return f"{self.low // 100}XX"
        return f"{self.low}-{self.high}"


SUCCESS = StatusRange(200, 299)
NON_2XX = (StatusRange(300, 599),)


class RetryPolicy(NamedTuple):
    """How a platform retries one delivery. Read by the sender checks, the sender harness and the reference
    sender alike, so that the rule judged and the behaviour shown cannot drift apart.

    ``max_tries`` counts the first try. ``retry_on`` are the answers that are retried (any other non-2XX answer
    ends the delivery as failed); ``transport_failures`` says whether a refused connection or a timeout is
    retried. ``backoff`` is the shape of the waits: ``none`` (no shape stated: only ``min_delay`` applies),
    ``constant`` (``delay`` each time) or ``increasing`` (each wait longer than the one before, from ``delay``
    if the document gives one);
    ``min_delay`` is the shortest wait the document allows. ``timeout`` is how long the platform waits for
    an answer, where documented. ``documented`` is False where a platform's document gives no policy and
    another platform's is applied (``assumed_from``).
    """

    documented: bool
    max_tries: int
    backoff: BackoffKind
    source: Citation
    retry_on: tuple[StatusRange, ...] = NON_2XX
    transport_failures: bool = True
    delay: float | None = None
    min_delay: float = 0.0
    timeout: float | None = None
    assumed_from: str | None = None

    def retries(self, status: int) -> bool:
        """Whether an answer of ``status`` is retried (a 2XX never is: it ends the delivery)."""
        return status not in SUCCESS and any(status in r for r in self.retry_on)

    @property
    def retries_every_failure(self) -> bool:
        return self.retry_on == NON_2XX

    @property
    def retried_statuses(self) -> str:
        return ", ".join(map(str, self.retry_on))

    def first_delay(self) -> float | None:
        """The documented wait before the first retry, if there is one to scale from."""
        if self.delay is not None:
            return self.delay
        return self.min_delay or None


# --- authentication --------------------------------------------------------------------------------------


class SharedSecret(NamedTuple):
    """The shared secret itself, in a header (Codewars ``X-Webhook-Secret``)."""

    header: str
    source: Citation
    optional: bool = True  # sent only when the account configured a secret
    scheme: Literal["shared-secret"] = "shared-secret"

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header,)


class HmacSignature(NamedTuple):
    """An HMAC of the body (or of one body field) keyed with the secret, in a header:
    ``header: prefix + encode(hmac(secret, signed bytes))``. ``hex-or-base64`` is for a document that leaves
    the encoding open: hex is sent, either is accepted (docs/decisions.md#doselect-signature)."""

    header: str
    source: Citation
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64", "hex-or-base64"] = "hex"
    prefix: str = ""
    signs: str = "body"  # "body", or a JSON pointer to the field whose text is signed
    optional: bool = False
    scheme: Literal["hmac"] = "hmac"

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header,)


class StandardWebhooks(NamedTuple):
    """The Standard Webhooks scheme: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
    (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``, keyed with the base64 secret after ``whsec_``)."""

    source: Citation
    tolerance: float = 300.0  # seconds a timestamp may be off
    optional: bool = False
    scheme: Literal["standard-webhooks"] = "standard-webhooks"

    @property
    def headers(self) -> tuple[str, ...]:
        return ("webhook-id", "webhook-timestamp", "webhook-signature")


AuthScheme = SharedSecret | HmacSignature | StandardWebhooks


# --- events ----------------------------------------------------------------------------------------------


class Example(NamedTuple):
    """A payload the platform's own document shows (or one derived from it, as its source says)."""

    platform: str
    event: str
    file: str  # its path under the schema folder, e.g. "doselect/examples/solution.submit.json"
    body: Any
    source: Citation
    verbatim: str | None = None  # the file holding the text exactly as published, where it is not JSON


class Event(NamedTuple):
    """One event of one contract: its name as that contract spells it, and the schema of its body."""

    platform: str
    contract: str
    name: str
    schema_id: str
    examples: tuple[Example, ...] = ()
    base_name: str | None = None  # the name the document spells, where this contract renamed the event


# --- registration APIs -----------------------------------------------------------------------------------


class ApiKey(NamedTuple):
    header: str
    source: Citation


class Settings(NamedTuple):
    """Where a registration request carries its webhook settings, and what one setting holds.

    ``fields`` maps each field of a setting to its kind (``boolean`` or ``url``), which is all the checks
    need to write a setting of their own and to recognise it when the API shows it back.
    """

    at: str  # JSON pointer to the object holding one setting per key
    keys: tuple[str, ...]
    fields: Mapping[str, Literal["boolean", "url"]]
    source: Citation


class PartialUpdate(NamedTuple):
    """The rule that a setting a request omits keeps its stored value, and what else such a request sends."""

    source: Citation
    extra: Mapping[str, Any] = MappingProxyType({})  # e.g. Xobin's {"updateAll": false}


class ReadBack(NamedTuple):
    """Where the checks may read the stored settings back, when the API shows them."""

    answer_at: str | None  # JSON pointer into the update's answer (Xobin: /webhook)
    get: bool  # whether GET on the same path may show them (not documented by Xobin)
    source: Citation


class Registration(NamedTuple):
    """A webhook registration API (Xobin ``POST /webhooks``): one endpoint that stores settings."""

    method: str
    path: str
    content_type: str
    api_key: ApiKey
    request: Event
    response: Event
    settings: Settings
    partial_update: PartialUpdate | None
    read_back: ReadBack
    apply_to_all: str | None = None  # Xobin-only: a flag (JSON pointer) that also updates every assessment
    source: Citation = NO_SOURCE


# --- contracts and platforms -----------------------------------------------------------------------------


class Contract(NamedTuple):
    """Everything one version of a platform's contract says about a delivery (or a registration request)."""

    platform: str
    platform_name: str
    name: str
    title: str
    kind: Kind
    document: Document | None
    method: str
    method_source: Citation
    content_type: str
    headers: Mapping[str, str]
    headers_source: Citation
    event_naming: EventNaming | None
    metadata: tuple[MetadataField, ...]
    auth: tuple[AuthScheme, ...]
    retry: RetryPolicy | None
    events: Mapping[str, Event]
    date: str | None = None
    based_on: str | None = None
    renames: Mapping[str, str] = MappingProxyType({})  # the document's name -> this contract's name
    registration: Registration | None = None
    historical: bool = False  # published once and superseded: accepted, but not sent unless asked for

    @property
    def label(self) -> str:
        """How a report names the contract, e.g. ``codewars 2021-04``."""
        return f"{self.platform} {self.name}"

    @property
    def secret_headers(self) -> tuple[str, ...]:
        """Every header whose value is, or is derived from, the secret: masked wherever it is shown."""
        names = [h for scheme in self.auth for h in scheme.headers]
        if self.registration is not None:
            names.append(self.registration.api_key.header)
        return tuple(names)

    def event(self, name: str) -> Event:
        if name not in self.events:
            raise CatalogError(f"unknown {self.platform} event {name!r} (contract {self.name}); events: "
                               f"{', '.join(self.events)}")
        return self.events[name]

    def name_values(self, event: str) -> list[str]:
        """The values of the event name's parts: 'code_challenge.created' -> ['code_challenge', 'created']."""
        return self.event_naming.split(event) if self.event_naming else []

    def delivery_headers(self, event: str) -> dict[str, str]:
        """The headers every delivery of ``event`` carries, before authentication (:mod:`hookproof.auth`)."""
        headers = {"Content-Type": self.content_type, **self.headers}
        if self.event_naming:
            for part, value in zip(self.event_naming.parts, self.name_values(event), strict=False):
                if part.header:
                    headers[part.header] = value
        return headers

    def event_of(self, body: Any, headers: Mapping[str, str] | None = None) -> str:
        if self.event_naming is None:
            raise CatalogError(f"{self.label} names no events: it is a {self.kind}")
        return self.event_naming.of(body, headers or {}, self.platform_name)


class Platform(NamedTuple):
    """A platform and its contracts; the first is the contract of the document hookproof started from."""

    id: str
    name: str
    kind: Kind
    contracts: tuple[Contract, ...]
    origin: str  # the profile file it was read from, for messages

    @property
    def base(self) -> Contract:
        return self.contracts[0]

    def contract(self, name: str | None = None) -> Contract:
        if name is None:
            return self.base
        for contract in self.contracts:
            if contract.name == name:
                return contract
        raise CatalogError(f"unknown {self.id} contract {name!r}; contracts: {', '.join(self.contract_names)}")

    @property
    def contract_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contracts)
