"""The registration API checks (hookproof.conformance.registration_checks): the reference passes every one, and
each has a broken implementation (tests/broken_registration.py) that fails it, with a readable, masked report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from werkzeug.wrappers import Request, Response

from hookproof import catalog, validation
from hookproof.conformance import registration_checks as checks
from hookproof.conformance.registry import checks_of
from hookproof.conformance.report import CheckFailure, NotChecked
from hookproof.conformance.run_settings import runner
from hookproof.reference_impl.registration import make_app, store_for
from hookproof.reference_impl.serving import serving
from tests import broken_registration as broken

FEW = runner(5)  # generated examples per property: enough to hit the broken rule, fast on loopback
CHECKS = {check.name: check for check in checks_of("registration")}


def ctx(target: checks.Target) -> checks.RegistrationContext:
    return checks.RegistrationContext(target, FEW)


def run_check(name: str, target: checks.Target) -> None:
    CHECKS[name](ctx(target), target.platform)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[checks.Target]:
    key = "reference-key-3b9f0e7a21"
    store = store_for(tmp_path_factory.mktemp("ref") / "settings.sqlite3")
    with serving(make_app(store, key)) as url:
        yield checks.Target(url, key, timeout=5)


def serve(app: Any) -> Any:
    """Serve a broken app; the target authenticates with the key the broken apps expect."""
    return serving(app)


def target_at(url: str, timeout: float = 5) -> checks.Target:
    return checks.Target(url, broken.API_KEY, broken.HEADER, timeout)


@pytest.mark.parametrize("name", list(CHECKS))
def test_reference_passes_every_check(reference: checks.Target, name: str) -> None:
    run_check(name, reference)


@pytest.mark.parametrize("name", list(CHECKS))
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
    # where the rule comes from: the Xobin document for a documented rule, the practice for a robustness one
    rule = next(line for line in report.splitlines() if line.startswith("  rule: "))
    assert ("<https://app.xobin.com/api/docs/" in rule) == (CHECKS[name].marker == "documented"), rule
    if name == "rejects_wrong_api_key":  # the wrong key sent is derived from the right one: masked
        assert f"'{broken.HEADER}: ***'" in report
    elif name != "rejects_missing_api_key":  # the right key: read from the environment, where the suite reads it
        assert f'"{broken.HEADER}: $HOOKPROOF_API_KEY"' in report


def test_every_check_has_a_broken_implementation() -> None:
    covered = {name for _, names in broken.BROKEN.values() for name in names}
    assert covered == set(CHECKS)


def test_failure_reports_say_what_went_wrong() -> None:
    with serve(broken.forgets_omitted_keys()) as url, pytest.raises(CheckFailure) as failed:
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")
    assert "the omitted key" in str(failed.value) and "lost its value" in str(failed.value)
    with serve(broken.crashes_on_bad_types()) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_wrong_types(ctx(target_at(url)), "xobin")
    assert "failed on it (500, a server error); expected 4XX" in str(failed.value)
    with serve(broken.accepts_any_key()) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_missing_api_key(ctx(target_at(url)), "xobin")
    assert "accepted it; expected 401 or 403" in str(failed.value)


def test_unobservable_settings_are_reported_as_not_checked_never_as_passed() -> None:
    with serve(broken.unobservable()) as url, pytest.raises(NotChecked) as unseen:
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")
    reason = str(unseen.value)
    assert "was NOT checked" in reason and "GET" in reason and "405" in reason


def test_settings_shown_only_on_get_are_observed_there() -> None:
    with serve(broken.observable_by_get_only()) as url:
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")


def test_settings_shown_only_in_the_answer_are_observed_there() -> None:
    """No GET at all: the check still catches forgotten keys through the POST answer."""
    with serve(broken.forgets_omitted_keys_no_get()) as url, \
            pytest.raises(CheckFailure, match="partial update's answer"):
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")


# --- which status accepts a request (docs/decisions.md#xobin-success-status) ------------------------------


@pytest.mark.parametrize("status", [200, 201, 202])
def test_any_2xx_with_the_documented_answer_accepts_a_request(status: int) -> None:
    """The document's Response shows the success answer's body and no status code: 200 is not the only one."""
    with serve(broken.answers_with(status)) as url:
        checks.accepts_valid_bodies(ctx(target_at(url)), "xobin")
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")


def test_a_204_is_a_success_status_but_carries_no_documented_answer() -> None:
    """204 accepts the update (keeps_omitted_keys, which reads the settings from GET, passes), but a 204 has
    no body, so the answer the document's Response shows is missing: accepts_valid_bodies fails on that, and
    says the status itself was fine."""
    with serve(broken.answers_with(204)) as url:
        checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")
        with pytest.raises(CheckFailure) as failed:
            checks.accepts_valid_bodies(ctx(target_at(url)), "xobin")
    report = str(failed.value)
    assert "answered 204 to a valid body with an empty body: a 2XX is a success, but the documented answer is " \
           "missing" in report
    assert "not accepted" not in report
    assert "  rule: Xobin API v2.0 documentation, POST Add/Update webhooks, Response <" in report


@pytest.mark.parametrize("status", [400, 404, 422, 500, 503])
def test_a_4xx_or_5xx_to_a_valid_body_is_still_a_failure(status: int) -> None:
    with serve(broken.answers_with(status)) as url:
        with pytest.raises(CheckFailure) as failed:
            checks.accepts_valid_bodies(ctx(target_at(url)), "xobin")
        assert f"a valid body was not accepted: the target answered {status}; expected 2XX" in str(failed.value)
        with pytest.raises(CheckFailure) as failed:
            checks.keeps_omitted_keys(ctx(target_at(url)), "xobin")
        assert f"setting every webhook failed: the target answered {status}; expected 2XX" in str(failed.value)


# --- what the document states and what it does not (docs/decisions.md#xobin-invalid-bodies) -----------------


def test_refusing_wrong_types_and_non_urls_is_robustness_not_a_documented_rule() -> None:
    """The document gives the members' types but no answer to a body that breaks them: the two checks are
    robustness, and their failures say so instead of citing a passage that does not state the rule."""
    assert CHECKS["rejects_wrong_types"].marker == CHECKS["rejects_non_url_url"].marker == "robustness"
    for app, name in ((broken.crashes_on_bad_types, "rejects_wrong_types"),
                      (broken.accepts_non_url, "rejects_non_url_url")):
        with serve(app()) as url, pytest.raises(CheckFailure) as failed:
            run_check(name, target_at(url))
        rule = next(line for line in str(failed.value).splitlines() if line.startswith("  rule: "))
        assert rule.startswith("  rule: robustness practice, not stated by the document: "), rule
        assert "xobin" not in rule.lower() and "any combination" not in rule, rule


def test_the_documented_checks_are_those_the_document_states() -> None:
    documented = {name for name, registered in CHECKS.items() if registered.marker == "documented"}
    assert documented == {"accepts_valid_bodies", "rejects_missing_api_key", "rejects_wrong_api_key",
                          "keeps_omitted_keys"}


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
        checks.rejects_wrong_types(ctx(target_at(url)), "xobin")
    assert broken.API_KEY not in str(failed.value)


def test_a_redirect_is_a_failure_and_is_not_followed() -> None:
    with serve(echo_app(307, {"Location": "https://elsewhere.example/webhooks"})) as url, \
            pytest.raises(CheckFailure) as failed:
        checks.accepts_valid_bodies(ctx(target_at(url)), "xobin")
    assert "a redirect to https://elsewhere.example/webhooks; redirects are not followed" in str(failed.value)


def test_a_slow_target_is_a_failure_within_the_timeout() -> None:
    with serve(echo_app(200, delay=3.0)) as url:
        started = time.monotonic()
        with pytest.raises(CheckFailure) as failed:
            checks.rejects_missing_api_key(ctx(target_at(url, timeout=0.3)), "xobin")
        elapsed = time.monotonic() - started
    assert elapsed < 2.0  # well short of the 3 s answer, with room for a loaded machine
    assert "gave no answer within 0.3 s" in str(failed.value)


def test_a_wrong_key_given_to_the_checks_is_named_as_the_cause(tmp_path: Path) -> None:
    with serving(make_app(store_for(tmp_path / "s.sqlite3"), "the-real-key-123")) as url, \
            pytest.raises(CheckFailure, match=r"refused the API key .* check --hookproof-api-key"):
        checks.rejects_wrong_types(ctx(checks.Target(url, "not-the-key-456")), "xobin")


def test_an_echoed_wrong_key_derived_from_the_real_one_is_masked_too() -> None:
    with serve(echo_app(200)) as url, pytest.raises(CheckFailure) as failed:
        checks.rejects_wrong_api_key(ctx(target_at(url)), "xobin")
    assert broken.API_KEY[:-1] not in str(failed.value) and "hookproof-wrong-" not in str(failed.value)


@given(checks.request_bodies(checks.Target("http://h.example", "k")))
@settings(max_examples=50, database=None)
def test_request_bodies_are_valid_requests(body: Any) -> None:
    assert validation.check_instance(catalog.event("xobin", "request").schema_id, body) == []


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
    assert results == {name: "passed" for name in CHECKS}
    with serve(broken.unobservable()) as url:
        assert checks.run_all(target_at(url), ["keeps_omitted_keys"])["keeps_omitted_keys"].startswith("not checked")


def test_every_check_has_a_pytest_item_with_its_marker(pytester: pytest.Pytester) -> None:
    """One generated item per registration check, selected by the check's marker and by no other."""
    for marker in ("documented", "robustness"):
        result = pytester.runpytest("--pyargs", "hookproof.conformance", "--collect-only", "-q", "-m", marker,
                                    "-k", "registration-xobin")
        out = result.stdout.str()
        for name, registered in CHECKS.items():
            item = f"test_conformance[registration-xobin-{name}]"
            assert (item in out) == (registered.marker == marker), (marker, name, out)
    for registered in CHECKS.values():
        assert registered.role == "registration" and registered.rule  # the rule README and the summary show


# --- a second registration API, data only ---------------------------------------------------------------

ACME = "acme-hooks"
ACME_KEY = "acme-key-9c4e1f7b20"
_ACME_SETTING = {
    "type": "object",
    "required": ["enabled", "target"],
    "properties": {"enabled": {"type": "boolean"}, "target": {"type": "string", "format": "uri"}},
    "additionalProperties": False,
}
ACME_FILES: dict[str, Any] = {
    "profile.json": {
        "$schema": "https://hookproof.dev/schemas/profile.schema.json",
        "$id": "https://acme.example/hookproof/acme-hooks/profile.json",
        "title": "Acme Hooks subscription API profile (a test platform)",
        "platform": ACME,
        "name": "Acme Hooks subscription API",
        "kind": "registration_api",
        "documents": {"api": {"title": "Acme Hooks API reference", "url": "https://acme.example/docs/hooks"}},
        "contract": {
            "name": "v1",
            "title": "the Acme Hooks v1 reference",
            "document": "api",
            "method": "PUT",
            "content_type": "application/json",
            "events": {},
            "registration": {
                "path": "/v1/hooks",
                "api_key": {"header": "X-Acme-Key", "source": {"document": "api", "section": "Authentication"}},
                "request": {"schema": "request.json", "examples": [
                    {"file": "examples/request.json", "source": {"document": "api", "section": "Request"}}]},
                "response": {"schema": "response.json", "examples": [
                    {"file": "examples/response.json", "source": {"document": "api", "section": "Response"}}]},
                "settings": {"at": "/subscriptions", "keys": ["created", "finished"],
                             "fields": {"enabled": "boolean", "target": "url"},
                             "source": {"document": "api", "section": "Subscriptions"}},
                "partial_update": {"extra": {"mode": "merge"},
                                   "source": {"document": "api", "section": "Merging",
                                              "quote": "Subscriptions left out are kept."}},
                "read_back": {"answer_at": "/subscriptions", "get": True,
                              "source": {"document": "api", "section": "Response"}},
            },
        },
    },
    "request.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://acme.example/hookproof/acme-hooks/request.json",
        "title": "Acme Hooks PUT /v1/hooks request body",
        "type": "object",
        "required": ["subscriptions"],
        "properties": {
            "subscriptions": {"type": "object", "properties": {"created": _ACME_SETTING, "finished": _ACME_SETTING},
                              "additionalProperties": False},
            "mode": {"enum": ["merge"]},
        },
        "additionalProperties": False,
    },
    "response.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://acme.example/hookproof/acme-hooks/response.json",
        "title": "Acme Hooks PUT /v1/hooks answer",
        "type": "object",
        "required": ["ok", "subscriptions"],
        "properties": {"ok": {"const": True}, "subscriptions": {"type": "object"}},
    },
    "examples/request.json": {
        "subscriptions": {"created": {"enabled": True, "target": "https://acme.example/in/created"},
                          "finished": {"enabled": False, "target": "https://acme.example/in/finished"}},
        "mode": "merge",
    },
    "examples/response.json": {"ok": True, "subscriptions": {}},
}


@pytest.fixture
def acme_catalog(tmp_path: Path) -> Iterator[Path]:
    """The built-in platforms plus ``acme-hooks``, written as files only; the built-in catalog afterwards."""
    root = tmp_path / "platforms"
    for relpath, content in ACME_FILES.items():
        path = root / ACME / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    catalog.configure([root])
    try:
        yield root
    finally:
        catalog.configure([])


def test_a_second_registration_api_described_by_data_only_passes_every_check(acme_catalog: Path,
                                                                             tmp_path: Path) -> None:
    assert ACME in catalog.platforms("registration_api")
    app = make_app(store_for(tmp_path / "acme.sqlite3", ACME), ACME_KEY, platform=ACME)
    with serving(app) as url:
        target = checks.Target(url, ACME_KEY, platform=ACME, timeout=5)
        assert target.header == "X-Acme-Key" and target.url == url + "/v1/hooks"
        assert checks.run_all(target, hypothesis=FEW) == {name: "passed" for name in CHECKS}
        auth = {"X-Acme-Key": ACME_KEY}
        with httpx.Client(trust_env=False, timeout=10) as http:
            # the contract's method is PUT: the checks sent it (or accepts_valid_bodies would have failed)
            refused = http.post(target.url, json=ACME_FILES["examples/request.json"], headers=auth)
            assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD, PUT"
            state = http.get(target.url, headers=auth).json()
    assert set(state) == {"subscriptions", "mode"}  # the request's own shape; no Xobin assessments
    assert set(state["subscriptions"]) == {"created", "finished"}
    assert set(state["subscriptions"]["created"]) == {"enabled", "target"}
