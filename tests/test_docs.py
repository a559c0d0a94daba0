"""The documentation says what the code does: every cited decision exists, every check is listed."""

from __future__ import annotations

import re
from pathlib import Path

from conformance.receiver_checks import RECEIVER_CHECKS
from conformance.registration_checks import CHECKS as REGISTRATION_CHECKS

ROOT = Path(__file__).resolve().parent.parent
DECISIONS = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _cited_anchors() -> set[str]:
    cited = set()
    for folder in ("schemas", "conformance", "reference_impl"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".json"):
                cited |= set(re.findall(r"decisions\.md#([a-z0-9-]+)", path.read_text(encoding="utf-8")))
    return cited


def test_every_cited_decision_exists() -> None:
    headings = set(re.findall(r"^### ([a-z0-9-]+)$", DECISIONS, flags=re.MULTILINE))
    cited = _cited_anchors()
    assert len(cited) > 15
    assert cited <= headings, f"cited but not in docs/decisions.md: {sorted(cited - headings)}"


def test_decisions_name_the_ambiguities_the_issue_lists() -> None:
    for phrase in ("test_slug", "anonymouse_name", "team_candidate_label_added", "<action - i.e. 'created'>",
                   "updateAuth", "`action`", "u\"...\""):
        assert phrase in DECISIONS, phrase


def test_readme_gives_both_commands_and_every_check() -> None:
    assert "<!-- test-command -->" in README and "pytest conformance" in README
    for test_name in ("test_documented_examples_are_accepted", "test_unknown_event_is_not_5xx"):
        assert test_name in README
    assert len(RECEIVER_CHECKS) == README.count("| `test_")
    for name in REGISTRATION_CHECKS:
        assert f"`{name}`" in README, name
