"""Sender conformance: ``pytest conformance --sender-cmd TEMPLATE --platform P [--secret S]``.

Without ``--sender-cmd`` the checks run against the reference sender (``python -m reference_impl.sender``
with a 20 ms backoff base, so the whole run takes seconds). Each test is one named check from
:mod:`conformance.sender_checks`, judging one scripted run of the command; its docstring names the
document (../shared/seeds) the rule comes from.

The retry checks (c to g) carry ``hookproof_retry``: the plugin marks each platform's case ``documented``
where the platform's own document states the retry policy (DoSelect) and ``retry_policy_inferred`` where
the DoSelect policy is applied to a platform whose document gives none, so that
``-m "not retry_policy_inferred"`` leaves them out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from conformance import sender_checks
from conformance.plugin import RunConfig
from conformance.sender_harness import (
    ACCEPTING,
    DEFAULT_SETTLE,
    REFUSING,
    SenderHarness,
    reference_command,
    scripted_server,
)

pytestmark = pytest.mark.hookproof_role("sender")


@pytest.fixture(scope="session")
def sender_server() -> Iterator[HTTPServer]:
    with scripted_server() as server:
        yield server


@pytest.fixture(scope="session")
def sender_harness(
    hookproof_run: RunConfig, sender_server: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> SenderHarness:
    template = hookproof_run.sender_cmd or reference_command()
    workdir: Path = tmp_path_factory.mktemp("sender-events")
    # The reference sender has exited when its command returns, so nothing can still be in flight: a short
    # listen after it keeps the default run fast. A user's command may leave a child sending, so it gets more.
    settle = DEFAULT_SETTLE if hookproof_run.sender_cmd else 0.05
    jobs = hookproof_run.sender_jobs or (1 if hookproof_run.sender_cmd else 4)
    return SenderHarness(sender_server, template, workdir, timeout=hookproof_run.sender_timeout,
                         seed=hookproof_run.seed, settle=settle, jobs=jobs)


@pytest.fixture(scope="session")
def sender_secret(hookproof_run: RunConfig) -> str | None:
    """``--secret`` for a user's command; for the reference sender one of our own, so the secret is checked."""
    if hookproof_run.sender_cmd:
        return hookproof_run.secret
    return hookproof_run.secret or secrets.token_urlsafe(16)


@pytest.mark.documented
def test_method_and_headers(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """a. POST, Content-Type application/json, the documented headers with their documented values (000
    § Webhooks 'a POST request ... JSON payload'; 003 § Protocol 'User Agent | interview suite webhook';
    004 § Structure 'User-Agent: Codewars Hookbot', 'X-Webhook-Event', 'X-Webhook-Secret')."""
    for scenario in sender_checks.CHECKS["a"].scenarios:  # one try, then five: retries must look the same
        sender_checks.check_wire(sender_harness.observe(platform, scenario, sender_secret))


@pytest.mark.documented
def test_body_is_the_payload(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """b. UTF-8 JSON, valid for its event, equal to the payload handed over but for the per-delivery
    metadata (000 § Payload 'metadata about the current webhook delivery'; 003 § Payload 'endpoint: URL
    that was supposed to be called'; 001 § Events; 004 § Code Challenges/User)."""
    sender_checks.check_body(sender_harness.observe(platform, "accept-200", sender_secret))


@pytest.mark.hookproof_retry
@pytest.mark.parametrize("status", ACCEPTING)
def test_one_request_when_accepted(
    sender_harness: SenderHarness, sender_secret: str | None, platform: str, status: int
) -> None:
    """c. A first answer of 2XX ends the delivery: exactly one request (000 § Webhooks 'If you return
    anything other than an HTTP 2XX status ... we'll try to deliver the webhook up to 5 times')."""
    sender_checks.check_accepted(sender_harness.observe(platform, f"accept-{status}", sender_secret))


@pytest.mark.hookproof_retry
@pytest.mark.parametrize("status", REFUSING)
def test_retried_after_refusal(
    sender_harness: SenderHarness, sender_secret: str | None, platform: str, status: int
) -> None:
    """d. Any non-2XX answer, 3XX included (never followed), is retried, and nothing follows the 2XX
    (000 § Webhooks 'anything other than an HTTP 2XX status')."""
    sender_checks.check_retried(sender_harness.observe(platform, f"refuse-{status}", sender_secret))


@pytest.mark.hookproof_retry
def test_gives_up_after_five_tries(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """e. Every answer non-2XX: exactly 5 requests in total, then nothing (000 § Webhooks 'up to 5 times')."""
    sender_checks.check_max_tries(sender_harness.observe(platform, "refuse-all", sender_secret))


@pytest.mark.hookproof_retry
def test_backoff_grows(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """f. The intervals between tries are positive and grow (000 § Webhooks 'with a backoff')."""
    sender_checks.check_backoff(sender_harness.observe(platform, "refuse-all", sender_secret))


@pytest.mark.hookproof_retry
def test_retries_repeat_the_delivery(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """g. Every retry carries the same body, so the same meta.delivery_id (000 § Payload: 'metadata about
    the current webhook delivery, like the ... timestamp and delivery_id')."""
    sender_checks.check_same_delivery(sender_harness.observe(platform, "refuse-all", sender_secret))


@pytest.mark.robustness
def test_command_delivers_within_bound(sender_harness: SenderHarness, sender_secret: str | None, platform: str) -> None:
    """h. The command delivers and returns within --sender-timeout; one that sends nothing, hangs or
    crashes fails with a message saying which (NOTES.md 'Webhook delivery practice': every run a bound)."""
    sender_checks.check_delivers(sender_harness.observe(platform, "accept-200", sender_secret))
