"""The sender checks through the pytest plugin, end to end: ``pytest --pyargs conformance --sender-cmd ...``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

BROKEN = Path(__file__).with_name("broken_senders.py")


def command(mode: str) -> str:
    return (f"{shlex.quote(sys.executable)} {shlex.quote(str(BROKEN))} {mode} --url {{url}} --event-file "
            "{event_file} --platform {platform} --event {event} --secret {secret} --backoff-base 0.05")


def test_a_sender_that_never_retries_does_not_conform(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance", "--sender-cmd", command("no-retry"), "--platform", "doselect",
        "--sender-timeout", "20", "-v", "-p", "no:cacheprovider", timeout=180)
    assert result.ret == 1
    result.stdout.fnmatch_lines_random([
        "*test_sender.py::test_method_and_headers[[]doselect[]] PASSED*",
        "*test_sender.py::test_body_is_the_payload[[]doselect[]] PASSED*",
        "*test_sender.py::test_one_request_when_accepted[[]doselect-200[]] PASSED*",
        "*test_sender.py::test_retried_after_refusal[[]doselect-500[]] FAILED*",
        "*test_sender.py::test_gives_up_after_five_tries[[]doselect[]] FAILED*",
        "*test_sender.py::test_command_delivers_within_bound[[]doselect[]] PASSED*",
        "*after an answer of 500 the sender did not try again*",
        "*doselect*DOES NOT CONFORM*",
    ])
    assert "test_receiver.py" not in result.stdout.str()  # a sender run runs sender checks only
    result.assert_outcomes(passed=7, failed=11)


def test_inferred_retry_checks_can_be_deselected(pytester: pytest.Pytester) -> None:
    common = ["--pyargs", "conformance", "--sender-cmd", command("no-retry"), "--platform", "codewars",
              "--collect-only", "-q", "-p", "no:cacheprovider"]
    everything = pytester.runpytest_subprocess(*common, timeout=120)
    documented = pytester.runpytest_subprocess(*common, "-m", "not retry_policy_inferred", timeout=120)
    doselect = pytester.runpytest_subprocess(*common[:5], "doselect", *common[6:], "-m",
                                             "not retry_policy_inferred", timeout=120)
    assert "test_retried_after_refusal[codewars-301]" in everything.stdout.str()
    assert "test_retried_after_refusal" not in documented.stdout.str()
    assert "test_method_and_headers[codewars]" in documented.stdout.str()
    assert "test_retried_after_refusal[doselect-301]" in doselect.stdout.str()  # documented for DoSelect
