"""The exports other tools read, checked by those tools: OpenAPI 3.1 documents by openapi-spec-validator, AsyncAPI
3.0 ones by the official parser (@asyncapi/parser), and the bundled schemas turned into models by
datamodel-codegen (pydantic) and json-schema-to-typescript with no flags and no warnings about the schemas; the
pydantic models accept every documented example.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi

from hookproof import catalog, cli, validation
from hookproof.bundle import bundle
from hookproof.export import export_described
from tests import node_tools


def _load(folder: Path, suffix: str) -> dict[str, Any]:
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.rglob(f"*.{suffix}.json"))}


def _contracts(kind: str | None = None) -> list[Any]:
    return [s for p in catalog.platforms() for s in catalog.platform(p).contracts if kind is None or s.kind == kind]


@pytest.mark.parametrize("strict", [False, True])
def test_openapi_documents_are_valid_and_complete(tmp_path: Path, strict: bool) -> None:
    export_described(tmp_path, "openapi", strict=strict)
    docs = _load(tmp_path, "openapi")
    assert len(docs) == len(_contracts())
    for spec in _contracts():
        doc = docs[f"{spec.platform}/{spec.name}.openapi.json"]
        validate_openapi(doc)
        if spec.kind != "webhook":
            assert doc["paths"]["/webhooks"]["post"]["security"] == [{"apiKey": []}]
            continue
        assert set(doc["webhooks"]) == set(spec.events)
        for name, event in spec.events.items():
            operation = doc["webhooks"][name][spec.method.lower()]
            headers = {p["name"]: p["schema"]["const"] for p in operation["parameters"]}
            assert headers == {k: v for k, v in spec.delivery_headers(name).items() if k != "Content-Type"}
            content = operation["requestBody"]["content"][spec.content_type]
            shown = [ex.body for ex in event.examples
                     if not strict or validation.conforms(event.schema_id, ex.body, True)]
            assert [e["value"] for e in content.get("examples", {}).values()] == shown
            assert ("left out" in operation["description"]) == (len(shown) < len(event.examples))
            assert content["schema"]["$ref"].removeprefix("#/components/schemas/") in doc["components"]["schemas"]
        if spec.auth:
            schemes = doc["components"]["securitySchemes"]
            assert {s["name"] for s in schemes.values()} == {h for a in spec.auth for h in a.headers}


@pytest.mark.parametrize("strict", [False, True])
def test_every_openapi_example_validates_against_its_schema(tmp_path: Path, strict: bool) -> None:
    """The strict documents showed 6 examples of later contracts (DoSelect 2019-09, Qualified 2024-01) that their
    own strict schemas reject: properties the later documents show and the base document's schemas do not list
    (docs/decisions.md#strict-variant); they are left out of the strict documents."""
    from jsonschema import Draft202012Validator

    from hookproof.formats import FORMAT_CHECKER

    export_described(tmp_path, "openapi", strict=strict)
    checked = 0
    for name, doc in _load(tmp_path, "openapi").items():
        operations = [op for item in [*doc.get("webhooks", {}).values(), *doc.get("paths", {}).values()]
                      for op in item.values()]
        for operation in operations:
            for content in operation["requestBody"]["content"].values():
                schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                          "components": doc["components"], **content["schema"]}
                validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
                for example, shown in content.get("examples", {}).items():
                    errors = [e.message[:200] for e in validator.iter_errors(shown["value"])]
                    assert not errors, (name, operation["operationId"], example, errors[:3])
                    checked += 1
    assert checked >= 30


def test_asyncapi_documents_pass_the_official_parser(tmp_path: Path) -> None:
    export_described(tmp_path, "asyncapi")
    texts = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json")}
    assert len(texts) == len(_contracts("webhook"))
    result = node_tools.run_script("asyncapi_validate.js", {"documents": texts})
    for name, diagnostics in result["diagnostics"].items():
        # severity 0 is an error, 1 a warning; 2 and 3 are hints (such as "3.1.0 exists": 3.0 is what we target)
        serious = [d for d in diagnostics if d["severity"] in (0, 1)]
        assert not serious, (name, serious[:5])
        doc = json.loads(texts[name])
        spec = catalog.contract(*name.removesuffix(".asyncapi.json").split("/"))
        assert {m["name"] for m in doc["components"]["messages"].values()} == set(spec.events)
        assert all(op["action"] == "receive" for op in doc["operations"].values())


def test_bundle_has_no_remote_refs_and_validates_like_the_set(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    from hookproof.formats import FORMAT_CHECKER

    export_described(tmp_path, "jsonschema", bundled=True)
    docs = _load(tmp_path, "schema")
    for spec in _contracts():
        doc = docs[f"{spec.platform}/{spec.name}.schema.json"]
        refs = [v for v in _walk(doc) if not v.startswith("#/$defs/")]
        assert not refs, refs[:3]
        for name, event in spec.events.items():
            one = {**doc, "anyOf": None, "$ref": f"#/$defs/{bundle(spec).events[name]}"}
            del one["anyOf"]
            validator = Draft202012Validator(one, format_checker=FORMAT_CHECKER)
            for ex in event.examples:
                assert validator.is_valid(ex.body), (spec.label, name, ex.file)
            assert not validator.is_valid({"unexpected": "shape"} if spec.kind == "webhook" else [])


def _walk(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _walk(v)]
    if isinstance(node, list):
        return [r for v in node for r in _walk(v)]
    return []


def test_pydantic_models_from_the_bundle_accept_every_example(tmp_path: Path) -> None:
    from datamodel_code_generator import DataModelType, InputFileType, generate

    export_described(tmp_path / "bundle", "jsonschema", bundled=True)
    for spec in _contracts():
        source = tmp_path / "bundle" / spec.platform / f"{spec.name}.schema.json"
        target = tmp_path / f"models_{spec.platform}_{spec.name.replace('-', '_')}.py"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            generate(source, input_file_type=InputFileType.JsonSchema, output=target,
                     output_model_type=DataModelType.PydanticV2BaseModel)
        # The generator's notice that its own default formatter will change is about the tool, not the input
        about_schema = [str(w.message) for w in caught if "formatter" not in str(w.message).lower()]
        assert not about_schema, (spec.label, about_schema[:3])
        module_spec = importlib.util.spec_from_file_location(target.stem, target)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[target.stem] = module
        try:
            module_spec.loader.exec_module(module)
            for name, def_name in bundle(spec).events.items():
                model = getattr(module, def_name)
                for ex in spec.event(name).examples:
                    model.model_validate(ex.body)
        finally:
            del sys.modules[target.stem]


def test_typescript_from_the_bundle_without_warnings(tmp_path: Path) -> None:
    export_described(tmp_path, "jsonschema", bundled=True)
    docs = _load(tmp_path, "schema")
    result = node_tools.run_script("ts_generate.js", {"schemas": docs})
    assert not result["warnings"], result["warnings"][:5]
    for spec in _contracts():
        text = result["typescript"][f"{spec.platform}/{spec.name}.schema.json"]
        root = text.split(";", 1)[0]  # the bundle's anyOf: a union with one member per event, each declared
        members = [m.strip() for m in root.split("=", 1)[1].split("|") if m.strip()]
        assert len(members) == len(spec.events), (spec.label, members)
        assert all(f"export interface {m} " in text or f"export type {m} " in text for m in members)


def test_export_bad_combinations_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "--format", "asyncapi", "--strict", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AsyncAPI" in err
    assert cli.main(["export", "--format", "openapi", str(tmp_path / "b")]) == 0
    assert cli.main(["export", "--format", "openapi", str(tmp_path / "b")]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["openapi", "asyncapi"])
def test_bundle_with_another_format_is_refused_not_ignored(tmp_path: Path, fmt: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """It wrote the format's documents and said nothing of --bundle, which applies to the JSON Schema set."""
    assert cli.main(["export", "--bundle", "--format", fmt, str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"hookproof: --bundle applies to --format jsonschema, not to {fmt}: its "
                                       "documents are one file per contract already\n")
    assert not (tmp_path / "out").exists()


def test_a_platform_of_your_own_is_exported_too(tmp_path: Path) -> None:
    """The exports read the active catalog: a sixth platform (HMAC-signed, event name in a header) comes out as
    valid OpenAPI with its signature as a security scheme, and as a bundle."""
    from tests import sixth_platform

    folder = sixth_platform.write(tmp_path / "company-schemas")
    try:
        assert cli.main(["export", "--schemas", str(folder), "--format", "openapi", str(tmp_path / "openapi")]) == 0
        assert cli.main(["export", "--schemas", str(folder), "--bundle", str(tmp_path / "bundle")]) == 0
        spec = catalog.contract("acme")
        doc = json.loads((tmp_path / "openapi" / "acme" / f"{spec.name}.openapi.json").read_text(encoding="utf-8"))
        validate_openapi(doc)
        assert set(doc["webhooks"]) == set(spec.events)
        assert {s["name"] for s in doc["components"]["securitySchemes"].values()} == {
            h for a in spec.auth for h in a.headers}
        assert (tmp_path / "bundle" / "acme" / f"{spec.name}.schema.json").exists()
    finally:
        catalog.configure([])


def _readme_export_commands() -> list[list[str]]:
    """Every ``hookproof export`` command README shows, each ``a|b`` alternative and ``[--opt]`` spelt out."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    commands: list[list[str]] = []
    for line in readme.splitlines():
        if not line.startswith("hookproof export "):
            continue
        forms: list[list[str]] = [[]]
        for word in line.split("#", 1)[0].split()[2:]:
            if word.startswith("[") and word.endswith("]"):
                forms = [f + extra for f in forms for extra in ([], [word[1:-1]])]
            else:
                forms = [[*f, alt] for f in forms for alt in word.split("|")]
        commands += forms
    return commands


def test_every_export_readme_shows_is_accepted(tmp_path: Path) -> None:
    """README offered ``--format openapi|asyncapi [--strict]``, and AsyncAPI with --strict is refused."""
    commands = _readme_export_commands()
    assert len(commands) >= 6, commands
    for n, argv in enumerate(commands):
        assert cli.main(["export", *argv[:-1], str(tmp_path / str(n))]) == 0, argv


GLOBEX = "https://schemas.globex.example/hooks/"


def _own_domain_platform(root: Path) -> Path:
    """The sixth platform with every ``$id`` on a domain of its own, ``id`` in a shared file its events ``$ref``
    (one relatively, one absolutely), and a later contract that renames an event (a derived schema)."""
    from tests import sixth_platform

    folder = sixth_platform.write(root)
    acme = folder / "acme"
    common = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{GLOBEX}acme/common.json",
              "title": "Acme shared definitions", "$defs": {"id": {"type": "string", "format": "uuid"}}}
    (acme / "common.json").write_text(json.dumps(common), encoding="utf-8")
    for n, name in enumerate(sixth_platform.SCHEMAS):
        path = acme / "events" / f"{name}.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema["$id"] = f"{GLOBEX}acme/events/{name}.json"
        ref = "../common.json#/$defs/id" if n == 0 else f"{GLOBEX}acme/common.json#/$defs/id"
        schema["properties"]["id"] = {"$ref": ref}
        path.write_text(json.dumps(schema), encoding="utf-8")
    profile = json.loads((acme / "profile.json").read_text(encoding="utf-8"))
    profile["$id"] = f"{GLOBEX}acme/profile.json"
    profile["later_contracts"] = [{"name": "v2", "title": "Acme webhooks v2", "based_on": "v1",
                                   "renames": {"result.scored": "result.graded"}}]
    (acme / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    return folder


def _ids(folder: Path) -> dict[str, Any]:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))]
    return {d["$id"]: d for d in docs if isinstance(d, dict) and "$id" in d}


def test_default_and_strict_sets_of_an_own_domain_platform_share_one_registry(tmp_path: Path) -> None:
    """The strict export kept a user's own-domain ``$id`` s, so each strict file claimed its default twin's ``$id``
    with other content; now every strict ``$id`` is its own and the two sets load into one registry, each
    validating the examples as the catalog does, default and strict."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from hookproof.formats import FORMAT_CHECKER

    folder = _own_domain_platform(tmp_path / "globex-schemas")
    try:
        assert cli.main(["export", "--schemas", str(folder), str(tmp_path / "default")]) == 0
        assert cli.main(["export", "--schemas", str(folder), "--strict", str(tmp_path / "strict")]) == 0
        default, strict = _ids(tmp_path / "default"), _ids(tmp_path / "strict")
        assert f"{GLOBEX}acme/events/result.scored.json" in default
        assert not default.keys() & strict.keys(), sorted(default.keys() & strict.keys())[:5]
        registry = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
            for uri, doc in {**default, **strict}.items()).crawl()
        indexes = {variant: json.loads((tmp_path / variant / "catalog.json").read_text(encoding="utf-8"))
                   for variant in ("default", "strict")}
        cat = catalog.active()
        checked = 0
        for platform_id in cat.ids:
            for spec in cat.platform(platform_id).contracts:
                for name, event in spec.events.items():
                    extra = ({"unlisted": 1} if isinstance(event.examples[0].body, dict) else None) \
                        if event.examples else None
                    for variant, is_strict in (("default", False), ("strict", True)):
                        uri = indexes[variant]["platforms"][platform_id]["contracts"][spec.name]["events"][name]
                        validator = Draft202012Validator(registry.contents(uri), registry=registry,
                                                         format_checker=FORMAT_CHECKER)
                        for ex in event.examples:
                            bodies = [ex.body] + ([{**ex.body, **extra}] if extra else [])
                            for body in bodies:
                                assert validator.is_valid(body) == cat.is_valid(event.schema_id, body, is_strict), (
                                    variant, spec.label, name, ex.file)
                                checked += 1
        assert checked > 100
        scored = indexes["strict"]["platforms"]["acme"]["contracts"]["v2"]["events"]["result.graded"]
        assert scored.startswith("https://hookproof.dev/schemas/strict/acme/contracts/v2/")
    finally:
        catalog.configure([])


@pytest.mark.parametrize("strict", [False, True])
def test_catalog_lists_for_each_contract_event_the_examples_that_validate_against_it(tmp_path: Path,
                                                                                   strict: bool) -> None:
    """A renamed event's examples were rewritten in memory only (Codewars' ``user.rank_upgraded`` example says
    ``rank_earned`` for 2021-04; DoSelect's submission example says ``sender: submission``): the export had no file
    that validates against those contracts' schemas, and catalog.json named no example at all."""
    export_described(tmp_path, "jsonschema", strict=strict)
    listed = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))["platforms"]
    cat = catalog.active()
    count = 0
    for platform_id in cat.ids:
        for spec in cat.platform(platform_id).contracts:
            entry = listed[platform_id]["contracts"][spec.name]
            for name, event in spec.events.items():
                paths = entry["examples"].get(name, [])
                bodies = [json.loads((tmp_path / path).read_text(encoding="utf-8")) for path in paths]
                for path, body in zip(paths, bodies, strict=True):
                    assert validation.conforms(event.schema_id, body, strict), (spec.label, name, path)
                    count += 1
                wanted = [ex.body for ex in event.examples if not strict or validation.conforms(event.schema_id,
                                                                                               ex.body, True)]
                assert bodies == wanted, (spec.label, name)
    assert count >= 30
    codewars = listed["codewars"]["contracts"]["2021-04"]["examples"]["user.rank_earned"]
    assert codewars == ["codewars/contracts/2021-04/examples/user.rank_upgraded.json"]
    assert json.loads((tmp_path / codewars[0]).read_text(encoding="utf-8"))["action"] == "rank_earned"
    doselect = listed["doselect"]["contracts"]["2019-09"]["examples"]["submission.submit"][0]
    assert json.loads((tmp_path / doselect).read_text(encoding="utf-8"))["meta"]["sender"] == "submission"


def test_strict_export_copies_a_file_that_is_not_json_as_the_default_one_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``.json`` file no profile names (a draft example) is copied as it is by the default export; the strict
    one stopped on it with a JSONDecodeError traceback."""
    from tests import sixth_platform

    folder = sixth_platform.write(tmp_path / "company-schemas")
    (folder / "acme" / "examples" / "draft.json").write_text("{oops", encoding="utf-8")
    try:
        for variant in ([], ["--strict"]):
            out = tmp_path / f"out{len(variant)}"
            assert cli.main(["export", "--schemas", str(folder), *variant, str(out)]) == 0, capsys.readouterr().err
            assert (out / "acme" / "examples" / "draft.json").read_text(encoding="utf-8") == "{oops"
    finally:
        catalog.configure([])
