"""The pytest plugin: the hooks that make conformance items, and the contexts each role's checks get.

It is a thin adapter, harmless when idle: installed, it adds only ``--target-url`` and ``--hookproof-*``
options, and prints nothing unless conformance checks ran. The checks live in ``*_checks.py`` (registered in
:mod:`hookproof.conformance.registry`) and the reference implementations in :mod:`hookproof.reference_impl`;
the options and the :class:`RunConfig` they make are :mod:`hookproof.conformance.options`', what the run
prints at its start and end :mod:`hookproof.conformance.summary`'s. This module generates one item per
(check, platform) from the registry, and gives each role its context as a session fixture.

Which checks run:
- no target: every role, against the built-in reference receiver, sender and registration server;
- ``--target-url`` with a webhook platform: the receiver checks for that platform;
- ``--target-url`` with a registration API platform (``xobin``): the registration checks;
- ``--hookproof-sender-cmd``: the sender checks for ``--hookproof-platform`` (every webhook platform if none).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from hookproof.command_line import SECRET_ENV, without_values
from hookproof.conformance.options import (
    API_KEY_ENV,
    RunConfig,
    add_options,
    build_config,
    unreachable,
    usage_error,
)
from hookproof.conformance.summary import SummaryReporter

if TYPE_CHECKING:
    from hookproof.conformance.draw_ahead import DrawAhead
    from hookproof.conformance.head_start import HeadStart
    from hookproof.conformance.registry import Check

def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> Generator[None, object, object]:
    """Arguments pytest does not know are refused here, named without their values, before pytest's own parse
    refuses them with the values: a mistyped ``--hookproof-secret=...`` would print the secret into a CI log
    (:func:`hookproof.command_line.without_values`). This is the first hook an installed plugin gets once every
    option is known (the initial conftests' too: they are loaded inside it), and the last before that parse.
    ``--help`` and ``--version`` are left to pytest, which answers them whatever else was typed."""
    result = yield
    known = early_config.known_args_namespace
    carried = [name for name in ("--hookproof-secret", "--hookproof-api-key")
               if any(a == name or a.startswith(name + "=") for a in args)]
    if getattr(known, "debug", None) and carried:  # refused before pytest writes its debug file
        env = SECRET_ENV if carried[0] == "--hookproof-secret" else API_KEY_ENV
        raise pytest.UsageError(f"--debug writes the whole command line into its log file, and this one holds "
                                f"{carried[0]}: pass it in ${env} instead")
    if not (known.help or known.version):
        unknown = parser.parse_known_and_unknown_args(args)[1]
        if unknown:  # with the lines pytest adds, which say where an ini file's addopts may have come from
            raise pytest.UsageError("\n".join((without_values("unrecognized arguments: " + " ".join(unknown)),
                                               f"  inifile: {early_config.inipath}",
                                               f"  rootdir: {early_config.rootpath}")))
    return result


CONFIG_KEY = pytest.StashKey[RunConfig]()
SUMMARY_KEY = pytest.StashKey[SummaryReporter]()
HEAD_START_KEY = pytest.StashKey["HeadStart"]()


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
        config.pluginmanager.register(FailureFiles(run.failures, run.target_url, run.response_timeout),
                                      "hookproof-failure-files")
    from hookproof.conformance import html_report, junit_verdict

    html_report.configure(config)
    junit_verdict.configure(config, reporter)


def pytest_unconfigure(config: pytest.Config) -> None:
    from hookproof.conformance import interrupt

    interrupt.restore()  # Ctrl-C as Python's own again, for whatever runs after pytest in this process


@pytest.hookimpl(tryfirst=True)  # before the conftests' session start, which may import what the children do
def pytest_sessionstart(session: pytest.Session) -> None:
    run = session.config.stash[CONFIG_KEY]
    if run.target_url and not session.config.option.collectonly:
        problem = unreachable(run.target_url, run.response_timeout)
        if problem:
            raise usage_error(problem)
    from hookproof.conformance import head_start

    if head_start.wanted(session.config, run):  # the run's children import while pytest collects
        started = head_start.HeadStart(run.secret)
        session.config.stash[HEAD_START_KEY] = started
        session.config.add_cleanup(started.close)


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

    if hasattr(session.config, "workerinput"):  # an xdist worker ends with its session
        collector.until_the_process_ends(starting=False)
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
    session = HttpSession(run.response_timeout, budget=run.budget)
    head = request.config.stash.get(HEAD_START_KEY, None)
    ahead = _draw_ahead(run, request.session, head)
    common: dict[str, Any] = {"examples": run.examples, "seed": run.seed, "shrink": run.shrink,
                              "contract": run.contract, "events": run.events, "captures": run.captures,
                              "ahead": ahead}
    try:
        if run.target_url:
            target = run.target_url
            yield Contexts(ReceiverContext(lambda _platform: target, session, run.secret, **common))
            return
        from hookproof.conformance.child_server import ChildServerError
        from hookproof.conformance.head_start import reference_receiver

        # In a process of its own: it decides deliveries on one core while the checks draw on the other. Not
        # waited for here: it imports and binds while the first check draws (Contexts.ready waits), or it was
        # started at the session's start (head_start).
        with reference_receiver(head, run.secret) as (child, secret):

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



def _draw_ahead(run: RunConfig, session: pytest.Session, head: HeadStart | None = None) -> DrawAhead | None:
    """The process that draws the receiver checks' payloads ahead of them (docs/decisions.md#draw-ahead), where
    they draw enough for it to pay: not under pytest-xdist (the workers are side by side already), nor with
    ``--hookproof-shrink`` (Hypothesis draws each case itself, to shrink it)."""
    from hookproof import catalog
    from hookproof.conformance.draw_ahead import WORTH_IT, DrawAhead, draw

    if run.shrink or hasattr(session.config, "workerinput"):
        return None
    checks = [(item.callspec.params["platform"], check.name) for item in session.items  # type: ignore[attr-defined]
              if (check := _check_of(item)) is not None and getattr(check, "role", None) == "receiver"]
    keys = run.planning_context().planned_draws(checks)
    started = head.drawing() if head is not None else None
    if sum(count * (2 if kind == "pairs" else 1) for kind, *_, count in keys) < WORTH_IT:
        if started is not None:
            started[1].close()
        return None
    return DrawAhead(keys, run.seed, [str(d) for d in catalog.active().folders.extra],
                     lambda key: draw(key, run.seed, run.budget), started, run.budget)


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
                                warm_up=reference_warm_up() if env else None, chains_beside=not run.sender_cmd,
                                budget=run.budget)
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
                        run.contract, run.budget)
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
            target = Target(url, key, app.api_key_header, run.response_timeout, platform, run.contract, run.budget)
            contexts[platform] = RegistrationContext(target, run.hypothesis())
        yield Contexts(by_platform=contexts)



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
