"""Sender checks a to h: what must arrive on the wire when a sender delivers one event.

One small named function per check (:data:`CHECKS`), each judging an
:class:`~conformance.sender_harness.Observation` and raising :class:`~conformance.report.CheckFailure`
with the check, the payload handed over, and what arrived (headers, a body excerpt, the time of each
try). Only the wire is judged, never the command's exit status. Everything platform-specific is read from
the profile (method, Content-Type, headers, where the event name travels, the secret header, the
per-delivery metadata, the retry policy); platforms whose documents give no retry policy are judged by
DoSelect's, and the pytest layer marks those checks ``retry_policy_inferred``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from conformance import catalog, pointers
from conformance.delivery import header_bytes
from conformance.report import CheckFailure, scrubbed
from conformance.sender_harness import (
    ACCEPTING,
    REFUSE_ALL,
    REFUSING,
    Arrival,
    Observation,
)

# --- the checks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryRule:
    """The retry policy the checks apply to one platform, and whether its own document states it."""

    max_tries: int
    documented: bool
    source: str


def retry_rule(platform: str) -> RetryRule:
    policy = catalog.profile(platform).retry_policy()
    return RetryRule(policy["max_tries"], policy["documented"], policy["source"])


@dataclass(frozen=True)
class BackoffRule:
    """When a series of intervals between tries counts as a backoff (docs/decisions.md#backoff-verification).

    Intervals are measured at the receiver, so each carries scheduling noise (a few ms, tens under load,
    now and then one long stall). The rule asks for what noise does not produce from a constant or
    immediate schedule, and what every exponential one with a base of 10 ms or more shows over four
    retries:

    - no interval shorter than the one before, give or take ``shrink`` of it plus ``noise``;
    - the last two intervals (the last one, with only three tries) each at least ``ratio`` times the first
      and ``growth`` seconds longer: a single stall cannot make a constant schedule look like growth, and
      a schedule capped early (50, 100, 100, 100 ms) still passes.
    """

    noise: float = 0.02
    shrink: float = 0.10
    ratio: float = 1.5
    growth: float = 0.04
    immediate: float = 0.01  # below this, a failing series is reported as "immediate" rather than "constant"

    def problems(self, intervals: Sequence[float]) -> list[str]:
        shown = ", ".join(f"{i * 1000:.0f} ms" for i in intervals)
        if len(intervals) < 2:
            return [f"only {len(intervals) + 1} tries arrived: a backoff needs at least 3 to be judged"]
        problems = []
        for n in range(1, len(intervals)):
            if intervals[n] < intervals[n - 1] * (1 - self.shrink) - self.noise:
                problems.append(f"interval {n + 1} ({intervals[n] * 1000:.0f} ms) is shorter than interval {n} "
                                f"({intervals[n - 1] * 1000:.0f} ms): intervals must not decrease")
        first, late = intervals[0], min(intervals[-2:] if len(intervals) > 2 else intervals[-1:])
        if late < first * self.ratio or late - first < self.growth:
            if max(intervals) < self.immediate:
                problems.append(f"the retries came immediately (intervals {shown}): a sender must back off")
            else:
                problems.append(f"the intervals did not grow (intervals {shown}): the last two must each be at "
                                f"least {self.ratio:g} times the first and {self.growth * 1000:.0f} ms longer")
        return problems


BACKOFF = BackoffRule()


def _fail(check: str, obs: Observation, summary: str, problems: Sequence[str] = (), source: str = "") -> CheckFailure:
    secret = obs.case.secret
    details = [f"- {scrubbed(p, secret)}" for p in problems] + ([f"source: {source}"] if source else [])
    details += [scrubbed(line, secret) for line in obs.describe()]
    payload = scrubbed(json.dumps(obs.case.body, ensure_ascii=False), secret)
    return CheckFailure(check, scrubbed(summary, secret), platform=obs.case.platform, event=obs.case.event,
                        details=details, payload=payload)


def _arrived(check: str, obs: Observation) -> list[Arrival]:
    """The tries, or a failure that says why there are none (shared by every check; it is check h)."""
    if obs.spawn_error:
        raise _fail(check, obs, f"the sender command {obs.how_it_ended()}")
    if not obs.tries:
        why = "the command " + obs.how_it_ended()
        if obs.strays:
            why += f"; {len(obs.strays)} request(s) arrived at other paths"
        raise _fail(check, obs, f"nothing arrived at {obs.url}: {why}")
    return obs.tries


def _json(data: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), but booleans are not numbers and order of keys is free."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + " ..."


def differences(expected: Any, got: Any, pointer: str = "", limit: int = 5) -> list[str]:
    """Where two JSON values differ, as ``pointer: expected X, got Y`` lines (the first ``limit``)."""
    out: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(out) >= limit or _same(a, b):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                where = f"{at}/{pointers.from_path([key])[1:]}"
                if key not in b:
                    out.append(f"{where}: missing (expected {_short(a[key])})")
                elif key not in a:
                    out.append(f"{where}: added ({_short(b[key])})")
                else:
                    walk(a[key], b[key], where)
                if len(out) >= limit:
                    return
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{at}/{i}")
        else:
            out.append(f"{at or '/'}: expected {_short(a)}, got {_short(b)}")

    walk(expected, got, pointer)
    return out


def _without(body: Any, paths: Sequence[str]) -> Any:
    """``body`` without the values at ``paths`` (the metadata a sender may set)."""
    for pointer in paths:
        body = pointers.removed(body, pointer)
    return body


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    media, _, rest = value.partition(";")
    params = {}
    for item in rest.split(";"):
        name, _, val = item.partition("=")
        if name.strip():
            params[name.strip().lower()] = val.strip().strip('"').lower()
    return media.strip().lower(), params


def _text(header_value: str) -> str:
    return header_bytes(header_value).decode("utf-8", errors="replace")


def check_wire(obs: Observation) -> None:
    """a. Method, Content-Type and the documented headers with their documented values, on every try."""
    check = "sender a: method and headers"
    prof = catalog.profile(obs.case.platform)
    expected = prof.delivery_headers(obs.case.event, obs.case.secret)
    content_type = expected.pop("Content-Type")
    problems: list[str] = []
    for number, arrival in enumerate(_arrived(check, obs), 1):
        at = f"try {number}: "
        if arrival.method != prof.method:
            problems.append(f"{at}method {arrival.method}, expected {prof.method} [{prof.method_source}]")
        got = arrival.header("Content-Type")
        if got is None:
            problems.append(f"{at}no Content-Type header, expected {content_type}")
        else:
            media, params = _media_type(got)
            if media != content_type:
                problems.append(f"{at}Content-Type {got!r}, expected {content_type!r} [{prof.headers_source}]")
            elif params.get("charset", "utf-8") not in ("utf-8", "utf8"):
                problems.append(f"{at}Content-Type {got!r}: the body must be UTF-8 JSON")
        for name, value in expected.items():
            got = arrival.header(name)
            secret = name == prof.secret_header
            if got is None:
                problems.append(f"{at}header {name} is missing" + ("" if secret else f", expected {value!r}"))
            elif header_bytes(got) != value.encode("utf-8"):
                problems.append(f"{at}header {name} " + ("differs from the configured secret" if secret
                                                         else f"is {_text(got)!r}, expected {value!r}"))
        try:
            claimed = prof.event_of(_json(arrival.body), arrival.header_map)
        except (ValueError, catalog.CatalogError):
            claimed = None  # no event to compare: the body check says why
        if claimed is not None and claimed != obs.case.event:
            problems.append(f"{at}the delivery names event {claimed!r}, expected {obs.case.event!r} "
                            f"[{prof.event_name['source']}]")
    if problems:
        raise _fail(check, obs, "the request does not look the way the platform documents", problems,
                    prof.headers_source)


def check_body(obs: Observation) -> None:
    """b. UTF-8 JSON, valid against the event's schema, equal to the payload handed over except for the
    per-delivery metadata the profile lets a sender set (a ``url`` value must be the URL called)."""
    check = "sender b: body"
    prof = catalog.profile(obs.case.platform)
    metadata = prof.delivery_metadata
    set_by_sender = [m["pointer"] for m in metadata]
    problems: list[str] = []
    for number, arrival in enumerate(_arrived(check, obs), 1):
        at = f"try {number}: "
        try:
            body = _json(arrival.body)
        except UnicodeDecodeError as exc:
            problems.append(f"{at}the body is not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        except ValueError as exc:
            problems.append(f"{at}the body is not JSON ({exc})")
            continue
        verdict = catalog.validate(obs.case.platform, body, {}, event_name=obs.case.event)
        problems += [f"{at}{p}" for p in verdict.problems]
        problems += [f"{at}{d}" for d in differences(_without(obs.case.body, set_by_sender),
                                                     _without(body, set_by_sender))]
        for entry in metadata:
            if entry["value"] == "url":
                value = pointers.find(body, entry["pointer"])
                if value != obs.url:
                    problems.append(f"{at}{entry['pointer']} is {json.dumps(value)}, expected the URL called, "
                                    f"{obs.url!r} [{entry['source']}]")
    if problems:
        raise _fail(check, obs, "the body is not the payload handed over, as the event's schema requires",
                    problems, prof.seed)


def check_accepted(obs: Observation) -> None:
    """c. A first answer of 200, 201, 202 or 204 ends the delivery: exactly one request."""
    check = "sender c: one request when accepted"
    tries = _arrived(check, obs)
    rule = retry_rule(obs.case.platform)
    if len(tries) != 1:
        raise _fail(check, obs, f"{len(tries)} requests arrived; after a first answer of {obs.case.statuses[0]} "
                    "there must be exactly one", source=rule.source)


def check_retried(obs: Observation) -> None:
    """d. A non-2XX answer (3XX included: redirects are not followed) is retried; nothing after the 2XX."""
    check = "sender d: retry after a non-2XX answer"
    tries = _arrived(check, obs)
    rule = retry_rule(obs.case.platform)
    refused = obs.case.statuses[0]
    problems = []
    if obs.followed_redirect:
        problems.append(f"the sender followed the {refused} answer's Location ({obs.redirect_url}): a 3XX is a "
                        "failed try, to be retried at the configured URL")
    if len(tries) < 2:
        problems.append(f"after an answer of {refused} the sender did not try again")
    elif len(tries) > 2:
        problems.append(f"{len(tries) - 2} more request(s) arrived after the 2XX answer")
    if problems:
        raise _fail(check, obs, f"expected exactly 2 requests: the first answered {refused}, the second "
                    f"answered 200; {len(tries)} arrived", problems, rule.source)


def check_max_tries(obs: Observation) -> None:
    """e. When every answer is non-2XX: exactly ``max_tries`` requests in total, then nothing more."""
    check = "sender e: gives up after the last try"
    tries = _arrived(check, obs)
    rule = retry_rule(obs.case.platform)
    if len(tries) != rule.max_tries:
        how = "gave up too early" if len(tries) < rule.max_tries else "kept on trying"
        raise _fail(check, obs, f"{len(tries)} requests arrived while every answer was {REFUSE_ALL}; the policy "
                    f"allows exactly {rule.max_tries} tries in total: the sender {how}", source=rule.source)


def check_backoff(obs: Observation) -> None:
    """f. The intervals between tries are positive and grow (:class:`BackoffRule`)."""
    check = "sender f: backoff"
    tries = _arrived(check, obs)
    rule = retry_rule(obs.case.platform)
    intervals = [b.at - a.at for a, b in pairwise(tries[:rule.max_tries])]
    problems = BACKOFF.problems(intervals)
    if problems:
        raise _fail(check, obs, "the tries are not spaced by a growing backoff", problems, rule.source)


def check_same_delivery(obs: Observation) -> None:
    """g. Every retry repeats the delivery: same body, so the same per-delivery metadata
    (DoSelect ``meta.delivery_id``) on every try."""
    check = "sender g: retries repeat the delivery"
    tries = _arrived(check, obs)
    rule = retry_rule(obs.case.platform)
    if len(tries) < 2:
        raise _fail(check, obs, "only one try arrived while every answer was a failure: no retry to compare",
                    source=rule.source)
    metadata = {m["pointer"]: m["source"] for m in catalog.profile(obs.case.platform).delivery_metadata}
    try:
        first = _json(tries[0].body)
    except ValueError:
        first = None
    problems = []
    for number, arrival in enumerate(tries[1:], 2):
        try:
            found = differences(first, _json(arrival.body)) if first is not None else None
        except ValueError:
            found = None
        if found is None:
            if arrival.body != tries[0].body:
                problems.append(f"try {number}: the body is not the bytes of try 1")
            continue
        for line in found:
            pointer = line.split(":", 1)[0]
            note = f" [{metadata[pointer]}]" if pointer in metadata else ""
            problems.append(f"try {number} differs from try 1 at {line}{note}")
    if problems:
        raise _fail(check, obs, "a retry is not the same delivery as the first try", problems, rule.source)


def check_delivers(obs: Observation) -> None:
    """h. The command delivers, and finishes within ``--sender-timeout``; one that sends nothing, hangs or
    crashes before sending fails with a message that says which."""
    check = "sender h: the command delivers within its bound"
    _arrived(check, obs)
    if obs.timed_out:
        raise _fail(check, obs, f"the command {obs.how_it_ended()}; a sender must return once the delivery "
                    "is done")


@dataclass(frozen=True)
class SenderCheck:
    """One check: its letter, the function, the scenarios it judges, and whether it follows the retry policy."""

    letter: str
    name: str
    func: Callable[[Observation], None]
    scenarios: tuple[str, ...]
    retry: bool = False
    marker: str = "documented"  # for a platform whose own document states the rule


CHECKS: dict[str, SenderCheck] = {c.letter: c for c in (
    SenderCheck("a", "wire", check_wire, ("accept-200", "refuse-all")),  # refuse-all: the retries' headers too
    SenderCheck("b", "body", check_body, ("accept-200",)),
    SenderCheck("c", "accepted", check_accepted, tuple(f"accept-{s}" for s in ACCEPTING), retry=True),
    SenderCheck("d", "retried", check_retried, tuple(f"refuse-{s}" for s in REFUSING), retry=True),
    SenderCheck("e", "max_tries", check_max_tries, ("refuse-all",), retry=True),
    SenderCheck("f", "backoff", check_backoff, ("refuse-all",), retry=True),
    SenderCheck("g", "same_delivery", check_same_delivery, ("refuse-all",), retry=True),
    SenderCheck("h", "delivers", check_delivers, ("accept-200",), marker="robustness"),
)}
