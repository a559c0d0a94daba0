"""The keywords beyond the built-in schemas' (schema_graph's docstring lists them): what the generator makes
from them is valid for hookproof's validator and for jsonschema-rs and ajv, each one can be broken alone by the
one-rule breaker, and what cannot be generated faithfully is refused at compile time, naming the place.

The schemas come from a platform written as files (tests/keyword_platform.py), as a user's would, and from
small ad-hoc schemas (strategies.strategy_for), one per keyword and combination."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from hookproof import catalog, validation
from hookproof.catalog import FORMAT_CHECKER
from hookproof.conformance import broken_bodies, strategies
from hookproof.wire import Delivery
from tests import keyword_platform, node_tools
from tests.drawing import collect
from tests.test_cross_validators import _python, _rust
from tests.test_strategies import _error_names, _errors

P = keyword_platform.PLATFORM
EVENTS = list(keyword_platform.EVENTS)
PER_EVENT = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def kwtest_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    catalog.configure([keyword_platform.write(tmp_path_factory.mktemp("schemas"))])
    yield
    catalog.configure([])


def _schema_id(event: str) -> str:
    return catalog.event(P, event).schema_id


# --- valid deliveries ------------------------------------------------------------------------------------

@pytest.mark.parametrize("extras", [False, True], ids=["plain", "extras"])
@pytest.mark.parametrize("event", EVENTS)
def test_generated_deliveries_validate(event: str, extras: bool) -> None:
    @PER_EVENT
    @given(strategies.events(P, event, extras=extras))
    def check(delivery: Delivery) -> None:
        verdict = validation.validate(P, delivery.body, delivery.headers, event=event)
        assert verdict.ok, [str(p) for p in verdict.problems]
        assert json.loads(delivery.encoded().decode("utf-8")) == delivery.body

    check()


def test_documented_examples_are_valid() -> None:
    for delivery in strategies.documented_deliveries(P):
        assert validation.check_instance(_schema_id(delivery.event), delivery.body) == []


# Ad-hoc schemas, one per keyword or combination: every value drawn is valid for jsonschema (format checking on)
ADHOC: dict[str, dict[str, Any]] = {
    "integer-bounds": {"type": "integer", "minimum": 3, "maximum": 17},
    "integer-exclusive-float-bounds": {"type": "integer", "exclusiveMinimum": 3.5, "exclusiveMaximum": 9.0},
    "integer-multipleOf": {"type": "integer", "multipleOf": 7, "minimum": -100},
    "integer-fractional-multipleOf": {"type": "integer", "multipleOf": 2.5, "maximum": 100},
    "number-bounds": {"type": "number", "minimum": -1.5, "exclusiveMaximum": 2},
    "number-exclusive-zero": {"type": "number", "exclusiveMinimum": 0},
    "number-upper-only": {"type": "number", "maximum": -1e300},
    "number-multipleOf-cents": {"type": "number", "multipleOf": 0.01, "minimum": 0, "maximum": 10},
    "number-multipleOf-tenth": {"type": "number", "multipleOf": 0.1},
    "number-integral-multipleOf": {"type": "number", "multipleOf": 3, "exclusiveMaximum": 0},
    "string-lengths": {"type": "string", "minLength": 3, "maxLength": 5},
    "string-long-minLength": {"type": "string", "minLength": 40},
    "string-exact-length": {"type": "string", "minLength": 7, "maxLength": 7},
    "format-maxLength": {"type": "string", "format": "email", "maxLength": 20},
    "format-minLength": {"type": "string", "format": "uri", "minLength": 30},
    "uuid-length": {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36},
    "pattern-maxLength": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 4},
    "pattern-within-lengths": {"type": "string", "pattern": "^ab[0-9]{2}$", "minLength": 1, "maxLength": 10},
    "enum-lengths": {"type": "string", "enum": ["a", "bb", "ccc"], "minLength": 2},
    "enum-bounds": {"enum": [1, 5, 10, "x"], "maximum": 6},
    "array-bounds-unique": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 5},
                            "minItems": 2, "maxItems": 4, "uniqueItems": True},
    "array-unique-objects": {"type": "array", "uniqueItems": True, "minItems": 1,
                             "items": {"type": "object", "additionalProperties": True}},
    "prefixItems-closed": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                           "items": False, "minItems": 1},
    "prefixItems-open": {"type": "array", "prefixItems": [{"const": "v1"}], "items": {"type": "boolean"}},
    "object-counts-dependent": {"type": "object", "minProperties": 2, "maxProperties": 2,
                                "properties": {"a": {"type": "string"}, "b": {"type": "integer"},
                                               "c": {"type": "null"}},
                                "dependentRequired": {"a": ["b"]}},
    "object-closed-minProperties": {"type": "object", "additionalProperties": False, "minProperties": 1,
                                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
    "oneOf-overlapping": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]},
    "oneOf-types": {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "null"}, {"type": "number"}]},
    "oneOf-beside-keywords": {"type": "object", "required": ["kind"], "additionalProperties": True,
                              "properties": {"kind": {"type": "string"}},
                              "oneOf": [{"properties": {"kind": {"const": "a"}}},
                                        {"properties": {"kind": {"const": "b"}}, "required": ["x"]}]},
    "allOf-objects": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                                {"properties": {"b": {"type": "string", "minLength": 1}}, "required": ["b"]}]},
    "allOf-bounds": {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 9}, {"exclusiveMaximum": 5}]},
    "allOf-over-oneOf": {"allOf": [{"type": "object", "additionalProperties": True, "required": ["n"],
                                     "properties": {"n": {"type": "integer"}}},
                                    {"oneOf": [{"properties": {"n": {"minimum": 0}}},
                                               {"properties": {"n": {"maximum": 5}}}]}]},
    "allOf-ref-properties": {"$defs": {"pos": {"type": "integer", "minimum": 1}},
                             "allOf": [{"type": "object", "properties": {"a": {"$ref": "#/$defs/pos"}}},
                                       {"required": ["a"], "properties": {"a": {"maximum": 3}}}]},
    "allOf-closed": {"allOf": [{"type": "object", "additionalProperties": False,
                                "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}},
                               {"required": ["a"], "properties": {"a": {"minimum": 10}}}]},
}


@pytest.mark.parametrize("extras", [False, True], ids=["plain", "extras"])
@pytest.mark.parametrize("name", list(ADHOC))
def test_adhoc_schemas_generate_valid_values(name: str, extras: bool) -> None:
    schema = ADHOC[name]
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)

    @PER_EVENT
    @given(strategies.strategy_for(schema, extras=extras))
    def check(value: Any) -> None:
        assert validator.is_valid(value), (value, [e.message for e in validator.iter_errors(value)])
        assert json.loads(json.dumps(value)) == value

    check()


def test_the_bounds_themselves_are_reached() -> None:
    """The edges a receiver most often gets wrong: the bounds, the lengths at both ends, arrays at both
    counts, each oneOf branch."""
    def drawn(schema: dict[str, Any], n: int = 200) -> list[Any]:
        return collect(strategies.strategy_for(schema), n)

    assert {3, 17} <= set(drawn(ADHOC["integer-bounds"]))
    assert {4, 8} <= set(drawn(ADHOC["integer-exclusive-float-bounds"]))
    assert -1.5 in drawn(ADHOC["number-bounds"])
    assert min(drawn(ADHOC["number-exclusive-zero"])) == 5e-324  # the next double past an exclusive 0
    assert {3, 5} <= {len(s) for s in drawn(ADHOC["string-lengths"])}
    assert any(any(ord(c) > 0xFFFF for c in s) for s in drawn(ADHOC["string-lengths"]))  # code points count
    assert {2, 4} <= {len(a) for a in drawn(ADHOC["array-bounds-unique"])}
    kinds = {json.dumps(v)[:1] for v in drawn(ADHOC["oneOf-types"])}
    assert {'"', "n"} <= kinds and kinds - {'"', "n"}
    assert {v["kind"] for v in drawn(ADHOC["oneOf-beside-keywords"])} == {"a", "b"}


# --- refused -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("schema", "says"), [
    ({"type": "string", "format": "uuid", "maxLength": 10}, "cannot generate `uuid` strings"),
    ({"type": "string", "pattern": "^[a-z]{2}$", "minLength": 5}, "matches no string"),
    ({"type": "integer", "minimum": 5, "exclusiveMaximum": 5}, "no integer"),
    ({"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 1, "exclusiveMaximum": 1.5}, "no exact multiple"),
    ({"type": "string", "minLength": 3, "maxLength": 2}, "no value is valid"),
    ({"type": "number", "multipleOf": 0}, "above 0"),
    ({"type": "array", "prefixItems": [{"type": "null"}], "items": False, "minItems": 2}, "more items"),
    ({"type": "object", "required": ["a", "b"], "maxProperties": 1}, "maxProperties"),
    ({"allOf": [{"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "b$"}]}, "`pattern` in more"),
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "no `type` in common"),
    ({"allOf": [{"type": "object", "additionalProperties": False}, {"required": ["a"]}]}, "closed part"),
    ({"allOf": [{"oneOf": [{"type": "null"}]}, {"anyOf": [{"type": "null"}]}]}, "in more than one `allOf` part"),
    ({"type": "object", "oneOf": [{"type": "object"}], "allOf": [{"type": "object"}]}, "beside `allOf`"),
    ({"type": "string", "not": {"const": ""}}, "not supported"),
    ({"type": "object", "minProperties": "2"}, "non-negative integers"),
], ids=["uuid-maxLength", "pattern-too-short", "empty-integer-range", "no-exact-multiple", "lengths-crossed",
        "multipleOf-zero", "prefix-too-short", "maxProperties-below-required", "allOf-two-patterns",
        "allOf-disjoint-types", "allOf-closed-requires-other", "allOf-two-combinators", "oneOf-beside-allOf", "not",
        "count-not-a-number"])
def test_what_cannot_be_generated_faithfully_is_refused(schema: dict[str, Any], says: str) -> None:
    with pytest.raises(strategies.UnsupportedSchema, match=re.escape(says)):
        strategies.strategy_for(schema)


# --- one-rule-broken deliveries -----------------------------------------------------------------------

LABEL = re.compile(rf"^(required|type|const|enum|pattern|format\((uuid|email)\)|{'|'.join(keyword_platform.KEYWORDS)})"
                   r": (/.*)$")


@pytest.mark.parametrize("event", EVENTS)
def test_broken_deliveries_break_exactly_the_named_rule(event: str) -> None:
    schema_id = _schema_id(event)

    @PER_EVENT
    @given(broken_bodies.invalid_events(P, event))
    def check(delivery: Delivery) -> None:
        assert delivery.breaks is not None and LABEL.match(delivery.breaks), delivery.breaks
        rule, fmt, pointer = broken_bodies.parse_label(delivery.breaks)
        assert not validation.validate(P, delivery.body, delivery.headers, event=event).ok
        top = list(catalog.active().validator(schema_id).iter_errors(delivery.body))
        assert len(top) == 1, [e.message for e in top]
        assert any(_error_names(e, rule, fmt, pointer) for e in _errors(top[0])), (delivery.breaks, top[0].message)

    check()


def test_every_new_keyword_is_broken() -> None:
    kinds: set[str] = set()

    def reached(drawn: list[Any]) -> bool:
        kinds.add(broken_bodies.parse_label(drawn[-1].breaks)[0])
        return set(keyword_platform.KEYWORDS) <= kinds

    collect(broken_bodies.invalid_events(P), 1500, until=reached)
    assert set(keyword_platform.KEYWORDS) <= kinds, set(keyword_platform.KEYWORDS) - kinds


def test_oneof_is_broken_both_ways() -> None:
    """A value no branch accepts, and one that two accept."""
    messages = set()
    schema_id = _schema_id("choices.sent")
    for body, label in collect(broken_bodies.invalid_bodies(schema_id), 600):
        if label.startswith("oneOf:"):
            error, = catalog.active().validator(schema_id).iter_errors(body)
            messages.add("valid under each" in error.message)
            if messages == {True, False}:
                break
    assert messages == {True, False}


# --- the three validators ------------------------------------------------------------------------------

def test_three_validators_agree_on_the_new_keywords() -> None:
    """Generated valid deliveries are valid, broken ones invalid, for jsonschema, jsonschema-rs and ajv
    (Ajv2020 strict mode, ajv-formats) alike: none of the new keywords reads differently in one of them."""
    schemas = [keyword_platform.schema(e) for e in EVENTS]
    valid = [(_schema_id(e), b) for e in EVENTS for b in collect(strategies.body_strategy(_schema_id(e), extras=True),
                                                                  60)]
    broken = [(_schema_id(e), b) for e in EVENTS for b, _ in collect(broken_bodies.invalid_bodies(_schema_id(e)), 60)]
    cases = json.loads(json.dumps(valid + broken))
    want = [True] * len(valid) + [False] * len(broken)
    ajv = node_tools.run_script("ajv_verdicts.js", {"schemas": schemas, "cases": cases})
    for name, got in (("python-jsonschema", _python(schemas, cases)), ("jsonschema-rs", _rust(schemas, cases)),
                      ("ajv", ajv["valid"])):
        wrong = [cases[i] for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
        assert not wrong, (name, len(wrong), json.dumps(wrong[:2], ensure_ascii=False)[:600])

