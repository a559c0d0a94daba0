"""The drawing process draws what the checks would have drawn, never makes the run wait for it, and is reaped."""

from __future__ import annotations

import os
import pickle
import time
from typing import Any, ClassVar

import pytest

from hookproof import catalog
from hookproof.conformance import draw_ahead
from hookproof.conformance.draw_ahead import DrawAhead, Key, draw
from tests.test_receiver_checks import RECEIVER_CHECKS, app, target

KEYS: list[Key] = [("pairs", "doselect", "document", "solution.create", 3),
                   ("broken", "codewars", "document", "code_challenge.created", 2),
                   ("one", "viasto", "document", "candidate_changed", 1),
                   ("pairs", "qualified", "document", "assessment.created", 2)]


def _comparable(drawn: list[Any]) -> list[Any]:
    def plain(d: Any) -> tuple[Any, ...]:
        return (*d[:4], dict(d.headers), *d[5:])

    return [[plain(d) for d in item] if not hasattr(item, "platform") else plain(item) for item in drawn]


def _settled(ahead: DrawAhead, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(ahead._results) < count and not ahead._ended and time.monotonic() < deadline:
        time.sleep(0.02)


def _nowhere(key: Key) -> list[Any]:
    raise AssertionError(f"{key} was drawn here")


def test_the_process_draws_what_the_checks_draw_here() -> None:
    ahead = DrawAhead(KEYS, None, [], _nowhere)
    try:
        _settled(ahead, len(KEYS))
        for key in KEYS:
            assert _comparable(ahead.take(key)) == _comparable(draw(key, None)), key
    finally:
        ahead.close()
    assert ahead._proc.poll() is not None  # reaped


def test_a_draw_the_process_has_not_reached_is_drawn_here_and_skipped_there() -> None:
    drawn_here: list[Key] = []

    def here(key: Key) -> list[Any]:
        drawn_here.append(key)
        return draw(key, None)

    ahead = DrawAhead(KEYS, None, [], here)
    try:
        started = time.monotonic()
        second = KEYS[1]
        got = ahead.take(second)
        assert drawn_here == [second] and time.monotonic() - started < 5  # no wait for the process to import
        assert _comparable(got) == _comparable(draw(second, None))
        _settled(ahead, len(KEYS) - 1)
        assert 1 not in ahead._results  # told to skip it, the process did
    finally:
        ahead.close()


def test_while_the_process_makes_a_draw_the_next_is_drawn_here() -> None:
    """Where the checks catch up with the process, the two draw side by side instead of one waiting."""
    drawn_here: list[Key] = []

    def here(key: Key) -> list[Any]:
        drawn_here.append(key)
        return draw(key, None)

    big = [("pairs", "qualified", "document", event, 40) for event in
           ("assessment.created", "assessment.updated", "solution.created", "solution.updated",
            "challenge.created", "challenge.updated")]
    ahead = DrawAhead(big, None, [], here)
    try:
        deadline = time.monotonic() + 60
        while not ahead._ready and time.monotonic() < deadline:
            time.sleep(0.001)
        assert ahead._ready
        taken = [ahead.take(key) for key in big]  # nothing between: each asked for while the process makes it
        assert big[0] not in drawn_here and any(key in drawn_here for key in big[2:]), drawn_here
        assert [_comparable(t) for t in taken] == [_comparable(draw(key, None)) for key in big]
    finally:
        ahead.close()


def test_the_process_skips_the_draws_it_is_told_to() -> None:
    """The protocol itself: a skip written before a draw's turn keeps that draw from being made."""
    read_end, write_end = os.pipe()
    header = pickle.dumps((KEYS[:3], None, []))
    os.write(write_end, draw_ahead._INDEX.pack(len(header)) + header + draw_ahead._INDEX.pack(1))
    out_read, out_write = os.pipe()
    with os.fdopen(out_write, "wb") as sink:
        draw_ahead._serve(read_end, sink)
    os.close(write_end)
    os.close(read_end)
    with os.fdopen(out_read, "rb") as out:
        assert out.read(1) == draw_ahead._READY
        made = []
        while head := out.read(draw_ahead._HEAD.size):
            index, size = draw_ahead._HEAD.unpack(head)
            made.append((index, len(out.read(size)) == size > 0))
    assert made == [(0, True), (2, True)]


def test_a_process_that_dies_costs_only_its_head_start() -> None:
    ahead = DrawAhead(KEYS, None, [], lambda key: draw(key, None))
    try:
        ahead._proc.kill()
        ahead._proc.wait(timeout=10)
        _settled(ahead, len(KEYS))
        assert ahead._ended
        for key in KEYS:
            assert _comparable(ahead.take(key)) == _comparable(draw(key, None))
    finally:
        ahead.close()


def test_the_planned_draws_are_the_ones_the_checks_make() -> None:
    """Every draw a check asks for was planned, so none is left to the run's own thread for want of a plan."""
    asked: list[Key] = []

    class Recording:
        def take(self, key: Key) -> Any:
            asked.append(key)
            return draw(key, None)

    checks = [(platform, name) for platform in ("codewars", "doselect", "qualified", "viasto")
              for name in RECEIVER_CHECKS]
    with target(app()) as ctx:
        ctx.ahead = Recording()  # type: ignore[assignment]
        planned = ctx.planned_draws(checks)
        for platform, name in checks:
            check = RECEIVER_CHECKS[name]
            if check.needs == ("auth",) and not catalog.contract(platform).auth:
                continue
            if check.needs == ("examples",) and platform == "qualified":
                continue
            check(ctx, platform)
    assert asked and set(asked) <= set(planned), set(asked) - set(planned)
    ordered = [key for key in planned if key in set(asked)]
    assert ordered == list(dict.fromkeys(asked))  # asked for in the order planned


@pytest.mark.parametrize("shrink", [False, True])
def test_the_run_draws_ahead_only_where_it_pays(shrink: bool) -> None:
    from hookproof.conformance.options import RunConfig
    from hookproof.conformance.plugin import _draw_ahead

    run = RunConfig(target_url=None, platform=None, contract=None, secret=None, api_key=None, api_key_header=None,
                    sender_cmd=None, sender_timeout=20.0, sender_jobs=None, time_scale=None, response_timeout=5.0,
                    examples=10, seed=None, shrink=shrink)

    class Item:
        def __init__(self, platform: str, name: str) -> None:
            params = {"platform": platform, "hookproof_check": RECEIVER_CHECKS[name]}
            self.callspec = type("Spec", (), {"params": params})

    class Session:
        config = object()
        items: ClassVar[list[Item]] = [Item(p, n) for p in ("codewars", "qualified")
                                       for n in ("generated_valid", "broken_bodies")]

    ahead = _draw_ahead(run, Session())  # type: ignore[arg-type]
    try:
        assert (ahead is not None) == (not shrink)
        Session.items = Session.items[:1]
        small = RunConfig(**{**run.__dict__, "platform": "codewars", "examples": 2})
        assert _draw_ahead(small, Session()) is None  # a few draws: made here, faster than a process starts
    finally:
        if ahead is not None:
            ahead.close()


def test_skips_never_block_on_a_process_that_stopped_reading() -> None:
    """A process stuck in a draw reads no skips; writing them must not stall the checks once its pipe is full."""
    import signal
    import threading

    ahead = DrawAhead(KEYS, None, [], lambda key: draw(key, None))
    try:
        os.kill(ahead._proc.pid, signal.SIGSTOP)
        done = threading.Event()

        def claim_many() -> None:
            for index in range(100, 40_100):  # 160 KB of skips: more than a pipe holds
                ahead._claim(index)
            done.set()

        worker = threading.Thread(target=claim_many, daemon=True)
        worker.start()
        assert done.wait(30), "writing skips blocked on a full pipe"
    finally:
        os.kill(ahead._proc.pid, signal.SIGCONT)
        ahead.close()
    assert ahead._proc.poll() is not None
