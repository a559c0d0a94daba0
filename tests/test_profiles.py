"""Profiles are checked when loaded and parsed into the typed model; later contracts derive from earlier ones."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookproof import catalog, validation
from hookproof.contract import Citation, Contract, ProfileError
from tests import sixth_platform


@pytest.fixture(autouse=True)
def builtin_catalog() -> Iterator[None]:
    yield
    catalog.configure([])


def _write(root: Path, profile: dict[str, Any]) -> Path:
    sixth_platform.write(root)
    (root / "acme" / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    return root


def _broken(change: Any) -> dict[str, Any]:
    profile = copy.deepcopy(sixth_platform.PROFILE)
    change(profile)
    return profile


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["contract"].pop("method"), "acme/profile.json: /contract: 'method' is a required property"),
    (lambda p: p["contract"]["retry"].update(max_tries="three"), "/contract/retry"),
    (lambda p: p["contract"]["auth"][0].update(scheme="hmac", header="Bad Header"), "/contract/auth/0"),
    (lambda p: p["contract"].update(event_name=None), "acme/profile.json: /contract/event_name"),
    (lambda p: p["contract"]["method_source"].update(document="nope"),
     "/contract/method_source/document: 'nope' is not one of /documents"),
    (lambda p: p["contract"]["events"]["result.scored"].update(schema="events/missing.json"),
     "/contract/events/result.scored/schema: schema file 'events/missing.json' does not exist"),
    (lambda p: p.update(platform="other"), "/platform: 'other' is not the folder's name 'acme'"),
])
def test_a_bad_profile_is_one_line_naming_the_file_and_the_field(tmp_path: Path, change: Any, message: str) -> None:
    catalog.configure([_write(tmp_path, _broken(change))])
    with pytest.raises(ProfileError) as error:
        catalog.platform("acme")
    text = str(error.value)
    assert message in text and "\n" not in text, text
    assert str(tmp_path) in text, "the message names the file"


def test_a_bad_profile_is_a_one_line_error_on_the_command_line(tmp_path: Path) -> None:
    root = _write(tmp_path, _broken(lambda p: p["contract"].pop("content_type")))
    result = subprocess.run([sys.executable, "-m", "hookproof", "list", "--schemas", str(root)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "'content_type' is a required property" in result.stderr


_READ_ACME = ("import sys; from hookproof import catalog; catalog.contract('acme'); "
              "print('jsonschema' in sys.modules)")


def test_a_profile_the_run_checked_is_not_checked_again_by_the_commands_it_starts(tmp_path: Path) -> None:
    """The sender command of a run against a folder of one's own reads the profiles the run checked without
    importing jsonschema; a profile changed since, or one the run never checked, is checked as before."""
    from hookproof import profiles
    from hookproof.conformance.sender_harness import command_env

    root = _write(tmp_path, copy.deepcopy(sixth_platform.PROFILE))
    catalog.configure([root])
    catalog.contract("acme")
    env = command_env()
    assert env[profiles.CHECKED_ENV] and env["HOOKPROOF_SCHEMAS"] == str(root)

    def child(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _READ_ACME], env=environ, capture_output=True, text=True,
                              timeout=60)

    assert child(env).stdout.split() == ["False"]
    unchecked = {k: v for k, v in env.items() if k != profiles.CHECKED_ENV}
    assert child(unchecked).stdout.split() == ["True"]
    broken = _broken(lambda p: p["contract"].pop("method"))  # the profile changed after the run checked it
    (root / "acme" / "profile.json").write_text(json.dumps(broken), encoding="utf-8")
    changed = child(env)
    assert changed.returncode == 1 and "'method' is a required property" in changed.stderr
    assert "KeyError" not in changed.stderr


def test_a_folder_without_platforms_or_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no platform in it"):
        catalog.configure([tmp_path]).platforms()
    with pytest.raises(ProfileError, match="not a folder"):
        catalog.configure([tmp_path / "missing"])


def test_a_folder_of_ones_own_replaces_a_builtin_platform(tmp_path: Path) -> None:
    profile = copy.deepcopy(sixth_platform.PROFILE)
    profile.update(platform="viasto", name="viasto, as we run it")
    profile["$id"] = "https://hookproof.dev/schemas/viasto/profile.json"
    root = tmp_path / "ours"
    sixth_platform.write(root)
    (root / "acme").rename(root / "viasto")
    (root / "viasto" / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    catalog.configure([root])
    assert catalog.platform("viasto").name == "viasto, as we run it"
    assert set(catalog.contract("viasto").events) == {"candidate.invited", "result.scored"}


def test_an_assumed_retry_policy_must_name_a_documented_one(tmp_path: Path) -> None:
    catalog.configure([_write(tmp_path, _broken(lambda p: p["contract"].update(
        retry={"documented": False, "assumed_from": "qualified", "source": {"note": "none given"}})))])
    with pytest.raises(ProfileError, match="qualified documents no retry policy of its own"):
        catalog.platform("acme")


def _later(profile: dict[str, Any]) -> None:
    profile["later_contracts"] = [{
        "name": "v2", "title": "Acme webhooks v2", "based_on": "v1", "date": "2026-01-01", "document": "acme",
        "renames": {"result.scored": "result.graded"},
        "drops": ["candidate.invited"],
        "adds": {"candidate.joined": {"schema": "events/candidate.invited.json", "examples": []}},
        "headers": {"User-Agent": "Acme-Hooks/2"},
        "retry": {"documented": True, "max_tries": 2, "backoff": "none", "source": {"document": "acme"}},
    }]


def test_a_later_contract_renames_adds_drops_and_overrides(tmp_path: Path) -> None:
    catalog.configure([_write(tmp_path, _broken(_later))])
    plat = catalog.platform("acme")
    assert plat.contract_names == ("v1", "v2")
    v2 = plat.contract("v2")
    assert set(v2.events) == {"result.graded", "candidate.joined"}
    assert v2.events["result.graded"].base_name == "result.scored" and v2.renames == {"result.scored": "result.graded"}
    assert v2.headers == {"User-Agent": "Acme-Hooks/2"} and v2.retry is not None and v2.retry.max_tries == 2
    assert v2.auth == plat.base.auth, "facts a later contract does not state are its base's"
    body = sixth_platform.EXAMPLES["result.scored"]
    headers = {"X-Acme-Event": "result.graded", "X-Acme-Signature": "sha256=..."}  # no secret: presence only
    graded = validation.validate("acme", body, headers)
    assert graded.ok and graded.contract == "v2" and graded.base_name == "result.scored"
    pinned = validation.validate("acme", body, headers, contract="v1")
    assert not pinned.ok and pinned.accepted_by == ["v2"]


def test_a_renamed_body_name_gets_a_derived_schema(tmp_path: Path) -> None:
    """Where the body carries the name, the renamed event's schema is the base one with the name replaced."""
    catalog.configure([])
    profile = json.loads((Path(str(catalog.active().folders.platforms["codewars"].node)) / "profile.json").read_text())
    profile["later_contracts"] = [{"name": "2021-04", "title": "corrected", "based_on": "document",
                                   "renames": {"user.rank_upgraded": "user.rank_earned"}}]
    root = tmp_path / "cw"
    (root / "codewars").mkdir(parents=True)
    source = Path(str(catalog.active().folders.platforms["codewars"].node))
    for path in source.rglob("*"):
        if path.is_file():
            target = root / "codewars" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (root / "codewars" / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    catalog.configure([root])
    earned = {"action": "rank_earned", "user": {"id": "1", "rank": -5}, "language": None}
    verdict = validation.validate("codewars", earned, {"X-Webhook-Event": "user"})
    assert verdict.ok and verdict.contract == "2021-04" and verdict.base_name == "user.rank_upgraded"
    assert not validation.validate("codewars", earned, {"X-Webhook-Event": "user"}, contract="document").ok
    (example,) = catalog.contract("codewars", "2021-04").events["user.rank_earned"].examples
    assert example.body["action"] == "rank_earned"


WEBHOOK_PLATFORMS = [p for p in catalog.platforms() if catalog.platform(p).kind == "webhook"]


def _fact_citations(spec: Contract) -> dict[str, Citation]:
    """Each transport fact's citation, by where the profile states it."""
    cited = {"method_source": spec.method_source, "headers_source": spec.headers_source}
    if spec.event_naming is not None:
        cited["event_name"] = spec.event_naming.source
    cited |= {f"delivery_metadata {m.pointer}": m.source for m in spec.metadata}
    cited |= {f"auth {a.scheme} {n}": a.source for n, a in enumerate(spec.auth)}
    if spec.retry is not None:
        cited["retry"] = spec.retry.source
    return cited


def _cited_documents(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "document" and isinstance(value, str):
                yield value
            else:
                yield from _cited_documents(value)
    elif isinstance(node, list):
        for value in node:
            yield from _cited_documents(value)


@pytest.mark.parametrize("platform", catalog.platforms())
def test_every_document_a_profile_lists_is_cited(platform: str) -> None:
    """A document no fact, example or contract cites is evidence the profile lost track of (Codewars listed
    codewars/codewars.com issue 1339 and cited it nowhere; it is now the source of the 2021-04 contract's
    `approved` example, the body the reporter received)."""
    profile = json.loads((Path(str(catalog.active().folders.platforms[platform].node)) / "profile.json").read_text())
    cited = set(_cited_documents({k: v for k, v in profile.items() if k != "documents"}))
    assert set(profile["documents"]) <= cited, f"listed, never cited: {sorted(set(profile['documents']) - cited)}"


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_a_later_contract_cites_its_own_text_for_the_facts_it_keeps(platform: str) -> None:
    """A later contract is read from a later (or, Codewars 2014-06, an earlier) version of the page: the facts it
    keeps from its base cite that version, whose words were checked to be there, not the base document's
    (docs/decisions.md, below the table of documents). A renamed event's examples keep their base citation:
    they are the base document's bodies with the name replaced."""
    plat = catalog.platform(platform)
    base = plat.base.document
    for spec in plat.contracts[1:]:
        if spec.document is None or spec.document == base:
            continue
        for fact, citation in _fact_citations(spec).items():
            assert citation.document is None or citation.document != base, (
                f"{spec.label} {fact} cites the base document {base.id!r}, not {spec.document.id!r}")


def test_codewars_2021_04_rests_on_the_corrected_page_and_the_capture_of_approved() -> None:
    corrected = catalog.contract("codewars", "2021-04")
    assert corrected.document is not None and corrected.document.commit is not None
    assert corrected.document.commit.startswith("57e14dc")
    assert {c.document.id for c in _fact_citations(corrected).values() if c.document} == {"2021-04"}
    sources = [ex.source for ex in corrected.events["code_challenge.approved"].examples]
    captured = [s for s in sources if s.document is not None and s.document.id == "issue-1339"]
    assert captured and "it is actually `approved`" in captured[0].quote


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_every_contracts_content_type_says_where_it_comes_from(platform: str) -> None:
    """The Content-Type a contract holds senders to is cited, or said to be inferred and why: Qualified names no
    header at all (docs/decisions.md#qualified-content-type)."""
    for spec in catalog.platform(platform).contracts:
        source = spec.headers_source
        assert "Content-Type" in source.quote + source.note, (spec.label, str(source))
        assert source.document is not None, spec.label
        if platform == "qualified":
            assert source.decision == "qualified-content-type" and "inferred" in source.note, spec.label


def _meta(event: str) -> dict[str, str]:
    sender, action = event.split(".", 1)
    return {"sender": sender, "action": action, "timestamp": "2017-10-07T10:41:31.846531+00:00",
            "delivery_id": "441cd01e-d82d-485c-95d8-c8c498417649"}


@pytest.mark.parametrize("contract", catalog.platform("doselect").contract_names)
def test_a_doselect_event_without_an_example_of_its_own_requires_no_object_field(contract: str) -> None:
    """docs/decisions.md#doselect-required-fields: a required field must be traceable to an example of that event.
    `test-session.begin`, `solution.create` (`submission.create`) and the 2019-09 additions `submission.evaluated`,
    `test-session.report`, `problem.edit` have none: no field of their object is required, and the fields their
    sender's example shows keep its types. (The 2019-09 additions once took the `end`/`submit`/`create` shapes
    whole, required fields included.)"""
    spec = catalog.contract("doselect", contract)
    unshown = [name for name, event in spec.events.items() if not event.examples]
    assert len(unshown) >= (5 if contract == "2019-09" else 2)
    for name in unshown:
        schema_id = spec.events[name].schema_id
        body = {"meta": _meta(name), "object": {}}
        assert validation.check_instance(schema_id, body) == [], name
        sender = name.split(".")[0]
        shown = next(ex.body["object"] for other, event in spec.events.items() if other.split(".")[0] == sender
                     for ex in event.examples)
        assert validation.check_instance(schema_id, {"meta": _meta(name), "object": shown}) == [], name
        for field in shown:
            typed = {"meta": _meta(name), "object": {field: 5}}
            assert [p.where for p in validation.check_instance(schema_id, typed)] == [f"/object/{field}"], (name, field)


def test_a_derived_events_schema_says_whose_source_it_cites() -> None:
    """A failure cites a schema's $comment: for an event a later contract derives from another ("like"), it
    must not read as the model event's own source alone."""
    from hookproof import catalog

    spec = catalog.contract("doselect", "2019-09")
    schema = catalog.active().registry().get_or_retrieve(spec.event("test-session.report").schema_id).value.contents
    assert schema["$comment"].startswith("test-session.report: the schema of test-session.begin, derived by this "
                                         "contract. Source: DoSelect API documentation"), schema["$comment"]
