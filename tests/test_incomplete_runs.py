"""A run that ended before every check it collected was judged (``-x``, ``--maxfail``, Ctrl-C, SIGTERM) is no
pass, in each place a user or a CI dashboard reads a verdict: the terminal summary, the JUnit XML file and the HTML
report. A deselected check (``-k``) was never planned, so it does not make a run incomplete.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken
from tests.test_html_report import Page

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "incomplete-run-secret"


def _run(pytester: pytest.Pytester, receiver: Receiver, tmp_path: Path, *args: str) -> tuple[str, ET.Element, Page]:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.html"
    with serving(receiver) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-examples", "2", "--hookproof-secret", SECRET, "--junitxml",
                                    str(junit), "--hookproof-report", str(report), *args)
    return result.stdout.str(), ET.parse(junit).getroot(), Page(report.read_text(encoding="utf-8"))


def _incomplete(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//testcase[@classname='hookproof'][@name='run_incomplete']")


def test_a_run_stopped_by_x_lists_what_did_not_run_and_files_it_as_an_error(pytester: pytest.Pytester,
                                                                            tmp_path: Path) -> None:
    out, root, page = _run(pytester, broken.RejectsRankUpgrades(secrets={"codewars": SECRET}), tmp_path, "-x")
    assert "codewars   receiver       0 passed    1 failed    0 not checked   DOES NOT CONFORM" in out, out
    unrun = re.search(r"did not run: codewars receiver (.+) \(the run ended before them\)", out)
    assert unrun and "duplicate_delivery" in unrun.group(1) and "documented_examples" not in unrun.group(1), out
    missing = len(unrun.group(1).split(", "))
    assert missing >= 8, out

    cases = _incomplete(root)
    assert len(cases) == 1, ET.tostring(root)
    error = cases[0].find("error")
    assert error is not None and error.get("message", "").startswith(f"{missing} conformance check(s) did not run")
    assert "codewars receiver: " in (error.text or "") and "duplicate_delivery" in (error.text or "")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("failures") == "1"
    assert suite.get("tests") == str(len(suite.findall("testcase")))

    assert page.find("td", data_check="duplicate_delivery", data_platform="codewars")[0]["class"] == "unrun"
    assert page.find("td", data_check="documented_examples", data_platform="codewars")[0]["class"] == "fail"
    assert f"{missing} check(s) did not run" in page.text_of("incomplete")
    assert f"{missing} did not run" in page.text_of("totals")


def test_a_whole_run_and_a_deselected_check_are_not_incomplete(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out, root, page = _run(pytester, Receiver(secrets={"codewars": SECRET}), tmp_path, "-x", "-k",
                           "documented_examples or unknown_event")
    assert "codewars   receiver       2 passed    0 failed    0 not checked   CONFORMS" in out, out
    assert "did not run" not in out and not _incomplete(root) and not page.find("p", **{"class": "incomplete"})
    assert not page.find("td", **{"class": "unrun"})


INTERRUPT_AFTER_ONE = """
import pytest
seen = []
def pytest_runtest_setup(item):
    seen.append(item.nodeid)
    if len(seen) == 2:
        raise KeyboardInterrupt  # as Ctrl-C after one check, which was Codewars' (each check runs for each platform)
"""


def test_an_interrupted_run_names_the_platform_it_never_reached(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(interrupter=INTERRUPT_AFTER_ONE)
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess(  # a process of its own: Ctrl-C ends that run
        *SUITE, "--hookproof-examples", "2", "-k", "receiver-codewars or receiver-doselect", "-p", "interrupter",
        "--junitxml", str(junit), timeout=120)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out[-1500:]
    assert "codewars   receiver       1 passed    0 failed    0 not checked   NOT JUDGED (the run was interrupted)" \
        in out, out[-1500:]
    assert re.search(r"doselect   receiver       0 passed    0 failed    0 not checked   NOT JUDGED", out), out[-1500:]
    assert re.search(r"did not run: doselect receiver answers_in_time, .*documented_examples, .* \(the run was "
                     r"interrupted\)", out), out[-1500:]
    cases = _incomplete(ET.parse(junit).getroot())
    assert cases and "the run was interrupted" in (cases[0].find("error").get("message", ""))  # type: ignore[union-attr]


CTRL_C_TWICE = """
import os, signal
import pytest
seen = []
def pytest_runtest_setup(item):
    seen.append(item.nodeid)
    if len(seen) == 3:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after two checks
@pytest.hookimpl(trylast=True)
def pytest_keyboard_interrupt():
    os.kill(os.getpid(), signal.SIGINT)  # and again, while the run reports it and stops its children
"""


def test_ctrl_c_pressed_twice_stops_the_run_once(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(interrupter=CTRL_C_TWICE)
    with serving(Receiver(secrets={"codewars": SECRET})) as base:
        result = pytester.runpytest_subprocess(
            *SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars", "--hookproof-examples",
            "2", "--hookproof-secret", SECRET, "-p", "interrupter", timeout=120)
    out, err = result.stdout.str(), result.stderr.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out[-2000:] + err[-2000:]
    assert "hookproof: already stopping" in err and "Traceback" not in out + err, out[-2000:] + err[-2000:]
    assert "NOT JUDGED (the run was interrupted)" in out


TERMINATE = """
import os, signal
seen = []
def pytest_runtest_setup(item):
    seen.append(item.nodeid)
    worker = getattr(item.config, "workerinput", {}).get("workerid")  # not the environment: this test may
    if len(seen) == 3 and worker in (None, "gw0"):  # run in a worker itself; as a CI system cancelling the job, once
        os.kill(os.getppid() if worker else os.getpid(), signal.SIGTERM)
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_sigterm_stops_the_run_as_ctrl_c_does(pytester: pytest.Pytester, tmp_path: Path,
                                              workers: tuple[str, ...]) -> None:
    """CI systems cancel a job with SIGTERM: the run still writes its summary and its JUnit file, saying it was
    interrupted, and exits 2; no worker warns about a controller that went away."""
    pytester.makepyfile(interrupter=TERMINATE)
    junit = tmp_path / "junit.xml"
    # Every platform's receiver checks (38): under xdist the controller stops handing out checks after the one
    # under way, and workers run what they were handed already; ten Codewars checks were all handed out in time
    # on a loaded machine, and nothing was left to show as not judged.
    result = pytester.runpytest_subprocess(
        *SUITE, "--hookproof-examples", "2", "-k", "receiver", "-p", "interrupter", "--junitxml", str(junit),
        *workers, timeout=120)
    out, err = result.stdout.str(), result.stderr.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out[-2000:] + err[-2000:]
    assert "NOT JUDGED (the run was interrupted)" in out and "PluggyTeardownRaisedWarning" not in out + err
    cases = _incomplete(ET.parse(junit).getroot())
    assert cases and "the run was interrupted" in (cases[0].find("error").get("message", ""))  # type: ignore[union-attr]


def test_collect_only_runs_nothing_and_so_misses_nothing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.html"
    result = pytester.runpytest(*SUITE, "--collect-only", "-q", "--junitxml", str(junit), "--hookproof-report",
                                str(report))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-1500:]
    assert not _incomplete(ET.parse(junit).getroot()) and not report.exists()
    assert "did not run" not in result.stdout.str()


def test_a_platform_whose_checks_all_ran_keeps_its_verdict_in_a_run_cut_short(pytester: pytest.Pytester) -> None:
    """Interrupted after Codewars' documented_examples and before DoSelect's: Codewars' one selected check ran
    and conforms; DoSelect's did not run."""
    pytester.makepyfile(interrupter=INTERRUPT_AFTER_ONE)
    result = pytester.runpytest_subprocess(
        *SUITE, "--hookproof-examples", "2", "-k", "receiver and documented_examples and (codewars or doselect)",
        "-p", "interrupter", timeout=120)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out[-1500:]
    assert "codewars   receiver       1 passed    0 failed    0 not checked   CONFORMS" in out, out[-1500:]
    assert "doselect   receiver       0 passed    0 failed    0 not checked   NOT JUDGED (the run was interrupted)" \
        in out, out[-1500:]


SIGNAL_WHILE_STARTING = """
import os, signal
def pytest_configure(config):
    for _ in range({times}):
        os.kill(os.getpid(), signal.{name})  # as a CI job cancelled in its first second, while pytest starts
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGINT twice"])
def test_a_signal_while_the_run_starts_interrupts_it_once_its_checks_are_collected(tmp_path: Path,
                                                                                   name: str) -> None:
    """Raised while pytest imported and collected, the interrupt left a module half made (an ImportError, exit
    1: 'a check failed'), or SIGTERM killed the run with no JUnit file at all. hookproof run notes the signal
    and interrupts once the checks are collected: exit 2, and the JUnit file names every check as not run."""
    import subprocess
    import sys

    sig, _, twice = name.partition(" ")
    plugin = SIGNAL_WHILE_STARTING.replace("{name}", sig).replace("{times}", "2" if twice else "1")
    (tmp_path / "early_signal.py").write_text(plugin, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "hookproof", "run", "--platform", "codewars", "-p", "early_signal",
                           "--junitxml", str(junit)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr and "did not run: codewars receiver" in done.stdout
    assert ("hookproof: stopping as soon as the run's checks are collected" in done.stderr) == bool(twice)
    cases = _incomplete(ET.parse(junit).getroot())
    assert cases and "the run was interrupted" in (cases[0].find("error").get("message", ""))  # type: ignore[union-attr]
