"""The schema set itself: valid 2020-12, resolvable offline, provenance on every file, examples valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance import catalog, schema_store

SCHEMAS = Path(schema_store.schema_root())  # type: ignore[arg-type]
FILES = sorted(p for p in SCHEMAS.rglob("*.json") if "examples" not in p.parts)
DOCUMENTS = {p: json.loads(p.read_text(encoding="utf-8")) for p in FILES}


def subschemas(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from subschemas(value)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_is_valid_2020_12_with_id_title_and_provenance(path: Path) -> None:
    doc = DOCUMENTS[path]
    if path.name == "catalog.json":
        assert set(doc["platforms"]) == set(catalog.platforms())
        return
    Draft202012Validator.check_schema(doc)
    assert doc["$id"] == schema_store.BASE_URI + path.relative_to(SCHEMAS).as_posix()
    assert doc["title"].strip()
    if path.name not in ("profile.json", "profile.schema.json"):
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "$comment" in doc and ".txt" in doc["$comment"], "every schema names the seed it comes from"


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.name not in ("catalog.json", "profile.json", "profile.schema.json")],
    ids=lambda p: str(p.relative_to(SCHEMAS)),
)
def test_every_object_states_additional_properties(path: Path) -> None:
    for node in subschemas(DOCUMENTS[path]):
        if node.get("type") == "object" or "properties" in node:
            assert "additionalProperties" in node, (
                f"{path.name}: {node.get('title') or sorted(node)} leaves it implicit"
            )


def test_every_ref_resolves_offline() -> None:
    registry = schema_store.registry()
    count = 0
    for path, doc in DOCUMENTS.items():
        if "$id" not in doc or path.name == "catalog.json":
            continue
        resolver = registry.resolver(base_uri=doc["$id"])
        for node in subschemas(doc):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#/$defs/examples") and path.name != "profile.schema.json":
                resolved = resolver.lookup(ref).contents
                assert isinstance(resolved, dict), ref
                count += 1
    assert count > 50


@pytest.mark.parametrize("platform", catalog.platforms())
def test_profile_validates_against_the_profile_schema(platform: str) -> None:
    profile_schema = schema_store.resolve(schema_store.BASE_URI + "profile.schema.json")
    validator = Draft202012Validator(profile_schema, format_checker=catalog.FORMAT_CHECKER)
    errors = [e.message for e in validator.iter_errors(catalog.profile(platform).raw)]
    assert errors == []


EXAMPLES = [ex for p in catalog.platforms() for ex in catalog.documented_examples(p)]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda ex: ex.file)
def test_every_documented_example_validates(example: catalog.Example) -> None:
    prof = catalog.profile(example.platform)
    headers = prof.delivery_headers(example.event) if prof.kind == "webhook" else {}
    verdict = catalog.validate(example.platform, example.body, headers, example.event)
    assert verdict.ok, [str(p) for p in verdict.problems]
    if prof.kind == "webhook":
        assert prof.event_of(example.body, headers) == example.event


def test_every_example_file_is_listed_in_a_profile() -> None:
    listed = {ex.file for ex in EXAMPLES} | {ex.verbatim for ex in EXAMPLES if ex.verbatim}
    on_disk = {p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.rglob("*") if "examples" in p.parts and p.is_file()}
    assert on_disk == listed


def test_doselect_python_literal_example_converts_to_its_normalized_copy() -> None:
    """000_... § Solution: the example uses Python u"..." literals, so it is not JSON as written."""
    (example,) = catalog.event("doselect", "solution.submit").examples
    verbatim = schema_store.read_text(example.verbatim)
    with pytest.raises(json.JSONDecodeError):
        json.loads(verbatim)
    assert 'u"solution"' in verbatim
    assert catalog.python_literal_to_json(verbatim) == example.body
    assert catalog.python_literal_to_json('{"a": true, "b": null}') == {"a": True, "b": None}


def test_codewars_placeholder_sample_is_kept_verbatim_and_substituted() -> None:
    """004_... § Code Challenges (Kata): the sample's action is "<action - i.e. 'created'>"."""
    sample = json.loads(schema_store.read_text("codewars/examples/verbatim/code_challenge.kata-sample.txt"))
    assert sample["action"] == "<action - i.e. 'created'>"
    assert not catalog.validate("codewars", sample, {"X-Webhook-Event": "code_challenge"}).ok
    for name in ("approve_successful", "voted", "solution_finalized"):
        (example,) = catalog.event("codewars", f"code_challenge.{name}").examples
        assert example.body["code_challenge"] == sample["code_challenge"]
        assert example.body["action"] == name


def test_xobin_body_parameters_block_is_a_type_sketch_not_a_request() -> None:
    """002_... § Body Parameters shows type names ("boolean", "string") where values go."""
    sketch = json.loads(schema_store.read_text("xobin/examples/verbatim/request.txt"))
    problems = catalog.check_instance(catalog.event("xobin", "request").schema_id, sketch)
    assert {p.where for p in problems} >= {"/webhooks/start/status", "/webhooks/start/url"}


def test_strict_variant_reports_undocumented_properties_only_when_asked() -> None:
    body = {"event": "challenge.created", "data": {"id": 1, "difficulty": "hard"}}
    assert catalog.validate("qualified", body).ok
    strict = catalog.validate("qualified", body, strict=True)
    assert [p.where for p in strict.problems] == ["/data"]
    assert "difficulty" in strict.problems[0].message


def test_every_format_the_schemas_use_is_actually_checked() -> None:
    """jsonschema passes a format silently when its checker's package is missing (NOTES.md)."""
    used = {
        node["format"] for doc in DOCUMENTS.values() for node in subschemas(doc) if isinstance(node.get("format"), str)
    }
    assert used == {"date-time", "uri", "uuid", "email"}
    assert used <= set(catalog.FORMAT_CHECKER.checkers)
    bad = {"date-time": "2017-10-07 10:41", "uri": "no scheme", "uuid": "441cd01e", "email": "nobody"}
    for fmt in used:
        assert not catalog.FORMAT_CHECKER.conforms(bad[fmt], fmt), fmt
