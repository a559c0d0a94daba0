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


def test_conformance(hookproof_check: Check, platform: str, request: pytest.FixtureRequest) -> None:
    """Run one check against one platform's implementation under test."""
    contexts = request.getfixturevalue(f"hookproof_{hookproof_check.role}_context")
    try:
        hookproof_check(contexts(platform), platform)
    except NotChecked as exc:
        if isinstance(exc, BecauseOf):  # the summary counts, per root cause, the checks it kept from judging
            request.node.user_properties.append(("hookproof_because", [c.title for c in exc.causes]))
        pytest.skip(f"not checked: {exc}")
