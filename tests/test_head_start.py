"""The run's children start at the session's start where the run will use them, serve the checks as the
fixtures' own would, and never outlive the run."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from typing import Any

import pytest

from hookproof.conformance import bounded_command, draw_ahead
from hookproof.conformance.draw_ahead import DrawAhead, draw
from hookproof.conformance.head_start import SUITE_FILE, wanted
from hookproof.conformance.plugin import CONFIG_KEY
from tests.test_draw_ahead import KEYS, _comparable, _nowhere, _settled

SUITE = ("--pyargs", "hookproof.conformance")


@pytest.mark.parametrize(("args", "expected"), [
    ([], True),
    (["--hookproof-platform", "codewars", "--hookproof-examples", "3"], True),
    (["-k", "generated_valid"], False),
    (["-m", "documented"], False),
    (["--deselect", "conformance/test_conformance.py::test_conformance[receiver-codewars-unknown_event]"], False),
    (["--collect-only"], False),
    (["-n", "2"], False),
    (["--hookproof-shrink"], False),
    (["--hookproof-platform", "xobin"], False),  # a registration API: no receiver check runs
    (["--target-url", "http://127.0.0.1:9/hook", "--hookproof-platform", "codewars"], False),
    (["--hookproof-sender-cmd", "true {url}"], False),
])
def test_the_children_start_early_only_where_the_run_will_use_them(pytester: pytest.Pytester, args: list[str],
                                                                   expected: bool) -> None:
    config = pytester.parseconfigure(*SUITE, *args)
    assert wanted(config, config.stash[CONFIG_KEY]) is expected


@pytest.mark.parametrize(("args", "expected"), [
    ((), False),  # a project of the user's own, in which the plugin is installed: its tests, not ours
    (("tests",), False),
    ((str(SUITE_FILE.parent),), True),
    ((str(SUITE_FILE),), True),
    ((str(SUITE_FILE.parent.parent),), True),  # a folder above the suite's collects it too
    (("--pyargs", "hookproof.conformance.test_conformance"), True),
    (("--pyargs", "json"), False),
])
def test_the_children_start_only_for_a_run_that_collects_the_suite(pytester: pytest.Pytester,
                                                                   args: tuple[str, ...], expected: bool) -> None:
    pytester.mkdir("tests")
    config = pytester.parseconfigure(*args)
    assert wanted(config, config.stash[CONFIG_KEY]) is expected


def test_a_node_id_narrows_the_run_too(pytester: pytest.Pytester) -> None:
    node = "conformance/test_conformance.py::test_conformance[receiver-codewars-unknown_event]"
    config = pytester.parseconfigure(node)
    assert wanted(config, config.stash[CONFIG_KEY]) is False


def _gone(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0) and not os.path.exists(f"/proc/{pid}")
    except ChildProcessError:  # reaped already
        return True


@pytest.mark.parametrize("keep", [
    ("receiver-codewars-authentication_required", "receiver-codewars-documented_examples"),
    (),
])
def test_the_children_start_before_collection_serve_the_checks_and_end_with_the_run(pytester: pytest.Pytester,
                                                                                     keep: tuple[str, ...]) -> None:
    """The receiver started early is the one the checks send to, with the secret they sign with (a wrong pairing
    fails authentication_required); the drawing process, unused where the run draws too little for it to pay,
    is stopped; neither outlives the run, nor do they where no receiver check is left to take them."""
    pytester.makeconftest(f"""
from pathlib import Path
from hookproof.conformance import bounded_command

def pytest_collection(session):
    Path("seen.txt").write_text(" ".join(str(pid) for pid in sorted(bounded_command._running)))

def pytest_collection_modifyitems(config, items):
    kept = [i for i in items if i.callspec.id in {keep!r}]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept
""")
    before = set(bounded_command._running)
    result = pytester.runpytest_inprocess(*SUITE, "--hookproof-platform", "codewars", "--hookproof-examples", "1")
    result.assert_outcomes(passed=len(keep), deselected=result.parseoutcomes()["deselected"])
    seen = [int(pid) for pid in (pytester.path / "seen.txt").read_text().split() if int(pid) not in before]
    assert len(seen) == 2, "the receiver and the drawing process were running before collection"
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in seen) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(_gone(pid) for pid in seen), "a child outlived the run"
    assert not set(bounded_command._running) - before


def test_a_drawing_process_started_earlier_draws_what_the_checks_draw_here() -> None:
    stack = ExitStack()
    proc = stack.enter_context(draw_ahead.spawn())
    time.sleep(0.2)  # it imports, then waits for its draws
    assert proc.poll() is None
    ahead = DrawAhead(KEYS, None, [], _nowhere, (proc, stack))
    try:
        _settled(ahead, len(KEYS))
        got: list[Any] = [_comparable(ahead.take(key)) for key in KEYS]
    finally:
        ahead.close()
    assert got == [_comparable(draw(key, None)) for key in KEYS]
    assert proc.poll() is not None
