"""The documentation says what the code does: every cited decision exists, every check is listed, and nothing
cites what a user cannot open."""

from __future__ import annotations

import re
from pathlib import Path

from hookproof.conformance.registry import load_all

ROOT = Path(__file__).resolve().parent.parent
DECISIONS = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHIPPED = ("src", "schemas", "conformance", "reference_impl")


def _files(*folders: str, suffixes: tuple[str, ...] = (".py", ".json")) -> list[Path]:
    return [p for f in folders for p in (ROOT / f).rglob("*") if p.suffix in suffixes and "__pycache__" not in p.parts]


def _cited_anchors() -> set[str]:
    cited = set()
    for path in _files(*SHIPPED, "tests"):
        text = path.read_text(encoding="utf-8")
        cited |= set(re.findall(r"decisions\.md#([a-z0-9-]+)", text))
        cited |= set(re.findall(r'"decision": "([a-z0-9-]+)"', text))
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


def test_nothing_cites_what_a_user_cannot_open() -> None:
    """No internal file name of the documents, no path outside the repository."""
    leak = re.compile("|".join(("sha" + "red/", "NO" + r"TES\.md", r"[0-9]{3}_[0-9a-f]{16}\.txt")))
    for path in _files(*SHIPPED, "tests", "docs", "bench", suffixes=(".py", ".json", ".md", ".toml", ".txt")):
        assert not leak.search(path.read_text(encoding="utf-8")), path
    assert not leak.search(README)


def test_the_decisions_ship_with_the_package() -> None:
    from importlib import resources

    assert resources.files("hookproof.docs").joinpath("decisions.md").read_text(encoding="utf-8") == DECISIONS


def test_readme_gives_both_commands_and_every_check() -> None:
    assert "<!-- test-command -->" in README and "<!-- main-job -->" in README
    for check in load_all().values():
        assert f"`{check.name}`" in README, check.name
