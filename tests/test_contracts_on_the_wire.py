"""Sender checks judge the contract asked for: DoSelect's later signature, Qualified's later retry policy.

Each sender here is the reference sender run as a user's command (``--hookproof-sender-cmd``), changed
through its seams where it is to break one rule."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "api-secret-for-tests"

SENDER = '''
import json, sys
from hookproof.reference_impl.backoff import Backoff
from hookproof.reference_impl.sender_core import SendOptions
from hookproof.reference_impl.sender_plain import PlainSender

mode, url, event_file, platform, contract, event, secret, scale = sys.argv[1:9]


class Changed(PlainSender):
    def outgoing(self, prepared, number):
        out = super().outgoing(prepared, number)
        if mode == "wrong-signature":
            return out._replace(headers={**out.headers, "DoSelect-Webhook-Signature": "0" * 64})
        return out

    def _done(self, prepared, attempt, record):
        if mode == "retries-every-failure":
            return attempt.ok
        return super()._done(prepared, attempt, record)


options = SendOptions(time_scale=float(scale), max_tries=5 if mode == "five-tries" else None,
                      backoff=Backoff(base=0.0, factor=1.0, cap=0.0) if mode == "no-wait" else None)
body = json.load(open(event_file, encoding="utf-8"))
Changed(options).deliver(url, platform, event, body, secret=secret or None, contract=contract)
'''


def _run(pytester: pytest.Pytester, tmp_path: Path, mode: str, *args: str) -> pytest.RunResult:
    script = tmp_path / "sender.py"
    script.write_text(SENDER, encoding="utf-8")
    command = (f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode} {{url}} {{event_file}} {{platform}} "
               "{contract} {event} {secret} {time_scale}")
    return pytester.runpytest(*SUITE, "--hookproof-sender-cmd", command, "--hookproof-sender-jobs", "4", *args)


def test_the_doselect_signature_is_checked_under_its_later_contract(pytester: pytest.Pytester,
                                                                    tmp_path: Path) -> None:
    args = ("--hookproof-platform", "doselect", "--hookproof-contract", "2019-09", "--hookproof-secret", SECRET,
            "--hookproof-time-scale", "0.02", "-k", "method_and_headers")
    good = _run(pytester, tmp_path, "as-is", *args)
    good.assert_outcomes(passed=1)
    wrong = _run(pytester, tmp_path, "wrong-signature", *args)
    wrong.assert_outcomes(failed=1)
    out = wrong.stdout.str()
    assert "header DoSelect-Webhook-Signature is not the HMAC-SHA256 of the body's /meta/delivery_id" in out
    assert SECRET not in out


@pytest.mark.parametrize(("mode", "check", "message"), [
    ("as-is", None, None),
    ("retries-every-failure", "retried_as_documented",
     "an answer of 301 is not retried (the policy retries 502, 503, 504, 520, 521, 523, 525, 526, 527, 530 only)"),
    ("five-tries", "gives_up_after_the_last_try", "the policy allows exactly 2 tries in total"),
])
def test_qualifieds_later_retry_policy(pytester: pytest.Pytester, tmp_path: Path, mode: str, check: str | None,
                                       message: str | None) -> None:
    """Qualified retries once, at least 60 s later, only on a connection failure, a timeout or one of ten
    statuses; the run scales the 60 s by {time_scale}."""
    result = _run(pytester, tmp_path, mode, "--hookproof-platform", "qualified", "--hookproof-contract", "2024-01",
                  "--hookproof-time-scale", "0.0005", "-k", "sender")
    out = result.stdout.str()
    if check is None:
        result.assert_outcomes(passed=8)
        return
    assert f"[{check}]" in out and message in out, out[-3000:]


def test_a_retry_sooner_than_qualifieds_minimum_fails(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Qualified waits at least 60 s before its retry: a sender that retries at once fails, at any scale."""
    result = _run(pytester, tmp_path, "no-wait", "--hookproof-platform", "qualified", "--hookproof-contract",
                  "2024-01", "--hookproof-time-scale", "0.002", "-k", "backoff_as_documented")
    result.assert_outcomes(failed=1)
    assert "shorter than the documented minimum of 60 s x 0.002 = 120 ms" in result.stdout.str()
