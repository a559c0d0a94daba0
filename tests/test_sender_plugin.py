"""The sender checks through the pytest plugin, end to end:
``pytest --pyargs hookproof.conformance --hookproof-sender-cmd ...``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

BROKEN = Path(__file__).with_name("broken_senders.py")
SCALE = "0.05"  # --hookproof-time-scale: DoSelect's backoff from 1 s becomes 50, 100, 200, 400 ms


def command(mode: str) -> str:
    return (f"{shlex.quote(sys.executable)} {shlex.quote(str(BROKEN))} {mode} --url {{url}} --event-file "
            "{event_file} --platform {platform} --contract {contract} --event {event} --secret={secret} "
            "--time-scale {time_scale}")


def item(platform: str, check: str) -> str:
    return f"test_conformance[sender-{platform}-{check}]"


def test_a_sender_that_never_retries_does_not_conform(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--pyargs", "hookproof.conformance", "--hookproof-sender-cmd", command("no-retry"),
        "--hookproof-platform", "doselect", "--hookproof-sender-timeout", "20", "--hookproof-time-scale", SCALE,
        "-v", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines_random([
        "*test_conformance.py::test_conformance[[]sender-doselect-method_and_headers[]] PASSED*",
        "*test_conformance.py::test_conformance[[]sender-doselect-body_is_the_payload[]] PASSED*",
        "*test_conformance.py::test_conformance[[]sender-doselect-one_request_when_accepted[]] PASSED*",
        "*test_conformance.py::test_conformance[[]sender-doselect-retried_as_documented[]] FAILED*",
        "*test_conformance.py::test_conformance[[]sender-doselect-gives_up_after_the_last_try[]] FAILED*",
        # no retry, so no wait and no repeated delivery to judge: not checked, and not failed a second time
        "*test_conformance.py::test_conformance[[]sender-doselect-backoff_as_documented[]] SKIPPED*",
        "*test_conformance.py::test_conformance[[]sender-doselect-retries_repeat_the_delivery[]] SKIPPED*",
        "*not checked: doselect sender backoff_as_documented: only 1 try arrived where every answer failed*",
        "*test_conformance.py::test_conformance[[]sender-doselect-command_delivers[]] PASSED*",
        # every refused answer is one failing case of the one retry check, the 500 among them
        "*failed in 10 cases: refuse-301, refuse-302, refuse-400, refuse-404, refuse-410, refuse-429, refuse-500, "
        "refuse-502, refuse-503, refuse-504*",
        "*after an answer of 301 the sender did not try again*",
        "*doselect*DOES NOT CONFORM*",
    ])
    out = result.stdout.str()
    assert "[receiver-" not in out and "[registration-" not in out  # a sender run runs sender checks only
    result.assert_outcomes(passed=4, failed=2, skipped=2)


def test_inferred_retry_checks_can_be_deselected(pytester: pytest.Pytester) -> None:
    common = ["--pyargs", "hookproof.conformance", "--hookproof-sender-cmd", command("no-retry"),
              "--hookproof-platform", "codewars", "--collect-only", "-q", "-p", "no:cacheprovider"]
    everything = pytester.runpytest(*common)
    documented = pytester.runpytest(*common, "-m", "not retry_policy_inferred")
    doselect = pytester.runpytest(*common[:5], "doselect", *common[6:], "-m", "not retry_policy_inferred")
    assert item("codewars", "retried_as_documented") in everything.stdout.str()
    assert "retried_as_documented" not in documented.stdout.str()
    assert item("codewars", "method_and_headers") in documented.stdout.str()
    assert item("doselect", "retried_as_documented") in doselect.stdout.str()  # documented for DoSelect


def test_the_plan_counts_a_chain_of_refusals_as_one_run() -> None:
    """The line before the run says how many times the command runs: side by side (the reference run) the
    retried refusals run as chains, one case at a time (a user's command by default) each on its own."""
    from hookproof.conformance.options import RunConfig
    from hookproof.conformance.summary import plan_lines

    def line(sender_cmd: str | None, jobs: int | None) -> str:
        run = RunConfig(target_url=None, platform="doselect", contract=None, secret=None, api_key=None,
                        api_key_header=None, sender_cmd=sender_cmd, sender_timeout=20.0, sender_jobs=jobs,
                        time_scale=None, response_timeout=5.0, examples=10, seed=None, shrink=False)
        found = [text for text in plan_lines(run, [("sender", "doselect", "retried_as_documented")])
                 if "runs the sender command" in text]
        assert len(found) == 1
        return found[0]

    assert "runs the sender command 8 times (doselect 8; a sender that stops retrying within a chain of " \
           "refused answers is run again from there, up to 15 times;" in line(None, None)
    assert "runs the sender command 15 times (doselect 15; a backoff" in line("my-sender {url}", None)
    assert "runs the sender command 8 times (doselect 8;" in line("my-sender {url}", 4)


def test_a_hanging_command_fails_command_delivers_and_nothing_else(pytester: pytest.Pytester) -> None:
    """The fault is the command's, so the check whose rule that is reports it; every other check is not checked
    because of it, whatever case it would have judged first."""
    result = pytester.runpytest(
        "--pyargs", "hookproof.conformance", "--hookproof-sender-cmd", command("hangs"), "--hookproof-platform",
        "doselect", "--hookproof-sender-timeout", "0.5", "-v", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert f"{item('doselect', 'command_delivers')} FAILED" in out, out
    result.assert_outcomes(failed=1, skipped=7)
    assert "[command_delivers] nothing arrived at" in out and "did not finish within 0.5 s" in out
    assert "kept 7 more check(s) from judging" in out and "not checked: doselect sender method_and_headers: " \
        "because of [command_delivers]" in out
