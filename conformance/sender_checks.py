"""Sender checks: what must arrive on the wire when a sender delivers one event.

Two layers. The *judges* (``judge_*``) each take one :class:`~hookproof.conformance.sender_harness.Observation`
(one scripted run of the command) and raise :class:`~hookproof.conformance.report.CheckFailure` with the
payload handed over and what arrived (headers, a body excerpt, the time of each try); ``tests/`` calls them
directly. The *checks* registered in :mod:`hookproof.conformance.registry` run a judge over the cases its
rule is about. Only the wire is judged, never the command's exit status, and everything platform-specific
comes from the contract: method, Content-Type, headers, where the event name travels, authentication, the
per-delivery metadata and the retry policy (which answers are retried, how many tries, the backoff's shape).
Platforms whose documents give no retry policy are judged by the one their profile assumes, and those
checks are marked ``retry_policy_inferred``.
"""

from __future__ import annotations

import json
import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hookproof import auth, pointers, redact, validation
from hookproof.conformance import run_budget
from hookproof.conformance.causes import Findings, Ledger
from hookproof.conformance.registry import check
from hookproof.conformance.report import CheckFailure, NotChecked
from hookproof.conformance.run_budget import NOT_RUN, RunOutOfTime
from hookproof.conformance.sender_harness import ACCEPTING, Arrival, Observation, SenderHarness
from hookproof.contract import CatalogError, RetryPolicy


class LeftoverProcessesWarning(UserWarning):
    """A sender command left processes running after it ended, which the harness killed. Nothing arrived late
    (what arrived is judged), but a sender that hands a delivery to a background process loses it when the job
    that started it ends, as a CI step or a request handler does."""


@dataclass
class SenderContext:
    """A sender check's view of the run: the harness that runs the command, and the secret it is given."""

    harness: SenderHarness
    secret: str | None = None
    ledger: Ledger = field(default_factory=Ledger)
    warned: set[tuple[str, str]] = field(default_factory=set)  # (platform, case) whose leftovers were told

    def __post_init__(self) -> None:
        redact.remember(self.secret)

    def observe(self, platform: str, scenario: str) -> Observation:
        self.harness.observe_many(platform, [scenario], self.secret)
        obs = self.harness.observe(platform, scenario, self.secret)
        self._tell_leftovers(obs)
        return obs

    def _tell_leftovers(self, obs: Observation) -> None:
        """Once per case, in the check that first judged it (a failure's transcript says it too): on a passing
        run it is the only place a user learns it."""
        seen = (obs.case.platform, obs.case.name)
        if obs.killed_leftovers and seen not in self.warned:
            self.warned.add(seen)
            warnings.warn(LeftoverProcessesWarning(
                f"{obs.case.platform} case {obs.case.name}: the sender command left {obs.killed_leftovers} "
                "process(es) running after it ended, which hookproof killed; a delivery handed to a background "
                "process is lost when the job that started it ends"), stacklevel=2)

    def observe_many(self, platform: str, scenarios: Sequence[str]) -> None:
        """Run the cases a check judges side by side where the harness may (``--hookproof-sender-jobs``)."""
        self.harness.observe_many(platform, scenarios, self.secret)


# --- rules on timing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackoffRule:
    """When a series of intervals between tries counts as an increasing backoff
    (docs/decisions.md#backoff-verification).

    Intervals are measured at the receiver, so each carries scheduling noise (a few ms, tens under load,
    now and then one long stall). The rule asks for what noise does not produce from a constant or
    immediate schedule, and what every exponential one with a first wait of 25 ms or more shows over four
    retries, whatever its jitter adds (17 ms without jitter; docs/decisions.md#backoff-verification has the
    arithmetic):

    - no interval shorter than the one before, give or take ``shrink`` of it plus ``noise``;
    - the last two intervals (the last one, with only three tries) each at least ``ratio`` times the first
      and ``growth`` seconds longer: a single stall cannot make a constant schedule look like growth, and
      a schedule capped early (50, 100, 100, 100 ms) still passes;
    - with four intervals or more, not both of the first two under ``immediate``: retries at once, then
      two stalls on the last two intervals (2, 2, 45, 50 ms, say), would otherwise pass. A
      sender that really retries at once twice and then backs off is judged over several deliveries
      (:class:`EnvelopeRule`), where a stall is one vote.
    """

    noise: float = 0.02
    shrink: float = 0.10
    ratio: float = 1.5
    growth: float = 0.04
    immediate: float = 0.01  # below this, a failing series is reported as "immediate" rather than "constant"

    def problems(self, intervals: Sequence[float]) -> list[str]:
        shown = _ms(intervals)
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
        elif len(intervals) > 3 and max(intervals[:2]) < self.immediate:
            problems.append(f"the first two retries came at once (intervals {shown}): growth in the last two "
                            "alone may be two scheduling stalls, not a backoff")
        return problems


BACKOFF = BackoffRule()


@dataclass(frozen=True)
class EnvelopeRule:
    """When intervals measured over several deliveries count as an increasing backoff, jitter or not
    (docs/decisions.md#jitter-proof-backoff).

    Jittered backoff (full, equal or decorrelated jitter over an exponential schedule) draws each wait at
    random below a growing bound, so one delivery's intervals may shrink, but most deliveries still end on a
    wait well above their first. Each delivery votes: it grew if its last wait is at least ``ratio`` times its
    first and ``growth`` longer. The backoff increases if at least ``share`` of the deliveries grew. A scheduler
    stall inflates one wait of one delivery now and then, which is a vote or two, never ``share`` of thirty; a
    jittered exponential schedule grows in three deliveries out of four, so it cannot draw fewer than ``share``
    either (the odds are in the decision). Waits whose median is under ``immediate`` are retries at once.
    """

    ratio: float = 1.5
    growth: float = 0.02
    share: float = 0.4
    immediate: float = 0.01

    def grew(self, waits: Sequence[float]) -> bool:
        return waits[-1] >= waits[0] * self.ratio and waits[-1] - waits[0] >= self.growth

    def problems(self, series: Sequence[Sequence[float]]) -> list[str]:
        usable = [s for s in series if len(s) >= 2]
        if not usable:
            return ["fewer than 3 tries arrived in every delivery: a backoff needs at least 3 to be judged"]
        middle = statistics.median(v for s in usable for v in s)
        if middle < self.immediate:
            return [f"the retries came at once: over {len(usable)} deliveries the median wait was "
                    f"{middle * 1000:.1f} ms (a sender must back off; {self.immediate * 1000:.0f} ms or more)"]
        grew = sum(self.grew(s) for s in usable)
        if grew < self.share * len(usable):
            return [f"over {len(usable)} deliveries the wait did not grow: only {grew} ended on a wait at least "
                    f"{self.ratio:g} times their first and {self.growth * 1000:.0f} ms longer (at least "
                    f"{self.share:.0%} must)"]
        return []


ENVELOPE = EnvelopeRule()
ENVELOPE_DELIVERIES = 30  # deliveries measured when the first does not show growth by itself
SHAPES = {"none": "retries at once", "constant": "a constant backoff", "increasing": "an increasing backoff"}
EARLY = 0.9  # a wait may come this much of its documented length early (clock granularity), no more
EARLY_NOISE = 0.003
LATE_FACTOR, LATE_NOISE = 2.0, 0.1  # a "constant" wait may be late by this much before it counts as growing
LATE_DELIVERIES = 5  # deliveries measured when a constant backoff's first delivery has a wait too late


def _ms(intervals: Sequence[float]) -> str:
    return ", ".join(f"{i * 1000:.0f} ms" for i in intervals)


def late_waits(policy: RetryPolicy, intervals: Sequence[float], scale: float) -> list[str]:
    """The intervals of a constant backoff far longer than its delay, scaled by ``scale``: a backoff that is not
    constant, or one scheduler stall (docs/decisions.md#late-constant-waits). Noise only ever lengthens an
    interval measured at the receiver, so a wait found too *short* needs no second look."""
    if policy.backoff != "constant":
        return []
    expected = (policy.delay or 0.0) * scale
    return [f"interval {n} ({interval * 1000:.0f} ms) is far longer than the documented constant {policy.delay:g} s "
            f"x {scale:g} = {expected * 1000:.0f} ms"
            for n, interval in enumerate(intervals, 1) if interval > expected * LATE_FACTOR + LATE_NOISE]


def backoff_problems(policy: RetryPolicy, intervals: Sequence[float], scale: float, late: bool = True) -> list[str]:
    """Whether the intervals keep the policy's backoff (its shape, and waits no shorter than it documents),
    with every documented wait multiplied by ``scale``; without ``late``, a constant backoff's waits are not
    judged too long (:func:`late_waits`)."""
    problems = []
    if policy.min_delay:
        floor = policy.min_delay * scale
        short = [i for i in intervals if i < floor * EARLY - EARLY_NOISE]
        if short:
            problems.append(f"{len(short)} interval(s) shorter than the documented minimum of {policy.min_delay:g} s "
                            f"x {scale:g} = {floor * 1000:.0f} ms (intervals {_ms(intervals)})")
    if policy.backoff == "increasing":
        problems += BACKOFF.problems(intervals)
    elif policy.backoff == "constant":
        expected = (policy.delay or 0.0) * scale
        problems += [f"interval {n} ({interval * 1000:.0f} ms) is shorter than the documented constant "
                     f"{policy.delay:g} s x {scale:g} = {expected * 1000:.0f} ms"
                     for n, interval in enumerate(intervals, 1) if interval < expected * EARLY - EARLY_NOISE]
        if late:
            problems += late_waits(policy, intervals, scale)
    return problems


# --- reporting -------------------------------------------------------------------------------------------


def _fail(name: str, obs: Observation, summary: str, problems: Sequence[str] = (), source: object = None,
          also: Sequence[str] = (), cause: str | None = None) -> CheckFailure:
    secret = obs.case.secret
    details = [f"- {redact.text(p, secret)}" for p in problems]
    if also:
        details.append("the same check also failed in: " + ", ".join(also))
    details += [redact.text(line, secret) for line in obs.describe()]
    payload = redact.text(json.dumps(obs.case.body, ensure_ascii=False), secret)
    key = (obs.case.platform, "sender", cause) if cause else None  # a fault every check of the case meets
    return CheckFailure(name, redact.text(summary, secret), platform=obs.case.platform, event=obs.case.event,
                        details=details, payload=payload, source=str(source) if source else None, cause=key)


def _arrived(name: str, obs: Observation) -> list[Arrival]:
    """The tries, or a failure that says why there are none (shared by every check; see command_delivers)."""
    if obs.spawn_error == NOT_RUN:  # not the command's fault: the run's time limit came first
        raise RunOutOfTime(f"{NOT_RUN.removeprefix('not run: ')} ({run_budget.OPTION})")
    if obs.spawn_error:
        kind = "timed out" if obs.spawn_error.startswith("not run") else "could not be started"
        raise _fail(name, obs, f"the sender command {obs.how_it_ended()}", cause=f"the command {kind}")
    if not obs.tries:
        why = "the command " + obs.how_it_ended()
        if obs.strays:
            why += f"; {len(obs.strays)} request(s) arrived at other paths"
        cause = "the command timed out" if obs.timed_out else "nothing arrived"
        raise _fail(name, obs, f"nothing arrived at {obs.url}: {why}", cause=cause)
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
    return auth.header_bytes(header_value).decode("utf-8", errors="replace")


def _policy(obs: Observation) -> RetryPolicy:
    policy = obs.case.spec.retry
    assert policy is not None
    return policy


# --- the judges ------------------------------------------------------------------------------------------


def judge_wire(obs: Observation, name: str = "method_and_headers") -> None:
    """Method, Content-Type, the documented headers with their documented values, and authentication, on
    every try."""
    spec = obs.case.spec
    expected = spec.delivery_headers(obs.case.event)
    content_type = expected.pop("Content-Type")
    problems: list[str] = []
    for number, arrival in enumerate(_arrived(name, obs), 1):
        at = f"try {number}: "
        if arrival.method != spec.method:
            problems.append(f"{at}method {arrival.method}, expected {spec.method} [{spec.method_source}]")
        got = arrival.header("Content-Type")
        if got is None:
            problems.append(f"{at}no Content-Type header, expected {content_type}")
        else:
            media, params = _media_type(got)
            if media != content_type:
                problems.append(f"{at}Content-Type {got!r}, expected {content_type!r} [{spec.headers_source}]")
            elif params.get("charset", "utf-8") not in ("utf-8", "utf8"):
                problems.append(f"{at}Content-Type {got!r}: the body must be UTF-8 JSON")
        for header, value in expected.items():
            got = arrival.header(header)
            if got is None:
                problems.append(f"{at}header {header} is missing, expected {value!r}")
            elif auth.header_bytes(got) != value.encode("utf-8"):
                problems.append(f"{at}header {header} is {_text(got)!r}, expected {value!r}")
        problems += [f"{at}{p}" for p in _auth_problems(obs, arrival)]
        try:
            claimed = spec.event_of(_json(arrival.body), arrival.header_map)
        except (ValueError, CatalogError):
            claimed = None  # no event to compare: the body check says why
        if claimed is not None and claimed != obs.case.event:
            source = spec.event_naming.source if spec.event_naming else ""
            problems.append(f"{at}the delivery names event {claimed!r}, expected {obs.case.event!r} [{source}]")
    if problems:
        raise _fail(name, obs, "the request does not look the way the platform documents", problems,
                    spec.headers_source)


def _auth_problems(obs: Observation, arrival: Arrival) -> list[str]:
    """With a secret, authentication recomputed from what arrived; without one, only a sender that
    authenticates although it was given no secret is wrong for an optional scheme."""
    spec, secret = obs.case.spec, obs.case.secret
    if not spec.auth:
        return []
    if secret:
        try:
            body = _json(arrival.body)
        except ValueError:
            body = None
        return [f"{p.message} [{p.scheme.source}]"
                for p in auth.verify(spec, arrival.header_map, arrival.body, body, secret)]
    return []


def judge_body(obs: Observation, name: str = "body_is_the_payload") -> None:
    """UTF-8 JSON, valid against the event's schema, equal to the payload handed over except for the
    per-delivery metadata the contract lets a sender set (a ``url`` value must be the URL called)."""
    spec = obs.case.spec
    set_by_sender = [m.pointer for m in spec.metadata]
    problems: list[str] = []
    for number, arrival in enumerate(_arrived(name, obs), 1):
        at = f"try {number}: "
        try:
            body = _json(arrival.body)
        except UnicodeDecodeError as exc:
            problems.append(f"{at}the body is not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        except ValueError as exc:
            problems.append(f"{at}the body is not JSON ({exc})")
            continue
        except RecursionError:
            problems.append(f"{at}the body nests too deeply to read")
            continue
        # the body alone: headers and authentication are judge_wire's
        verdict = validation.validate(obs.case.platform, body, {}, event=obs.case.event, contract=spec.name,
                                      authenticate=False)
        problems += [f"{at}{p}" for p in verdict.problems]
        problems += [f"{at}{d}" for d in differences(_without(obs.case.body, set_by_sender),
                                                     _without(body, set_by_sender))]
        for entry in spec.metadata:
            if entry.value == "url":
                value = pointers.find(body, entry.pointer)
                if value != obs.url:
                    problems.append(f"{at}{entry.pointer} is {json.dumps(value)}, expected the URL called, "
                                    f"{obs.url!r} [{entry.source}]")
    if problems:
        raise _fail(name, obs, "the body is not the payload handed over, as the event's schema requires",
                    problems, spec.document)


def judge_accepted(obs: Observation, name: str = "one_request_when_accepted") -> None:
    """A first answer of 200, 201, 202 or 204 ends the delivery: exactly one request."""
    tries = _arrived(name, obs)
    if len(tries) != 1:
        raise _fail(name, obs, f"{len(tries)} requests arrived; after a first answer of {obs.case.statuses[0]} "
                    "there must be exactly one", source=_policy(obs).source)


def judge_retried(obs: Observation, name: str = "retried_as_documented") -> None:
    """A failed answer the policy retries is retried (a 3XX is never followed), and nothing comes after the
    2XX; a failed answer it does not retry ends the delivery."""
    tries = _arrived(name, obs)
    policy = _policy(obs)
    if obs.case.refusals > 1:
        return _judge_link(name, obs, tries, policy)
    refused = obs.case.statuses[0]
    problems = []
    if obs.followed_redirect:
        problems.append(_followed(obs, refused))
    if not policy.retries(refused):
        if len(tries) != 1:
            raise _fail(name, obs, f"{len(tries)} requests arrived; an answer of {refused} is not retried (the "
                        f"policy retries {policy.retried_statuses} only), so there must be exactly one",
                        problems, policy.source)
        if problems:
            raise _fail(name, obs, "the sender followed a redirect", problems, policy.source)
        return
    if len(tries) < 2:
        problems.append(f"after an answer of {refused} the sender did not try again")
    elif len(tries) > 2:
        problems.append(f"{len(tries) - 2} more request(s) arrived after the 2XX answer")
    if problems:
        raise _fail(name, obs, f"expected exactly 2 requests: the first answered {refused}, the second "
                    f"answered 200; {len(tries)} arrived", problems, policy.source)


def _followed(obs: Observation, refused: int, which: str = "") -> str:
    return (f"the sender followed the {refused} answer's Location ({obs.redirect_url}){which}: a 3XX is a failed "
            "try, to be retried at the configured URL")


def _judge_link(name: str, obs: Observation, tries: Sequence[Arrival], policy: RetryPolicy) -> None:
    """One case of a chain of refusals (docs/decisions.md#chained-refusals): the try answered its status is
    followed by another, and after the last link's retry, answered 200, nothing more comes."""
    number, refused = obs.focus + 1, obs.refused
    answers = ", ".join(map(str, obs.case.statuses))
    if obs.followed_redirect:
        raise _fail(name, obs, "the sender followed a redirect", [_followed(obs, refused, f" of try {number}")],
                    policy.source)
    if len(tries) < number:
        raise _fail(name, obs, f"the delivery (answered {answers}) ended before try {number}, the one to be "
                    f"answered {refused}: {len(tries)} arrived and the command {obs.how_it_ended()}",
                    source=policy.source)
    after = len(tries) - number
    if after < 1:
        raise _fail(name, obs, f"after an answer of {refused} (try {number} of a delivery answered {answers}) "
                    "the sender did not try again", source=policy.source)
    if number == obs.case.refusals and after > 1:
        raise _fail(name, obs, f"expected exactly {number + 1} requests, the last answered 200; {len(tries)} "
                    "arrived", [f"{after - 1} more request(s) arrived after the 2XX answer"], policy.source)


def judge_max_tries(obs: Observation, name: str = "gives_up_after_the_last_try") -> None:
    """When every answer is a retried failure: exactly the policy's number of tries, then nothing more."""
    tries = _arrived(name, obs)
    policy = _policy(obs)
    if len(tries) != policy.max_tries:
        how = "gave up too early" if len(tries) < policy.max_tries else "kept on trying"
        raise _fail(name, obs, f"{len(tries)} requests arrived while every answer was {obs.case.statuses[0]}; the "
                    f"policy allows exactly {policy.max_tries} tries in total: the sender {how}", source=policy.source)


def _intervals(obs: Observation, policy: RetryPolicy) -> list[float]:
    """The waits between the tries the policy allows, as the receiver measured them."""
    return [b.at - a.at for a, b in pairwise(obs.tries[:policy.max_tries])]


def judge_backoff(obs: Observation, name: str = "backoff_as_documented") -> None:
    """The waits between tries have the policy's shape (none, constant, increasing) and are never shorter
    than it documents, scaled by ``{time_scale}``."""
    _arrived(name, obs)
    policy = _policy(obs)
    problems = backoff_problems(policy, _intervals(obs, policy), obs.case.time_scale)
    if problems:
        raise _fail(name, obs, f"the tries are not spaced as the policy says ({SHAPES[policy.backoff]})", problems,
                    policy.source)


def judge_same_delivery(obs: Observation, name: str = "retries_repeat_the_delivery") -> None:
    """Every retry repeats the delivery: the same body, so the same per-delivery metadata
    (DoSelect ``meta.delivery_id``) on every try."""
    tries = _arrived(name, obs)
    policy = _policy(obs)
    if len(tries) < 2:
        if policy.max_tries < 2:
            return
        raise _fail(name, obs, "only one try arrived while every answer was a failure: no retry to compare",
                    source=policy.source)
    metadata = {m.pointer: m.source for m in obs.case.spec.metadata}
    try:
        first = _json(tries[0].body)
    except (ValueError, RecursionError):
        first = None
    problems = []
    for number, arrival in enumerate(tries[1:], 2):
        try:
            found = differences(first, _json(arrival.body)) if first is not None else None
        except (ValueError, RecursionError):
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
        raise _fail(name, obs, "a retry is not the same delivery as the first try", problems, policy.source)


def judge_delivers(obs: Observation, name: str = "command_delivers") -> None:
    """The command delivers, and finishes within ``--hookproof-sender-timeout``; one that sends nothing, hangs
    or crashes before sending fails with a message that says which."""
    _arrived(name, obs)
    if obs.timed_out:
        raise _fail(name, obs, f"the command {obs.how_it_ended()}; a sender must return once the delivery is done",
                    cause="the command timed out")


# --- the checks: a judge over the cases its rule is about ------------------------------------------------


def _over(name: str, ctx: SenderContext, platform: str, scenarios: Sequence[str],
          judge: Callable[[Observation, str], None]) -> None:
    """Judge every case; report the first failure, naming the other cases that failed the same way. A fault
    another check reported already (nothing arrived, the command timed out) makes this one not checked."""
    failures: list[tuple[str, CheckFailure]] = []
    known = Findings(name, ctx.ledger)
    ctx.observe_many(platform, scenarios)
    out_of_time: RunOutOfTime | None = None
    for scenario in scenarios:
        try:
            judge(ctx.observe(platform, scenario), name)
        except RunOutOfTime as exc:  # a case the run's time limit kept from running: what the others show counts
            out_of_time = exc
        except CheckFailure as failure:
            if failure.cause_key[1:2] == ("sender",):  # a fault of the whole command, shared by the checks
                known.record(failure)
            else:
                failures.append((scenario, failure))
    if not failures:
        if out_of_time is not None and not known.new:
            raise out_of_time
        known.finish()
    else:
        first = failures[0][1]
        if len(failures) > 1:
            raise CheckFailure(first.check, first.summary, platform=first.platform, event=first.event,
                               details=[f"failed in {len(failures)} cases: " + ", ".join(s for s, _ in failures),
                                        *(line.removeprefix("  ") for line in str(first).splitlines()[2:])])
        raise first


def _cases(ctx: SenderContext, platform: str, prefix: tuple[str, ...]) -> list[str]:
    return [name for name in ctx.harness.scenarios(platform) if name.startswith(prefix) and name != "refuse-all"]


# First of the sender checks (the registry's order is the run's): a command that hangs, crashes or sends nothing
# fails the check whose rule that is, and every other check is not checked because of it.
@check("sender", "robustness")
def command_delivers(ctx: SenderContext, platform: str) -> None:
    """The command delivers and returns within its bound; one that sends nothing, hangs or crashes says which."""
    _over("command_delivers", ctx, platform, ["accept-200"], judge_delivers)


@check("sender", "documented")
def method_and_headers(ctx: SenderContext, platform: str) -> None:
    """POST, Content-Type application/json, the documented headers and authentication, on every try."""
    _over("method_and_headers", ctx, platform, ["accept-200", "refuse-all"], judge_wire)


@check("sender", "documented")
def body_is_the_payload(ctx: SenderContext, platform: str) -> None:
    """UTF-8 JSON, valid for its event, equal to the payload handed over but for the per-delivery metadata, in
    every case: the cases' payloads take turns at the corners encoders break on (sender_payloads)."""
    _over("body_is_the_payload", ctx, platform, list(ctx.harness.scenarios(platform)), judge_body)


@check("sender", "documented", retry=True)
def one_request_when_accepted(ctx: SenderContext, platform: str) -> None:
    """A first answer of 200, 201, 202 or 204 ends the delivery: exactly one request."""
    _over("one_request_when_accepted", ctx, platform, [f"accept-{s}" for s in ACCEPTING], judge_accepted)


@check("sender", "documented", retry=True)
def retried_as_documented(ctx: SenderContext, platform: str) -> None:
    """Each failed answer the policy retries is retried (3XX never followed), others end the delivery."""
    _over("retried_as_documented", ctx, platform, _cases(ctx, platform, ("refuse-", "final-")), judge_retried)


@check("sender", "documented", retry=True)
def gives_up_after_the_last_try(ctx: SenderContext, platform: str) -> None:
    """When every answer fails: exactly the policy's number of tries (DoSelect: 5), then nothing more."""
    _over("gives_up_after_the_last_try", ctx, platform, ["refuse-all"], judge_max_tries)


def _too_few_tries(obs: Observation, policy: RetryPolicy, needed: int, what: str) -> None:
    """Where every answer failed, the policy retries, and fewer tries than ``needed`` arrived, there is no
    ``what`` to judge: the run says so rather than fail a second check for the missing retries, which
    ``retried_as_documented`` and ``gives_up_after_the_last_try`` report (one fault, one failure)."""
    arrived = len(obs.tries)
    if 1 <= arrived < needed <= policy.max_tries and not obs.timed_out:  # a command stopped: that fault's
        raise NotChecked(f"only {arrived} {'try' if arrived == 1 else 'tries'} arrived where every answer failed "
                         f"and the policy makes {policy.max_tries} (gives_up_after_the_last_try reports it): no "
                         f"{what} to judge")


@check("sender", "documented", retry=True)
def backoff_as_documented(ctx: SenderContext, platform: str) -> None:
    """The waits between tries have the policy's shape and are never shorter than it documents."""
    name = "backoff_as_documented"
    obs = ctx.observe(platform, "refuse-all")
    policy = ctx.harness.policy(platform)
    _too_few_tries(obs, policy, 3, "wait between retries")
    try:
        _over(name, ctx, platform, ["refuse-all"], judge_backoff)
        return
    except CheckFailure as failure:
        if failure.cause_key[1:2] == ("sender",):
            raise
        if policy.backoff == "constant":
            _late_over_deliveries(ctx, platform, obs, policy, failure)
            return
        if policy.backoff != "increasing" or len(obs.tries) < 3:  # jitter changes the waits, not how many tries
            raise  # come: more deliveries cannot help
        first_failure = failure
    # One delivery did not show growth: a jittered backoff may draw a shrinking series by chance. Judge the
    # envelope of several deliveries instead, which jitter cannot flatten (EnvelopeRule).
    runs = [obs, *ctx.harness.repeats(platform, "refuse-all", ctx.secret, ENVELOPE_DELIVERIES - 1)]
    series = [_intervals(run, policy) for run in runs]
    problems = ENVELOPE.problems(series)
    floor = [p for s, run in zip(series, runs, strict=True)
             for p in backoff_problems(policy._replace(backoff="none"), s, run.case.time_scale)]
    if not problems and not floor:
        return
    judged = first_failure.noted(f"over {len(runs)} deliveries: " + "; ".join(problems + floor[:1]))
    raise judged.noted(hint) if (hint := _too_short_to_judge(series, obs.case.time_scale)) else judged


def _too_short_to_judge(series: Sequence[Sequence[float]], scale: float | None) -> str:
    """Where every wait grew but all stayed shorter than the noise the rule allows for, the sender may back
    off as documented at a time scale too small to see it: say so, rather than leave a sender's author to
    guess (a sender that never grows, or retries at once, gets no such line)."""
    waits = [w for s in series for w in s]

    def doubling(s: Sequence[float]) -> bool:  # never shorter, and the last at least 4 times the first and 2 ms
        return len(s) >= 3 and all(b >= a for a, b in pairwise(s)) and s[-1] >= max(4 * s[0], 0.002)

    grows = sum(1 for s in series if doubling(s)) >= ENVELOPE.share * len(series)
    if not waits or not grows or max(waits) >= BACKOFF.growth or scale is None or scale >= 1:
        return ""
    return (f"the waits grew but stayed under {BACKOFF.growth * 1000:.0f} ms, too short to tell a backoff from "
            f"scheduling noise at --hookproof-time-scale {scale:g}: a first wait of 25 ms or more is needed "
            "(docs/decisions.md#backoff-verification); give a larger time scale")


@check("sender", "documented", retry=True)
def retries_repeat_the_delivery(ctx: SenderContext, platform: str) -> None:
    """Every retry carries the same body, so the same per-delivery id (DoSelect meta.delivery_id)."""
    _too_few_tries(ctx.observe(platform, "refuse-all"), ctx.harness.policy(platform), 2, "retry")
    _over("retries_repeat_the_delivery", ctx, platform, ["refuse-all"], judge_same_delivery)


JUDGES: dict[str, Callable[[Observation, str], None]] = {
    "method_and_headers": judge_wire, "body_is_the_payload": judge_body,
    "one_request_when_accepted": judge_accepted, "retried_as_documented": judge_retried,
    "gives_up_after_the_last_try": judge_max_tries, "backoff_as_documented": judge_backoff,
    "retries_repeat_the_delivery": judge_same_delivery, "command_delivers": judge_delivers,
}


def _late_over_deliveries(ctx: SenderContext, platform: str, obs: Observation, policy: RetryPolicy,
                          failure: CheckFailure) -> None:
    """A constant backoff whose first delivery had a wait too late, judged over ``LATE_DELIVERIES``: a stall
    lengthens a wait of one delivery now and then, a backoff that is not constant lengthens one in every
    delivery (docs/decisions.md#late-constant-waits). A wait too short fails at once, in any delivery."""
    if backoff_problems(policy, _intervals(obs, policy), obs.case.time_scale, late=False):
        raise failure
    runs = [obs, *ctx.harness.repeats(platform, "refuse-all", ctx.secret, LATE_DELIVERIES - 1)]
    short = [p for run in runs for p in backoff_problems(policy, _intervals(run, policy), run.case.time_scale,
                                                         late=False)]
    late = [run for run in runs if late_waits(policy, _intervals(run, policy), run.case.time_scale)]
    if short:
        raise failure.noted(f"over {len(runs)} deliveries: {short[0]}")
    if 2 * len(late) > len(runs):
        raise failure.noted(f"over {len(runs)} deliveries: a wait far longer than the documented constant in "
                            f"{len(late)} of them (a scheduler stall lengthens one delivery's wait now and then, "
                            "a backoff that is not constant one in most)")
