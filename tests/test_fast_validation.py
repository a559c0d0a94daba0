"""The fast verdict (jsonschema-rs) and jsonschema's agree on everything hookproof judges, so that taking the
fast one first never changes a verdict (docs/decisions.md#fast-validation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookproof import catalog
from hookproof.conformance import broken_bodies, strategies
from hookproof.wire import Delivery

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
BODIES = Path(__file__).with_name("vendor_bodies")


def slow_verdict(schema_id: str, instance: Any, strict: bool) -> bool:
    return not any(True for _ in catalog.active().validator(schema_id, strict).iter_errors(instance))


def assert_agree(schema_id: str, instance: Any) -> None:
    for strict in (False, True):
        fast = catalog.active().is_valid(schema_id, instance, strict)
        assert fast == slow_verdict(schema_id, instance, strict), (schema_id, strict, instance)


def _schema_id(delivery: Delivery) -> str:
    return catalog.contract(delivery.platform, delivery.contract).event(delivery.event).schema_id


CONTRACTS = [(p, c.name) for p in catalog.platforms() for c in catalog.platform(p).contracts]


@pytest.mark.parametrize(("platform", "contract"), CONTRACTS)
def test_they_agree_on_generated_valid_and_one_rule_broken_deliveries(platform: str, contract: str) -> None:
    @SETTINGS
    @given(st.one_of(strategies.events(platform, contract=contract, extras=True),
                     broken_bodies.invalid_events(platform, contract=contract)))
    def agree(delivery: Delivery) -> None:
        assert_agree(_schema_id(delivery), delivery.body)

    agree()


@pytest.mark.parametrize(("platform", "contract"), CONTRACTS)
def test_they_agree_on_the_documented_examples(platform: str, contract: str) -> None:
    for delivery in strategies.documented_deliveries(platform, contract=contract):
        assert_agree(_schema_id(delivery), delivery.body)


def _real_bodies() -> list[tuple[str, Any]]:
    """Every real body that is JSON (those published as not JSON are bad input: tests/test_vendor_bodies.py)."""
    out = []
    for path in sorted(BODIES.rglob("*.json")):
        try:
            out.append((str(path.relative_to(BODIES)), json.loads(path.read_text(encoding="utf-8"))))
        except ValueError:
            continue
    return out


@pytest.mark.parametrize(("file", "body"), _real_bodies())
def test_they_agree_on_real_bodies_against_every_event_schema(file: str, body: Any) -> None:
    """A real body, against every schema of its platform: most say no, and both engines must say it alike."""
    for spec in catalog.platform(file.split("/")[0]).contracts:
        for event in spec.events.values():
            assert_agree(event.schema_id, body)


@pytest.mark.parametrize(("fmt", "value"), [
    ("email", "a@b"), ("email", "not an address"), ("date-time", "2016-12-31T23:59:60Z"),
    ("date-time", "2015-03-16T15:32:34.174752"), ("date-time", "2017-10-07 10:41:31Z"), ("uri", "relative/path"),
    ("uri", "https://example.test/a b"), ("uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"), ("uuid", "0f8fad5b"),
    ("date", "2017-02-30"), ("regex", "("), ("ipv4", "127.0.0.1"),
])
def test_our_format_checks_take_the_place_of_jsonschema_rs_own(fmt: str, value: str) -> None:
    import jsonschema_rs

    from hookproof.catalog import FORMAT_CHECKER, _format_callbacks

    fast = jsonschema_rs.validator_for({"type": "string", "format": fmt}, formats=_format_callbacks({fmt}),
                                       validate_formats=True)
    assert fast.is_valid(value) == FORMAT_CHECKER.conforms(value, fmt)


_VALIDATE = ("import runpy, sys\n"
             "sys.argv = ['hookproof', 'validate', '--platform', 'doselect', {path!r}]\n"
             "try:\n    runpy.run_module('hookproof', run_name='__main__')\n"
             "except SystemExit as end:\n    print('exit', end.code)\n"
             "print(sorted(m for m in ('jsonschema', 'referencing', 'hookproof.live.recording') if m in sys.modules), "
             "file=sys.stderr)")


@pytest.mark.parametrize(("body", "exit_code", "imported"), [
    ("valid", 0, "[]"),  # judged by jsonschema-rs with the RFCs' format checks: neither library is needed
    ("invalid", 1, "['jsonschema', 'referencing']"),  # its problems are jsonschema's, in words
])
def test_hookproof_validate_imports_jsonschema_only_to_report_problems(tmp_path: Path, body: str, exit_code: int,
                                                                       imported: str) -> None:
    import subprocess
    import sys

    spec = catalog.contract("doselect")
    example = spec.event("solution.submit").examples[0].body
    if body == "invalid":
        example = {**example, "meta": {**example["meta"], "timestamp": "yesterday"}}
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(example), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", _VALIDATE.format(path=str(path))], capture_output=True, text=True,
                          timeout=60, check=True)
    assert f"exit {exit_code}" in done.stdout, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == imported
