"""One fault is one failure, every failing event is reported, and nothing goes unchecked in silence, as a user
sees it in a run (docs/decisions.md#root-causes)."""

from __future__ import annotations

import re
import threading

import pytest
from werkzeug.wrappers import Request, Response

from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "root-cause-secret"


def run(pytester: pytest.Pytester, receiver: Receiver, *args: str) -> tuple[pytest.RunResult, str]:
    with serving(receiver) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-examples", "5", *args)
    return result, result.stdout.str()


def test_one_400_on_one_event_is_one_failure_and_its_dependents_are_not_checked(pytester: pytest.Pytester) -> None:
    result, out = run(pytester, broken.RejectsRankUpgrades(secrets={"codewars": SECRET}), "--hookproof-secret",
                      SECRET)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, out
    assert "[documented_examples] answered 400 to a valid delivery" in out and "event: user.rank_upgraded" in out
    assert "root causes: 1, each reported once" in out
    kept = re.search(r"kept (\d+) more check\(s\) from judging: (.*)", out)
    assert kept and int(kept.group(1)) == outcomes.get("skipped") >= 3, out
    assert "receiver duplicate_delivery" in kept.group(2) and "receiver answers_in_time" not in kept.group(2)
    assert "not checked: codewars receiver generated_valid: because of [documented_examples] codewars " \
           "user.rank_upgraded" in out


def test_two_independent_bugs_show_up_in_one_run(pytester: pytest.Pytester) -> None:
    result, out = run(pytester, broken.TwoIndependentBugs(secrets={"codewars": SECRET}), "--hookproof-secret", SECRET)
    assert "answered 400" in out and "user.rank_upgraded" in out
    assert "answered 500" in out and '"error": "invalid URL"' in out
    assert result.parseoutcomes().get("failed", 0) >= 2, out
    assert re.search(r"root causes: [2-9]", out), out


class Counting(Receiver):
    """The reference receiver, counting the requests it is sent."""

    def __init__(self, inner: Receiver) -> None:
        self.inner, self.count, self.lock = inner, 0, threading.Lock()

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        with self.lock:
            self.count += 1
        return self.inner(environ, start_response)

    def handle(self, request: Request) -> Response:  # pragma: no cover - __call__ goes to the inner receiver
        return self.inner.handle(request)


def test_a_failing_receiver_costs_at_most_about_twice_a_passing_one(pytester: pytest.Pytester) -> None:
    passing, failing = Counting(Receiver(secrets={"codewars": SECRET})), \
        Counting(broken.TwoIndependentBugs(secrets={"codewars": SECRET}))
    run(pytester, passing, "--hookproof-secret", SECRET)
    run(pytester, failing, "--hookproof-secret", SECRET)
    assert 0 < failing.count <= 2 * passing.count, (failing.count, passing.count)


def test_a_run_without_a_secret_says_authentication_was_not_checked(pytester: pytest.Pytester) -> None:
    result, out = run(pytester, Receiver(secrets={}), "-k", "authentication")
    result.assert_outcomes(skipped=1)
    assert "CONFORMS (1 not checked, listed below)" in out
    assert "not checked: codewars receiver authentication_required: no secret given" in out
    assert "--hookproof-secret" in out


def test_one_cause_stays_one_failure_on_several_workers(pytester: pytest.Pytester) -> None:
    """Each xdist worker keeps its own ledger: grouped by role and platform, the verdict is the serial one."""
    receiver = broken.RejectsRankUpgrades(secrets={"codewars": SECRET})
    serial, _ = run(pytester, receiver, "--hookproof-secret", SECRET)
    parallel, out = run(pytester, receiver, "--hookproof-secret", SECRET, "-n", "2", "--dist", "loadgroup")
    assert parallel.parseoutcomes() == serial.parseoutcomes(), out
    assert "root causes: 1, each reported once" in out and "pass --dist loadgroup" not in out


def test_a_parallel_run_without_grouping_says_how_to_keep_causes_whole(pytester: pytest.Pytester) -> None:
    _, out = run(pytester, Receiver(secrets={"codewars": SECRET}), "--hookproof-secret", SECRET, "-n", "2",
                 "-k", "documented_examples or duplicate")
    assert "hookproof: pass --dist loadgroup with -n" in out


@pytest.mark.parametrize(("given", "sent"), [
    (["--platform", "codewars"], ["--platform", "codewars"]),
    (["-n", "2"], ["-n", "2", "--dist", "loadgroup"]),
    (["-nauto"], ["-nauto", "--dist", "loadgroup"]),
    (["--numprocesses=3", "--dist=load"], ["--numprocesses=3", "--dist=load"]),
])
def test_hookproof_run_groups_a_parallel_run_unless_told_otherwise(given: list[str], sent: list[str]) -> None:
    from hookproof.cli import _grouped

    assert _grouped(given) == sent


def test_the_scheduler_groups_conformance_checks_by_role_and_platform() -> None:
    from hookproof.conformance.worker_groups import group_of

    assert group_of("test_conformance.py::test_conformance[receiver-codewars-duplicate_delivery]") == \
        "hookproof-receiver-codewars"
    assert group_of("x/test_conformance.py::test_conformance[sender-my-platform-retried_as_documented]") == \
        "hookproof-sender-my-platform"
    assert group_of("tests/test_cli.py::test_run[receiver-codewars-x]") is None


def test_the_same_outcome_on_many_events_is_pointed_out_as_perhaps_one_fault(pytester: pytest.Pytester) -> None:
    """A receiver moved to a new path answers 307 to every event's delivery: one cause per event, since a
    receiver may fail one event's handler alone, and one line that says they may be a single fault."""
    _, out = run(pytester, broken.Redirects(), "-k", "no_redirect")
    causes = int(re.search(r"root causes: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert causes >= 3, out
    assert re.search(rf"the same on {causes} codewars events \(answered 307 to /v2/codewars: senders do not follow "
                     r"redirects.*\): perhaps one fault, in what every event's delivery goes through", out), out


def test_only_one_outcome_on_several_events_of_a_platform_is_grouped() -> None:
    from hookproof.conformance.summary import same_on_many_events

    titles = [f"[c] codewars e{n}: answered 500 to a valid delivery" for n in range(3)]
    assert same_on_many_events(titles) == ["the same on 3 codewars events (answered 500 to a valid delivery): "
                                           "perhaps one fault, in what every event's delivery goes through"]
    assert same_on_many_events(titles[:2]) == []  # two events: nothing to point out
    assert same_on_many_events([*titles[:2], "[c] codewars e1: answered 400 to a valid delivery",
                                "[d] doselect e2: answered 500 to a valid delivery"]) == []
    assert same_on_many_events([titles[0]] * 3) == []  # one event met three times is one event


INTERRUPT_AFTER_TWO = """
import pytest
seen = []
def pytest_runtest_setup(item):
    seen.append(item.nodeid)
    if len(seen) == 3:
        raise KeyboardInterrupt  # as Ctrl-C after two checks
"""


def test_an_interrupted_run_conforms_nowhere(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(interrupter=INTERRUPT_AFTER_TWO)
    with serving(Receiver(secrets={"codewars": SECRET})) as base:  # a process of its own: Ctrl-C ends that run
        result = pytester.runpytest_subprocess(
            *SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars", "--hookproof-examples", "5",
            "--hookproof-secret", SECRET, "-k", "receiver", "-p", "no:randomly", "-p", "interrupter", timeout=120)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, out[-1500:]
    assert "codewars   receiver       2 passed    0 failed    0 not checked   NOT JUDGED (the run was interrupted)" \
        in out, out[-1500:]
    assert "CONFORMS" not in out and "the run was interrupted: the checks that did not run are not counted" in out


def test_checks_after_the_breaker_opened_say_that_the_run_stopped_sending(pytester: pytest.Pytester) -> None:
    """The cause they name is one stall; that the run then sent the target nothing more is theirs to say."""
    _, out = run(pytester, broken.Slow(secrets={"codewars": SECRET}), "--hookproof-secret", SECRET,
                 "--hookproof-response-timeout", "0.3")
    kept = re.findall(r"not checked: codewars receiver \w+: because of .*gave no answer within 0\.3 s.* \(after 3 "
                      r"answers that did not come within 0\.3 s, the run sends the target nothing more\)", out)
    assert len(kept) >= 5, out
