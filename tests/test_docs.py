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


# Every vendor commit the decisions, the profiles and the schemas date, with its author date as `git log` gives it
# (`git log --format='%h %ad %s' --date=short --follow -- PATH` in each repository):
# doselect/docs.doselect.com source/includes/_webhooks.md, codewars/codewars-api-docs source/includes/_webhooks.md,
# andela-technology/qualified-docs content/integrations/(custom-integrations/)webhooks.md and content/api/public.json.
VENDOR_COMMITS = {
    "57839ee": "2017-10-09",  # doselect: Add webhooks and changelog section (the base document)
    "f16ade9": "2017-10-16",  # doselect: adds webhook reports (test-session | report)
    "dd684a9": "2017-10-16",  # doselect: Webhook reports (#8) (rewords the report row, removes its example)
    "71e47bd": "2017-10-25",  # doselect: adds webhook security docs ("onn your server side")
    "11eb78e": "2017-10-25",  # doselect: typo ("on your server side")
    "27d60ba": "2017-10-30",  # doselect: adds problem webhooks and code in submit
    "8fa2b22": "2018-03-12",  # doselect: adds docs for solution evaluation webhook
    "eaf78ed": "2018-03-13",  # doselect: change solution webhook sender name (the example)
    "70a0bec": "2018-04-16",  # doselect: updates solution webhook docs (the table says submission)
    "56ad740": "2019-09-02",  # doselect: added test config (the file's last change)
    "3d5bd14": "2014-06-24",  # codewars: Added initial webhooks! (Structure and Register your Webhook only)
    "c6891ec": "2014-06-28",  # codewars: Updated Webhooks Documentation! (the first with events)
    "61185ed": "2014-07-20",  # codewars: Added fix for honor_changed
    "b47e76a": "2018-10-12",  # codewars: Remove Global webhook (the base document)
    "57e14dc": "2021-04-09",  # codewars: Update Webhooks section to fix incorrect action names
    "cf91d42": "2020-09-10",  # qualified: the base document
    "84380e8": "2020-11-10",  # qualified: underscored event ids
    "0e104e8": "2020-11-23",  # qualified: assessment_result_state_changed
    "08d1dbc": "2021-07-15",  # qualified: § Retries
    "01db9f4": "2023-05-10",  # qualified: content/api/public.json, Corrected docs
    "0053955": "2024-01-04",  # qualified: pathway events
}
_SHA_THEN_DATE = re.compile(r"\b([0-9a-f]{7})[0-9a-f]{0,33}\b[^;]{0,40}?\b(\d{4}-\d{2}-\d{2})\b")
_DATE_THEN_SHA = re.compile(r"\b(\d{4}-\d{2}-\d{2}) \(([0-9a-f]{7})[0-9a-f]{0,33}\b")


def test_a_vendor_commit_is_dated_the_same_everywhere() -> None:
    """'f16ade9, 2017-10-16', '2021-07-15 (08d1dbc': wherever the decisions or the schemas put a date beside a vendor
    commit, it is that commit's date; a commit dated but not listed above is one nobody checked."""
    texts = {"docs/decisions.md": DECISIONS}
    texts |= {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
              for p in _files("schemas", suffixes=(".json",)) if "examples" not in p.parts}
    found = 0
    for name, text in texts.items():
        pairs = [m.groups() for m in _SHA_THEN_DATE.finditer(text)]
        pairs += [(sha, date) for date, sha in (m.groups() for m in _DATE_THEN_SHA.finditer(text))]
        for sha, date in pairs:
            assert sha in VENDOR_COMMITS, f"{name}: {sha} ({date}) is not a vendor commit this test knows"
            assert VENDOR_COMMITS[sha] == date, f"{name}: {sha} is dated {date}, git log says {VENDOR_COMMITS[sha]}"
            found += 1
    assert found > 20
