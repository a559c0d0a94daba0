"""The conformance suite as pytest runs it: one item per (check, platform), generated from the check registry.

``pytest --pyargs hookproof.conformance`` (or ``hookproof run``) with no target checks the built-in reference
implementations; ``--target-url URL --hookproof-platform P`` checks a receiver or registration API;
``--hookproof-sender-cmd TEMPLATE`` checks a sender. Each item is named ``<role>-<platform>-<check>`` and
marked ``documented``, ``robustness`` or ``retry_policy_inferred`` from the registry
(:mod:`hookproof.conformance.registry`), so ``-k`` and ``-m`` select checks by the names README uses.
"""

from __future__ import annotations

import pytest

from hookproof.conformance.causes import BecauseOf
from hookproof.conformance.registry import Check
from hookproof.conformance.report import NotChecked
from hookproof.conformance.run_budget import RunOutOfTime

_STARTED = pytest.StashKey[bool]()


def _start_reference_senders(request: pytest.FixtureRequest) -> None:
    """At the run's first check, start the reference sender's cases for every platform with a sender check
    selected: its processes then run while the receiver and registration checks do, instead of after them
    (docs/performance.md). Only for the reference sender, whose cases are safe to run side by side."""
    config = request.config
    if config.stash.get(_STARTED, False):
        return
    config.stash[_STARTED] = True
    if request.getfixturevalue("hookproof_run").sender_cmd:
        return
    params = [getattr(item, "callspec").params for item in request.session.items  # noqa: B009 - Function items'
              if getattr(item, "callspec", None) is not None]
    platforms = [p["platform"] for p in params if getattr(p.get("hookproof_check"), "role", None) == "sender"]
    if platforms:
        context = request.getfixturevalue("hookproof_sender_context").default
        context.harness.prefetch(list(dict.fromkeys(platforms)), context.secret)


def test_conformance(hookproof_check: Check, platform: str, request: pytest.FixtureRequest) -> None:
    """Run one check against one platform's implementation under test."""
    budget = request.getfixturevalue("hookproof_run").budget
    context = None
    try:
        if budget is not None:
            budget.check()  # past the run's time limit, no check starts (nor a child for it)
        contexts = request.getfixturevalue(f"hookproof_{hookproof_check.role}_context")  # a child starts, unwaited
        _start_reference_senders(request)
        contexts.ready()
        context = contexts(platform)
        hookproof_check(context, platform)
    except NotChecked as exc:
        why, kind = str(exc), "not checked"
        if isinstance(exc, RunOutOfTime):  # not judged: the summary counts it with what did not run
            request.node.user_properties.append(("hookproof_out_of_time", True))
            kind = "not judged"  # not "not checked": the check could have judged, the run stopped it
        if isinstance(exc, BecauseOf):  # the summary counts, per root cause, the checks it kept from judging
            request.node.user_properties.append(("hookproof_because", [c.title for c in exc.causes]))
            stopped = getattr(context, "stopped_sending", None)
            why += f" ({stopped})" if stopped else ""
        pytest.skip(f"{kind}: {why}")
