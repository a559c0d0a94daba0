"""The pytest plugin: options, the run's configuration, the conformance items, and the summary.

It is a thin adapter, harmless when idle: installed, it adds only ``--target-url`` and ``--hookproof-*``
options, and prints nothing unless conformance checks ran. The checks live in ``*_checks.py`` (registered in
:mod:`hookproof.conformance.registry`) and the reference implementations in :mod:`hookproof.reference_impl`;
this module turns options into a :class:`RunConfig`, generates one item per (check, platform) from the
registry, and gives each role its context as a session fixture.

Which checks run:
- no target: every role, against the built-in reference receiver, sender and registration server;
- ``--target-url`` with a webhook platform: the receiver checks for that platform;
- ``--target-url`` with a registration API platform (``xobin``): the registration checks;
- ``--hookproof-sender-cmd``: the sender checks for ``--hookproof-platform`` (every webhook platform if none).
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shlex
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from hookproof.conformance.draw_ahead import DrawAhead
    from hookproof.conformance.receiver_checks import ReceiverContext
    from hookproof.conformance.registration_checks import RegistrationContext
    from hookproof.conformance.registry import Check, Role

SECRET_ENV = "HOOKPROOF_SECRET"  # a secret given on the command line is visible to every user of the machine
API_KEY_ENV = "HOOKPROOF_API_KEY"
DEFAULT_EXAMPLES = 10
MAX_EXAMPLES = 100_000
# Options with a value, as `hookproof run` spells them short (``--platform``) and pytest long.
SHORT_OPTIONS = ("platform", "contract", "events", "secret", "api-key", "api-key-header", "sender-cmd",
                 "sender-timeout", "sender-jobs", "time-scale", "response-timeout", "examples", "seed", "schemas",
                 "failures", "captures", "report")
SHORT_FLAGS = ("shrink",)


@dataclass(frozen=True)
class RunConfig:
    target_url: str | None
    platform: str | None
    contract: str | None
    secret: str | None = field(repr=False)
    api_key: str | None = field(repr=False)
    api_key_header: str | None
    sender_cmd: str | None
    sender_timeout: float
    sender_jobs: int | None
    time_scale: float | None
    response_timeout: float
    examples: int
    seed: int | None
    shrink: bool
    schemas: tuple[str, ...] = ()
    events: frozenset[str] | None = None
    failures: str | None = None  # --hookproof-failures: the folder failing receiver requests are written to
    captures: tuple[tuple[str, Any], ...] = ()  # --hookproof-captures: (file, recording) sent as examples

    @property
    def reference(self) -> bool:
        return not self.target_url and not self.sender_cmd

    @property
    def jobs(self) -> int:
        """How many sender cases run side by side: 4 for the reference sender, one for a user's command unless
        ``--hookproof-sender-jobs`` says (docs/decisions.md#sender-cases)."""
        return self.sender_jobs or (1 if self.sender_cmd else 4)

    @property
    def active_roles(self) -> tuple[Role, ...]:
        from hookproof import catalog

        if self.sender_cmd:
            return ("sender",)
        if self.target_url:
            assert self.platform is not None
            kind = catalog.platform(self.platform).kind
            return ("registration",) if kind == "registration_api" else ("receiver",)
        return ("receiver", "sender", "registration")

    def platforms_for(self, role: Role) -> list[str]:
        from hookproof import catalog

        wanted_kind = "registration_api" if role == "registration" else "webhook"
        if self.platform:
            return [self.platform] if catalog.platform(self.platform).kind == wanted_kind else []
        return list(catalog.platforms(wanted_kind))

    @property
    def shown_target(self) -> str:
        """What is under test, for the summary: never a password in a URL, nor a secret written into the
        command instead of its ``{secret}`` placeholder."""
        from hookproof import redact

        if self.target_url:
            return redact.url(self.target_url)
        if self.sender_cmd:
            return redact.text(f"--hookproof-sender-cmd {self.sender_cmd}")
        return "built-in reference implementations"

    def hypothesis(self) -> Any:
        """The decorator that makes a property deterministic and bounded for this run."""
        from hookproof.conformance.run_settings import runner

        return runner(self.examples, self.seed, self.shrink)

    def applies(self, check: Check, platform: str) -> bool:
        """Whether the platform has what the check is about at all (no item is made where it has not: a
        platform that authenticates nothing has no authentication to check)."""
        from hookproof import catalog

        plat = catalog.platform(platform)
        specs = [plat.contract(self.contract)] if self.contract else list(plat.contracts)
        return not ("auth" in check.needs and not any(s.auth for s in specs))

    def unmet(self, check: Check, platform: str) -> str | None:
        """Why ``check`` cannot run for ``platform`` in this run (and what would make it run), if it cannot."""
        from hookproof import catalog

        plat = catalog.platform(platform)
        specs = [plat.contract(self.contract)] if self.contract else list(plat.contracts)
        captured = any(rec.platform == platform for _, rec in self.captures)
        if "examples" in check.needs and not captured and not any(e.examples for s in specs for e in s.events.values()):
            return f"the {plat.name} documents show no example delivery to send"
        if "auth" in check.needs and not self.secret and not self.reference:
            return (f"no secret given: {plat.name} deliveries can authenticate; pass --hookproof-secret "
                    f"(or set ${SECRET_ENV}) to check that forgeries are refused")
        return None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hookproof", "hookproof webhook conformance (idle unless its checks are collected)")
    group.addoption("--target-url", help="URL of the implementation under test (a webhook receiver, or a "
                    "registration API's base URL). Default: the built-in reference implementations.")
    add = group.addoption
    add("--hookproof-platform", metavar="ID", help="the platform to check (default: all)")
    add("--hookproof-contract", metavar="NAME", help="the platform contract to hold the target to (default: a "
        "receiver gets what any contract may send; a sender is held to the document's)")
    add("--hookproof-events", metavar="E1,E2", help="the events the receiver subscribed to, by any contract's name "
        "(default: all); the receiver checks send only those")
    add("--hookproof-secret", metavar="S", help=f"shared secret or signing key; never printed (default: ${SECRET_ENV}, "
        "which keeps it off the command line)")
    add("--hookproof-api-key", metavar="K", help=f"the registration API's key; never printed (default: ${API_KEY_ENV})")
    add("--hookproof-api-key-header", metavar="H", help="header that carries the API key (default: the contract's)")
    add("--hookproof-sender-cmd", metavar="TEMPLATE", help="check a sender: a command that delivers one event; "
        "placeholders {url} {event_file} {platform} {contract} {event} {secret} {time_scale}")
    add("--hookproof-sender-timeout", metavar="S", default="60", help="seconds one sender command may take (60)")
    add("--hookproof-sender-jobs", metavar="N", help="sender cases run side by side (default 1 for a command of "
        "yours, which may not be safe to run concurrently; 4 for the reference sender)")
    add("--hookproof-time-scale", metavar="F", help="the factor {time_scale} gives your sender for the policy's "
        "waits; the backoff check expects them scaled by it (default 1; the reference sender's run picks its own)")
    add("--hookproof-response-timeout", metavar="S", default="10", help="seconds the target may take to answer one "
        "request (10)")
    add("--hookproof-examples", metavar="N", default=str(DEFAULT_EXAMPLES),
        help=f"generated examples per event and check ({DEFAULT_EXAMPLES})")
    add("--hookproof-seed", metavar="N", help="seed generation (default: derandomized, the same every run)")
    add("--hookproof-shrink", action="store_true", help="shrink failing generated cases thoroughly, with Hypothesis "
        "(default: greedily, within 30 requests per failing event)")
    add("--hookproof-schemas", metavar="DIR", action="append", default=[],
        help="a folder of platforms of your own (the layout of hookproof's schemas/), added to or replacing the "
        "built-in ones; repeatable (default: $HOOKPROOF_SCHEMAS)")
    add("--hookproof-failures", metavar="DIR", help="write every failing receiver request into DIR, one file each "
        "(an earlier run's failure files there are removed), for: hookproof replay DIR --target-url URL")
    add("--hookproof-captures", metavar="DIR", action="append", default=[],
        help="recorded deliveries (hookproof captures export DIR, or capture files) that documented_examples sends "
        "too: each must get a 2XX where it conforms; repeatable")
    from hookproof.conformance import html_report

    html_report.add_option(group)


def _fail(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"hookproof: {message}")


def _number(opt: str, text: str | None, *, low: float, high: float, integer: bool = False) -> float | None:
    if text is None:
        return None
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        raise _fail(f"{opt} {text!r} is not {'a whole number' if integer else 'a number'}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _fail(f"{opt} must be between {low:g} and {high:g}, not {text}")
    return value


def _blank(opt: str, value: str | None) -> str | None:
    """A value given but blank is a mistake (an unset CI variable), never a reason to test something else."""
    if value is not None and not value.strip():
        raise _fail(f"{opt} is empty: give a value, or leave the option out to check the reference implementations")
    return value


def _events(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _reachable(url: str, timeout: float) -> str | None:
    from hookproof import redact

    shown = redact.url(url)
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        return f"--target-url {shown!r}: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--target-url {shown!r} is not an http(s) URL"
    try:
        with socket.create_connection((parts.hostname, port), timeout=min(timeout, 5.0)):
            return None
    except OSError as exc:
        return f"cannot reach --target-url {shown}: {exc.strerror or exc}"
    except UnicodeError:  # the resolver's IDNA codec rejects hosts such as "a..b"
        return f"--target-url {shown!r}: {parts.hostname!r} is not a valid host name"


def _captures(paths: Any, secret: str | None, target_url: str | None) -> tuple[tuple[str, Any], ...]:
    """The recordings of ``--hookproof-captures``; a capture that was authenticated needs a secret to be signed
    again when a target of the user's is checked (the reference receiver's run has one of its own)."""
    from hookproof.live import recording as recordings
    from hookproof.live.replay import ReplayError, prepare

    try:
        found = recordings.load_all(paths)
    except recordings.RecordingError as exc:
        raise _fail(f"--hookproof-captures: {exc}") from None
    if target_url:
        for path, rec in found:
            try:
                prepare(rec, secret)
            except ReplayError:
                raise _fail(f"--hookproof-captures: {path} was authenticated, and a capture keeps that masked: pass "
                            f"--hookproof-secret (or set ${SECRET_ENV}) to sign it again") from None
    return tuple((str(path), rec) for path, rec in found)


def build_config(config: pytest.Config) -> RunConfig:
    from hookproof import catalog, redact
    from hookproof.contract import CatalogError

    opt = config.getoption
    target_url = _blank("--target-url", opt("--target-url"))
    sender_cmd = _blank("--hookproof-sender-cmd", opt("--hookproof-sender-cmd"))
    if sender_cmd is not None:
        try:
            if not shlex.split(sender_cmd):
                raise ValueError("no words")
        except ValueError as exc:
            raise _fail(f"--hookproof-sender-cmd cannot be split like a shell command: {exc}") from None
    secret = opt("--hookproof-secret") or os.environ.get(SECRET_ENV) or None
    if secret is not None and (secret != secret.strip() or any(ord(c) < 32 or ord(c) == 127 for c in secret)):
        raise _fail("the secret has leading or trailing spaces or control characters: no header can carry it as is")
    api_key_header = opt("--hookproof-api-key-header")
    if api_key_header is not None and not all(c.isalnum() or c in "!#$%&'*+.^_`|~-" for c in api_key_header):
        raise _fail(f"--hookproof-api-key-header {api_key_header!r} is not a valid HTTP header name")
    examples = _number("--hookproof-examples", opt("--hookproof-examples"), low=1, high=MAX_EXAMPLES, integer=True)
    seed = _number("--hookproof-seed", opt("--hookproof-seed"), low=0, high=2**63, integer=True)
    jobs = _number("--hookproof-sender-jobs", opt("--hookproof-sender-jobs"), low=1, high=16, integer=True)
    run = RunConfig(
        target_url=target_url,
        platform=_blank("--hookproof-platform", opt("--hookproof-platform")),
        contract=_blank("--hookproof-contract", opt("--hookproof-contract")),
        secret=secret,
        api_key=opt("--hookproof-api-key") or os.environ.get(API_KEY_ENV) or None,
        api_key_header=api_key_header,
        sender_cmd=sender_cmd,
        sender_timeout=float(_number("--hookproof-sender-timeout", opt("--hookproof-sender-timeout"), low=0.1,
                                     high=3600) or 60.0),
        sender_jobs=int(jobs) if jobs is not None else None,
        time_scale=_number("--hookproof-time-scale", opt("--hookproof-time-scale"), low=1e-6, high=1000),
        response_timeout=float(_number("--hookproof-response-timeout", opt("--hookproof-response-timeout"),
                                       low=0.1, high=600) or 10.0),
        examples=int(examples or DEFAULT_EXAMPLES),
        seed=int(seed) if seed is not None else None,
        shrink=bool(opt("--hookproof-shrink")),
        schemas=tuple(opt("--hookproof-schemas") or ()),
        events=_events(_blank("--hookproof-events", opt("--hookproof-events"))),
        failures=_blank("--hookproof-failures", opt("--hookproof-failures")),
        captures=_captures(opt("--hookproof-captures") or (), secret, target_url),
    )
    redact.remember(run.secret, run.api_key)
    if target_url:
        redact.url(target_url)  # remembers a password in it
    try:
        if run.schemas:
            catalog.configure(run.schemas)
        known = catalog.platforms()
        if run.platform is not None and run.platform not in known:
            raise _fail(f"unknown --hookproof-platform {run.platform!r}; known platforms: {', '.join(known)}")
        if run.contract is not None:
            if run.platform is None:
                raise _fail("--hookproof-contract needs --hookproof-platform: contracts belong to one platform")
            catalog.platform(run.platform).contract(run.contract)
    except CatalogError as exc:
        raise _fail(str(exc)) from None
    if run.events is not None:
        if run.platform is None:
            raise _fail("--hookproof-events needs --hookproof-platform: event names belong to one platform")
        known_events = {n for c in catalog.platform(run.platform).contracts for n in c.events}
        unknown = sorted(run.events - known_events)
        if unknown:
            raise _fail(f"--hookproof-events: {', '.join(unknown)} is not an event of {run.platform} "
                        "(see hookproof list)")
    if run.target_url and not run.platform:
        raise _fail("--target-url needs --hookproof-platform (one of: " + ", ".join(catalog.platforms()) + ")")
    if run.target_url and run.sender_cmd:
        raise _fail("--target-url checks a receiver and --hookproof-sender-cmd checks a sender: give one of them")
    kind = catalog.platform(run.platform).kind if run.platform else None
    if run.target_url and kind == "registration_api" and not run.api_key:
        raise _fail(f"--hookproof-platform {run.platform} checks a registration API, which needs --hookproof-api-key")
    if run.sender_cmd and kind == "registration_api":
        raise _fail(f"--hookproof-sender-cmd checks webhook senders; {run.platform} is a registration API")
    return run


CONFIG_KEY = pytest.StashKey[RunConfig]()
SUMMARY_KEY = pytest.StashKey["SummaryReporter"]()
UNGROUPED = ("pass --dist loadgroup with -n: each worker keeps its own root causes, so one cause may fail a check "
             "on each worker instead of once (hookproof run adds it)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "documented: a rule the platform's own document states",
        "robustness: delivery practice the documents do not state, checked for safety",
        "retry_policy_inferred: retry checks that apply another platform's policy where a document gives none",
    ):
        config.addinivalue_line("markers", line)
    config.stash[CONFIG_KEY] = run = build_config(config)
    reporter = SummaryReporter(run)
    config.stash[SUMMARY_KEY] = reporter
    config.pluginmanager.register(reporter, "hookproof-summary")
    if run.failures:
        from hookproof.conformance.failure_files import FailureFiles, clear

        if not hasattr(config, "workerinput"):  # the controller clears the folder once, before any worker writes
            clear(Path(run.failures))
        config.pluginmanager.register(FailureFiles(run.failures, run.target_url), "hookproof-failure-files")
    from hookproof.conformance import html_report

    html_report.configure(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    run = session.config.stash[CONFIG_KEY]
    if run.target_url and not session.config.option.collectonly:
        problem = _reachable(run.target_url, run.response_timeout)
        if problem:
            raise _fail(problem)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadgroup``, a role's checks of one platform go to one worker, in order: the root-cause
    ledger lives in that worker, so one cause stays one failure (docs/decisions.md#root-causes). Other tests
    are grouped as pytest-xdist groups them."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from hookproof.conformance.worker_groups import ConformanceGroups

    return ConformanceGroups(config, log)


def _marks(run: RunConfig, check: Check, platform: str) -> list[pytest.MarkDecorator]:
    from hookproof import catalog

    marks = [getattr(pytest.mark, check.marker)]
    if check.retry:
        spec = catalog.platform(platform).contract(run.contract)
        documented = spec.retry is not None and spec.retry.documented
        marks = [pytest.mark.documented if documented else pytest.mark.retry_policy_inferred]
    reason = run.unmet(check, platform)
    if reason:
        marks.append(pytest.mark.skip(reason=f"not checked: {reason}"))
    return marks


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per (check, platform) the run asks for, named ``<role>-<platform>-<check>``."""
    if "hookproof_check" not in metafunc.fixturenames:
        return
    from hookproof.conformance.registry import checks_of

    run = metafunc.config.stash[CONFIG_KEY]
    params = [
        pytest.param(check, platform, id=f"{role}-{platform}-{check.name}", marks=_marks(run, check, platform))
        for role in run.active_roles
        for check in checks_of(role)
        for platform in run.platforms_for(role)
        if run.applies(check, platform)
    ]
    metafunc.parametrize(("hookproof_check", "platform"), params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the placeholder pytest makes when a run asks for no check at all (an empty parameter set)."""
    from hookproof.conformance.registry import Check

    drop = [item for item in items if _is_conformance(item) and not isinstance(_check_of(item), Check)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """A run of conformance checks draws its payloads with the collector tuned for it (``collector``)."""
    if not any(_is_conformance(item) for item in session.items):
        return (yield)
    from hookproof.conformance import collector

    with collector.for_the_run():
        return (yield)


def _is_conformance(item: pytest.Item) -> bool:
    return "hookproof_check" in getattr(item, "fixturenames", ())


def _check_of(item: pytest.Item) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("hookproof_check") if callspec is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    check = _check_of(item)
    if check is not None and hasattr(check, "role"):
        callspec = getattr(item, "callspec")  # noqa: B009 - a Function item's, which pytest.Item does not declare
        item.user_properties += [("hookproof_platform", callspec.params["platform"]), ("hookproof_role", check.role),
                                 ("hookproof_check", check.name), ("hookproof_rule", check.rule)]
        item.user_properties += junit_properties(item, callspec.params["platform"])


def junit_properties(item: pytest.Item, platform: str) -> list[tuple[str, str]]:
    """What a CI dashboard reading JUnit XML needs to file a failure without the log: the item's marker (so a
    robustness failure can be told from a documented one), the contract it is held to, and the document that
    states the rule (docs/ci.md)."""
    from hookproof import catalog

    run = item.config.stash[CONFIG_KEY]
    marker = next((m.name for m in item.iter_markers() if m.name in ("documented", "robustness",
                                                                      "retry_policy_inferred")), "")
    plat = catalog.platform(platform)
    specs = [plat.contract(run.contract)] if run.contract else list(plat.contracts)
    return [("hookproof_marker", marker), ("hookproof_contract", ", ".join(s.name for s in specs)),
            ("hookproof_citation", str(specs[0].document))]


# --- the contexts each role's checks get -----------------------------------------------------------------


@dataclass
class Contexts:
    """What a role's checks are given, per platform: one context for all, or one each (registration APIs)."""

    default: Any = None
    by_platform: dict[str, Any] = field(default_factory=dict)
    wait: Callable[[], None] | None = None  # what must be ready before the first check runs (a child server)

    def __call__(self, platform: str) -> Any:
        return self.by_platform.get(platform, self.default)

    def ready(self) -> None:
        """Wait, once, for what the fixture started without waiting (the reference receiver's child)."""
        wait, self.wait = self.wait, None
        if wait is not None:
            wait()


@pytest.fixture(scope="session")
def hookproof_run(pytestconfig: pytest.Config) -> RunConfig:
    """This run's configuration, from the command line."""
    return pytestconfig.stash[CONFIG_KEY]


@pytest.fixture(scope="session")
def hookproof_receiver_context(hookproof_run: RunConfig, request: pytest.FixtureRequest) -> Iterator[Contexts]:
    """The receiver under test, or the reference receiver started for the session with a secret of its own."""
    from hookproof.conformance.http_exchange import HttpSession
    from hookproof.conformance.receiver_checks import ReceiverContext

    run = hookproof_run
    session = HttpSession(run.response_timeout)
    ahead = _draw_ahead(run, request.session)
    common: dict[str, Any] = {"examples": run.examples, "seed": run.seed, "shrink": run.shrink,
                              "contract": run.contract, "events": run.events, "captures": run.captures,
                              "ahead": ahead}
    try:
        if run.target_url:
            target = run.target_url
            yield Contexts(ReceiverContext(lambda _platform: target, session, run.secret, **common))
            return
        from hookproof.conformance.child_server import ChildServerError, started_child
        from hookproof.conformance.sender_harness import command_env

        secret = run.secret or secrets.token_urlsafe(16)
        # In a process of its own: it decides deliveries on one core while the checks draw on the other. Not
        # waited for here: it imports and binds while the first check draws (Contexts.ready waits).
        with started_child("hookproof.reference_impl.receiver", command_env({SECRET_ENV: secret})) as child:

            def wait() -> None:
                try:
                    child.url()
                except ChildServerError as exc:  # not the target's fault: nothing the checks could judge
                    pytest.exit(f"hookproof: the reference receiver did not start: {exc}", returncode=3)

            yield Contexts(ReceiverContext(lambda platform: f"{child.url()}/{platform}", session, secret, **common),
                           wait=wait)
    finally:
        session.close()
        if ahead is not None:
            ahead.close()


def _planning_context(run: RunConfig) -> ReceiverContext:
    """A receiver context that sends nothing, for planning what the run's receiver checks will send and draw:
    the same contracts (with a secret, the authenticating ones: the reference run always has one), examples,
    seed and events as the run's."""
    from hookproof.conformance.receiver_checks import ReceiverContext

    return ReceiverContext(url_for=str, session=cast(Any, None), secret=run.secret or (
        "planned" if run.reference else None), examples=run.examples, seed=run.seed, contract=run.contract,
        events=run.events, captures=run.captures)


def _draw_ahead(run: RunConfig, session: pytest.Session) -> DrawAhead | None:
    """The process that draws the receiver checks' payloads ahead of them (docs/decisions.md#draw-ahead), where
    they draw enough for it to pay: not under pytest-xdist (the workers are side by side already), nor with
    ``--hookproof-shrink`` (Hypothesis draws each case itself, to shrink it)."""
    from hookproof import catalog
    from hookproof.conformance.draw_ahead import WORTH_IT, DrawAhead, draw

    if run.shrink or hasattr(session.config, "workerinput"):
        return None
    checks = [(item.callspec.params["platform"], check.name) for item in session.items  # type: ignore[attr-defined]
              if (check := _check_of(item)) is not None and getattr(check, "role", None) == "receiver"]
    keys = _planning_context(run).planned_draws(checks)
    if sum(count * (2 if kind == "pairs" else 1) for kind, *_, count in keys) < WORTH_IT:
        return None
    return DrawAhead(keys, run.seed, [str(d) for d in catalog.active().folders.extra],
                     lambda key: draw(key, run.seed))


@pytest.fixture(scope="session")
def hookproof_sender_context(hookproof_run: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contexts]:
    """The sender command under test (or the reference sender's), against the scripted loopback receiver."""
    from hookproof.conformance.sender_checks import SenderContext
    from hookproof.conformance.sender_harness import (
        DEFAULT_SETTLE,
        REFERENCE_FIRST_WAIT,
        SenderHarness,
        reference_command,
        reference_env,
        reference_warm_up,
        scripted_server,
    )

    run = hookproof_run
    template = run.sender_cmd or reference_command()
    workdir: Path = tmp_path_factory.mktemp("sender-events")
    # The reference sender has exited when its command returns, so nothing can still be in flight: a short
    # listen after it (its policy's first wait) keeps the default run fast. A user's command may leave a child
    # sending, so it gets more.
    settle = DEFAULT_SETTLE if run.sender_cmd else REFERENCE_FIRST_WAIT
    jobs = run.jobs
    time_scale = run.time_scale if run.time_scale is not None else (1.0 if run.sender_cmd else None)
    with scripted_server() as server:
        env = None if run.sender_cmd else reference_env(workdir)
        harness = SenderHarness(server, template, workdir, timeout=run.sender_timeout, seed=run.seed, settle=settle,
                                jobs=jobs, contract=run.contract, time_scale=time_scale, env=env,
                                warm_up=reference_warm_up() if env else None, chains_beside=not run.sender_cmd)
        # For the reference sender, a secret of our own, so that authentication is checked too.
        secret = run.secret if run.sender_cmd else (run.secret or secrets.token_urlsafe(16))
        yield Contexts(SenderContext(harness, secret))


@pytest.fixture(scope="session")
def hookproof_registration_context(hookproof_run: RunConfig,
                                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contexts]:
    """The registration API under test, or a reference server per registration platform, on SQLite files."""
    from hookproof.conformance.registration_checks import RegistrationContext, Target

    run = hookproof_run
    if run.target_url:
        assert run.platform is not None and run.api_key is not None
        target = Target(run.target_url, run.api_key, run.api_key_header, run.response_timeout, run.platform,
                        run.contract)
        yield Contexts(by_platform={run.platform: RegistrationContext(target, run.hypothesis())})
        return
    from contextlib import ExitStack

    from hookproof.reference_impl.registration import make_app, store_for
    from hookproof.reference_impl.serving import serving

    contexts: dict[str, RegistrationContext] = {}
    with ExitStack() as stack:
        for platform in run.platforms_for("registration"):
            key = secrets.token_urlsafe(24)
            store = store_for(tmp_path_factory.mktemp(f"{platform}-registration") / "settings.sqlite3", platform)
            app = make_app(store, key, run.api_key_header, platform=platform)
            url = stack.enter_context(serving(app))
            target = Target(url, key, app.api_key_header, run.response_timeout, platform, run.contract)
            contexts[platform] = RegistrationContext(target, run.hypothesis())
        yield Contexts(by_platform=contexts)


# --- the summary -----------------------------------------------------------------------------------------


ITEM_ID = re.compile(r"test_conformance\[(receiver|sender|registration)-(.+)-(\w+)\]$")


def _planned_items(ids: list[str]) -> list[tuple[str, str, str]]:
    """(role, platform, check) of every conformance item among ``ids``."""
    return [m.groups() for m in map(ITEM_ID.search, ids) if m]  # type: ignore[misc]


def plan_lines(run: RunConfig, items: list[tuple[str, str, str]]) -> list[str]:
    """What the run will send, for its header: deliveries to the receiver, runs of the sender command, each
    with how to send fewer. Shrinking a failing event adds up to its budget more."""
    from hookproof import catalog
    from hookproof.conformance.receiver_checks import SHRINK_REQUESTS
    from hookproof.conformance.registry import CHECKS
    from hookproof.conformance.sender_checks import ENVELOPE_DELIVERIES
    from hookproof.conformance.sender_harness import chains, scenarios_for

    lines = []
    target = "the reference receiver" if not run.target_url else run.shown_target
    planning = _planning_context(run)
    receiving: dict[str, int] = {}
    for role, platform, name in items:
        sends = CHECKS[name].sends if name in CHECKS else None
        if role == "receiver" and sends is not None:
            receiving[platform] = receiving.get(platform, 0) + sends(planning, platform)
    if receiving:
        each = ", ".join(f"{p} {n}" for p, n in sorted(receiving.items()))
        lines.append(f"hookproof: this run sends at most {sum(receiving.values())} deliveries to {target} ({each}; "
                     f"a failing event adds up to {SHRINK_REQUESTS} more while it is shrunk); send fewer with "
                     f"--hookproof-examples N (now {run.examples}), --hookproof-events NAMES or -k CHECK")
    senders = sorted({platform for role, platform, _ in items if role == "sender"})
    if senders:
        runs, most = {}, 0
        for p in senders:
            policy = catalog.contract(p, run.contract).retry
            assert policy is not None  # a platform with sender checks is a webhook platform
            cases = scenarios_for(policy)
            runs[p], most = len(chains(policy, cases, list(cases), run.jobs > 1)), most + len(cases)
        each = ", ".join(f"{p} {n}" for p, n in runs.items())
        again = (f"; a sender that stops retrying within a chain of refused answers is run again from there, up to "
                 f"{most} times" if most > sum(runs.values()) else "")
        lines.append(f"hookproof: this run runs the sender command {sum(runs.values())} times ({each}{again}; a "
                     f"backoff that does not show growth in one delivery is measured over {ENVELOPE_DELIVERIES} "
                     "deliveries); run fewer with --hookproof-platform P or -k CHECK")
    checked = {platform for role, platform, name in items if role == "receiver" and name == "documented_examples"}
    unsent = sorted({rec.platform for _, rec in run.captures} - checked)
    if unsent:
        count = sum(1 for _, rec in run.captures if rec.platform in unsent)
        lines.append(f"hookproof: {count} capture(s) of --hookproof-captures are not sent: they are of "
                     f"{', '.join(unsent)}, whose documented_examples check this run does not run")
    return lines


def judged_check(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """(platform, role, check) of a conformance item's report that carries its verdict (the call, or a setup
    that skipped or failed), None for any other report. It reads ``user_properties``, which pytest-xdist carries
    from the workers to the controller, so every reporter sees the whole run under ``-n`` too."""
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return None
    props = dict(report.user_properties)
    platform = props.get("hookproof_platform")
    if not isinstance(platform, str):
        return None
    return platform, str(props.get("hookproof_role")), str(props.get("hookproof_check"))


def skip_reason(report: pytest.TestReport) -> str:
    """Why a skipped item was not checked, as its skip said it."""
    return str(report.longrepr[2]).removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else ""


class SummaryReporter:
    """Counts outcomes per platform and role, collects the root causes, and prints both at the end of a run that
    ran conformance checks; announces at the start what the run will send.

    It reads platform, role, check and causes from each report's ``user_properties``, which pytest-xdist carries
    from the workers to the controller, so the summary is whole under ``-n auto`` too.
    """

    def __init__(self, run: RunConfig):
        self.run = run
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self.not_checked: list[tuple[str, str, str, str]] = []  # platform, role, check, why
        self.causes: dict[str, list[str]] = {}  # a root cause's title -> the checks it kept from judging
        self.announced = False

    def _announce(self, config: pytest.Config, ids: list[str]) -> None:
        items = _planned_items(ids)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if self.announced or not items or reporter is None:
            return
        self.announced = True
        for line in plan_lines(self.run, items):
            reporter.write_line(line)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput"):
            self._announce(session.config, [item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.announced and _planned_items(ids) and getattr(node.config.option, "dist", "") != "loadgroup":
            reporter = node.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"hookproof: {UNGROUPED}")
        self._announce(node.config, ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        judged = judged_check(report)
        if judged is None:
            return
        props = dict(report.user_properties)
        platform, role, name = judged
        counts = self.counts.setdefault((platform, str(role)), {"passed": 0, "failed": 0, "skipped": 0})
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
        found = props.get("hookproof_causes")
        for title in found if report.failed and isinstance(found, list) else ():
            self.causes.setdefault(str(title), [])
        if report.skipped and isinstance(report.longrepr, tuple):
            self.not_checked.append((platform, role, name, skip_reason(report).removeprefix("not checked: ")))
            because = props.get("hookproof_because")
            for title in because if isinstance(because, list) else ():
                self.causes.setdefault(str(title), []).append(f"{role} {name}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.counts:
            return
        run, write = self.run, terminalreporter.write_line
        generation = f"seed {run.seed}" if run.seed is not None else "derandomized (the same examples every run)"
        terminalreporter.section("hookproof conformance summary")
        write(f"target: {run.shown_target}")
        write(f"generation: {run.examples} examples per event and check, {generation}")
        for (platform, role), counts in sorted(self.counts.items()):
            verdict = "DOES NOT CONFORM" if counts["failed"] else "CONFORMS"
            if counts["skipped"] and not counts["failed"]:
                verdict += f" ({counts['skipped']} not checked, listed below)"
            write(f"  {platform:<10} {role:<12} {counts['passed']:>3} passed  {counts['failed']:>3} failed  "
                  f"{counts['skipped']:>3} not checked   {verdict}")
        if self.causes:
            write(f"root causes: {len(self.causes)}, each reported once, by the first check that met it")
            for title, kept in sorted(self.causes.items()):
                write(f"  {title}")
                if kept:
                    write(f"      kept {len(kept)} more check(s) from judging: {', '.join(sorted(kept))}")
        for platform, role, name, why in sorted(self.not_checked):
            write(f"  not checked: {platform} {role} {name}: {why}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report a conformance failure as its own message: what was sent, what came back, how to replay it.

    A traceback through the suite's machinery helps nobody judging their receiver, and its displayed
    locals could carry a secret.
    """
    from hookproof.conformance.report import first_check_failure

    report = yield
    if report.failed and call.excinfo is not None and _is_conformance(item):
        failure = first_check_failure(call.excinfo.value)
        if failure is not None:
            report.longrepr = str(failure)
            report.user_properties.append(("hookproof_causes", list(failure.faults)))
            run = item.config.stash[CONFIG_KEY]
            if run.failures and failure.recordings:
                from hookproof.conformance.failure_files import write

                try:
                    written = write(Path(run.failures), item.nodeid, cast(Any, failure.recordings))
                except OSError as exc:
                    report.longrepr += f"\n  (could not write the failure files to {run.failures}: {exc.strerror})"
                else:
                    report.user_properties.append(("hookproof_failure_files", written))
    return report
