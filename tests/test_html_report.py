"""``--hookproof-report FILE.html``, read as a person would see it: the page parsed (html.parser), and what it
shows asserted - the failing cell of the matrix, the failure with its rule and replay line, and a sender case's
tries on the time axis with their answers. Self-contained: no script, nothing loaded from elsewhere.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from hookproof.conformance.registry import CHECKS, load_all
from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken

SUITE = ("--pyargs", "hookproof.conformance")
load_all()


class Page(HTMLParser):
    """The elements of the page with their attributes, and the text inside each element that has a class."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag not in ("circle", "line", "meta", "br"):
            self._open.append((tag, attributes.get("class", "")))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, cls in self._open:
            if cls:
                self.texts.setdefault(cls, []).append(data)

    def text_of(self, cls: str) -> str:
        return "".join(self.texts.get(cls, []))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v
                                                                  for k, v in attrs.items())]


def _self_contained(page: Page) -> None:
    assert not page.find("script") and not page.find("link") and not page.find("img")
    hrefs = [a["href"] for _, a in page.elements if "href" in a]
    assert all(h.startswith("#") for h in hrefs)


def test_receiver_report_shows_the_failing_cell_and_the_failure(pytester: pytest.Pytester, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    with serving(broken.CrashesOnUnknownEvent(secrets={"codewars": "s3cret-value"})) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-secret", "s3cret-value", "--hookproof-examples", "2",
                                    "--hookproof-report", str(report))
    result.assert_outcomes(passed=8, failed=1, skipped=1)
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    _self_contained(page)
    assert any(a["href"] == "#receiver-codewars-unknown_event" for _, a in page.elements if "href" in a)
    assert "s3cret-value" not in text
    failing = page.find("td", data_check="unknown_event", data_platform="codewars")
    assert failing and failing[0]["class"] == "fail"
    assert page.find("td", data_check="documented_examples", data_platform="codewars")[0]["class"] == "pass"
    assert page.find("td", data_check="broken_bodies", data_platform="codewars")[0]["class"] == "skip"
    failure = page.text_of("failure")
    assert "[unknown_event]" in failure and "answered 500" in failure
    assert "answer: status 500" in failure and "payload: {" in failure
    assert "replay: curl -sS -i --max-time 10 -X POST" in failure
    rule = page.text_of("rule")
    assert CHECKS["unknown_event"].rule in rule
    assert "Codewars API documentation, Webhooks <https://dev.codewars.com/#webhooks>" in rule
    assert page.find("section", id="receiver-codewars-unknown_event")
    assert "1 failed" in page.text_of("totals")


def test_sender_report_draws_each_try_with_its_answer(pytester: pytest.Pytester, tmp_path: Path) -> None:
    report = tmp_path / "sender.html"
    result = pytester.runpytest(*SUITE, "--hookproof-platform", "codewars", "-k", "sender-codewars-retried",
                                "--hookproof-time-scale", "0.002", "--hookproof-report", str(report))
    assert result.parseoutcomes()["passed"] == 1 and result.ret == 0
    page = Page(report.read_text(encoding="utf-8"))
    _self_contained(page)
    cases = {a["data-case"] for a in page.find("div", **{"class": "case"})}
    retried = sorted(c for c in cases if c.startswith("refuse-5"))
    assert retried and "accept-200" in cases
    svg_tries = [a for t, a in page.elements if t == "g" and a.get("class") == "try"]
    answers = [int(a["data-answer"]) for a in svg_tries]
    assert 200 in answers and any(s >= 500 for s in answers)
    times = [float(a["data-at"]) for a in svg_tries]
    assert all(t >= 0 for t in times)
    listed = page.text_of("tries")
    assert "try 1 at +" in listed and "try 2 at +" in listed and "answered 200" in listed
    assert page.find("svg") and page.find("circle")


def test_a_report_is_written_from_a_folder_with_a_conftest(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A conftest.py off the checks' path makes pluggy keep the plugins of each test in a set: the report's
    plugin (and the JUnit one's) must be hashable, or every run there ends in an INTERNALERROR."""
    pytester.makeconftest("")
    report, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = pytester.runpytest(*SUITE, "--hookproof-platform", "codewars", "--hookproof-examples", "2", "-k",
                                "receiver and documented_examples", "--hookproof-report", str(report), "--junitxml",
                                str(junit), "-x")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    assert report.is_file() and "INTERNALERROR" not in result.stdout.str()
