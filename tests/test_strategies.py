"""Properties of ``hookproof.conformance.strategies``: what it generates is valid (or invalid for the named reason),
survives JSON, reaches the values that break receivers, and comes fast enough for every run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from hookproof import catalog, pointers, validation
from hookproof.catalog import FORMAT_CHECKER
from hookproof.conformance import broken_bodies, schema_graph, strategies, values
from hookproof.conformance.run_settings import DEFAULT_EXAMPLES, runner
from hookproof.wire import Delivery
from tests.drawing import collect

EVENTS = [(p, e) for p in catalog.platforms() for e in catalog.contract(p).events]
IDS = [f"{p}:{e}" for p, e in EVENTS]

PER_EVENT = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _assert_valid_delivery(platform: str, event: str, delivery: Delivery) -> None:
    assert (delivery.platform, delivery.event, delivery.breaks) == (platform, event, None)
    verdict = validation.validate(platform, delivery.body, delivery.headers, event=event, contract=delivery.contract)
    assert verdict.ok, [str(p) for p in verdict.problems]
    assert json.loads(delivery.encoded().decode("utf-8")) == delivery.body
    assert json.loads(json.dumps(delivery.body)) == delivery.body


# --- valid deliveries ------------------------------------------------------------------------------------

@pytest.mark.parametrize("extras", [False, True], ids=["plain", "extras"])
@pytest.mark.parametrize(("platform", "event"), EVENTS, ids=IDS)
def test_generated_deliveries_validate_and_round_trip(platform: str, event: str, extras: bool) -> None:
    @PER_EVENT
    @given(strategies.events(platform, event, extras=extras))
    def check(delivery: Delivery) -> None:
        _assert_valid_delivery(platform, event, delivery)

    check()


@pytest.mark.parametrize("platform", catalog.platforms())
def test_headers_are_the_documented_ones(platform: str) -> None:
    spec = catalog.contract(platform)
    for delivery in collect(strategies.events(platform), 20):
        assert delivery.headers == spec.delivery_headers(delivery.event)
        signed = delivery.wire_headers("s3cret")
        for scheme in spec.auth:
            assert all(name in signed for name in scheme.headers)


def test_collect_stops_where_until_holds_and_draws_what_it_would_have_drawn() -> None:
    """The tests that ask whether a value is reached within n draws stop once it is (tests/drawing.py): the
    draws they see are the first of the n, the same in every run."""
    whole = collect(st.integers(0, 10**6), 200)
    stopped = collect(st.integers(0, 10**6), 200, until=lambda drawn: len(drawn) >= 5)
    assert stopped == whole[:5]
    never = collect(st.integers(0, 10**6), 200, until=lambda drawn: False)
    assert never == whole


def test_every_event_of_a_platform_is_reached() -> None:
    for platform in catalog.platforms():
        events = set(catalog.contract(platform).events)
        drawn = collect(strategies.events(platform), 400,
                        until=lambda d, events=events: {x.event for x in d} >= events)
        assert {d.event for d in drawn} == events, platform


def test_extras_appear_at_depth_and_never_replace_a_documented_property() -> None:
    schema_id = catalog.event("doselect", "solution.submit").schema_id
    bodies = collect(strategies.body_strategy(schema_id, extras=True), 150)
    known_top, known_meta = {"meta", "object"}, {"sender", "action", "timestamp", "delivery_id"}
    assert any(set(b) - known_top for b in bodies)
    assert any(set(b["meta"]) - known_meta for b in bodies)
    assert any(set(b["object"]) - {"submission_slug", "submission_uri", "problem_uri", "problem_slug", "email"}
               for b in bodies)
    assert all(b["meta"]["sender"] == "solution" and b["meta"]["action"] == "submit" for b in bodies)


# --- what the values reach -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog_sample() -> list[Any]:
    """Bodies of every event (with extras), for questions about the whole catalog's values."""
    return [body for p, e in EVENTS
            for body in collect(strategies.body_strategy(catalog.event(p, e).schema_id, extras=True), 60)]


def test_text_reaches_non_ascii_astral_and_empty(catalog_sample: list[Any]) -> None:
    texts = [v for body in catalog_sample for v in _leaves(body) if isinstance(v, str)]
    assert "" in texts
    assert any(any(ord(c) > 127 for c in t) for t in texts)
    assert any(any(ord(c) > 0xFFFF for c in t) for t in texts)


def test_null_where_allowed_and_optional_properties_both_ways() -> None:
    schema_id = catalog.event("qualified", "team_candidate.created").schema_id
    datas = [b["data"] for b in collect(strategies.body_strategy(schema_id), 150)]
    for name in ("labels", "test_team_member", "recent_assessment_result"):
        assert any(name in d and d[name] is None for d in datas), name
        assert any(name in d and d[name] is not None for d in datas), name
        assert any(name not in d for d in datas), name
    language = [b["language"] for b in collect(strategies.body_strategy(
        catalog.event("codewars", "user.rank_upgraded").schema_id), 60)]
    assert None in language and any(isinstance(v, str) for v in language)


def test_integers_reach_negative_zero_and_large() -> None:
    schema_id = catalog.event("codewars", "user.rank_upgraded").schema_id
    ranks = [b["user"]["rank"] for b in collect(strategies.body_strategy(schema_id), 150)]
    assert all(type(r) is int for r in ranks)
    assert min(ranks) < 0 and 0 in ranks and max(ranks) == values.SAFE_INT > 2**31
    assert all(abs(r) <= values.SAFE_INT for r in ranks)  # I-JSON's interoperable range


def test_nested_models_reach_their_depth() -> None:
    """team_candidate -> recent_assessment_result -> solutions -> solution -> challenge is generated whole."""
    schema_id = catalog.event("qualified", "team_candidate.created").schema_id

    def has_challenge(body: Any) -> bool:
        result = body["data"].get("recent_assessment_result")
        solutions = (result or {}).get("solutions") or []
        return any(isinstance(s.get("challenge"), dict) for s in solutions)

    found = find(strategies.body_strategy(schema_id), has_challenge,
                 settings=settings(max_examples=3000, database=None, derandomize=True, phases=[Phase.generate]))
    assert validation.check_instance(schema_id, found) == []


RFC3339_OFFSET = re.compile(r"\.\d+([+-]\d\d:\d\d)$")


def test_format_values_are_varied_and_accepted() -> None:
    stamps = collect(values.DATE_TIMES, 200)
    assert any(RFC3339_OFFSET.search(s) and not s.endswith(("+00:00", "-00:00")) for s in stamps)
    assert any(s.upper().endswith("Z") for s in stamps)
    uris = collect(values.URIS, 200)
    assert any("%" in u for u in uris) and any("[" in u for u in uris) and any("?" in u for u in uris)
    emails = collect(values.EMAILS, 200)
    # RFC 5321 mailboxes are ASCII (UTF-8 ones are idn-email); odd but valid local parts and punycode domains
    assert all(e.isascii() for e in emails) and any("'" in e or "+" in e for e in emails)
    assert any("xn--" in e for e in emails)
    assert not any(s[17:19] == "60" for s in stamps)  # valid, but not every validator can hold one
    for name, drawn in (("date-time", stamps), ("uri", uris), ("email", emails),
                        ("uuid", collect(values.UUIDS, 200))):
        assert len(set(drawn)) > len(drawn) // 2, name
        rejected = [v for v in drawn if not FORMAT_CHECKER.conforms(v, name)]
        assert not rejected, (name, rejected[:3])


def test_bad_format_values_are_rejected() -> None:
    for name, bad in values.BAD_FORMAT_VALUES.items():
        accepted = [v for v in bad if FORMAT_CHECKER.conforms(v, name)]
        assert not accepted, (name, accepted)


# --- invalid deliveries ----------------------------------------------------------------------------------

def _errors(error: Any) -> Iterator[Any]:
    """An error and every error inside it (the reasons an ``anyOf`` failed)."""
    yield error
    for sub in error.context or ():
        yield from _errors(sub)


def _error_names(error: Any, rule: str, fmt: str | None, pointer: str) -> bool:
    if error.validator != rule or (fmt is not None and error.validator_value != fmt):
        return False
    where = pointers.from_path(error.absolute_path)
    if rule == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return any(pointer == where + pointers.from_path([name]) for name in missing)
    return where == pointer


@pytest.mark.parametrize(("platform", "event"), EVENTS, ids=IDS)
def test_invalid_deliveries_break_exactly_the_named_rule(platform: str, event: str) -> None:
    schema_id = catalog.event(platform, event).schema_id
    labels = re.compile(r"^(required|type|const|enum|pattern|format\((uuid|date-time|uri|email)\)): (/.*)$")

    @PER_EVENT
    @given(broken_bodies.invalid_events(platform, event))
    def check(delivery: Delivery) -> None:
        assert delivery.breaks is not None
        match = labels.match(delivery.breaks)
        assert match, delivery.breaks
        rule, fmt, pointer = broken_bodies.parse_label(delivery.breaks)
        assert not validation.validate(platform, delivery.body, delivery.headers, event=event,
                                       contract=delivery.contract).ok
        top = list(catalog.active().validator(schema_id).iter_errors(delivery.body))
        assert len(top) == 1, [e.message for e in top]
        assert any(_error_names(e, rule, fmt, pointer) for e in _errors(top[0])), (delivery.breaks, top[0].message)
        assert json.loads(delivery.encoded()) == delivery.body

    check()


def test_invalid_deliveries_cover_every_kind_of_rule() -> None:
    wanted = {("required", None), ("type", None), ("const", None), ("enum", None), ("format", "uuid"),
              ("format", "date-time"), ("format", "uri"), ("format", "email"), ("pattern", None)}
    kinds: set[tuple[str, str | None]] = set()

    def reached(drawn: list[Any]) -> bool:  # called once after each draw (tests/drawing.py)
        kinds.add(broken_bodies.parse_label(drawn[-1].breaks)[:2])
        return wanted <= kinds

    for platform in ("doselect", "viasto"):  # within 300 draws of each platform, the two together
        collect(broken_bodies.invalid_events(platform), 300, until=reached)
    assert wanted <= kinds


def test_invalid_deliveries_name_the_event_they_were_made_for() -> None:
    for delivery in collect(broken_bodies.invalid_events("codewars", "user.honor_changed"), 50):
        assert delivery.event == "user.honor_changed"
        assert delivery.headers["X-Webhook-Event"] == "user"


# --- documented examples first ---------------------------------------------------------------------------

@pytest.mark.parametrize("platform", catalog.platforms())
def test_documented_examples_run_first(platform: str) -> None:
    documented = strategies.documented_deliveries(platform)
    assert len(documented) == sum(len(e.examples) for e in catalog.contract(platform).events.values())
    seen: list[Delivery] = []

    @runner(3)
    @strategies.with_examples(platform)
    @given(strategies.events(platform))
    def check(delivery: Delivery) -> None:
        seen.append(delivery)

    check()
    assert seen[:len(documented)] == documented
    assert len(seen) >= len(documented) + 1


def test_with_examples_below_given_and_by_keyword() -> None:
    seen: list[Delivery] = []

    @runner(2)
    @given(delivery=strategies.events("codewars", "user.rank_upgraded"))
    @strategies.with_examples("codewars", "user.rank_upgraded", argname="delivery")
    def check(delivery: Delivery) -> None:
        seen.append(delivery)

    check()
    assert seen[0] == strategies.documented_deliveries("codewars", "user.rank_upgraded")[0]


# --- the compiler ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("schema", [
    {"type": "string", "not": {"const": ""}},
    {"type": "string", "format": "uri", "pattern": "^https:"},
    {"type": "string", "pattern": "(unclosed"},
    {"type": "string", "format": "ipv4"},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"$ref": "https://hookproof.dev/schemas/doselect/common.json#/$defs/timestamp", "type": "string"},
    {"oneOf": [{"type": "string"}], "allOf": [{"type": "string"}]},
    {"properties": {"a": {"type": "string"}}},
    {"$defs": {"n": {"type": "object", "required": ["n"], "properties": {"n": {"$ref": "#/$defs/n"}}}},
     "$ref": "#/$defs/n"},
], ids=["not", "pattern-beside-format", "bad-pattern", "unknown-format", "schema-additionalProperties",
        "ref-beside-type", "oneOf-beside-allOf",
        "properties-without-type", "required-recursion"])
def test_unsupported_schemas_fail_at_compile_time(schema: dict[str, Any]) -> None:
    with pytest.raises(strategies.UnsupportedSchema):
        strategies.strategy_for(schema)


def test_a_pattern_generates_matching_strings_and_breaks_with_others() -> None:
    """A pattern is drawn from its own strategy where hookproof knows one (ISO 8601), else from the regex."""
    for schema in ({"type": "string", "pattern": values.ISO_8601}, {"type": "string", "pattern": "^ab[0-9]{2}$"}):
        for text in collect(strategies.strategy_for(schema), 100):
            assert re.search(schema["pattern"], text), text
    viasto = {d.breaks for d in collect(broken_bodies.invalid_events("viasto", "project_changed"), 200,
                                        until=lambda drawn: drawn[-1].breaks == "pattern: /time")}
    assert "pattern: /time" in viasto


def test_unsupported_schema_parts_are_not_remembered_half_parsed() -> None:
    """A $ref target whose schema is refused stays refused the next time, instead of generating `{}`."""
    schema = {"$defs": {"bad": {"type": "string", "not": {"const": ""}}},
              "type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/$defs/bad"}},
              "additionalProperties": True}
    parser = schema_graph.Parser(catalog.active().registry().with_resource(
        strategies.ADHOC_URI, Resource.from_contents(schema, default_specification=DRAFT202012)))
    for _ in range(2):
        with pytest.raises(strategies.UnsupportedSchema):
            parser.parse_id(strategies.ADHOC_URI)


def test_recursive_schemas_are_bounded() -> None:
    schema = {"$defs": {"node": {"type": "object", "required": ["next"], "additionalProperties": True,
                                 "properties": {"next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}}},
              "$ref": "#/$defs/node"}

    def depth(value: Any) -> int:
        return 0 if value is None else 1 + depth(value["next"])

    values = collect(strategies.strategy_for(schema), 100)
    assert max(depth(v) for v in values) <= strategies.MAX_REF_DEPTH + 1
    assert max(depth(v) for v in values) >= 3


def test_a_new_schema_can_ref_the_catalog() -> None:
    schema = {"type": "object", "required": ["at"], "additionalProperties": True,
              "properties": {"at": {"$ref": "https://hookproof.dev/schemas/doselect/common.json#/$defs/timestamp"}}}
    for value in collect(strategies.strategy_for(schema), 30):
        assert FORMAT_CHECKER.conforms(value["at"], "date-time")


# --- speed -----------------------------------------------------------------------------------------------

def test_the_default_run_generates_every_event_of_every_contract() -> None:
    """Every event of every contract, DEFAULT_EXAMPLES generated after its documented examples (how fast:
    bench/generation.py, not a timed test)."""
    drawn = strategies.default_run_deliveries()
    every = {(p, c.name, e) for p in catalog.platforms() for c in catalog.platform(p).contracts for e in c.events}
    assert {(d.platform, d.contract, d.event) for d in drawn} == every
    for platform, contract, event in every:
        bodies = [json.dumps(d.body, sort_keys=True) for d in drawn
                  if (d.platform, d.contract, d.event) == (platform, contract, event)]
        if len(bodies) < DEFAULT_EXAMPLES:  # only where the schema allows no more (Hypothesis tried them all)
            more = collect(strategies.events(platform, event, contract=contract), 5 * DEFAULT_EXAMPLES)
            assert {json.dumps(d.body, sort_keys=True) for d in more} <= set(bodies), (platform, contract, event)


def test_untyped_values_keep_integers_within_i_json_range() -> None:
    """Untyped (Qualified) and extra values too: beyond +-(2**53 - 1) a sender re-serialising as doubles
    would change the payload (docs/decisions.md#generated-values)."""

    def ints(value: Any) -> list[int]:
        if isinstance(value, bool):
            return []
        if isinstance(value, int):
            return [value]
        if isinstance(value, dict):
            return [i for v in value.values() for i in ints(v)]
        if isinstance(value, list):
            return [i for v in value for i in ints(v)]
        return []

    found = [i for v in collect(values.ANY_JSON, 400) for i in ints(v)]
    assert len(found) > 20 and max(abs(i) for i in found) <= values.SAFE_INT


# Hypothesis (6.131 and later) answers a draw now and then with a literal found in the process's own modules
# (hypothesis.internal.constants_ast: those outside site-packages, the standard library and test files). What
# hookproof draws must not depend on which modules a run has imported: a user's conftest.py, an editable
# install, the run's process against the one that draws ahead (docs/decisions.md#draw-ahead).
DRAW_PROBE = '''
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "with":
    import literals  # noqa: F401  # a module of the user's, full of literals
from hookproof import catalog
from hookproof.conformance import broken_bodies, strategies
from hookproof.conformance.run_settings import draws
drawn = []
for platform in catalog.platforms():
    drawn += [d.body for d in draws(strategies.events(platform), 30)]
    drawn += [d.body for d in draws(strategies.events(platform, extras=True), 30)]
    drawn += [(d.body, d.breaks) for d in draws(broken_bodies.invalid_events(platform), 30)]
print(hashlib.sha256(json.dumps(drawn, sort_keys=True, default=repr).encode()).hexdigest())
'''


def _literals_module() -> str:
    """Literals of every kind Hypothesis collects: bytes and strings of each length it keeps (up to 50 and 20),
    integers and floats beyond those it already favours."""
    lines = [f"B{n} = {bytes(65 + i % 26 for i in range(n))!r}" for n in range(1, 51)]
    lines += [f"S{n} = {'s' * n!r}" for n in range(1, 21)]
    lines += [f"I{n} = {value}" for n, value in enumerate([100, 255, 256, 1000, 4096, 65535, 2**31 - 1, 2**32,
                                                             2**53, -100, -1000, -2**31])]
    lines += [f"F{n} = {value!r}" for n, value in enumerate([0.5, 1.5, 3.25, 1e10, -7.5, 123.456])]
    return "\n".join(lines) + "\n"


def test_what_is_drawn_does_not_depend_on_the_literals_of_the_processs_modules(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "literals.py").write_text(_literals_module(), encoding="utf-8")
    (folder / "probe.py").write_text(DRAW_PROBE, encoding="utf-8")
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")}
    digests = []
    for mode in ("without", "with"):
        done = subprocess.run([sys.executable, str(folder / "probe.py"), str(folder), mode], capture_output=True,
                              text=True, timeout=120, env=env, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.strip())
    assert digests[0] == digests[1], "the literals of an imported module changed the payloads drawn"
