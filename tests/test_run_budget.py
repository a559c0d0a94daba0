"""``--hookproof-max-time``: a run has one deadline. Past it nothing more is sent or run, what did not finish is
not judged (neither a pass nor the target's failure), a fault found before it is still reported, and the run
exits 2 with the summary, the JUnit file and the report saying why."""

from __future__ import annotations

import io
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from hookproof.conformance import receiver_checks, sender_checks
from hookproof.conformance.http_exchange import HttpSession
from hookproof.conformance.receiver_checks import ReceiverContext
from hookproof.conformance.registration_checks import Target, run_all
from hookproof.conformance.report import CheckFailure
from hookproof.conformance.run_budget import NOT_RUN, RunBudget, RunOutOfTime
from hookproof.conformance.sender_harness import SenderHarness, scripted_server
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.registration import make_app, store_for
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken
from tests.sender_commands import command_line

SECRET = "run-budget-secret"
SUITE = ("--pyargs", "hookproof.conformance")


class Expiring(RunBudget):
    """A deadline the receiver under test makes pass, at the moment a test chooses (no clock to race)."""

    def expire(self) -> None:
        self.started = -math.inf


def _expiring_after(cls: type[Receiver], budget: Expiring, *, on_status: int | None = None) -> Receiver:
    """A receiver of ``cls`` that ends the run's time on its first answer (or its first answer ``on_status``)."""

    class Ending(cls):  # type: ignore[valid-type, misc]
        def handle(self, request: Request) -> Response:
            answer = super().handle(request)
            if on_status is None or answer.status_code == on_status:
                budget.expire()
            return answer

    return Ending(secrets={"codewars": SECRET})


@contextmanager
def _context(app: Receiver, budget: RunBudget) -> Iterator[ReceiverContext]:
    session = HttpSession(5.0, budget=budget)
    with serving(app) as base:
        try:
            yield ReceiverContext(lambda platform: f"{base}/{platform}", session, SECRET, examples=3)
        finally:
            session.close()


def test_a_check_the_limit_cuts_short_is_not_judged() -> None:
    budget = Expiring(60)
    with _context(_expiring_after(Receiver, budget), budget) as ctx, pytest.raises(RunOutOfTime) as raised:
        receiver_checks.documented_examples(ctx, "codewars")
    assert "the run's time limit passed (--hookproof-max-time 60 s)" in str(raised.value)


def test_a_fault_found_before_the_limit_still_fails_the_check() -> None:
    budget = Expiring(60)
    app = _expiring_after(broken.RejectsRankUpgrades, budget, on_status=400)
    with _context(app, budget) as ctx, pytest.raises(CheckFailure, match="answered 400 to a valid delivery") as found:
        receiver_checks.documented_examples(ctx, "codewars")
    assert "the run's time limit passed before this check had sent everything" in str(found.value)
    with _context(app, budget) as ctx, pytest.raises(RunOutOfTime):  # the limit had passed: nothing more sent
        receiver_checks.documented_examples(ctx, "codewars")


def test_a_generated_fault_is_reported_when_the_limit_passes_while_it_is_shrunk() -> None:
    budget = Expiring(60)
    with _context(_expiring_after(broken.CrashesOnNonAscii, budget, on_status=500), budget) as ctx, \
            pytest.raises(CheckFailure, match="answered 500 to a valid delivery"):
        receiver_checks.generated_valid(ctx, "qualified")


def test_no_sender_case_starts_past_the_limit(tmp_path: Path) -> None:
    with scripted_server() as server:
        harness = SenderHarness(server, command_line(Path(__file__).with_name("broken_senders.py"), "hangs"),
                                tmp_path, timeout=30, seed=7, budget=RunBudget(1, started=-math.inf))
        obs = harness.observe("doselect", "accept-200", SECRET)
    assert obs.spawn_error == NOT_RUN and obs.elapsed == 0.0 and not obs.tries
    with pytest.raises(RunOutOfTime, match="time limit passed"):  # not judged: not the command's fault
        sender_checks.judge_accepted(obs)


def test_no_registration_request_is_sent_past_the_limit(tmp_path: Path) -> None:
    app = make_app(store_for(tmp_path / "settings.sqlite3", "xobin"), "registration-key", None, platform="xobin")
    with serving(app) as url:
        live = run_all(Target(url, "registration-key", app.api_key_header, 5.0, "xobin"), ["rejects_missing_api_key"])
        over = run_all(Target(url, "registration-key", app.api_key_header, 5.0, "xobin",
                                 budget=RunBudget(1, started=-math.inf)), ["rejects_missing_api_key"])
    assert live == {"rejects_missing_api_key": "passed"}
    assert over["rejects_missing_api_key"].startswith("not checked: the run's time limit passed")


@pytest.mark.parametrize("shrink", [False, True], ids=["greedy", "hypothesis-shrink"])
def test_a_registration_fault_found_before_the_limit_still_fails(tmp_path: Path, shrink: bool) -> None:
    """Hypothesis' shrink, or its replay of the failing case, meets the limit on its next request: the 500 it
    had found is the verdict, not 'not judged'."""
    from hookproof.conformance.run_settings import runner
    from hookproof.reference_impl.registration import RegistrationApp

    budget = Expiring(60)

    class FailsUpdateAll(RegistrationApp):
        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            if b'"updateAll": true' in body:
                budget.expire()
                return Response("boom", status=500)(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            return super().__call__(environ, start_response)

    app = FailsUpdateAll(store_for(tmp_path / "s.sqlite3", "xobin"), "registration-key", platform="xobin")
    with serving(app) as url:
        verdict = run_all(Target(url, "registration-key", app.api_key_header, 5.0, "xobin", budget=budget),
                          ["accepts_valid_bodies"], runner(20, None, shrink))
    assert verdict["accepts_valid_bodies"].startswith("FAILED: [accepts_valid_bodies]"), verdict
    assert "answered 500" in verdict["accepts_valid_bodies"], verdict


class SlowReceiver(Receiver):
    def handle(self, request: Request) -> Response:
        time.sleep(0.05)
        return super().handle(request)


def test_a_run_past_its_limit_stops_exits_2_and_says_so_everywhere(pytester: pytest.Pytester,
                                                                   tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    with serving(SlowReceiver(secrets={"codewars": SECRET})) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-secret", SECRET, "--hookproof-max-time", "2", "--junitxml",
                                    str(junit))
    took = time.monotonic() - started
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out
    assert took < 2 + 10 + 5, out  # the limit, one request's timeout, and start-up on a loaded machine
    assert re.search(r"codewars   receiver +\d+ passed +0 failed +0 not checked   NOT JUDGED \(\d+ check\(s\) did not "
                     r"run, listed below\)", out) and "CONFORMS" not in out, out
    assert "(the run's time limit passed: --hookproof-max-time 2 s)" in out, out
    root = ET.parse(junit).getroot()
    error = root.find(".//testcase[@name='run_incomplete']/error")
    assert error is not None and "time limit passed" in error.get("message", "")
    skipped = [e.get("message", "") for e in root.iter("skipped")]
    assert skipped and all(m.startswith("not judged: the run's time limit passed") for m in skipped), skipped


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_limit_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest(*SUITE, "--hookproof-max-time", value, "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hookproof-max-time" in result.stderr.str()


def test_a_draw_stops_at_the_limit_and_draws_the_same_within_it() -> None:
    """Drawing is bounded too (a run of 100,000 examples drew for over a minute past a 3 s limit), and the check
    that bounds it changes no value drawn."""
    from hookproof.conformance.draw_ahead import draw

    key = ("pairs", "qualified", "document", "solution.created", 5)
    assert repr(draw(key, None, RunBudget(600))) == repr(draw(key, None))
    assert repr(draw(key, 11, RunBudget(600))) == repr(draw(key, 11))
    with pytest.raises(RunOutOfTime):
        draw(key, None, RunBudget(1, started=-math.inf))
