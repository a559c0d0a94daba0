"""A backoff verdict does not depend on the draw: jittered increasing backoffs pass, constant, immediate and
shrinking ones fail, in every run (docs/decisions.md#jitter-proof-backoff)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookproof.conformance.registry import CHECKS
from hookproof.conformance.report import CheckFailure
from hookproof.conformance.sender_checks import BACKOFF, ENVELOPE, ENVELOPE_DELIVERIES, SenderContext
from hookproof.conformance.sender_harness import HarnessServer, SenderHarness, scripted_server
from tests.jittered_senders import Drawn
from tests.sender_commands import command_line

BASE = 0.02  # the first wait, in seconds: the smallest the checks are meant to judge
TRIES = 5
INCREASING = ("exponential", "full", "equal", "decorrelated")
NOT_INCREASING = ("immediate", "constant", "shrinking")


def waits(kind: str, rng: random.Random) -> list[float]:
    """One delivery's waits, as the sender drew them."""
    if kind == "exponential":
        return [BASE * 2**n for n in range(TRIES - 1)]
    if kind == "immediate":
        return [0.0] * (TRIES - 1)
    return Drawn(base=BASE, kind=kind).schedule(TRIES - 1, rng)


def measured(intervals: list[float], rng: random.Random) -> list[float]:
    """The waits as the receiver measures them: a few ms of scheduling noise on each, and now and then a stall
    of 30 ms (what a loaded 2-core machine shows)."""
    return [w + rng.uniform(0, 0.003) + (0.03 if rng.random() < 0.05 else 0.0) for w in intervals]


def verdict(kind: str, rng: random.Random) -> bool:
    """What backoff_as_documented decides: one delivery by BackoffRule, else ENVELOPE_DELIVERIES by the envelope."""
    series = [measured(waits(kind, rng), rng) for _ in range(ENVELOPE_DELIVERIES)]
    return not BACKOFF.problems(series[0]) or not ENVELOPE.problems(series)


@pytest.mark.parametrize("kind", INCREASING + NOT_INCREASING)
def test_the_verdict_is_the_same_for_every_seed(kind: str) -> None:
    expected = kind in INCREASING
    verdicts = {seed: verdict(kind, random.Random(seed)) for seed in range(500)}
    flipped = [seed for seed, passed in verdicts.items() if passed != expected]
    assert not flipped, f"{kind}: seeds {flipped[:10]} gave {'fail' if expected else 'pass'}"


@pytest.mark.parametrize("kind", INCREASING + NOT_INCREASING)
def test_the_verdict_is_the_same_unseeded(kind: str) -> None:
    expected = kind in INCREASING
    assert all(verdict(kind, random.Random()) == expected for _ in range(100))


def test_a_single_stall_does_not_make_a_constant_schedule_grow() -> None:
    flat = [[0.05, 0.05, 0.05, 0.05] for _ in range(ENVELOPE_DELIVERIES)]
    flat[3] = [0.05, 0.05, 0.05, 0.2]  # one long stall, at the last retry of one delivery
    assert ENVELOPE.problems(flat)


def test_a_stalled_first_wait_does_not_hide_growth() -> None:
    growing = [[0.02, 0.04, 0.08, 0.16] for _ in range(ENVELOPE_DELIVERIES)]
    growing[5] = [0.2, 0.04, 0.08, 0.16]  # one long stall, at the first retry of one delivery
    assert not ENVELOPE.problems(growing)


def test_retries_at_once_then_two_stalls_are_judged_over_the_envelope_and_fail() -> None:
    """Two stalls on exactly the last two intervals look like growth in one delivery (BackoffRule then asks
    for more); over the envelope they are a vote or two, and the median wait says the retries came at once."""
    stalled = [0.002, 0.002, 0.045, 0.05]
    assert BACKOFF.problems(stalled)
    series = [[0.001, 0.002, 0.001, 0.002] for _ in range(ENVELOPE_DELIVERIES)]
    series[0] = stalled
    assert "the retries came at once" in ENVELOPE.problems(series)[0]


def test_retries_at_once_twice_then_a_backoff_pass_over_the_envelope() -> None:
    assert BACKOFF.problems([0.0, 0.001, 1.0, 2.0])  # one delivery cannot tell it from stalls...
    assert not ENVELOPE.problems([[0.0, 0.001, 1.0, 2.0] for _ in range(ENVELOPE_DELIVERIES)])  # ...thirty can


def test_envelope_messages_say_what_was_measured() -> None:
    flat = [[0.05] * 4 for _ in range(3)]
    assert "over 3 deliveries the wait did not grow: only 0 ended" in ENVELOPE.problems(flat)[0]
    assert "median wait was 0.0 ms" in ENVELOPE.problems([[0.0] * 4] * 3)[0]
    assert "fewer than 3 tries" in ENVELOPE.problems([[0.1]])[0]


# --- on the wire: the check itself, over a command that draws anew every run -----------------------------

JITTERED = Path(__file__).with_name("jittered_senders.py")
TIME_SCALE = 0.02  # DoSelect's backoff, from 1 s, becomes 20 ms at the first retry


def command(kind: str) -> str:
    return command_line(JITTERED, kind)


@pytest.fixture(scope="module")
def server() -> Iterator[HarnessServer]:
    with scripted_server() as server:
        yield server


def run_check(server: HarnessServer, tmp_path: Path, kind: str) -> CheckFailure | None:
    harness = SenderHarness(server, command(kind), tmp_path, timeout=20.0, seed=7, time_scale=TIME_SCALE,
                            jobs=8)
    try:
        CHECKS["backoff_as_documented"](SenderContext(harness, "s3cret"), "doselect")
    except CheckFailure as failure:
        return failure
    return None


@pytest.mark.parametrize("kind", ["full", "decorrelated"])
def test_a_jittered_sender_passes_on_the_wire(server: HarnessServer, tmp_path: Path, kind: str) -> None:
    failure = run_check(server, tmp_path, kind)
    assert failure is None, str(failure)


def test_a_jittered_constant_sender_fails_on_the_wire(server: HarnessServer, tmp_path: Path) -> None:
    failure = run_check(server, tmp_path, "constant")
    assert failure is not None
    assert f"over {ENVELOPE_DELIVERIES} deliveries" in str(failure) and "did not grow" in str(failure)
