"""The exported schemas read alike by the three validators users vendor them into: Python jsonschema with
hookproof's format checking (:mod:`hookproof.formats`), jsonschema-rs, and ajv (Ajv2020 + ajv-formats, strict
mode, installed from tests/node/package-lock.json). Same verdicts, default and strict variant, on every
documented example and real capture, generated valid and one-rule-broken deliveries of every event, and a table
of format edge cases; where validators legitimately differ the difference is the one recorded in
docs/decisions.md#format-semantics (tests/format_cases.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog, validation
from hookproof.conformance import broken_bodies, strategies
from hookproof.conformance.run_settings import runner
from hookproof.export import export
from hookproof.formats import FORMAT_CHECKER
from hookproof.schema_store import BASE_URI, STRICT_BASE_URI, is_schema
from tests import format_cases, node_tools
from tests.test_vendor_bodies import BODIES, DELIVERIES, _headers

GENERATED_PER_PLATFORM = 300
BROKEN_PER_EVENT = 4
EDGE_BASE = "https://hookproof.dev/tests/format/"
Case = tuple[str, Any]  # (schema $id, instance)


def _schemas(folder: Path) -> list[dict[str, Any]]:
    """Every schema of an export (profile.schema.json included: ajv compiles each one in strict mode)."""
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))]
    found = [d for d in docs if is_schema(d) and "$id" in d]
    assert any(d["$id"].endswith("/profile.schema.json") for d in found)
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The schema sets as `hookproof export` writes them, default and strict, plus one schema per format."""
    default, strict = tmp_path_factory.mktemp("default"), tmp_path_factory.mktemp("strict")
    export(default)
    export(strict, strict=True)
    edge = [{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{EDGE_BASE}{name}.json",
             "type": "string", "format": name} for name in ("email", "date-time", "uri", "uuid")]
    return _schemas(default) + _schemas(strict) + edge


def _both(schema_id: str, body: Any) -> Iterator[Case]:
    yield schema_id, body
    yield STRICT_BASE_URI + schema_id.removeprefix(BASE_URI), body


def _documented() -> list[Case]:
    cases: list[Case] = []
    for platform in catalog.platforms():
        for spec in catalog.platform(platform).contracts:
            for event in spec.events.values():
                for ex in event.examples:
                    cases += _both(event.schema_id, ex.body)
    for file in DELIVERIES:
        body = json.loads((BODIES / file).read_text(encoding="utf-8"))
        platform = file.split("/")[0]
        verdict = validation.validate(platform, body, _headers(file, body))
        assert verdict.ok and verdict.event and verdict.contract, (file, verdict.problems)
        cases += _both(catalog.contract(platform, verdict.contract).event(verdict.event).schema_id, body)
    return cases


def _drawn(strategy: Any, count: int) -> list[Any]:
    out: list[Any] = []

    @runner(count)
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def _generated() -> tuple[list[Case], list[Case]]:
    valid: list[Case] = []
    broken: list[Case] = []
    for platform in catalog.platforms():
        ids = sorted({e.schema_id for spec in catalog.platform(platform).contracts for e in spec.events.values()})
        each = max(4, GENERATED_PER_PLATFORM // len(ids))
        for schema_id in ids:
            for number, body in enumerate(_drawn(strategies.body_strategy(schema_id, extras=True), each)):
                valid += _both(schema_id, body) if number % 2 else [(schema_id, body)]
            if platform in catalog.webhook_platforms():
                broken += [(schema_id, body) for body, _ in _drawn(broken_bodies.invalid_bodies(schema_id),
                                                                   BROKEN_PER_EVENT)]
    return valid, broken


def _edges() -> list[Case]:
    return [(f"{EDGE_BASE}{fmt}.json", value) for fmt, value, _ in format_cases.AGREED] + \
        [(f"{EDGE_BASE}{fmt}.json", value) for fmt, value, _ in format_cases.RECORDED]


def _python(schemas: list[dict[str, Any]], cases: list[Case]) -> list[bool]:
    registry: Registry = Registry().with_resources(
        (d["$id"], Resource.from_contents(d, default_specification=DRAFT202012)) for d in schemas)
    validators: dict[str, Draft202012Validator] = {}
    out = []
    for schema_id, instance in cases:
        if schema_id not in validators:
            validators[schema_id] = Draft202012Validator(registry.contents(schema_id), registry=registry,
                                                         format_checker=FORMAT_CHECKER)
        out.append(validators[schema_id].is_valid(instance))
    return out


def _rust(schemas: list[dict[str, Any]], cases: list[Case]) -> list[bool]:
    registry = jsonschema_rs.Registry([(d["$id"], d) for d in schemas])
    by_id = {d["$id"]: d for d in schemas}
    validators: dict[str, Any] = {}
    out = []
    for schema_id, instance in cases:
        if schema_id not in validators:
            validators[schema_id] = jsonschema_rs.validator_for(by_id[schema_id], registry=registry,
                                                                validate_formats=True)
        out.append(validators[schema_id].is_valid(instance))
    return out


def test_three_validators_agree(exported: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    documented = _documented()
    valid, broken = _generated()
    edges = _edges()
    groups = {"examples": documented, "generated": valid, "broken": broken, "edge cases": edges}
    cases = [case for group in groups.values() for case in group]
    # JSON as the wire carries it: every validator sees the same values (a tuple would be an array, -0.0 stays)
    cases = json.loads(json.dumps(cases))
    ajv = node_tools.run_script("ajv_verdicts.js", {"schemas": exported, "cases": cases})
    verdicts = {"python-jsonschema": _python(exported, cases), "jsonschema-rs": _rust(exported, cases),
                "ajv": ajv["valid"]}
    recorded = {(EDGE_BASE + f"{fmt}.json", value): want for fmt, value, want in format_cases.RECORDED}
    disagreements = []
    for index, (schema_id, instance) in enumerate(cases):
        got = {name: v[index] for name, v in verdicts.items()}
        want = recorded.get((schema_id, instance)) if isinstance(instance, str) else None
        if want is not None:
            expected = {"python-jsonschema": want["hookproof"], "jsonschema-rs": want["jsonschema-rs"],
                        "ajv": want["ajv"]}
            if got != expected:
                disagreements.append(f"{schema_id} {instance!r}: {got}, recorded {expected}")
        elif len(set(got.values())) != 1:
            disagreements.append(f"{schema_id} {json.dumps(instance, ensure_ascii=False)[:300]}: {got}")
    with capsys.disabled():
        counts = ", ".join(f"{name} {len(group)}" for name, group in groups.items())
        print(f"\ncross-validator: {len(cases)} verdicts from each of python-jsonschema, jsonschema-rs "
              f"{version('jsonschema-rs')}, ajv {ajv['ajv']} + ajv-formats {ajv['ajv-formats']} ({counts}); "
              f"{len(disagreements)} disagreements, {len(format_cases.RECORDED)} recorded differences as recorded")
    assert not disagreements, "\n".join(disagreements[:20])
    # What the groups must be, so that agreement is not reached by validating nothing
    first = 0
    for name, group in groups.items():
        judged = verdicts["python-jsonschema"][first:first + len(group)]
        first += len(group)
        if name == "generated":  # valid against the default variant; the strict one refuses the extras
            assert all(ok for (schema_id, _), ok in zip(group, judged, strict=True)
                       if not schema_id.startswith(STRICT_BASE_URI)), name
            assert not all(judged), "no generated delivery carried an undocumented property"
        if name == "broken":
            assert group and not any(judged), name
    assert len(broken) >= 4 * BROKEN_PER_EVENT and len(valid) >= 4 * GENERATED_PER_PLATFORM


def test_edge_case_table_is_the_rfcs() -> None:
    """hookproof's own verdicts on the table are the ones the RFCs give (the table is not fitted to a validator)."""
    for fmt, value, valid in format_cases.AGREED:
        assert FORMAT_CHECKER.conforms(value, fmt) is valid, (fmt, value)
    for fmt, value, want in format_cases.RECORDED:
        assert FORMAT_CHECKER.conforms(value, fmt) is want["hookproof"], (fmt, value)


def test_recorded_differences_are_in_decisions() -> None:
    text = (Path(__file__).parents[1] / "docs" / "decisions.md").read_text(encoding="utf-8")
    section = text[text.index("### format-semantics"):]
    section = section[:section.index("\n### ", 5)] if "\n### " in section[5:] else section
    for _fmt, value, _ in format_cases.RECORDED:
        assert f"`{value}`" in section, value
    assert "ajv-formats 3.0.1" in section and "jsonschema-rs 0.61" in section
