"""Registration API checks (Xobin ``POST /webhooks``, 002_87eafd416189f785.txt) as pytest tests.

Thin wrappers over :mod:`conformance.registration_checks`. With ``--target-url URL --platform xobin
--api-key K`` they judge the API at URL; without ``--target-url`` they judge the reference server
(:mod:`reference_impl.registration`), started once per session on a temporary SQLite file with a
freshly generated API key.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance import registration_checks as checks
from conformance.plugin import RunConfig


class NotObservedWarning(UserWarning):
    """A documented rule was not checked because the target exposes no way to observe it."""


@pytest.fixture(scope="session")
def registration_target(hookproof_run: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[checks.Target]:
    header = hookproof_run.api_key_header or checks.DEFAULT_API_KEY_HEADER
    if hookproof_run.target_url:
        if not hookproof_run.api_key:
            pytest.fail("hookproof: the registration checks need --api-key (the key the API under test accepts)",
                        pytrace=False)
        yield checks.Target(hookproof_run.target_url, hookproof_run.api_key, header, hookproof_run.response_timeout)
        return
    from reference_impl.registration import make_app
    from reference_impl.registration_store import RegistrationStore
    from reference_impl.serving import serving

    key = secrets.token_urlsafe(24)
    store = RegistrationStore(tmp_path_factory.mktemp("xobin-registration") / "settings.sqlite3")
    with serving(make_app(store, key, header)) as url:
        yield checks.Target(url, key, header, hookproof_run.response_timeout)


@pytest.fixture(scope="session")
def registration_hypothesis(hookproof_run: RunConfig) -> Callable[[Any], Any]:
    """The run's Hypothesis settings. A fixture rather than ``hookproof_run`` in the test's arguments:
    pytest prints a failing test's arguments, and the run configuration holds the API key."""
    return hookproof_run.hypothesis()


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_accepts_valid_bodies(platform: str, registration_target: checks.Target,
                              registration_hypothesis: Callable[[Any], Any]) -> None:
    """002_87eafd416189f785.txt § Body Parameters and § Response: a valid body (any combination of
    start, submission and updates) gets 200 and ``{"status": "success", "message": ..., "webhook": {...}}``."""
    checks.accepts_valid_bodies(registration_target, registration_hypothesis)


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_rejects_missing_api_key(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § Body Parameters, warning 'Make sure to add your API key in Header of the
    request': a request without the key gets 401 or 403."""
    checks.rejects_missing_api_key(registration_target)


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_rejects_wrong_api_key(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § Body Parameters, warning 'Make sure to add your API key in Header of the
    request': a request with a wrong key gets 401 or 403."""
    checks.rejects_wrong_api_key(registration_target)


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_rejects_wrong_types(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § Parameters (status boolean, url string, updateAll boolean): a body with
    the wrong types gets 4XX, never 5XX."""
    checks.rejects_wrong_types(registration_target)


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_rejects_non_url_url(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § Parameters 'url | string | The URL to receive event notifications.': a
    url that is not a URL gets 4XX."""
    checks.rejects_non_url_url(registration_target)


@pytest.mark.hookproof_role("registration")
@pytest.mark.robustness
def test_rejects_malformed_json(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § Body Parameters (a JSON body): a body that is not well-formed JSON gets
    4XX, never 5XX."""
    checks.rejects_malformed_json(registration_target)


@pytest.mark.hookproof_role("registration")
@pytest.mark.documented
def test_keeps_omitted_keys(platform: str, registration_target: checks.Target) -> None:
    """002_87eafd416189f785.txt § note 'Omitted keys keep their existing values where supported.': after a
    partial update the omitted keys keep their values. Skipped, with the reason and a warning, when the
    target shows its settings neither in the POST answer nor on GET /webhooks."""
    try:
        checks.keeps_omitted_keys(registration_target)
    except checks.CannotObserve as exc:
        warnings.warn(NotObservedWarning(str(exc)), stacklevel=1)
        pytest.skip(str(exc))
