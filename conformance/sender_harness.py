"""The sender harness: run a ``--hookproof-sender-cmd`` once per case against a scripted loopback receiver,
and record what arrived.

:class:`SenderHarness` writes a generated payload to ``{event_file}``, serves ``{url}`` answering a
scripted sequence of statuses (a bounded server of its own, one path per case), runs the command under a
time bound, with capped output and nothing left running afterwards, and returns an :class:`Observation` of
what arrived and when. It judges nothing: :mod:`hookproof.conformance.sender_checks` does. Which cases there
are follows from the contract's retry policy (:func:`scenarios_for`). Usable without pytest, so ``tests/``
drives it against deliberately broken senders.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hookproof import catalog, redact
from hookproof.command_line import SECRET_ENV
from hookproof.conformance.bounded_command import Outcome, command_env, run_bounded, tail
from hookproof.conformance.report import excerpt, masked_headers
from hookproof.conformance.run_budget import NOT_RUN, RunBudget
from hookproof.conformance.scripted_server import Answer, Received, ScriptedServer
from hookproof.conformance.sender_payloads import case_payload
from hookproof.contract import Contract, RetryPolicy

PLACEHOLDERS = ("url", "event_file", "platform", "contract", "event", "secret", "time_scale")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")

ACCEPTING = (200, 201, 202, 204)  # a first answer of one of these ends the delivery
# Failed answers the cases try: each is retried where the policy retries it, else it must end the delivery.
REFUSING = (301, 302, 400, 404, 410, 429, 500, 502, 503, 504)
FALLBACK_REFUSAL = 500  # what "refuse-all" answers when the policy retries every failure

DEFAULT_SETTLE = 0.25  # seconds to keep listening after the command ended, for requests still in flight
# The reference sender's first wait in the default run: the contract's documented delays are scaled down to
# this (a documented 60 s becomes 20 ms).
REFERENCE_FIRST_WAIT = 0.02
# An increasing backoff starts from more: DoSelect's unspecified backoff, from 1 s, becomes 50, 100, 200, 400 ms.
# From 20 ms, a 20 ms stall of the first wait on a busy machine (a process start-up beside it) hid its growth
# from the one-delivery rule in about one run in three, and the check then measured 29 more deliveries
# (BackoffRule, EnvelopeRule); from 50 ms the rule holds through stalls of about 80 ms.
REFERENCE_FIRST_GROWING_WAIT = 0.05


def reference_command(python: str = sys.executable) -> str:
    """The ``--hookproof-sender-cmd`` template of the reference sender (what a run without one checks). It has
    no ``{secret}``: the reference sender reads the case's secret from ``$HOOKPROOF_SECRET``, which every command
    gets (:meth:`SenderHarness.run`), so the secret is on no command line for ``ps`` to show."""
    return (f"{shlex.quote(python)} -m hookproof.reference_impl.sender_cli --url {{url}} --event-file {{event_file}} "
            f"--platform {{platform}} --contract {{contract}} --event {{event}} --time-scale {{time_scale}}")


def reference_env(workdir: Path) -> dict[str, str]:
    """What the reference sender's runs add to the environment: where ``PYTHONDONTWRITEBYTECODE`` is set (as in
    many CI images), compiled modules cached in the run's own folder. Each of a run's dozens of reference sender
    processes would otherwise compile hookproof's modules again from source; with a ``PYTHONPYCACHEPREFIX``
    inside the run's temporary folder they are compiled once (:func:`reference_warm_up`) and nothing is written
    outside that folder. Elsewhere nothing: Python's own ``__pycache__`` folders serve, and a prefix would set
    them aside."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return {}
    return {"PYTHONPYCACHEPREFIX": str(workdir / "pycache"), "PYTHONDONTWRITEBYTECODE": ""}


def reference_warm_up(python: str = sys.executable) -> list[str]:
    """A command that imports what the reference sender imports and exits, run once before the cases run side by
    side where :func:`reference_env` gives the run a bytecode cache of its own: the first cases would otherwise
    each fill it for themselves, at the same time. The cache holds the standard library's modules too (a
    ``PYTHONPYCACHEPREFIX`` sets every ``__pycache__`` folder aside): a cold start costs a process about four
    times a warm one (docs/performance.md)."""
    return [python, "-m", "hookproof.reference_impl.sender_cli", "--help"]


def reference_time_scale(policy: RetryPolicy) -> float:
    """The time scale that makes the policy's first wait :data:`REFERENCE_FIRST_WAIT` (an increasing backoff's
    :data:`REFERENCE_FIRST_GROWING_WAIT`)."""
    first = REFERENCE_FIRST_GROWING_WAIT if policy.backoff == "increasing" else REFERENCE_FIRST_WAIT
    return first / (policy.first_delay() or 1.0)


def refuse_all_status(policy: RetryPolicy) -> int:
    """The failed answer every try of the "refuse-all" case gets: one the policy retries."""
    retried = [s for s in REFUSING if policy.retries(s)]
    return FALLBACK_REFUSAL if policy.retries(FALLBACK_REFUSAL) or not retried else retried[0]


def scenarios_for(policy: RetryPolicy) -> dict[str, tuple[int, ...]]:
    """The cases a sender under ``policy`` runs: the n-th request gets the n-th status (the last repeats).

    ``accept-S``: a first 2XX; ``refuse-S``: a failure the policy retries, then 200; ``final-S``: a failure it
    does not retry (only where it retries some failures and not others); ``refuse-all``: every try fails.
    """
    cases: dict[str, tuple[int, ...]] = {f"accept-{s}": (s,) for s in ACCEPTING}
    for status in REFUSING:
        if policy.retries(status):
            cases[f"refuse-{status}"] = (status, 200)
        else:
            cases[f"final-{status}"] = (status, 200)
    cases["refuse-all"] = (refuse_all_status(policy),)
    return cases


TIMED_SCENARIO = "refuse-all"  # the backoff check measures its intervals: it never shares the machine


def chainable(policy: RetryPolicy, statuses: tuple[int, ...]) -> bool:
    """Whether a case may be run as one link of a chain (:func:`chains`): a ``refuse-S`` case, whose failure
    the policy retries."""
    return len(statuses) == 2 and statuses[1] == 200 and policy.retries(statuses[0])


def chains(policy: RetryPolicy, scenarios: Mapping[str, tuple[int, ...]], names: Sequence[str],
           side_by_side: bool) -> list[list[str]]:
    """``names`` grouped into the command runs that show them (docs/decisions.md#chained-refusals).

    Side by side, the ``refuse-S`` cases of retried failures run as chains of up to ``max_tries - 1``: one
    delivery answered S1, S2, ..., then 200 shows each of them retried, in one process instead of one each.
    Every other case is a run of its own, and so is every case of a command run one case at a time (a chain
    waits through the policy's whole backoff, and one case at a time nothing overlaps the waits).
    """
    size = policy.max_tries - 1 if side_by_side else 1
    groups: list[list[str]] = []
    chain: list[str] = []
    for name in names:
        if size > 1 and chainable(policy, scenarios[name]):
            chain.append(name)
            if len(chain) == size:
                groups.append(chain)
                chain = []
        else:
            groups.append([name])
    if chain:
        groups.append(chain)
    return groups


def render_command(template: str, values: Mapping[str, str]) -> list[str]:
    """Split ``template`` like a shell would (``shlex``), then substitute the placeholders inside each word.

    Substitution happens after splitting, so a value with spaces or quotes stays one argument and needs no
    quoting, and in one pass, so a value that itself contains ``{url}`` is not substituted again.
    """
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], word) for word in shlex.split(template)]


# --- what arrived ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request as the harness received it; ``at`` is ``time.monotonic()`` once its body was read."""

    at: float
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    answered: int
    size: int = 0  # the body's length as sent; ``body`` holds what the bounds let the harness keep
    truncated: bool = False
    refused: str | None = None  # why the harness's server refused it (a body past its bounds, bad framing)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def header_map(self) -> dict[str, str]:
        return dict(self.headers)


@dataclass(frozen=True)
class Case:
    """One run of the command: the payload handed over and the answers scripted for it.

    The n-th request to the URL gets ``statuses[n]``; once they run out, the last one repeats.
    """

    name: str
    platform: str
    event: str
    body: Any
    statuses: tuple[int, ...]
    secret: str | None = None
    contract: str = ""
    time_scale: float = 1.0  # what {time_scale} was: the waits the policy documents, times this
    origin: str = "generated"  # what the payload is (conformance.sender_payloads)

    def answer(self, index: int) -> int:
        return self.statuses[min(index, len(self.statuses) - 1)]

    @property
    def refusals(self) -> int:
        """How many failed answers come before the final one (a chain's links; 1 for ``refuse-S``)."""
        return len(self.statuses) - 1

    @property
    def spec(self) -> Contract:
        return catalog.contract(self.platform, self.contract or None)


@dataclass
class Observation:
    """Everything a check may look at: the case, what arrived at the URL (``tries``) and elsewhere
    (``strays``, e.g. a followed redirect), and how the command ended."""

    case: Case
    url: str
    redirect_url: str
    command: list[str]  # as run, with the secret masked
    tries: list[Arrival]
    strays: list[Arrival]
    started: float
    elapsed: float
    timeout: float
    exit_code: int | None = None
    timed_out: bool = False
    spawn_error: str | None = None
    stdout: str = ""
    stderr: str = ""
    killed_leftovers: int = 0  # processes the command left running, which the harness killed
    focus: int = 0  # the try this case is about: in a chain of refusals, the one answered its status

    @property
    def refused(self) -> int:
        """The failed answer this case is about (the first, except in a chain)."""
        return self.case.statuses[self.focus]

    @property
    def followed_redirect(self) -> bool:
        """Whether the sender asked for the ``Location`` of the answer this case is about. In a chain every 3XX
        points to the same URL, so a request there belongs to the last try before it (a sender follows a
        redirect before it tries again, if it does)."""
        moved = [a for a in self.strays if a.path == _path_of(self.redirect_url)]
        if self.case.refusals <= 1:
            return bool(moved)
        after = self.tries[self.focus].at if self.focus < len(self.tries) else float("inf")
        before = self.tries[self.focus + 1].at if self.focus + 1 < len(self.tries) else float("inf")
        return any(after <= a.at < before for a in moved)

    def how_it_ended(self) -> str:
        if self.spawn_error and self.spawn_error.startswith("not run"):
            return f"was {self.spawn_error}"
        if self.spawn_error:
            return f"could not be started: {self.spawn_error}"
        if self.timed_out:
            return f"did not finish within {self.timeout:g} s (--hookproof-sender-timeout) and was stopped"
        return f"exited with status {self.exit_code} after {self.elapsed:.2f} s"

    def describe(self) -> list[str]:
        """What the command was given and what arrived, try by try, for a failure report."""
        hidden = self.case.spec.secret_headers
        ended = self.how_it_ended()
        if self.killed_leftovers:
            ended += f"; it left {self.killed_leftovers} process(es) running, which the harness killed"
        lines = [f"command: {shlex.join(self.command)}", f"  ... {ended}",
                 f"URL: {self.url}", f"payload: {self.case.origin} ({self.case.event})",
                 "scripted answers: " + ", ".join(map(str, self.case.statuses)) + " (the last one repeats)"]
        if self.case.time_scale != 1.0:
            lines.append(f"time scale: {self.case.time_scale:g} (the policy's waits, times this, as {{time_scale}})")
        for number, arrival in enumerate(self.tries, 1):
            since = f", {arrival.at - self.tries[number - 2].at:.3f} s after try {number - 1}" if number > 1 else ""
            lines.append(f"try {number} at +{arrival.at - self.started:.3f} s{since}: {arrival.method} "
                         f"-> answered {arrival.answered}")
            first = self.tries[0]
            if number == 1 or arrival.headers != first.headers:
                lines.append(f"    headers: {masked_headers(arrival.header_map, hidden)}")
            if number == 1 or arrival.body != first.body:
                cut = f" (of {arrival.size} bytes; the harness keeps the first {len(arrival.body)})" \
                    if arrival.truncated else ""
                lines.append(f"    body: {excerpt(arrival.body)}{cut}")
            if number > 1 and arrival.headers == first.headers and arrival.body == first.body:
                lines[-1] += " (headers and body as in try 1)"
        if not self.tries:
            lines.append("nothing arrived at the URL")
        for arrival in self.strays:
            lines.append(f"elsewhere: {arrival.method} {arrival.path} -> answered {arrival.answered}"
                         + (f" (refused: {arrival.refused})" if arrival.refused else "")
                         + (" (the Location of a 3XX answer)" if arrival.path == _path_of(self.redirect_url) else ""))
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text.strip():
                lines.append(f"{name} (last lines): " + " | ".join(text.strip().splitlines()[-5:]))
        return lines


def _path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"


class _Wire:
    """The scripted receiver of one case; called from the server's threads."""

    def __init__(self, case: Case, path: str, redirect_url: str) -> None:
        self.case, self.path, self.redirect_url = case, path, redirect_url
        self.tries: list[Arrival] = []
        self.strays: list[Arrival] = []
        self._lock = threading.Lock()

    def handle(self, request: Received) -> Answer:
        with self._lock:
            if request.refused is not None:  # the server has answered it 413/400 already
                self.strays.append(_arrival(request, 413 if "larger" in request.refused else 400))
                return 413, {}, b""
            if request.path == self.path:
                status = self.case.answer(len(self.tries))
                self.tries.append(_arrival(request, status))
            else:  # a followed redirect lands here too: accept it, so a follower believes it is done
                status = 200 if request.path == _path_of(self.redirect_url) else 404
                self.strays.append(_arrival(request, status))
        headers = {"Location": self.redirect_url} if 300 <= status < 400 else {"Content-Type": "text/plain"}
        return status, headers, b"" if status == 204 else f"hookproof scripted answer {status}\n".encode()

    def count(self) -> int:
        with self._lock:
            return len(self.tries) + len(self.strays)


def _arrival(request: Received, status: int) -> Arrival:
    return Arrival(request.at, request.method, request.path, request.headers, request.body, status, request.size,
                   request.truncated, request.refused)


class _Dispatcher:
    """The one function the server hands every request to: it finds the case whose URL it was sent to, so
    that cases can run side by side. A request to a path no running case owns is shown to every running
    case as a stray (with one case at a time, that is the case that caused it)."""

    def __init__(self) -> None:
        self._wires: dict[str, _Wire] = {}
        self._lock = threading.Lock()

    def add(self, wire: _Wire) -> None:
        with self._lock:
            self._wires[wire.path] = wire

    def remove(self, wire: _Wire) -> None:
        with self._lock:
            self._wires.pop(wire.path, None)

    def handle(self, request: Received) -> Answer:
        with self._lock:
            owner = self._wires.get(request.path) or self._wires.get(request.path.removesuffix("/moved"))
            running = [owner] if owner else list(self._wires.values())
        if not running:
            return 404, {"Content-Type": "text/plain"}, b"no case is running\n"
        answers = [wire.handle(request) for wire in running]
        return answers[0]


class HarnessServer(ScriptedServer):
    """The scripted server with the dispatcher the harnesses that share it register their cases with."""

    def __init__(self) -> None:
        self.dispatcher = _Dispatcher()
        self.stopped = False  # cases still queued (prefetch) are then not run: nothing would receive them
        super().__init__(self.dispatcher.handle)

    def stop(self) -> None:
        self.stopped = True
        from hookproof.conformance.bounded_command import stop_commands

        stop_commands()  # a case still running in a thread of the harness ends with the run
        super().stop()


# --- payloads --------------------------------------------------------------------------------------------


# --- running a command -----------------------------------------------------------------------------------


@contextlib.contextmanager
def scripted_server() -> Iterator[HarnessServer]:
    """The receiver every case talks to: loopback only, bounded (:mod:`hookproof.conformance.scripted_server`)."""
    server = HarnessServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class SenderHarness:
    """Runs a ``--hookproof-sender-cmd`` template once per case against a scripted receiver on ``server``.

    ``server`` is a started :class:`HarnessServer` on loopback (a bounded pool, so a sender that stalls
    mid-request cannot block the next case); each case has its own URL path, and the server's
    :class:`_Dispatcher` hands each request to the case it was sent to. Observations are memoised per
    (platform, scenario, secret): several checks judge the same run. After ``max_timeouts`` runs that had
    to be stopped, later cases are not run at all (each fails at once, saying why), so a hanging sender
    costs a few bounds, not one per case (docs/decisions.md#slow-targets).

    ``contract`` is the contract judged (default: each platform's base contract); ``time_scale`` is what
    ``{time_scale}`` says, by which the sender is to multiply the policy's waits (default: the reference
    run's, which makes the first wait 20 ms, 50 ms for an increasing backoff). With ``jobs > 1`` the first
    observation of a platform runs all its scenarios: the one whose intervals are timed (``refuse-all``) alone,
    then the others ``jobs`` at a time; :meth:`prefetch` runs the timed cases of several platforms together
    before any other (docs/decisions.md#sender-cases).
    """

    def __init__(self, server: HarnessServer, template: str, workdir: Path, *, timeout: float = 60.0,
                 settle: float = DEFAULT_SETTLE, seed: int | None = None, max_timeouts: int = 3,
                 payload: Callable[[str, str, str, int, int | None], tuple[str, Any, str]] = case_payload,
                 jobs: int = 1, contract: str | None = None, time_scale: float | None = None,
                 env: Mapping[str, str] | None = None, warm_up: Sequence[str] | None = None,
                 chains_beside: bool = False, budget: RunBudget | None = None) -> None:
        if not template.strip() or not shlex.split(template):
            raise ValueError("the sender command is empty")
        self.server, self.template, self.workdir = server, template, workdir
        self.timeout, self.settle, self.seed, self._payload = timeout, settle, seed, payload
        self.max_timeouts, self.timeouts, self.jobs = max_timeouts, 0, max(1, jobs)
        self.chains_beside = chains_beside  # chains run all at once, beside the ``jobs`` other cases
        self.budget = budget  # the run's time limit: past it, no case starts
        self.contract, self.time_scale = contract, time_scale
        self.env = dict(env or {})  # added to the command's environment (reference_env)
        self._warm_up = list(warm_up) if warm_up else None  # run once before cases run side by side
        self._warming = threading.Lock()
        self._seen: dict[tuple[str, str, str | None], Observation] = {}
        self._pending: dict[tuple[str, str | None], Future[None]] = {}  # platforms started by prefetch()
        self._lock = threading.Lock()
        self._dispatch = server.dispatcher

    def spec(self, platform: str) -> Contract:
        return catalog.contract(platform, self.contract)

    def policy(self, platform: str) -> RetryPolicy:
        policy = self.spec(platform).retry
        if policy is None:
            raise ValueError(f"{platform} has no retry policy: it is not a webhook platform")
        return policy

    def scale(self, platform: str) -> float:
        return self.time_scale if self.time_scale is not None else reference_time_scale(self.policy(platform))

    def scenarios(self, platform: str) -> dict[str, tuple[int, ...]]:
        return scenarios_for(self.policy(platform))

    def observe(self, platform: str, scenario: str, secret: str | None = None) -> Observation:
        """The observation of one of :meth:`scenarios` for ``platform`` (run once, then remembered)."""
        key = (platform, scenario, secret)
        pending = self._pending.get((platform, secret))
        if key not in self._seen and pending is not None:
            pending.result()  # started by prefetch(): wait for it (and raise what it raised)
        if key not in self._seen:
            if self.jobs > 1:
                self.observe_many(platform, list(self.scenarios(platform)), secret)
            else:
                self._seen.update(self._run_group([self._case(platform, scenario, secret)]))
        return self._seen[key]

    def observe_many(self, platform: str, scenarios: Sequence[str], secret: str | None = None) -> None:
        """Run those of ``scenarios`` not observed yet, ``jobs`` at a time (the timed one alone, first), so that
        a check judging a few cases runs those, not every case of the platform (``-k method_and_headers``
        runs two commands, not fifteen). Cases :meth:`prefetch` started are waited for, not run again."""
        pending = self._pending.get((platform, secret))
        if pending is not None:
            pending.result()
        missing = [name for name in dict.fromkeys(scenarios) if (platform, name, secret) not in self._seen]
        if self.jobs <= 1 or not missing:
            return  # observe() runs each in turn
        # Hypothesis draws here, in one thread, before any command runs
        self._run_all(platform, secret, {name: self._case(platform, name, secret) for name in missing})

    def observations(self, platform: str) -> list[Observation]:
        """Every run of the command for ``platform`` so far, in the order they were made (the HTML report draws
        their tries); a chain once, not once per case it shows."""
        runs = {obs.url: obs for (p, _, _), obs in self._seen.copy().items() if p == platform}  # prefetch adds
        return list(runs.values())

    def repeats(self, platform: str, scenario: str, secret: str | None, count: int) -> list[Observation]:
        """``count`` more runs of one case, each a delivery of its own (remembered too), ``jobs`` at a time: a
        judge of many deliveries tolerates the little noise that running side by side adds (EnvelopeRule)."""
        keys = [(platform, f"{scenario}#{number}", secret) for number in range(1, count + 1)]
        cases = {key: self._case(platform, scenario, secret) for key in keys if key not in self._seen}
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="hookproof-sender") as pool:
            runs = {key: pool.submit(self.run, case) for key, case in cases.items()}
        for key, future in runs.items():
            self._seen[key] = future.result()
        return [self._seen[key] for key in keys]

    def _case(self, platform: str, scenario: str, secret: str | None) -> Case:
        spec = self.spec(platform)
        statuses = self.scenarios(platform)[scenario]
        place = list(self.scenarios(platform)).index(scenario)
        event, body, origin = self._payload(platform, spec.name, scenario, place, self.seed)
        return Case(scenario, platform, event, body, statuses, secret, spec.name, self.scale(platform), origin)

    def prefetch(self, platforms: Sequence[str], secret: str | None = None) -> None:
        """Start every case of ``platforms`` now, in the background, so that the commands run while the run's
        other checks do (the reference run's receiver checks); :meth:`observe` waits for a case not done yet.

        Only with ``jobs > 1`` (a command safe to run side by side). The payloads of every case are drawn
        here, in the calling thread, before anything starts: Hypothesis draws in one thread. The timed cases
        of all the platforms run first, together: each spends its run waiting between tries, a few ms of CPU
        per try, so they hardly load the machine, and one after another they were a second or more of the run
        with one process at work. No other case runs beside them. Then the other cases, ``jobs`` at a time,
        platform by platform; a platform is done once its own cases are."""
        if self.jobs <= 1:
            return
        planned = {platform: {name: self._case(platform, name, secret) for name in self.scenarios(platform)}
                   for platform in dict.fromkeys(platforms) if (platform, secret) not in self._pending}
        if not planned:
            return
        done: dict[str, Future[None]] = {platform: Future() for platform in planned}
        for platform, future in done.items():
            self._pending[(platform, secret)] = future
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookproof-prefetch")
        starter.submit(self._run_planned, planned, secret, done)
        starter.shutdown(wait=False)

    def _warmed(self) -> None:
        """Run the warm-up command, once, before the first cases that run side by side (what it prints, and
        whether it fails, is the cases' business: they run the command itself and are judged on it)."""
        with self._warming:  # held while it runs: a second caller's cases wait for the cache too
            argv, self._warm_up = self._warm_up, None
            if argv:
                run_bounded(argv, self.timeout, command_env(self.env))

    def _run_planned(self, planned: dict[str, dict[str, Case]], secret: str | None,
                     done: dict[str, Future[None]]) -> None:
        try:
            self._warmed()
            with ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="hookproof-timed") as pool:
                timed = {platform: pool.submit(self.run, cases[TIMED_SCENARIO]) for platform, cases in planned.items()}
            for platform, timed_run in timed.items():
                self._seen[(platform, TIMED_SCENARIO, secret)] = timed_run.result()
            with self._pools() as pools:
                runs = self._submit(pools, planned)
                for platform, futures in runs.items():
                    self._store(platform, secret, planned[platform], futures)
                    done[platform].set_result(None)
        except BaseException as exc:  # handed to whoever waits for a platform not done
            for future in done.values():
                if not future.done():
                    future.set_exception(exc)

    def _run_all(self, platform: str, secret: str | None, cases: dict[str, Case]) -> None:
        self._warmed()
        if TIMED_SCENARIO in cases:
            self._seen[(platform, TIMED_SCENARIO, secret)] = self.run(cases[TIMED_SCENARIO])
        with self._pools() as pools:
            futures = self._submit(pools, {platform: cases})[platform]
        self._store(platform, secret, cases, futures)

    @contextlib.contextmanager
    def _pools(self) -> Iterator[tuple[ThreadPoolExecutor, ThreadPoolExecutor]]:
        """The pool the cases run in, ``jobs`` at a time, and the one chains run in: the same, or with
        ``chains_beside`` one of its own, all at once (a chain waits through most of its run, as the timed
        cases do: docs/decisions.md#chained-refusals)."""
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="hookproof-sender") as pool:
            if not self.chains_beside:
                yield pool, pool
                return
            with ThreadPoolExecutor(max_workers=16, thread_name_prefix="hookproof-chain") as beside:
                yield pool, beside

    def _submit(self, pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor], planned: Mapping[str, Mapping[str, Case]]
                ) -> dict[str, list[Future[dict[tuple[str, str, str | None], Observation]]]]:
        """Start the runs that show the cases of each platform (but the timed ones, run before): a chain of
        refusals is one run. The chains of every platform first: the short runs then overlap their waits."""
        groups = [(platform, group) for platform, cases in planned.items()
                  for group in chains(self.policy(platform), self.scenarios(platform),
                                      [name for name in cases if name != TIMED_SCENARIO], self.jobs > 1)]
        futures: dict[str, list[Future[dict[tuple[str, str, str | None], Observation]]]] = {p: [] for p in planned}
        for platform, group in sorted(groups, key=lambda pg: len(pg[1]), reverse=True):  # stable: in order
            pool = pools[1] if len(group) > 1 else pools[0]
            futures[platform].append(pool.submit(self._run_group, [planned[platform][name] for name in group]))
        return futures

    def _store(self, platform: str, secret: str | None, cases: Mapping[str, Case],
               futures: Sequence[Future[dict[tuple[str, str, str | None], Observation]]]) -> None:
        """Remember what the runs showed, in the order of the cases (the HTML report's order)."""
        shown: dict[tuple[str, str, str | None], Observation] = {}
        for future in futures:
            shown.update(future.result())
        for name in cases:
            key = (platform, name, secret)
            if key in shown:
                self._seen[key] = shown[key]

    def _run_group(self, cases: Sequence[Case]) -> dict[tuple[str, str, str | None], Observation]:
        """Run one case, or a chain of ``refuse-S`` cases as one delivery answered S1, S2, ..., 200, and give
        each case its observation (docs/decisions.md#chained-refusals).

        A case's status counts as retried once the try after the one answered it arrived. Where the sender
        stopped after a status, that status is judged only where it was the first answer, as in a run of its
        own: a sender that stopped after the third failure may have run out of tries of its own, which
        ``gives_up_after_the_last_try`` judges, so the chain is run again from that status, and the cases
        after it with it. Every run shows at least one case, so a chain of n cases takes at most n runs; a run
        that shows nothing (nothing arrived, the command timed out or could not start) shows every case the
        same, as it would have shown each of them."""
        shown: dict[tuple[str, str, str | None], Observation] = {}
        pending = list(cases)
        while pending:
            first = pending[0]
            if len(pending) == 1:
                obs = self.run(first)
                shown[(first.platform, first.name, first.secret)] = obs
                break
            # refuse-400-404-410-429: only characters a URL path carries as they are (RFC 3986 unreserved), so
            # that no client's encoding of the URL moves its requests elsewhere
            name = "-".join([first.name, *(c.name.removeprefix("refuse-") for c in pending[1:])])
            chain = replace(first, name=name, statuses=(*(c.statuses[0] for c in pending), 200))
            obs = self.run(chain)
            arrived = len(obs.tries)
            whole = arrived == 0 or arrived > len(pending) or obs.timed_out or obs.spawn_error is not None
            judged = len(pending) if whole else max(arrived - 1, 1)
            for place, case in enumerate(pending[:judged]):
                shown[(case.platform, case.name, case.secret)] = replace(obs, focus=place)
            pending = pending[judged:]
        return shown

    def run(self, case: Case) -> Observation:
        token = uuid.uuid4().hex[:12]
        path = f"/hookproof/{case.platform}/{case.name}/{token}"
        url, redirect_url = self.server.url_for(path), self.server.url_for(f"{path}/moved")
        wire = _Wire(case, path, redirect_url)
        event_file = self.workdir / f"{case.platform}-{case.name}-{token}.json"
        try:
            text = json.dumps(case.body, ensure_ascii=False, indent=2).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form; JSON's \u escape carries it
            text = json.dumps(case.body, indent=2).encode("ascii")
        event_file.write_bytes(text)
        redact.remember(case.secret)
        values = {"url": url, "event_file": str(event_file), "platform": case.platform, "contract": case.contract,
                  "event": case.event, "secret": case.secret or "", "time_scale": f"{case.time_scale:g}"}
        argv = render_command(self.template, values)
        shown = [redact.text(word) for word in argv]
        started = time.monotonic()
        with self._lock:
            given_up = self.timeouts >= self.max_timeouts
        if getattr(self.server, "stopped", False):  # the run ended (interrupted) before this case's turn
            return Observation(case, url, redirect_url, shown, [], [], started, 0.0, self.timeout,
                               spawn_error="not run: the run ended before this case's turn")
        if self.budget is not None and self.budget.passed:
            return Observation(case, url, redirect_url, shown, [], [], started, 0.0, self.timeout,
                               spawn_error=NOT_RUN)
        if given_up:
            outcome = Outcome(spawn_error=f"not run: the command already ran past {self.timeout:g} s "
                                          f"(--hookproof-sender-timeout) {self.timeouts} times")
            return Observation(case, url, redirect_url, shown, [], [], started, 0.0, self.timeout,
                               spawn_error=outcome.spawn_error)
        self._dispatch.add(wire)
        try:
            # the case's secret in the command's environment too, where only its owner can read it; no secret:
            # none inherited either (an empty value removes the variable)
            outcome = run_bounded(argv, self.timeout, command_env({**self.env, SECRET_ENV: case.secret or ""}))
            _settle(wire, self.settle)
        finally:
            self._dispatch.remove(wire)
        with self._lock:
            self.timeouts += outcome.timed_out
        return Observation(case, url, redirect_url, shown, list(wire.tries), list(wire.strays), started,
                           outcome.elapsed, self.timeout, outcome.exit_code, outcome.timed_out, outcome.spawn_error,
                           tail(redact.text(outcome.stdout, case.secret)),
                           tail(redact.text(outcome.stderr, case.secret)), outcome.killed_leftovers)


def _settle(wire: _Wire, quiet: float) -> None:
    """Keep listening until nothing has arrived for ``quiet`` seconds (at most ten such windows)."""
    for _ in range(10):
        before = wire.count()
        time.sleep(quiet)
        if wire.count() == before:
            return

