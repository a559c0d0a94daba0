"""The schema set itself: valid 2020-12, resolvable offline, provenance on every file, examples valid."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hookproof import catalog, validation
from hookproof.catalog import FORMAT_CHECKER
from hookproof.contract import Example
from hookproof.profiles import check_profile
from hookproof.schema_store import BASE_URI, builtin_root

SCHEMAS = Path(str(builtin_root()))
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
    Draft202012Validator.check_schema(doc)
    assert doc["$id"] == BASE_URI + path.relative_to(SCHEMAS).as_posix()
    assert doc["title"].strip()
    if path.name not in ("profile.json", "profile.schema.json"):
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "$comment" in doc and "<https://" in doc["$comment"], "every schema names the document it comes from"


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.name not in ("profile.json", "profile.schema.json")],
    ids=lambda p: str(p.relative_to(SCHEMAS)),
)
def test_every_object_states_additional_properties(path: Path) -> None:
    for node in subschemas(DOCUMENTS[path]):
        if node.get("type") == "object" or "properties" in node:
            assert "additionalProperties" in node, (
                f"{path.name}: {node.get('title') or sorted(node)} leaves it implicit"
            )


def test_every_ref_resolves_offline() -> None:
    registry = catalog.active().registry()
    count = 0
    for path, doc in DOCUMENTS.items():
        if "$id" not in doc:
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
    profile = json.loads((SCHEMAS / platform / "profile.json").read_text(encoding="utf-8"))
    check_profile(profile, f"{platform}/profile.json")  # raises ProfileError naming the field
    validator = Draft202012Validator(catalog.active().schema(BASE_URI + "profile.schema.json"),
                                     format_checker=FORMAT_CHECKER)
    assert [e.message for e in validator.iter_errors(profile)] == []


EXAMPLES = [ex for p in catalog.platforms() for e in catalog.contract(p).events.values() for ex in e.examples]
ALL_EXAMPLES = [ex for p in catalog.platforms() for c in catalog.platform(p).contracts for e in c.events.values()
                for ex in e.examples]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda ex: ex.file)
def test_every_documented_example_validates(example: Example) -> None:
    spec = catalog.contract(example.platform)
    headers = spec.delivery_headers(example.event) if spec.kind == "webhook" else {}
    verdict = validation.validate(example.platform, example.body, headers, event=example.event, contract=spec.name)
    assert verdict.ok, [str(p) for p in verdict.problems]
    if spec.kind == "webhook":
        assert spec.event_of(example.body, headers) == example.event


def test_every_example_file_is_listed_in_a_profile() -> None:
    listed = {ex.file for ex in ALL_EXAMPLES} | {ex.verbatim for ex in ALL_EXAMPLES if ex.verbatim}
    on_disk = {p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.rglob("*") if "examples" in p.parts and p.is_file()}
    assert on_disk == listed


def test_doselect_python_literal_example_converts_to_its_normalized_copy() -> None:
    """DoSelect § Solution: the example uses Python u"..." literals, so it is not JSON as written; read with
    ``ast.literal_eval`` it is exactly the normalized copy (docs/decisions.md#doselect-python-literals)."""
    (example,) = catalog.event("doselect", "solution.submit").examples
    assert example.verbatim is not None
    verbatim = (SCHEMAS / example.verbatim).read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(verbatim)
    assert 'u"solution"' in verbatim
    assert ast.literal_eval(verbatim) == example.body


def test_codewars_placeholder_sample_is_kept_verbatim_and_substituted() -> None:
    """Codewars § Code Challenges (Kata): the sample's action is "<action - i.e. 'created'>"."""
    sample = json.loads((SCHEMAS / "codewars/examples/verbatim/code_challenge.kata-sample.txt").read_text("utf-8"))
    assert sample["action"] == "<action - i.e. 'created'>"
    assert not validation.validate("codewars", sample, {"X-Webhook-Event": "code_challenge"}).ok
    for name in ("approve_successful", "voted", "solution_finalized"):
        (example,) = catalog.event("codewars", f"code_challenge.{name}").examples
        assert example.body["code_challenge"] == sample["code_challenge"]
        assert example.body["action"] == name


def test_xobin_body_parameters_block_is_a_type_sketch_not_a_request() -> None:
    """Xobin § Body Parameters shows type names ("boolean", "string") where values go."""
    sketch = json.loads((SCHEMAS / "xobin/examples/verbatim/request.txt").read_text(encoding="utf-8"))
    problems = validation.check_instance(catalog.event("xobin", "request").schema_id, sketch)
    assert {p.where for p in problems} >= {"/webhooks/start/status", "/webhooks/start/url"}


def test_strict_variant_reports_undocumented_properties_only_when_asked() -> None:
    body = {"event": "challenge.created", "data": {"id": 1, "difficulty": "hard"}}
    assert validation.validate("qualified", body).ok
    strict = validation.validate("qualified", body, strict=True)
    assert [p.where for p in strict.problems] == ["/data"]
    assert "difficulty" in strict.problems[0].message


def test_every_format_the_schemas_use_is_actually_checked() -> None:
    """jsonschema passes a format silently when its checker's package is missing (docs/decisions.md#format-checkers)."""
    used = {
        node["format"] for doc in DOCUMENTS.values() for node in subschemas(doc) if isinstance(node.get("format"), str)
    }
    assert used == {"date-time", "uri", "uuid", "email"}
    assert used <= set(FORMAT_CHECKER.checkers)
    bad = {"date-time": "2017-10-07 10:41", "uri": "no scheme", "uuid": "441cd01e", "email": "nobody"}
    for fmt in used:
        assert not FORMAT_CHECKER.conforms(bad[fmt], fmt), fmt


_GITHUB = re.compile(r"https://github\.com/[^\s<>()\"']+")
_PINNED = re.compile(r"https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/\S+")
_THREAD = re.compile(r"https://github\.com/[^/]+/[^/]+/(issues|pull)/[0-9]+")


def strings(node: Any, key: str = ""):
    if isinstance(node, dict):
        for k, value in node.items():
            yield from strings(value, k)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, key)
    elif isinstance(node, str):
        yield key, node


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_every_github_url_is_pinned_to_a_commit(path: Path) -> None:
    """A file of a vendor's repository is cited at the full commit whose text was read
    (https://github.com/OWNER/REPO/blob/COMMIT/PATH): the file has changed since, and a branch or a short commit
    can come to name other text. Besides, a profile's document names its repository, and an issue thread is cited
    as the thread (docs/decisions.md#doselect-signature, #codewars-corrected-names)."""
    for key, text in strings(DOCUMENTS[path]):
        for url in _GITHUB.findall(text):
            if key == "repository":
                assert re.fullmatch(r"https://github\.com/[^/]+/[^/]+", url), url
            else:
                assert _PINNED.fullmatch(url) or _THREAD.fullmatch(url), f"{path.name}: {url} is not commit-pinned"


def _versioned_pages(platform: str) -> dict[str, set[tuple[str, str]]]:
    """Each public page a platform's documents are read from, with the (repository, path) that versions it."""
    profile = json.loads((SCHEMAS / platform / "profile.json").read_text(encoding="utf-8"))
    pages: dict[str, set[tuple[str, str]]] = {}
    for doc in profile["documents"].values():
        if "commit" in doc:
            assert "repository" in doc and "path" in doc and re.fullmatch("[0-9a-f]{40}", doc["commit"]), doc
            pages.setdefault(doc["url"], set()).add((doc["repository"], doc["path"]))
    return pages


@pytest.mark.parametrize("path", [p for p in FILES if p.parent != SCHEMAS and p.name != "profile.json"],
                         ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_a_comment_that_cites_a_versioned_page_names_the_commit_it_quotes(path: Path) -> None:
    """A ``$comment`` (what validation prints as a problem's source) that names a page whose text is versioned gives
    the commit-pinned text beside it: "<page> (text as of <https://github.com/.../blob/COMMIT/PATH>)". The pages
    have changed since (Codewars' no longer says it is "inspired by GitHub's webhooks"; Qualified's model lists
    are camelCase): the page alone may not hold the words quoted (docs/decisions.md, the table of documents)."""
    pages = _versioned_pages(path.relative_to(SCHEMAS).parts[0])
    cited = 0
    for node in subschemas(DOCUMENTS[path]):
        comment = node.get("$comment")
        if not isinstance(comment, str):
            continue
        for page in re.findall(r"<(https://[^>]+)>", comment):
            if _PINNED.fullmatch(page):  # the pinned text itself (Codewars' 2014 page, which the live page lost)
                cited += 1
            elif page in pages:
                versions = [re.escape(f"<{page}> (text as of <{repo}/blob/") + "[0-9a-f]{40}/" + re.escape(f"{file}>)")
                            for repo, file in pages[page]]
                assert any(re.search(v, comment) for v in versions), f"{path.name}: unpinned: {comment[:150]}"
                cited += 1
    if pages and path.parent.name == "events":
        assert cited, f"{path.name} cites no versioned text"
