"""What a run tells its user: the plan at its start (what it will send, and how to send less) and the
conformance summary at its end (a verdict per platform and role, the root causes, what was not checked).

Both read what they count from each report's ``user_properties``, which pytest-xdist carries from the
workers to the controller, so the summary is whole under ``-n auto`` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest

from hookproof.conformance.options import RunConfig
from hookproof.conformance.run_budget import OPTION

UNGROUPED = ("pass --dist loadgroup with -n: each worker keeps its own root causes, so one cause may fail a check "
             "on each worker instead of once (hookproof run adds it)")

ITEM_ID = re.compile(r"test_conformance\[(receiver|sender|registration)-(.+)-(\w+)\]$")


def planned_items(ids: list[str]) -> list[tuple[str, str, str]]:
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
    planning = run.planning_context()
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


_TITLE = re.compile(r"^\[(?P<check>[^\]]+)\] (?P<platform>\S+) (?P<event>\S+): (?P<what>.+)$")
SAME_ON = 3  # causes of one platform with the same outcome, from this many events on, are pointed out


def same_on_many_events(titles: Iterable[str]) -> list[str]:
    """A cause is per event (a receiver may fail one event's handler alone), so one fault of a receiver's
    common path (a 301 to everything, a 500 for any body over a size) is listed once for each event. Where
    several events of a platform met the very same outcome, say so, so that nine causes read as what they
    may be: one."""
    events: dict[tuple[str, str], set[str]] = {}
    for title in titles:
        found = _TITLE.match(title)
        if found:
            events.setdefault((found["platform"], found["what"]), set()).add(found["event"])
    return [f"the same on {len(names)} {platform} events ({what}): perhaps one fault, in what every event's "
            "delivery goes through" for (platform, what), names in sorted(events.items()) if len(names) >= SAME_ON]


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
        self.planned: set[tuple[str, str, str]] = set()  # platform, role, check of every item the run collected
        self.judged: set[tuple[str, str, str]] = set()
        self.out_of_time = False  # a check was not judged: the run's time limit passed (run_budget.py)
        self.collect_only = False  # --collect-only: nothing was to run, so nothing "did not run"
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def did_not_run(self) -> list[tuple[str, str, str]]:
        """(platform, role, check) of each check the run collected and never judged: Ctrl-C, SIGTERM, ``-x`` or
        ``--maxfail`` ended the run first, or its time limit cut the check short. Not one of them may read as a
        pass (summary, JUnit, report)."""
        return [] if self.collect_only else sorted(self.planned - self.judged)

    def did_not_run_by_role(self) -> dict[tuple[str, str], list[str]]:
        """:meth:`did_not_run` as (platform, role) -> checks, as the summary and the JUnit error list them."""
        unrun: dict[tuple[str, str], list[str]] = {}
        for platform, role, name in self.did_not_run():
            unrun.setdefault((platform, role), []).append(name)
        return unrun

    def why_not_run(self, exitstatus: int) -> str:
        """Why the checks of :meth:`did_not_run` were not judged, for the summary, the JUnit file and the report."""
        if self.out_of_time:
            return f"the run's time limit passed: {OPTION} {self.run.budget.seconds if self.run.budget else 0:g} s"
        return "the run was interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else "the run ended before them"

    @pytest.hookimpl(tryfirst=True)  # before pytest reports the interrupt, and tears the session's fixtures down
    def pytest_keyboard_interrupt(self) -> None:
        from hookproof.conformance import interrupt

        if self.planned or interrupt.conformance_run:  # a second Ctrl-C must not break the shutdown of children
            interrupt.stopping()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A run that its time limit cut short did not pass, although nothing in it failed: it exits 2, as an
        interrupted run does (README, exit codes)."""
        if self.out_of_time and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERRUPTED

    def _announce(self, config: pytest.Config, ids: list[str]) -> None:
        items = planned_items(ids)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if self.announced or not items:
            return
        self.planned = {(platform, role, check) for role, platform, check in items}
        self.collect_only = bool(config.option.collectonly)
        from hookproof.conformance import interrupt

        interrupt.terminate_as_interrupt(self.session)  # the controller, of a run with conformance checks
        if reporter is None:
            return
        self.announced = True
        for line in plan_lines(self.run, items):
            reporter.write_line(line)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput"):
            self._announce(session.config, [item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.announced and planned_items(ids) and getattr(node.config.option, "dist", "") != "loadgroup":
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
        if props.get("hookproof_out_of_time"):  # neither passed nor failed: counted with what did not run
            self.out_of_time = True
            return
        self.judged.add(judged)
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

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if (not self.counts and not self.planned) or terminalreporter.config.option.collectonly:
            return
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED  # what did not run is not a pass
        unrun = self.did_not_run_by_role()
        run, write = self.run, terminalreporter.write_line
        generation = f"seed {run.seed}" if run.seed is not None else "derandomized (the same examples every run)"
        terminalreporter.section("hookproof conformance summary")
        write(f"target: {run.shown_target}")
        write(f"generation: {run.examples} examples per event and check, {generation}")
        empty = {"passed": 0, "failed": 0, "skipped": 0}
        for platform, role in sorted(set(self.counts) | set(unrun)):
            counts, missing = self.counts.get((platform, role), empty), len(unrun.get((platform, role), ()))
            # A platform and role whose every check ran keeps its verdict, however the run ended; one with a check
            # that did not run conforms only as far as it was judged: not judged.
            verdict = "DOES NOT CONFORM" if counts["failed"] else "CONFORMS"
            if missing and not counts["failed"]:
                verdict = "NOT JUDGED (the run was interrupted)" if interrupted else \
                    f"NOT JUDGED ({missing} check(s) did not run, listed below)"
            elif counts["skipped"] and not counts["failed"]:
                verdict += f" ({counts['skipped']} not checked, listed below)"
            write(f"  {platform:<10} {role:<12} {counts['passed']:>3} passed  {counts['failed']:>3} failed  "
                  f"{counts['skipped']:>3} not checked   {verdict}")
        if interrupted:
            write("the run was interrupted: the checks that did not run are not counted, and a platform and role "
                  "with one of them is not judged")
        ended = self.why_not_run(exitstatus)
        for (platform, role), names in sorted(unrun.items()):
            write(f"  did not run: {platform} {role} {', '.join(names)} ({ended})")
        if self.causes:
            write(f"root causes: {len(self.causes)}, each reported once, by the first check that met it")
            for title, kept in sorted(self.causes.items()):
                write(f"  {title}")
                if kept:
                    write(f"      kept {len(kept)} more check(s) from judging: {', '.join(sorted(kept))}")
            for line in same_on_many_events(self.causes):
                write(f"  {line}")
        for platform, role, name, why in sorted(self.not_checked):
            write(f"  not checked: {platform} {role} {name}: {why}")
