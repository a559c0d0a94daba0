"""The sender checks judge the wire: each deliberately broken sender fails the check of the rule it breaks,
and the reference sender passes that same check on the same case.

Every sender runs through the same ``--sender-cmd`` path as a user's (:class:`SenderHarness`), with a small
backoff base and short time bounds so the whole file takes seconds.
"""

from __future__ import annotations

import json
import random
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from conformance import sender_checks, sender_harness
from conformance.report import CheckFailure
from conformance.sender_checks import CHECKS, BackoffRule
from conformance.sender_harness import (
    Case,
    Observation,
    SenderHarness,
    _path_of,
    reference_command,
    render_command,
    scripted_server,
)
from reference_impl.backoff import Backoff

BROKEN = Path(__file__).with_name("broken_senders.py")
BASE = 0.05  # backoff base of every sender here: 50, 100, 200, 400 ms, well clear of scheduling noise
TIMEOUT = 20.0  # generous for a loaded machine; only the hanging sender ever reaches it...
HANG_TIMEOUT = 1.5  # ...and it gets this one
SECRET = "s3cret-Ünïcode-value"


def broken_command(mode: str) -> str:
    return (f"{shlex.quote(sys.executable)} {shlex.quote(str(BROKEN))} {mode} --url {{url}} --event-file "
            f"{{event_file}} --platform {{platform}} --event {{event}} --secret {{secret}} --backoff-base {BASE}")


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    with scripted_server() as server:
        yield server


@pytest.fixture(scope="module")
def harness_for(server: HTTPServer, tmp_path_factory: pytest.TempPathFactory):
    """A harness per command template, kept for the module so that reference runs are shared."""
    made: dict[tuple[str, float], SenderHarness] = {}

    def get(template: str, timeout: float = TIMEOUT) -> SenderHarness:
        if (template, timeout) not in made:
            made[template, timeout] = SenderHarness(server, template, tmp_path_factory.mktemp("events"),
                                                    timeout=timeout, seed=7)
        return made[template, timeout]

    return get


def judge(harness: SenderHarness, letter: str, platform: str, scenario: str | None = None) -> CheckFailure | None:
    check = CHECKS[letter]
    obs = harness.observe(platform, scenario or check.scenarios[0], SECRET)
    try:
        check.func(obs)
    except CheckFailure as failure:
        return failure
    return None


# mode, platform, the check it must fail, the scenario that shows it (default: the check's first)
CASES = [
    ("wrong-method", "doselect", "a", None),
    ("wrong-content-type", "qualified", "a", None),
    ("no-user-agent", "viasto", "a", None),
    ("wrong-event-header", "codewars", "a", None),
    ("no-secret", "codewars", "a", None),
    ("no-secret-on-retry", "codewars", "a", "refuse-all"),
    ("altered-body", "qualified", "b", None),
    ("keeps-metadata", "viasto", "b", None),
    ("only-200-succeeds", "doselect", "c", "accept-202"),
    ("no-retry", "doselect", "d", "refuse-500"),
    ("follows-redirects", "doselect", "d", "refuse-301"),
    ("no-retry", "codewars", "e", None),
    ("six-tries", "doselect", "e", None),
    ("constant-interval", "doselect", "f", None),
    ("immediate-retries", "viasto", "f", None),
    ("new-delivery-id", "doselect", "g", None),
    ("sends-nothing", "doselect", "h", None),
    ("crashes", "qualified", "h", None),
]


@pytest.mark.parametrize(("mode", "platform", "letter", "scenario"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_broken_sender_fails_its_check(harness_for, mode: str, platform: str, letter: str,
                                       scenario: str | None) -> None:
    failure = judge(harness_for(broken_command(mode)), letter, platform, scenario)
    assert failure is not None, f"{mode} passed check {letter}"
    assert failure.check.startswith(f"sender {letter}:")
    assert SECRET not in str(failure)
    assert judge(harness_for(reference_command(BASE)), letter, platform, scenario) is None


def test_hanging_sender_fails_within_the_bound(harness_for) -> None:
    harness = harness_for(broken_command("hangs"), HANG_TIMEOUT)
    failure = judge(harness, "h", "doselect")
    assert failure is not None
    obs = harness.observe("doselect", "accept-200", SECRET)
    assert obs.timed_out and obs.elapsed < HANG_TIMEOUT + 1.0
    assert "did not finish within 1.5 s" in str(failure)


def test_after_three_timeouts_cases_are_not_run(server: HTTPServer, tmp_path: Path) -> None:
    harness = SenderHarness(server, broken_command("hangs"), tmp_path, timeout=0.3, max_timeouts=2, seed=7)
    first, second, third = (harness.observe("doselect", s, None) for s in ("accept-200", "accept-201", "accept-202"))
    assert first.timed_out and second.timed_out and not third.timed_out and third.elapsed == 0.0
    with pytest.raises(CheckFailure, match=r"not run: the command already ran past 0\.3 s \(--sender-timeout\) 2"):
        CHECKS["c"].func(third)


def test_failure_messages_say_what_happened(harness_for) -> None:
    crashed = str(judge(harness_for(broken_command("crashes")), "h", "qualified"))
    assert "nothing arrived" in crashed and "exited with status 1" in crashed and "RuntimeError" in crashed
    redirected = str(judge(harness_for(broken_command("follows-redirects")), "d", "doselect", "refuse-301"))
    assert "followed the 301 answer's Location" in redirected and "GET" in redirected
    no_secret = str(judge(harness_for(broken_command("no-secret")), "a", "codewars"))
    assert "header X-Webhook-Secret is missing" in no_secret
    wrong = str(judge(harness_for(broken_command("wrong-event-header")), "a", "codewars"))
    assert "header X-Webhook-Event is 'not-" in wrong and "try 1 at +" in wrong and "payload: {" in wrong


def test_reference_with_jitter_passes_the_backoff_check(harness_for) -> None:
    assert judge(harness_for(reference_command(BASE) + " --jitter 0.5"), "f", "doselect") is None


def test_a_crash_after_delivering_is_not_judged(harness_for) -> None:
    """The exit status is not judged: the wire is."""
    template = f"sh -c '{reference_command(BASE)} >/dev/null; exit 3'"
    harness = harness_for(template)
    assert judge(harness, "h", "doselect") is None
    assert harness.observe("doselect", "accept-200", SECRET).exit_code == 3


def test_a_missing_command_is_reported(harness_for) -> None:
    failure = judge(harness_for("/nonexistent/sender --url {url}"), "h", "doselect")
    assert failure is not None and "could not be started" in str(failure)


# --- the pieces, without any sender --------------------------------------------------------------------


def test_placeholders_are_substituted_inside_each_word() -> None:
    values = {"url": "http://127.0.0.1:1/x", "event_file": "/tmp/a b.json", "platform": "codewars",
              "event": "user.honor_changed", "secret": ""}
    argv = render_command("send --to={url} -f {event_file} '{platform}:{event}' --secret {secret}", values)
    assert argv == ["send", "--to=http://127.0.0.1:1/x", "-f", "/tmp/a b.json", "codewars:user.honor_changed",
                    "--secret", ""]
    assert render_command("x {secret}", {**values, "secret": "{url}"}) == ["x", "{url}"]  # one pass only


RULE = BackoffRule()


@pytest.mark.parametrize(("intervals", "passes"), [
    ([0.05, 0.1, 0.2, 0.4], True),  # exponential
    ([0.02, 0.04, 0.08, 0.16], True),  # the smallest base the rule is meant for
    ([1.0, 2.0, 4.0, 8.0], True),
    ([0.05, 0.1, 0.1, 0.1], True),  # capped early
    ([0.05, 0.065, 0.13, 0.2], True),  # jitter that never shortens an interval
    ([0.1, 0.2, 0.3, 0.4], True),  # linear
    ([0.2, 0.2, 0.2, 0.2], False),  # constant
    ([0.02, 0.02, 0.02, 0.02], False),
    ([1.0, 1.0, 1.0, 1.0], False),
    ([0.001, 0.002, 0.001, 0.002], False),  # immediate
    ([0.05, 0.01, 0.2, 0.4], False),  # full jitter: a shorter interval
    ([0.4, 0.2, 0.1, 0.05], False),  # shrinking
    ([0.05], False),  # too few tries to tell
    ([0.05, 0.05, 0.05, 0.10], False),  # constant, with one 50 ms stall on the last interval
    ([0.05, 0.12, 0.05, 0.05], False),  # constant, with one stall: also a shrinking interval
    ([0.09, 0.1, 0.2, 0.4], True),  # exponential, with a 40 ms stall on the first interval
    ([0.05, 0.1, 0.3, 0.4], True),  # exponential, with a stall on the third
    ([0.05, 0.1], True),  # three tries are enough when they grow
])
def test_backoff_rule(intervals: list[float], passes: bool) -> None:
    assert (RULE.problems(intervals) == []) is passes, RULE.problems(intervals)


noise = st.floats(-0.005, 0.005)


@given(st.floats(0.02, 2.0), st.floats(2.0, 3.0), st.floats(0.0, 1.0), st.lists(noise, min_size=4, max_size=4),
       st.integers(0, 2**32))
def test_exponential_backoff_with_noise_passes(base: float, factor: float, jitter: float, noises: list[float],
                                               seed: int) -> None:
    waits = Backoff(base, factor, cap=base * factor**3, jitter=jitter).schedule(4, random.Random(seed))
    assert RULE.problems([w + n for w, n in zip(waits, noises, strict=True)]) == []


@given(st.floats(0.0, 5.0), st.lists(noise, min_size=4, max_size=4))
def test_constant_or_immediate_backoff_with_noise_fails(interval: float, noises: list[float]) -> None:
    assert RULE.problems([abs(interval + n) for n in noises]) != []


def test_differences_name_pointers() -> None:
    assert sender_checks.differences({"a": {"b": 1, "c": [1, 2]}, "d": True},
                                     {"a": {"b": 1.0, "c": [1, 3]}, "d": 1, "e": None}) == [
        "/a/c/1: expected 2, got 3", "/d: expected true, got 1", "/e: added (null)"]


def test_describe_masks_the_secret() -> None:
    case = Case("accept-200", "codewars", "user.honor_changed", {"action": "honor_changed"}, (200,), SECRET)
    obs = Observation(case, "http://127.0.0.1:1/x", "http://127.0.0.1:1/x/moved", ["send", "***"], [], [],
                      0.0, 0.1, 5.0, exit_code=0, stderr=f"oops {SECRET}")
    with pytest.raises(CheckFailure) as failed:
        CHECKS["a"].func(obs)
    failure = failed.value
    assert "nothing arrived" in str(failure)
    assert SECRET not in str(failure)


def arrival(body: object, headers: dict[str, str], method: str = "POST", at: float = 1.0) -> sender_harness.Arrival:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sender_harness.Arrival(at, method, "/x", tuple(headers.items()), raw, 200)


def observed(platform: str, event: str, body: object, *tries: sender_harness.Arrival,
             secret: str | None = None) -> Observation:
    case = Case("accept-200", platform, event, body, (200,), secret)
    return Observation(case, "http://127.0.0.1:1/x", "http://127.0.0.1:1/x/moved", ["send"], list(tries), [],
                       0.0, 0.1, 5.0, exit_code=0)


CODEWARS_BODY = {"action": "created", "code_challenge": {"id": "1", "created_by_id": "2"}}
CODEWARS_HEADERS = {"Content-Type": "application/json", "User-Agent": "Codewars Hookbot",
                    "X-Webhook-Event": "code_challenge"}


@pytest.mark.parametrize(("headers", "fails"), [
    ({}, False),
    ({"Content-Type": "application/json; charset=UTF-8"}, False),
    ({"Content-Type": "application/json; charset=latin-1"}, True),
    ({"Content-Type": "text/json"}, True),
    ({"X-Webhook-Event": "user"}, True),  # the header names another event than the body's action belongs to
    ({"User-Agent": "codewars hookbot"}, True),  # values are exact
])
def test_wire_check_details(headers: dict[str, str], fails: bool) -> None:
    obs = observed("codewars", "code_challenge.created", CODEWARS_BODY,
                   arrival(CODEWARS_BODY, {**CODEWARS_HEADERS, **headers}))
    failed = False
    try:
        sender_checks.check_wire(obs)
    except CheckFailure:
        failed = True
    assert failed is fails


def test_wire_check_compares_a_non_ascii_secret_as_utf8_bytes() -> None:
    as_werkzeug_sees_it = SECRET.encode().decode("latin-1")
    good = arrival(CODEWARS_BODY, {**CODEWARS_HEADERS, "X-Webhook-Secret": as_werkzeug_sees_it})
    sender_checks.check_wire(observed("codewars", "code_challenge.created", CODEWARS_BODY, good, secret=SECRET))
    as_latin1 = SECRET.encode("latin-1", "replace").decode("latin-1")  # a sender that sent Latin-1 bytes
    bad = arrival(CODEWARS_BODY, {**CODEWARS_HEADERS, "X-Webhook-Secret": as_latin1})
    with pytest.raises(CheckFailure, match="differs from the configured secret"):
        sender_checks.check_wire(observed("codewars", "code_challenge.created", CODEWARS_BODY, bad, secret=SECRET))


def test_body_check_details() -> None:
    viasto = {"endpoint": "https://abc.com/p", "time": "2015-03-16T15:32:34+00:00", "event": "project_changed",
              "data": {"project": "https://x.example/p/1"}}
    sent = {**viasto, "endpoint": "http://127.0.0.1:1/x", "time": "2024-01-01T00:00:00Z"}
    sender_checks.check_body(observed("viasto", "project_changed", viasto, arrival(sent, {})))
    with pytest.raises(CheckFailure, match="expected the URL called"):
        sender_checks.check_body(observed("viasto", "project_changed", viasto, arrival(viasto, {})))
    with pytest.raises(CheckFailure, match="/data/project: expected"):
        changed = {**sent, "data": {"project": "https://x.example/p/2"}}
        sender_checks.check_body(observed("viasto", "project_changed", viasto, arrival(changed, {})))
    with pytest.raises(CheckFailure, match="not UTF-8"):
        sender_checks.check_body(observed("viasto", "project_changed", viasto,
                                          arrival(json.dumps(sent, ensure_ascii=False).encode("utf-16"), {})))
    with pytest.raises(CheckFailure, match="not JSON"):
        sender_checks.check_body(observed("viasto", "project_changed", viasto, arrival(b'{"a": NaN}', {})))


def test_side_by_side_cases_keep_their_own_requests(server: HTTPServer, tmp_path: Path) -> None:
    """With jobs > 1 every scenario of a platform runs at once; each observation holds only its own tries."""
    harness = SenderHarness(server, reference_command(BASE), tmp_path, timeout=TIMEOUT, seed=7, jobs=4)
    for scenario, statuses in sender_harness.SCENARIOS.items():
        obs = harness.observe("codewars", scenario, SECRET)
        expected = 5 if scenario == "refuse-all" else len(statuses)
        assert [a.answered for a in obs.tries] == [obs.case.answer(i) for i in range(expected)], scenario
        assert all(a.path == _path_of(obs.url) for a in obs.tries) and not obs.strays, scenario
        for check in CHECKS.values():
            if scenario in check.scenarios:
                check.func(obs)


def test_side_by_side_cases_still_catch_a_broken_sender(server: HTTPServer, tmp_path: Path) -> None:
    harness = SenderHarness(server, broken_command("follows-redirects"), tmp_path, timeout=TIMEOUT, seed=7, jobs=4)
    obs = harness.observe("doselect", "refuse-301", SECRET)
    assert obs.followed_redirect
    with pytest.raises(CheckFailure, match="the sender followed the 301 answer's Location"):
        CHECKS["d"].func(obs)
