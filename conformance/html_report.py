"""``--hookproof-report FILE.html``: the run as one self-contained page a person can look at.

A matrix of platform x check (passed, FAILED, not checked), every failure in full (what was sent, the answer,
the rule and its document, the payload, the replay line) and, for sender runs, each case's tries drawn on a
time axis (SVG) with the answer of each. No script, no stylesheet or font from elsewhere: the page opens
offline, from a CI artifact. Everything shown was masked already (failures are built through
:mod:`hookproof.redact`); the page escapes it as text.

Like the summary, it reads what it shows from each report's ``user_properties``, which pytest-xdist carries to
the controller: a sender item adds its platform's observed tries (``hookproof_timeline``) when a report is
asked for.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

OPTION = "--hookproof-report"
SVG_WIDTH = 640
STATUS_CLASS = {"passed": "pass", "failed": "fail", "skipped": "skip", "unrun": "unrun"}
STATUS_TEXT = {"passed": "passed", "failed": "FAILED", "skipped": "not checked", "unrun": "DID NOT RUN"}


def add_option(group: Any) -> None:
    group.addoption(OPTION, metavar="FILE", help="also write the run as one self-contained HTML page: platform x check "
                    "matrix, every failure, and each sender case's tries on a time axis")


def configure(config: pytest.Config) -> None:
    path = config.getoption(OPTION, None)
    if path:
        config.pluginmanager.register(HtmlReport(Path(path)), "hookproof-html-report")


@dataclass
class Outcome:
    platform: str
    role: str
    check: str
    outcome: str
    marker: str = ""
    text: str = ""  # the failure's report, or why it was not checked
    rule: str = ""  # the check's rule, as README states it
    citation: str = ""  # the document of the contract the target is held to


@dataclass(eq=False)  # a plugin: pluggy keeps plugins in sets (a conftest off the test's path), so hashable
class HtmlReport:
    path: Path
    outcomes: list[Outcome] = field(default_factory=list)
    timelines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (platform, case) -> tries
    attached: set[tuple[str, str]] = field(default_factory=set)  # cases this process put in a report already

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        props = dict(item.user_properties)
        if call.when == "call" and props.get("hookproof_role") == "sender":
            # Each case once per process: the checks of a platform share its runs, and JUnit XML shows these too
            fresh = [case for case in _timeline(item, str(props["hookproof_platform"]))
                     if (case["platform"], case["case"]) not in self.attached]
            self.attached.update((case["platform"], case["case"]) for case in fresh)
            if fresh:
                report.user_properties.append(("hookproof_timeline", fresh))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)
        for case in props.get("hookproof_timeline") or ():
            self.timelines[(case["platform"], case["case"])] = case
        from hookproof.conformance.summary import judged_check, skip_reason

        judged = judged_check(report)
        if judged is None or props.get("hookproof_out_of_time"):  # one the summary counts as not run
            return
        text = str(report.longrepr) if report.failed else skip_reason(report) if report.skipped else ""
        self.outcomes.append(Outcome(*judged, report.outcome, str(props.get("hookproof_marker", "")), text,
                                     str(props.get("hookproof_rule", "")), str(props.get("hookproof_citation", ""))))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from hookproof.conformance.plugin import CONFIG_KEY, SUMMARY_KEY

        summary = session.config.stash.get(SUMMARY_KEY, None)
        unrun = summary.did_not_run() if summary is not None else []
        if hasattr(session.config, "workerinput") or not (self.outcomes or unrun):
            return
        run = session.config.stash.get(CONFIG_KEY, None)
        target = run.shown_target if run is not None else ""
        ended = summary.why_not_run(exitstatus) if summary is not None else ""
        outcomes = self.outcomes + [Outcome(p, r, c, "unrun", text=ended) for p, r, c in unrun]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(outcomes, self.timelines, target), encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.outcomes:
            terminalreporter.write_line(f"hookproof: report written to {self.path}")


def _timeline(item: pytest.Item, platform: str) -> list[dict[str, Any]]:
    """Every case the sender command ran for ``platform`` so far: when each try came, what it was answered."""
    request = getattr(item, "_request", None)
    if request is None:
        return []
    contexts = request.getfixturevalue("hookproof_sender_context")
    harness = contexts(platform).harness
    return [{"platform": platform, "case": obs.case.name, "event": obs.case.event,
             "scripted": list(obs.case.statuses), "elapsed": round(obs.elapsed, 4), "ended": obs.how_it_ended(),
             "tries": [[round(a.at - obs.started, 4), a.answered] for a in obs.tries]}
            for obs in harness.observations(platform)]


# --- the page ------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
table.matrix th{font-size:12px;max-width:9em;overflow-wrap:anywhere;vertical-align:bottom}
td.pass{background:#e3f6e3}td.fail{background:#f9d6d6;font-weight:bold}td.skip{background:#f3f0d9}
td.none{background:#f6f6f6;color:#999}td.unrun{background:#fbe3c4;font-weight:bold}
p.incomplete{background:#fbe3c4;padding:8px;font-weight:bold}pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:8px;max-height:24em;overflow:auto}
.case{margin:.6em 0}svg text{font:11px sans-serif}h2{margin-top:1.6em}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(o: Outcome) -> str:
    return f"{o.role}-{o.platform}-{o.check}"


def _matrix(outcomes: list[Outcome]) -> list[str]:
    out = []
    for role in ("receiver", "sender", "registration"):
        mine = [o for o in outcomes if o.role == role]
        if not mine:
            continue
        checks = list(dict.fromkeys(o.check for o in mine))
        platforms = sorted({o.platform for o in mine})
        cell = {(o.platform, o.check): o for o in mine}
        out.append(f"<h2>{_e(role)} checks</h2><table class='matrix' data-role='{_e(role)}'><tr><th>platform</th>"
                   + "".join(f"<th>{_e(c)}</th>" for c in checks) + "</tr>")
        for platform in platforms:
            row = [f"<tr><th>{_e(platform)}</th>"]
            for check in checks:
                o = cell.get((platform, check))
                if o is None:
                    row.append("<td class='none'>-</td>")
                    continue
                label = STATUS_TEXT.get(o.outcome, o.outcome)
                if o.outcome in ("failed", "skipped"):  # listed below the matrix, with why
                    label = f"<a href='#{_e(_anchor(o))}'>{label}</a>"
                row.append(f"<td class='{STATUS_CLASS.get(o.outcome, '')}' data-check='{_e(check)}' "
                           f"data-platform='{_e(platform)}' title='{_e(o.marker)}'>{label}</td>")
            out.append("".join(row) + "</tr>")
        out.append("</table>")
    return out


def _svg(case: dict[str, Any], span: float) -> str:
    """One case's tries as dots on a time axis from its first try to ``span`` seconds later, each labelled with
    its answer (labels alternate above and below the axis, so close tries stay readable)."""
    left, right, y = 40, SVG_WIDTH - 60, 34
    scale = (right - left) / span if span > 0 else 0
    first = case["tries"][0][0] if case["tries"] else 0.0

    def x(at: float) -> float:
        return left + (at - first) * scale

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{SVG_WIDTH}' height='68' role='img' "
             f"aria-label='tries of {_e(case['case'])}'>",
             f"<line x1='{left}' y1='{y}' x2='{right}' y2='{y}' stroke='#888'/>",
             f"<text x='{left - 30}' y='{y + 30}'>try 1</text><text x='{right - 20}' y='{y + 30}'>+{span:.3f} s</text>"]
    for number, (at, status) in enumerate(case["tries"], 1):
        colour = "#2a2" if 200 <= int(status) < 300 else "#c33"
        label_y = y - 10 if number % 2 else y + 20
        parts.append(f"<g class='try' data-at='{at}' data-answer='{status}'><circle cx='{x(at):.1f}' cy='{y}' r='6' "
                     f"fill='{colour}'><title>try {number} at +{at:.3f} s: answered {status}</title></circle>"
                     f"<text x='{x(at) - 10:.1f}' y='{label_y}'>{status}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _order(name: str) -> tuple[int, str]:
    """Cases that retry first (the timeline is about retries), accepted ones last."""
    return (0 if name == "refuse-all" else 1 if name.startswith(("refuse-", "final-")) else 2, name)


def _timelines(timelines: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    if not timelines:
        return []
    out = ["<h2>Sender retry timelines</h2><p>Each dot is one try as the scripted receiver saw it, on an axis from the "
           "case's first try, labelled with the status it was answered (green 2XX, red otherwise).</p>"]
    for platform in sorted({p for p, _ in timelines}):
        cases = sorted((c for (p, _), c in timelines.items() if p == platform), key=lambda c: _order(c["case"]))
        span = max([c["tries"][-1][0] - c["tries"][0][0] for c in cases if c["tries"]] + [0.001])
        out.append(f"<h3>{_e(platform)}</h3>")
        for case in cases:
            listed = "; ".join(f"try {n} at +{at:.3f} s answered {status}" for n, (at, status) in
                               enumerate(case["tries"], 1)) or "nothing arrived"
            out.append(f"<div class='case' data-case='{_e(case['case'])}' data-platform='{_e(platform)}'>"
                       f"<b>{_e(case['case'])}</b> ({_e(case['event'])}; scripted answers "
                       f"{_e(', '.join(map(str, case['scripted'])))}; the command {_e(case['ended'])})<br>"
                       f"{_svg(case, span)}<div class='tries'>{_e(listed)} (times from the command's start)"
                       "</div></div>")
    return out


def render(outcomes: list[Outcome], timelines: dict[tuple[str, str], dict[str, Any]], target: str) -> str:
    """The page, as text."""
    failed = [o for o in outcomes if o.outcome == "failed"]
    skipped = [o for o in outcomes if o.outcome == "skipped"]
    unrun = [o for o in outcomes if o.outcome == "unrun"]
    counts = {k: sum(o.outcome == k for o in outcomes) for k in STATUS_TEXT}
    body = [f"<h1>hookproof conformance report</h1><p>target: {_e(target)}</p>",
            f"<p class='totals'>{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} not "
            f"checked{f', {len(unrun)} did not run' if unrun else ''}</p>"]
    if unrun:  # what did not run has no verdict, and a platform with such a check is not judged
        body.append(f"<p class='incomplete'>This run is incomplete: {len(unrun)} check(s) did not run "
                    f"({_e(unrun[0].text)}). A platform with a check that did not run is not judged.</p>")
    body += _matrix(outcomes)
    body += _timelines(timelines)  # before the failures: a glance at the tries often says what went wrong
    if failed:
        body.append("<h2>Failures</h2>")
        for o in failed:
            body.append(f"<section class='failure' id='{_e(_anchor(o))}'><h3>{_e(o.role)} {_e(o.platform)} "
                        f"{_e(o.check)} ({_e(o.marker)})</h3><p class='rule'>rule: {_e(o.rule)}<br>contract "
                        f"document: {_e(o.citation)}</p><pre>{_e(o.text)}</pre></section>")
    if skipped:
        body.append("<h2>Not checked</h2><ul>")
        body += [f"<li id='{_e(_anchor(o))}'>{_e(o.role)} {_e(o.platform)} {_e(o.check)}: {_e(o.text)}</li>"
                 for o in skipped]
        body.append("</ul>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hookproof conformance report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
