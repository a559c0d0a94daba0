"""Every body the vendors published, and every one users captured off the wire and posted, validates by
default, naming the contract that accepts it; with its payload taken out of the envelope it is rejected.

Where each body comes from (files under ``tests/vendor_bodies/``):
- ``qualified/2020_*``: andela-technology/qualified-docs, content/api.json at 84380e8 (2020-11-10), the answers of
  the webhook-examples API (GET and POST /v1/webhook_examples); ``qualified/2021_35629e2_*``: the same at 35629e2
  (2021-01-25); ``qualified/2023_public_01db9f4_*``: content/api/public.json at 01db9f4 (2023-05-10, unchanged at
  the head); ``qualified/2025_*``: content/api/private.json at the repository's head (2d52a13, 2025-07-30).
- ``doselect/<commit>_*``: doselect/docs.doselect.com, source/includes/_webhooks.md at that commit (57839ee
  2017-10-09 is the base document's text; 71e47bd 2017-10-25; 27d60ba 2017-10-30; eaf78ed 2018-03-13; 70a0bec
  2018-04-16; HEAD 7725232, whose _webhooks.md is 56ad740, 2019-09-02). ``57839ee_1_other`` is the document's
  Python-literal example and ``f16ade9_3_*`` the 2017-10-16 report example with trailing commas: not JSON as
  published.
- ``codewars/i1339_*``, ``i1590_*``, ``i2349_*``: bodies users posted in codewars/codewars.com issues 1339
  (2018-03-26), 1590 (2018-10-12) and 2349 (2021-03-25); ``doc2021_*``: codewars/codewars-api-docs 57e14dc
  (2021-04-09), source/includes/_webhooks.md; ``doc2014_c6891ec_*``: the same file at c6891ec (2014-06-28).
  Codewars sends the model name in the X-Webhook-Event header.
- ``viasto/*``: https://viasto.eu/webhooks/index.html, § Payload.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hookproof import catalog, pointers, validation

BODIES = Path(__file__).with_name("vendor_bodies")
NOT_JSON = {"doselect/57839ee_1_other.json", "doselect/f16ade9_3_test-session.report_INVALID-JSON-as-published.json"}
NOT_DELIVERIES = {  # published, but as a template or a fragment, never as a delivery
    "codewars/doc2021_code_challenge_template.json": "is not a codewars",  # action "<action - i.e. 'created'>"
    "codewars/doc2021_solution_finalized_extra_fragment.json": "the body has no /action",  # "also includes ..."
}
# body file -> (contract that accepts it, event as that contract spells it)
EXPECTED_CONTRACT = {
    "codewars/i1339_code_challenge_approved.json": ("2021-04", "code_challenge.approved"),
    "codewars/doc2021_user_rank_earned.json": ("2021-04", "user.rank_earned"),
    "codewars/doc2014_c6891ec_user_rank_earned.json": ("2021-04", "user.rank_earned"),
    "codewars/doc2014_c6891ec_user_honor_changed.json": ("2014-06", "user.honor_changed"),
}
FILES = sorted(p.relative_to(BODIES).as_posix() for p in BODIES.rglob("*.json"))
DELIVERIES = [f for f in FILES if f not in NOT_JSON and f not in NOT_DELIVERIES]


def _headers(file: str, body: dict) -> dict[str, str]:
    if file.startswith("codewars/"):
        return {"X-Webhook-Event": next(k for k in body if k not in ("action", "language"))}
    return {}


def _load(file: str) -> dict:
    return json.loads((BODIES / file).read_text(encoding="utf-8"))


@pytest.mark.parametrize("file", DELIVERIES)
def test_every_real_body_conforms_to_a_contract(file: str) -> None:
    body = _load(file)
    platform = file.split("/")[0]
    verdict = validation.validate(platform, body, _headers(file, body))
    assert verdict.ok, [str(p) for p in verdict.problems]
    if file in EXPECTED_CONTRACT:
        assert (verdict.contract, verdict.event) == EXPECTED_CONTRACT[file]
    if platform == "qualified":
        assert verdict.contract == "2024-01", "Qualified sends underscored names: the later contract's"


@pytest.mark.parametrize("file", DELIVERIES)
def test_a_real_body_without_its_payload_is_rejected(file: str) -> None:
    body = _load(file)
    platform = file.split("/")[0]
    payload = {"codewars": next(f"/{k}" for k in body if k not in ("action", "language")),
               "doselect": "/object", "qualified": "/data", "viasto": "/data"}[platform]
    emptied = pointers.removed(body, payload)
    verdict = validation.validate(platform, emptied, _headers(file, body))
    assert not verdict.ok
    assert any(p.where == payload for p in verdict.problems), [str(p) for p in verdict.problems]


@pytest.mark.parametrize("file", sorted(NOT_DELIVERIES))
def test_templates_and_fragments_are_not_deliveries(file: str) -> None:
    body = _load(file)
    verdict = validation.validate("codewars", body, {"X-Webhook-Event": "code_challenge"})
    assert not verdict.ok and NOT_DELIVERIES[file] in verdict.problems[0].message


@pytest.mark.parametrize("file", sorted(NOT_JSON))
def test_bodies_published_as_not_json_are_bad_input(file: str) -> None:
    result = subprocess.run([sys.executable, "-m", "hookproof", "validate", "--platform", "doselect",
                             str(BODIES / file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_the_document_contract_rejects_the_later_names_and_says_which_contract_takes_them() -> None:
    body = _load("codewars/i1339_code_challenge_approved.json")
    pinned = validation.validate("codewars", body, {"X-Webhook-Event": "code_challenge"}, contract="document")
    assert not pinned.ok and pinned.accepted_by == ["2021-04"]
    body = _load("qualified/2025_GET_solution_updated.json")
    pinned = validation.validate("qualified", body, contract="document")
    assert not pinned.ok and "'solution_updated' is not a qualified document event" in pinned.problems[0].message
    assert pinned.accepted_by == ["2024-01"]


def test_validate_names_the_contract_and_the_documents_spelling(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "hookproof", "validate", "--platform", "qualified"]
    ok = subprocess.run([*run, str(BODIES / "qualified/2020_GET_assessment_result_started.json")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0
    assert "conforms to qualified assessment_result_started, contract 2024-01" in ok.stdout
    renamed = subprocess.run([*run, str(BODIES / "qualified/2020_GET_team_candidate_state_changed.json")],
                             capture_output=True, text=True, timeout=60)
    assert "the document spells this event team_candidate.created" in renamed.stdout
    pinned = subprocess.run([*run, "--contract", "document", str(BODIES / "qualified/2020_GET_solution_updated.json")],
                            capture_output=True, text=True, timeout=60)
    assert pinned.returncode == 1 and "contract 2024-01 of qualified accepts it" in pinned.stdout


def test_every_renamed_event_keeps_its_documents_name() -> None:
    for platform in catalog.platforms():
        plat = catalog.platform(platform)
        for spec in plat.contracts[1:]:
            for old, new in spec.renames.items():
                assert old in plat.base.events and spec.events[new].base_name == old
