"""The catalog holds exactly the documented events, and a delivery that breaks a rule reads as such."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hookproof import catalog, validation
from hookproof.conformance.values import ISO_8601
from hookproof.contract import CatalogError
from hookproof.schema_store import BASE_URI, builtin_root

# Written out as the base documents spell them, not read from the schemas.
DOCUMENTED = {
    "doselect": {"solution.create", "solution.submit", "test-session.begin", "test-session.end"},
    "qualified": {
        "assessment.created",
        "assessment.updated",
        "assessment.published",
        "assessment.destroyed",
        "team_candidate.started_assessment",
        "team_candidate.submitted_assessment",
        "solution.created",
        "solution.updated",
        "assessment_result_review.created",
        "assessment_result_review.updated",
        "assessment_result_review.submitted",
        "assessment_result_review.destroyed",
        "challenge.created",
        "challenge.updated",
        "challenge.published",
        "challenge.destroyed",
        "team_candidate.created",
        "team_candidate.label_added",
        "team_candidate.label_removed",
    },
    "xobin": {"request", "response"},
    "viasto": {"project_changed", "candidate_changed", "answervideo_changed", "rating_changed", "note_changed"},
    "codewars": {
        "webhook.updated",
        "code_challenge.created",
        "code_challenge.approve_successful",
        "code_challenge.voted",
        "code_challenge.solution_finalized",
        "user.rank_upgraded",
        "user.honor_changed",
    },
}


def test_catalog_holds_exactly_the_documented_events() -> None:
    assert set(catalog.platforms()) == set(DOCUMENTED)
    for platform, names in DOCUMENTED.items():
        assert set(catalog.contract(platform).events) == names, platform
    assert [len(DOCUMENTED[p]) for p in ("doselect", "qualified", "viasto", "codewars")] == [4, 19, 5, 7]


def test_catalog_matches_the_schema_files() -> None:
    root = Path(str(builtin_root()))
    for platform in catalog.platforms():
        plat = catalog.platform(platform)
        listed = {ev.schema_id for spec in plat.contracts for ev in spec.events.values()}
        on_disk = {BASE_URI + p.relative_to(root).as_posix() for p in (root / platform).glob("events/*.json")}
        if plat.kind == "webhook":  # every file is some contract's, and every other schema is derived from one
            written = {uri for uri in listed if "/contracts/" not in uri}
            assert written == on_disk
            assert all(uri.startswith(f"{BASE_URI}{platform}/contracts/") for uri in listed - written)
        for uri in listed:
            assert catalog.active().schema(uri)["$id"] == uri


def _base(platform: str, event: str) -> dict[str, Any]:
    """A valid body for every event: the documented example, or one built from the document's tables."""
    ev = catalog.event(platform, event)
    if ev.examples:
        return copy.deepcopy(ev.examples[0].body)
    if platform == "doselect":
        sibling = {"solution.create": "solution.submit", "test-session.begin": "test-session.end"}[event]
        body = copy.deepcopy(catalog.event(platform, sibling).examples[0].body)
        body["meta"]["action"] = event.split(".")[1]
        return body
    if platform == "qualified":
        return {"event": event, "data": {}}
    if platform == "viasto":
        fields = catalog.active().schema(catalog.event(platform, event).schema_id)["properties"]["data"]["required"]
        return {
            "endpoint": "https://abc.com/hook",
            "time": "2015-03-16T15:32:34+00:00",
            "event": event,
            "data": {"action": "created", **{f: f"https://interview-suite.com/api/v3/{f}s/1/" for f in fields}},
        }
    raise AssertionError(f"no base body for {platform} {event}")


WEBHOOK_EVENTS = [(p, e) for p in catalog.webhook_platforms() for e in catalog.contract(p).events]


def _check(platform: str, event: str, body: Any, headers: dict[str, str] | None = None) -> validation.Verdict:
    headers = headers or catalog.contract(platform).delivery_headers(event)
    return validation.validate(platform, body, headers, event=event)


@pytest.mark.parametrize(("platform", "event"), WEBHOOK_EVENTS)
def test_base_body_is_valid(platform: str, event: str) -> None:
    assert _check(platform, event, _base(platform, event)).ok


@pytest.mark.parametrize(("platform", "event"), WEBHOOK_EVENTS)
def test_removing_a_required_field_fails_readably(platform: str, event: str) -> None:
    body = _base(platform, event)
    required = catalog.active().schema(catalog.event(platform, event).schema_id)["required"]
    victim = required[-1]
    del body[victim]
    verdict = _check(platform, event, body)
    assert not verdict.ok
    assert any(
        p.where == f"/{victim}" and p.expected == f"required property {victim!r}" and "https://" in p.source
        for p in verdict.problems
    ), [str(p) for p in verdict.problems]


@pytest.mark.parametrize(("platform", "event"), WEBHOOK_EVENTS)
def test_a_wrong_event_name_fails_readably(platform: str, event: str) -> None:
    """A wrong sender or action (DoSelect), event (Qualified, viasto) or action (Codewars)."""
    spec = catalog.contract(platform)
    body = _base(platform, event)
    headers = spec.delivery_headers(event)
    assert spec.event_naming is not None
    last = spec.event_naming.parts[-1]
    if last.body:
        target = body
        *parents, leaf = last.body.strip("/").split("/")
        for key in parents:
            target = target[key]
        target[leaf] = "not_an_action"
        where = last.body
    else:
        assert last.header
        headers[last.header] = "not_an_event"
        where = f"header {last.header}"
    verdict = validation.validate(platform, body, headers, event=event)
    assert not verdict.ok
    assert any(p.where == where for p in verdict.problems), [str(p) for p in verdict.problems]
    identified = validation.validate(platform, body, headers)
    assert "is not a" in identified.problems[0].message and "event" in identified.problems[0].message


@pytest.mark.parametrize("platform", ["doselect", "viasto"])
def test_a_bad_timestamp_fails_readably(platform: str) -> None:
    for event in catalog.contract(platform).events:
        body = _base(platform, event)
        if platform == "doselect":
            body["meta"]["timestamp"] = "07/10/2017 10:41"
            where = "/meta/timestamp"
        else:
            body["time"] = "yesterday"
            where = "/time"
        (problem,) = _check(platform, event, body).problems
        expected = "a valid date-time" if platform == "doselect" else f"pattern: {json.dumps(ISO_8601)}"
        assert (problem.where, problem.expected) == (where, expected)
        document = catalog.contract(platform).document
        assert document is not None and document.url in problem.source


def test_a_wrong_x_webhook_event_header_fails_readably() -> None:
    body = _base("codewars", "user.honor_changed")
    verdict = validation.validate("codewars", body, {"X-Webhook-Event": "code_challenge"}, event="user.honor_changed")
    assert not verdict.ok
    assert any(p.where == "header X-Webhook-Event" and p.expected == "'user'" for p in verdict.problems)


def test_documented_header_values_are_checked_when_present() -> None:
    body = _base("codewars", "webhook.updated")
    headers = {"X-Webhook-Event": "webhook", "User-Agent": "curl/8", "Content-Type": "text/plain"}
    verdict = validation.validate("codewars", body, headers)
    assert {p.where for p in verdict.problems} == {"header User-Agent", "header Content-Type"}
    headers.update({"User-Agent": "Codewars Hookbot", "Content-Type": "application/json; charset=utf-8"})
    assert validation.validate("codewars", body, headers).ok


def test_unknown_platform_and_event_are_input_errors() -> None:
    with pytest.raises(CatalogError, match="unknown platform 'nope'"):
        catalog.platform("nope")
    with pytest.raises(CatalogError, match=r"events: solution\.create"):
        catalog.event("doselect", "solution.delete")
    with pytest.raises(CatalogError, match="unknown doselect contract 'nope'"):
        catalog.contract("doselect", "nope")


def test_an_unidentifiable_delivery_is_a_problem_not_a_crash() -> None:
    for body in ([], "text", {"meta": "x"}, {"meta": {"sender": 1, "action": "end"}}):
        verdict = validation.validate("doselect", body)
        assert not verdict.ok and "cannot tell the DoSelect event" in verdict.problems[0].message


def test_retry_policy_is_the_documented_one_or_doselects() -> None:
    doselect = catalog.contract("doselect").retry
    assert doselect is not None
    assert (doselect.max_tries, doselect.documented, doselect.backoff) == (5, True, "increasing")
    for platform in ("qualified", "viasto", "codewars"):
        policy = catalog.contract(platform).retry
        assert policy is not None
        assert (policy.max_tries, policy.documented, policy.assumed_from) == (5, False, "doselect")
        assert str(policy.source).startswith(f"{catalog.platform(platform).name} documents no retry policy")
        assert "https://docs.doselect.com/" in str(policy.source)


def test_a_failure_inside_anyof_points_where_it_happened() -> None:
    body = {"event": "solution.created", "data": {"challenge": {"title": 1, "id": 2}, "score": 3}}
    body["data"]["challenge"] = "not an object"
    (problem,) = validation.validate("qualified", body).problems
    assert problem.where == "/data/challenge" and problem.expected == "type object"
    body = {"event": "team_candidate.created", "data": {"recent_assessment_result": {"solutions": ["x"]}}}
    (problem,) = validation.validate("qualified", body).problems
    assert problem.where == "/data/recent_assessment_result/solutions/0", problem


def test_threads_that_read_the_catalog_at_once_each_get_every_platform() -> None:
    """Profiles are read on first use, from whichever thread asks (the receiver's worker threads, the sender
    harness's); a profile whose retry policy is assumed from another reads that one first. Two threads reading
    at once once took each other's reads for a cycle of assumed policies."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from hookproof.schema_store import SchemaFolders

    for _ in range(5):
        fresh = catalog.Catalog(SchemaFolders([]))
        start = threading.Barrier(4)

        def read(platform: str, fresh: catalog.Catalog = fresh, start: threading.Barrier = start) -> str:
            start.wait(timeout=10)
            return fresh.platform(platform).id

        platforms = ["codewars", "doselect", "qualified", "viasto"]
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(read, platforms)) == platforms


def test_the_built_in_catalog_is_kept_and_a_users_folder_read_afresh(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``configure`` with no folder of the user's keeps a built-in catalog and what it loaded; one with a folder
    of the user's reads it again every time, since its files may have changed in between."""
    from tests import sixth_platform

    monkeypatch.delenv("HOOKPROOF_SCHEMAS", raising=False)
    try:
        builtin = catalog.configure([])
        builtin.registry()
        assert catalog.configure([]) is builtin and catalog.configure(None) is builtin
        sixth_platform.write(tmp_path)
        mine = catalog.configure([tmp_path])
        assert mine is not builtin and "acme" in mine.platforms()
        again = catalog.configure([tmp_path])
        assert again is not mine
        assert catalog.configure([]) is not builtin and "acme" not in catalog.platforms()
    finally:
        catalog.configure([])
