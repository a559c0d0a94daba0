"""The registration API checks (conformance.registration_checks): the reference passes every one, and each
has a broken implementation (tests/broken_registration.py) that fails it, with a readable, masked report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from werkzeug.wrappers import Request, Response

from conformance import catalog
from conformance import registration_checks as checks
from conformance.report import CheckFailure
from conformance.run_settings import runner
from reference_impl.registration import make_app
from reference_impl.registration_store import RegistrationStore
from reference_impl.serving import serving
from tests import broken_registration as broken

FEW = runner(5)  # generated examples per property: enough to hit the broken rule, fast on loopback


def run_check(name: str, target: checks.Target) -> None:
    fn = checks.CHECKS[name].run
    fn(target, FEW) if name == "accepts_valid_bodies" else fn(target)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[checks.Target]:
    key = "reference-key-3b9f0e7a21"
    store = RegistrationStore(tmp_path_factory.mktemp("ref") / "settings.sqlite3")
    with serving(make_app(store, key)) as url:
        yield checks.Target(url, key, timeout=5)


def serve(app: Any) -> Any:
    """Serve a broken app; the target authenticates with the key the broken apps expect."""
    return serving(app)


def target_at(url: str, timeout: float = 5) -> checks.Target:
    return checks.Target(url, broken.API_KEY, broken.HEADER, timeout)


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_reference_passes_every_check(reference: checks.Target, name: str) -> None:
    run_check(name, reference)


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_the_sound_mini_implementation_passes_every_check(name: str) -> None:
    """The control: the broken apps differ from this one by a single flag."""
    with serve(broken.sound()) as url:
        run_check(name, target_at(url))


BROKEN_CASES = [(app, check) for app, (_, names) in broken.BROKEN.items() for check in names]


@pytest.mark.parametrize(("app", "name"), BROKEN_CASES, ids=[f"{a}-{c}" for a, c in BROKEN_CASES])
def test_each_broken_implementation_fails_its_check(app: str, name: str) -> None:
    factory, _ = broken.BROKEN[app]
    with serve(factory()) as url, pytest.raises(CheckFailure) as failed:
        run_check(name, target_at(url))
    report = str(failed.value)
    assert report.startswith(f"[{name}]")
    assert "replay: curl" in report and "status:" in report and "answer:" in report
    assert broken.API_KEY not in report
    assert f"{broken.HEADER}: ***" in report or name == "rejects_missing_api_key"


def test_every_check_has_a_broken_implementation() -> None:
    covered = {name for _, names in broken.BROKEN.values() for name in names}
    assert covered == set(checks.CHECKS)


def test_failure_reports_say_what_went_wrong() -> None:
    with serve(broken.forgets_omitted_keys()) as url, pytest.raises(CheckFailure) as failed:
        checks.keeps_omitted_keys(target_at(url))
    assert "the omitted key" in str(failed.value) and "lost its value" in str(failed.value)
    with serve(broken.crashes_on_bad_types()) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_wrong_types(target_at(url))
    assert "failed on it (500, a server error); expected 4XX" in str(failed.value)
    with serve(broken.accepts_any_key()) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_missing_api_key(target_at(url))
    assert "accepted it; expected 401 or 403" in str(failed.value)


def test_unobservable_settings_are_reported_as_not_checked_never_as_passed() -> None:
    with serve(broken.unobservable()) as url, pytest.raises(checks.CannotObserve) as unseen:
        checks.keeps_omitted_keys(target_at(url))
    reason = str(unseen.value)
    assert "was NOT checked" in reason and "GET" in reason and "405" in reason


def test_settings_shown_only_on_get_are_observed_there() -> None:
    with serve(broken.observable_by_get_only()) as url:
        checks.keeps_omitted_keys(target_at(url))


def test_settings_shown_only_in_the_answer_are_observed_there() -> None:
    """No GET at all: the check still catches forgotten keys through the POST answer."""
    with serve(broken.forgets_omitted_keys_no_get()) as url, \
            pytest.raises(CheckFailure, match="partial update's answer"):
        checks.keeps_omitted_keys(target_at(url))


def echo_app(status: int, extra_headers: dict[str, str] | None = None, delay: float = 0.0) -> Callable[..., Any]:
    """Answers every request with ``status`` and the request's headers echoed in the body."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(delay)
        request = Request(environ)
        body = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        return Response(body, status=status, headers=extra_headers or {})(environ, start_response)

    return app


def test_an_echoed_api_key_is_masked_in_the_answer_excerpt() -> None:
    with serve(echo_app(500)) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_wrong_types(target_at(url))
    assert broken.API_KEY not in str(failed.value)


def test_a_redirect_is_a_failure_and_is_not_followed() -> None:
    with serve(echo_app(307, {"Location": "https://elsewhere.example/webhooks"})) as url, \
            pytest.raises(CheckFailure) as failed:
        checks.accepts_valid_bodies(target_at(url), FEW)
    assert "a redirect to https://elsewhere.example/webhooks; redirects are not followed" in str(failed.value)


def test_a_slow_target_is_a_failure_within_the_timeout() -> None:
    with serve(echo_app(200, delay=3.0)) as url:
        started = time.monotonic()
        with pytest.raises(CheckFailure) as failed:
            checks.rejects_missing_api_key(target_at(url, timeout=0.3))
        elapsed = time.monotonic() - started
    assert elapsed < 2.0  # well short of the 3 s answer, with room for a loaded machine
    assert "gave no answer within 0.3 s" in str(failed.value)


def test_a_wrong_key_given_to_the_checks_is_named_as_the_cause(tmp_path: Path) -> None:
    with serving(make_app(RegistrationStore(tmp_path / "s.sqlite3"), "the-real-key-123")) as url, \
            pytest.raises(CheckFailure, match=r"refused the API key .* check --api-key"):
        checks.rejects_wrong_types(checks.Target(url, "not-the-key-456"))


def test_an_echoed_wrong_key_derived_from_the_real_one_is_masked_too() -> None:
    with serve(echo_app(200)) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_wrong_api_key(target_at(url))
    assert broken.API_KEY[:-1] not in str(failed.value) and "hookproof-wrong-" not in str(failed.value)


@given(checks.request_bodies())
@settings(max_examples=50, database=None)
def test_request_bodies_are_valid_requests(body: Any) -> None:
    assert catalog.check_instance(catalog.event("xobin", "request").schema_id, body) == []


def test_url_accepts_a_base_or_the_full_endpoint() -> None:
    assert checks.Target("http://h.example/api/", "k").url == "http://h.example/api/webhooks"
    assert checks.Target("http://h.example/api/webhooks", "k").url == "http://h.example/api/webhooks"
    target = checks.Target("http://h.example", "secret-k")
    assert "secret-k" not in repr(target) and repr(target.api_key) == "'***'" and target.api_key == "secret-k"


def test_wrong_keys_cover_prefix_truncation_and_case() -> None:
    keys = [k for _, k in checks.wrong_keys("Secret-Key")]
    assert "Secret-Key0" in keys and "Secret-Ke" in keys and "sECRET-kEY" in keys and "Secret-Key" not in keys


def test_run_all_outside_pytest_reports_each_check(reference: checks.Target) -> None:
    results = checks.run_all(reference, hypothesis=FEW)
    assert results == {name: "passed" for name in checks.CHECKS}
    with serve(broken.unobservable()) as url:
        assert checks.run_all(target_at(url), ["keeps_omitted_keys"])["keeps_omitted_keys"].startswith("not checked")


def test_every_check_has_a_pytest_test_with_its_kind_marker() -> None:
    from conformance import test_registration

    for name, registered in checks.CHECKS.items():
        test = getattr(test_registration, f"test_{name}")
        marks = {m.name: m.args for m in test.pytestmark}
        assert registered.kind in marks and marks["hookproof_role"] == ("registration",)
        assert "002_87eafd416189f785.txt" in (test.__doc__ or "")
