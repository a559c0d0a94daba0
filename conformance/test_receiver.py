"""Receiver conformance: ``pytest conformance --target-url URL --platform P [--secret S]``.

Without ``--target-url`` the checks run against the reference receiver, started here for the session.
Each test is one named check from :mod:`conformance.receiver_checks`; its docstring names the document
(../shared/seeds) the rule comes from.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from conformance import catalog, receiver_checks
from conformance.http_exchange import HttpSession
from conformance.plugin import RunConfig
from conformance.receiver_checks import ReceiverContext

pytestmark = pytest.mark.hookproof_role("receiver")


@pytest.fixture(scope="session")
def receiver(hookproof_run: RunConfig) -> Iterator[ReceiverContext]:
    run = hookproof_run
    session = HttpSession(run.response_timeout)
    common = {"examples": run.examples, "seed": run.seed, "shrink": run.shrink}
    try:
        if run.target_url:
            target = run.target_url
            yield ReceiverContext(lambda _platform: target, session, run.secret, **common)
            return
        from reference_impl.receiver import Receiver
        from reference_impl.serving import serving

        secret = secrets.token_urlsafe(16)
        platforms = [p for p in catalog.webhook_platforms() if catalog.profile(p).secret_header]
        with serving(Receiver(secrets=dict.fromkeys(platforms, secret))) as base:
            yield ReceiverContext(lambda platform: f"{base}/{platform}", session, secret, **common)
    finally:
        session.close()


@pytest.mark.documented
@pytest.mark.hookproof_needs("examples")
def test_documented_examples_are_accepted(receiver: ReceiverContext, platform: str) -> None:
    """Every example in the platform's document gets a 2XX (000 § Payload/Solution/Test Session,
    003 § Payload, 004 § Structure/Register your Webhook/Code Challenges/User)."""
    receiver_checks.documented_examples(receiver, platform)


@pytest.mark.documented
def test_generated_valid_deliveries_are_accepted(receiver: ReceiverContext, platform: str) -> None:
    """Generated payloads of every documented event get a 2XX (each platform's events and data models:
    000 § Solution/Test Session, 001 § Events/Data Models, 003 § Events, 004 § Code Challenges/User)."""
    receiver_checks.generated_valid(receiver, platform)


@pytest.mark.robustness
def test_unknown_properties_are_accepted(receiver: ReceiverContext, platform: str) -> None:
    """Properties the document does not list, at any depth, get a 2XX: vendors add fields (NOTES.md;
    004 § Structure: 'Webhooks typically contain a very small payload')."""
    receiver_checks.unknown_properties(receiver, platform)


@pytest.mark.documented
def test_duplicate_delivery_is_accepted_twice(receiver: ReceiverContext, platform: str) -> None:
    """A retried delivery gets a 2XX again (000 § Webhooks: 'we'll try to deliver the webhook up to 5 times')."""
    receiver_checks.duplicate_delivery(receiver, platform)


@pytest.mark.robustness
def test_malformed_bodies_get_4xx(receiver: ReceiverContext, platform: str) -> None:
    """Malformed JSON, an empty body, a JSON array, a non-JSON Content-Type: 4XX, never 5XX (the documents
    promise JSON: 000 § Webhooks 'a JSON payload in body', 003 § Protocol, 004 § Structure)."""
    receiver_checks.malformed_bodies(receiver, platform)


@pytest.mark.documented
@pytest.mark.hookproof_needs("secret")
def test_secret_is_required(receiver: ReceiverContext, platform: str) -> None:
    """A missing or wrong secret gets 401/403, the right one 2XX (004 § Register your Webhook: 'Secret ...
    Ensures only Codewars is sending you the webhook'; § Structure: X-Webhook-Secret)."""
    receiver_checks.secret_required(receiver, platform)


@pytest.mark.robustness
def test_answers_within_response_timeout(receiver: ReceiverContext, platform: str) -> None:
    """Every event is answered within --response-timeout (senders time out after 5-30 s; NOTES.md)."""
    receiver_checks.answers_in_time(receiver, platform)


@pytest.mark.robustness
def test_no_redirects(receiver: ReceiverContext, platform: str) -> None:
    """No delivery is answered 3XX: senders treat it as a failure and do not follow it (NOTES.md)."""
    receiver_checks.no_redirect(receiver, platform)


@pytest.mark.robustness
def test_unknown_event_is_not_5xx(receiver: ReceiverContext, platform: str) -> None:
    """An event or action the document does not list is not a 5XX (NOTES.md: vendors renamed events later,
    e.g. Codewars rank_upgraded -> rank_earned)."""
    receiver_checks.unknown_event(receiver, platform)
