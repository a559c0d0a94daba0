"""End to end: ``pytest --pyargs hookproof.conformance ... --hookproof-platform xobin`` as a user runs it, in a
subprocess."""

from __future__ import annotations

import re

import pytest

from hookproof.reference_impl.serving import serving
from tests import broken_registration as broken

SUITE = ("--pyargs", "hookproof.conformance")
FAST = ("-p", "no:cacheprovider", "--hookproof-examples", "5")


def test_a_broken_api_is_reported_as_not_conforming(pytester: pytest.Pytester) -> None:
    with serving(broken.accepts_any_key()) as url:
        result = pytester.runpytest(*SUITE, "--target-url", url, "--hookproof-platform", "xobin",
                                    "--hookproof-api-key", broken.API_KEY, "--showlocals", "--tb=long", *FAST)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert re.search(r"xobin\s+registration\s+5 passed\s+2 failed\s+0 not checked\s+DOES NOT CONFORM", out), out
    assert "[rejects_missing_api_key] a request without the X-API-Key header was not refused" in out
    assert "[rejects_wrong_api_key]" in out and "replay: curl" in out
    assert broken.API_KEY.lower() not in out.lower()  # not in reports, arguments or locals (nor its variants)


def test_an_api_that_hides_its_settings_is_told_so_plainly(pytester: pytest.Pytester) -> None:
    with serving(broken.unobservable()) as url:
        result = pytester.runpytest(*SUITE, "--target-url", url, "--hookproof-platform", "xobin",
                                    "--hookproof-api-key", broken.API_KEY, "-rs", *FAST)
    out = result.stdout.str()
    assert re.search(r"xobin\s+registration\s+6 passed\s+0 failed\s+1 not checked", out), out
    assert "SKIPPED" in out and "was NOT checked" in out  # the -rs line
    # the conformance summary, which lists what was not checked even without -rs
    assert "not checked: xobin registration keeps_omitted_keys: cannot observe the stored settings" in out


def test_without_a_target_the_checks_judge_the_reference_server(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*SUITE, "-k", "registration", *FAST)
    result.assert_outcomes(passed=7)
    assert "built-in reference implementations" in result.stdout.str()
