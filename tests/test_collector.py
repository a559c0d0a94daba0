"""The collector's settings for a run: raised and frozen for its span, restored after, the same payloads."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hookproof.conformance import collector
from hookproof.conformance.draw_ahead import draw


@pytest.fixture
def default_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from CPython's own settings (the project's conftest tunes them for the whole session,
    and keeps them to the process's end)."""
    monkeypatch.setattr(collector, "_kept", False)
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_run_raises_and_freezes_for_its_span_and_restores_after(default_collector: object) -> None:
    with collector.for_the_run():
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > 1000  # what the process had imported
        with collector.for_the_run():  # a run in process inside a run leaves them be
            assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_the_payloads_do_not_depend_on_the_collector(default_collector: object) -> None:
    keys = [("pairs", "qualified", "document", "team_candidate.created", 6),
            ("broken", "codewars", "document", "webhook.updated", 6)]
    plain = [draw(key, None) for key in keys]
    with collector.for_the_run():
        tuned = [draw(key, None) for key in keys]
    assert tuned == plain


def test_a_conformance_run_in_process_gives_the_settings_back(pytester: pytest.Pytester,
                                                              default_collector: object) -> None:
    seen: list[tuple[int, int, int]] = []

    class Spy:
        @pytest.hookimpl(trylast=True)
        def pytest_runtest_call(self) -> None:
            seen.append(gc.get_threshold())

    result = pytester.runpytest("--pyargs", "hookproof.conformance", "-k", "receiver-codewars-documented_examples",
                                plugins=[Spy()])
    result.assert_outcomes(passed=1)
    assert seen == [collector.THRESHOLDS]
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


_ENDS_WITH_THE_RUN = """
import gc
from hookproof.conformance import collector

collector.until_the_process_ends()
assert not gc.isenabled()  # nothing is collected while the run imports and collects
with collector.for_the_run():
    assert gc.isenabled() and gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() > 1000
assert gc.get_threshold() == collector.THRESHOLDS and gc.get_freeze_count() > 1000  # kept to the end
print("ok")
"""


def _passes_in_a_process_of_its_own(script: str) -> None:
    """The collector's state is the process's: a script that asserts on it runs in a fresh one."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_process_that_ends_with_its_run_keeps_the_collector_tuned_to_its_end() -> None:
    _passes_in_a_process_of_its_own(_ENDS_WITH_THE_RUN)


def test_hookproof_run_as_a_program_ends_with_its_run_and_in_process_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hookproof import cli

    asked: list[bool] = []
    monkeypatch.setattr(collector, "until_the_process_ends", lambda: asked.append(True))
    monkeypatch.setattr(sys, "argv", ["hookproof", "run", "--collect-only", "-q", "-k", "no-such-check"])
    cli.main(["run", "--collect-only", "-q", "-k", "no-such-check"])
    assert asked == []
    cli.main()
    assert asked == [True]


def test_the_workers_of_a_parallel_run_keep_the_collector_tuned_to_their_end(pytester: pytest.Pytester) -> None:
    """A worker learns it runs checks once it has collected them: it keeps the freeze, and collects as usual
    until then."""
    pytester.makeconftest("""
import gc
from pathlib import Path

import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    enabled = gc.isenabled()
    try:
        return (yield)
    finally:
        Path(f"worker-{session.config.workerinput['workerid']}.txt").write_text(
            f"{enabled} {gc.isenabled()} {gc.get_threshold()} {gc.get_freeze_count() > 1000}")
""")
    result = pytester.runpytest_subprocess("--pyargs", "hookproof.conformance", "-n", "1", "-k",
                                           "receiver-codewars-documented_examples", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "worker-gw0.txt").read_text() == f"True True {collector.THRESHOLDS} True"


def test_a_collector_disabled_before_the_run_stays_disabled() -> None:
    script = ("import gc\nfrom hookproof.conformance import collector\ngc.disable()\n"
              "collector.until_the_process_ends()\nwith collector.for_the_run():\n    assert not gc.isenabled()\n"
              "print('ok')\n")
    _passes_in_a_process_of_its_own(script)
