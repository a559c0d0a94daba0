"""The pytest plugin: options, the run's configuration, which checks a run selects, and the summary.

It is a thin adapter: the checks live in ``conformance/*_checks.py`` and the reference implementations
in ``reference_impl``; this module only turns command-line options into a :class:`RunConfig` and
decides which of the collected checks apply.

Which checks run:
- no target: everything, against the built-in reference receiver, sender and registration server;
- ``--target-url`` with a webhook platform: the receiver checks for that platform;
- ``--target-url`` with ``--platform xobin``: the registration API checks;
- ``--sender-cmd``: the sender checks for ``--platform`` (every webhook platform if none is given).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance import catalog
from conformance.report import CheckFailure, redacted_url, scrubbed
from conformance.run_settings import DEFAULT_EXAMPLES, runner

ROLES = ("receiver", "sender", "registration")
SECRET_ENV = "HOOKPROOF_SECRET"  # a secret given on the command line is visible to every user of the machine
API_KEY_ENV = "HOOKPROOF_API_KEY"


@dataclass(frozen=True)
class RunConfig:
    target_url: str | None
    platform: str | None
    secret: str | None = field(repr=False)
    api_key: str | None = field(repr=False)
    api_key_header: str | None
    sender_cmd: str | None
    sender_timeout: float
    sender_jobs: int | None
    response_timeout: float
    examples: int
    seed: int | None
    shrink: bool

    @property
    def active_roles(self) -> tuple[str, ...]:
        if self.sender_cmd:
            return ("sender",)
        if self.target_url:
            assert self.platform is not None
            kind = catalog.profile(self.platform).kind
            return ("registration",) if kind == "registration_api" else ("receiver",)
        return ROLES

    def platforms_for(self, role: str) -> list[str]:
        wanted_kind = "registration_api" if role == "registration" else "webhook"
        if self.platform:
            return [self.platform] if catalog.profile(self.platform).kind == wanted_kind else []
        return [p for p in catalog.platforms() if catalog.profile(p).kind == wanted_kind]

    @property
    def shown_target(self) -> str:
        """What is under test, for the header and summary: never a password in a URL, nor a secret written
        into the command instead of its ``{secret}`` placeholder."""
        if self.target_url:
            shown = redacted_url(self.target_url)
        elif self.sender_cmd:
            shown = f"--sender-cmd {self.sender_cmd}"
        else:
            return "built-in reference implementations"
        return scrubbed(scrubbed(shown, self.secret), self.api_key)

    def hypothesis(self):
        """The decorator that makes a property deterministic and bounded for this run."""
        return runner(self.examples, self.seed, self.shrink)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hookproof", "hookproof webhook conformance")
    group.addoption(
        "--target-url",
        help="URL of the implementation under test (a webhook receiver, or a "
        "registration API's base URL with --platform xobin). Default: the built-in reference.",
    )
    group.addoption("--platform", help=f"platform id: {', '.join(catalog.platforms())}")
    group.addoption("--secret", help="shared secret (Codewars X-Webhook-Secret); never printed. "
                    f"Default: ${SECRET_ENV}, which keeps it off the command line")
    group.addoption("--api-key", help="API key for the registration API (--platform xobin); never printed. "
                    f"Default: ${API_KEY_ENV}")
    group.addoption("--api-key-header", help="header that carries --api-key (default: the profile's, X-API-Key)")
    group.addoption(
        "--sender-cmd",
        help="command that delivers one event: placeholders {url} {event_file} {platform} {event} {secret}",
    )
    group.addoption("--sender-timeout", type=float, default=60.0, help="seconds one --sender-cmd run may take (60)")
    group.addoption("--sender-jobs", type=int, default=None,
                    help="sender cases run side by side (default 1 for --sender-cmd, which may not be safe to run "
                    "concurrently; 4 for the reference sender); the timed backoff case always runs alone")
    group.addoption(
        "--response-timeout", type=float, default=10.0, help="seconds the target may take to answer one request (10)"
    )
    group.addoption(
        "--hookproof-examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help=f"generated examples per event and check ({DEFAULT_EXAMPLES})",
    )
    group.addoption("--hookproof-seed", type=int, default=None, help="seed generation (default: derandomized)")
    group.addoption(
        "--hookproof-shrink", action="store_true", help="shrink failing generated cases (slow against a slow target)"
    )


def _fail(message: str) -> None:
    raise pytest.UsageError(f"hookproof: {message}")


def _reachable(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--target-url {url!r} is not an http(s) URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "Port out of range 0-65535", "Port could not be cast to integer value"
        return f"--target-url {url!r}: {exc}"
    try:
        with socket.create_connection((parts.hostname, port), timeout=min(timeout, 5.0)):
            return None
    except OSError as exc:
        return f"cannot reach --target-url {url}: {exc.strerror or exc}"
    except UnicodeError:  # the resolver's IDNA codec rejects hosts such as "a..b"
        return f"--target-url {url!r}: {parts.hostname!r} is not a valid host name"


def build_config(config: pytest.Config) -> RunConfig:
    opt = config.getoption
    run = RunConfig(
        target_url=opt("--target-url"),
        platform=opt("--platform"),
        secret=opt("--secret") or os.environ.get(SECRET_ENV) or None,
        api_key=opt("--api-key") or os.environ.get(API_KEY_ENV) or None,
        api_key_header=opt("--api-key-header"),
        sender_cmd=opt("--sender-cmd"),
        sender_timeout=opt("--sender-timeout"),
        sender_jobs=opt("--sender-jobs"),
        response_timeout=opt("--response-timeout"),
        examples=opt("--hookproof-examples"),
        seed=opt("--hookproof-seed"),
        shrink=opt("--hookproof-shrink"),
    )
    if run.platform is not None and run.platform not in catalog.platforms():
        _fail(f"unknown --platform {run.platform!r}; known platforms: {', '.join(catalog.platforms())}")
    if run.target_url and not run.platform:
        _fail("--target-url needs --platform (one of: " + ", ".join(catalog.platforms()) + ")")
    if run.target_url and run.sender_cmd:
        _fail("--target-url checks a receiver and --sender-cmd checks a sender: give one of them")
    if run.target_url and run.platform and catalog.profile(run.platform).kind == "registration_api" and not run.api_key:
        _fail(f"--platform {run.platform} checks a registration API, which needs --api-key")
    if run.sender_cmd and run.platform and catalog.profile(run.platform).kind != "webhook":
        _fail(f"--sender-cmd checks webhook senders; {run.platform} is a registration API")
    if run.sender_jobs is not None and not 1 <= run.sender_jobs <= 16:
        _fail("--sender-jobs must be between 1 and 16")
    if run.examples < 1:
        _fail("--hookproof-examples must be at least 1")
    if run.sender_timeout <= 0 or run.response_timeout <= 0:
        _fail("--sender-timeout and --response-timeout must be positive")
    return run


CONFIG_KEY = pytest.StashKey[RunConfig]()


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "documented: a rule the platform's own document states",
        "robustness: delivery practice the documents do not state, checked for safety",
        "retry_policy_inferred: retry checks that apply the DoSelect policy to a platform whose document gives none",
        "hookproof_role(role): which implementation a conformance check judges (receiver, sender, registration)",
        "hookproof_needs(*features): run a check only for platforms that have these ('examples', 'secret')",
        "hookproof_retry: a check of the retry policy; marked documented where the platform's document states "
        "the policy, retry_policy_inferred where DoSelect's is applied instead",
    ):
        config.addinivalue_line("markers", line)
    config.stash[CONFIG_KEY] = run = build_config(config)
    config.pluginmanager.register(SummaryReporter(run), "hookproof-summary")


def pytest_sessionstart(session: pytest.Session) -> None:
    run = session.config.stash[CONFIG_KEY]
    if run.target_url and not session.config.option.collectonly:
        problem = _reachable(run.target_url, run.response_timeout)
        if problem:
            _fail(problem)


def _role(node) -> str | None:
    marker = node.get_closest_marker("hookproof_role")
    return marker.args[0] if marker else None


def _has(feature: str, platform: str, run: RunConfig) -> bool:
    """Whether a platform can be checked for ``feature`` in this run (a check without it is not collected)."""
    prof = catalog.profile(platform)
    if feature == "examples":
        return any(ev.examples for ev in prof.events.values())
    if feature == "secret":  # the reference run configures one itself; a real target needs --secret
        reference = run.target_url is None and run.sender_cmd is None
        return prof.secret_header is not None and (run.secret is not None or reference)
    raise ValueError(f"unknown hookproof_needs feature {feature!r}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    role = _role(metafunc.definition)
    if role and "platform" in metafunc.fixturenames:
        run = metafunc.config.stash[CONFIG_KEY]
        platforms = run.platforms_for(role) if role in run.active_roles else []
        needs = metafunc.definition.get_closest_marker("hookproof_needs")
        if needs:
            platforms = [p for p in platforms if all(_has(f, p, run) for f in needs.args)]
        if metafunc.definition.get_closest_marker("hookproof_retry"):
            metafunc.parametrize("platform", [pytest.param(p, id=p, marks=_retry_marks(p)) for p in platforms])
        else:
            metafunc.parametrize("platform", platforms)


def _retry_marks(platform: str) -> list[pytest.MarkDecorator]:
    """``-m "not retry_policy_inferred"`` leaves out the retry checks whose policy no document states."""
    documented = catalog.profile(platform).retry_policy().get("documented", False)
    return [pytest.mark.documented if documented else pytest.mark.retry_policy_inferred]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the checks this run does not ask for, rather than skipping them into green."""
    run = config.stash[CONFIG_KEY]
    keep, drop = [], []
    for item in items:
        role = _role(item)
        callspec = getattr(item, "callspec", None)
        # An empty platform list leaves one NOTSET item behind; it is dropped with the inactive roles.
        platform = callspec.params.get("platform") if callspec is not None else None
        if role is None or (role in run.active_roles and (callspec is None or isinstance(platform, str))):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def hookproof_run(pytestconfig: pytest.Config) -> RunConfig:
    """This run's configuration, from the command line."""
    return pytestconfig.stash[CONFIG_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    if _role(item) and callspec is not None and "platform" in callspec.params:
        item.user_properties.append(("hookproof_platform", callspec.params["platform"]))
        item.user_properties.append(("hookproof_role", _role(item)))


class SummaryReporter:
    """Counts outcomes per platform and prints them at the end of the run.

    It reads the platform from each report's ``user_properties``, which pytest-xdist carries from the
    workers to the controller, so the summary is whole under ``-n auto`` too.
    """

    def __init__(self, run: RunConfig):
        self.run = run
        self.counts: dict[str, dict[str, int]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        platform = dict(report.user_properties).get("hookproof_platform")
        if isinstance(platform, str):
            counts = self.counts.setdefault(platform, {"passed": 0, "failed": 0, "skipped": 0})
            counts[report.outcome] = counts.get(report.outcome, 0) + 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.counts:
            return
        terminalreporter.section("hookproof conformance summary")
        terminalreporter.write_line(f"target: {self.run.shown_target}")
        for platform in sorted(self.counts):
            counts = self.counts[platform]
            verdict = "DOES NOT CONFORM" if counts["failed"] else "CONFORMS"
            if counts["skipped"] and not counts["failed"]:
                verdict += f" ({counts['skipped']} not checked: see the skip reasons, pytest -rs)"
            terminalreporter.write_line(
                f"  {platform:<10} {counts['passed']:>3} passed  {counts['failed']:>3} failed  "
                f"{counts['skipped']:>3} skipped   {verdict}"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report a conformance failure as its own message: what was sent, what came back, how to replay it.

    A traceback through the suite's machinery helps nobody judging their receiver, and its displayed
    locals could carry a secret.
    """
    report = yield
    if report.failed and call.excinfo is not None:
        failure = first_check_failure(call.excinfo.value)
        if failure is not None:
            report.longrepr = str(failure)
    return report


def first_check_failure(exc: BaseException) -> CheckFailure | None:
    """The conformance failure in ``exc``, also when Hypothesis wrapped it in a group (a flaky target, or
    several distinct failures while shrinking)."""
    if isinstance(exc, CheckFailure):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = first_check_failure(inner)
        if found is not None:
            return found
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash[CONFIG_KEY]
    generation = f"seed {run.seed}" if run.seed is not None else "derandomized (same examples every run)"
    return [
        f"hookproof: target {run.shown_target}; platform {run.platform or 'all'}; "
        f"{run.examples} examples per event and check; generation {generation}"
    ]
