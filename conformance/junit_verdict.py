"""``--junitxml FILE`` of a run that did not judge every check it collected carries one error saying so.

A CI dashboard reads the file, not the terminal: a run that Ctrl-C, SIGTERM, ``-x``, ``--maxfail``, the run's time
limit or a killed worker ended early holds passes and no failure, and would be filed green although most checks
never ran. pytest writes the file in its own ``pytest_sessionfinish``; this plugin runs after it (``trylast``) and
adds to that file's first test suite one ``<testcase classname="hookproof" name="run_incomplete">`` with an
``<error>`` that names the checks that did not run, and counts it in the suite's ``tests`` and ``errors``. Only the
process that writes the file (the controller under pytest-xdist) does this.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hookproof.conformance.summary import SummaryReporter

CLASSNAME, NAME = "hookproof", "run_incomplete"


def configure(config: pytest.Config, summary: SummaryReporter) -> None:
    path = getattr(config.option, "xmlpath", None)
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(IncompleteRun(Path(path), summary), "hookproof-junit-verdict")


def message(unrun: dict[tuple[str, str], list[str]], why: str) -> tuple[str, str]:
    """The error's one-line message and its text: what did not run (and ``why``), per platform and role."""
    count = sum(map(len, unrun.values()))
    head = f"{count} conformance check(s) did not run ({why}): no verdict on them, and none is a pass"
    text = "\n".join(f"{platform} {role}: {', '.join(checks)}" for (platform, role), checks in sorted(unrun.items()))
    return head, text


def add_error(path: Path, head: str, text: str) -> None:
    """Add the error test case to the file pytest wrote (``<testsuites><testsuite>...`` or a bare suite)."""
    tree = ET.parse(path)
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    case = ET.SubElement(suite, "testcase", {"classname": CLASSNAME, "name": NAME, "time": "0"})
    ET.SubElement(case, "error", {"message": head}).text = text
    for counter in ("tests", "errors"):
        suite.set(counter, str(int(suite.get(counter, "0")) + 1))
    tree.write(path, encoding="utf-8", xml_declaration=True)


@dataclass(eq=False)  # a plugin: pluggy keeps plugins in sets, so hashable (by identity)
class IncompleteRun:
    path: Path
    summary: SummaryReporter

    @pytest.hookimpl(trylast=True)  # after pytest's junitxml plugin has written the file
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from hookproof.conformance import interrupt

        unrun = self.summary.did_not_run_by_role()
        if not self.path.is_file():
            return
        if unrun:
            add_error(self.path, *message(unrun, self.summary.why_not_run(exitstatus)))
        elif exitstatus == pytest.ExitCode.INTERRUPTED and not self.summary.planned and interrupt.conformance_run:
            add_error(self.path, "the run was interrupted before it had collected its checks: no verdict at all",
                      "run it again")
