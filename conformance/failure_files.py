"""``--hookproof-failures DIR``: every failing receiver request of a run, one recording file each, for
``hookproof replay DIR --target-url URL`` to send again once the receiver is fixed (FIXED / STILL FAILING).

A receiver check's failure carries the recording of the request it sent (:func:`recording_of`, in the one
file format of :mod:`hookproof.live.recording`): the method, path, headers (secret ones masked), body, what
a good receiver answers, the answer got, the check and the seed. A failure that groups several failing
events carries each one's, and each is written (docs/decisions.md#failure-files).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from hookproof import auth, redact
from hookproof.live import recording as recordings
from hookproof.live.recording import Answer, AuthMode, Recording

if TYPE_CHECKING:
    from hookproof.conformance.http_exchange import Exchange
    from hookproof.conformance.receiver_checks import ReceiverContext
    from hookproof.contract import Contract
    from hookproof.wire import Delivery


def documented_wait(spec: Contract) -> float | None:
    """The seconds the platform waits for an answer before it counts a delivery failed, where the contract's
    own retry policy documents it (``retry.timeout`` of a ``documented`` policy; an assumed one does not)."""
    retry = spec.retry
    return retry.timeout if retry is not None and retry.documented else None


def _auth_mode(delivery: Delivery, exchange: Exchange, secret: str | None) -> AuthMode:
    """How the request was authenticated: a replay signs it again the same way (right, wrong, or not at all)."""
    schemes = delivery.spec.auth
    sent = auth.as_received(exchange.headers)  # the text sent, read as the receiver read it
    present = [s for s in schemes if auth.present(s, sent)]
    if not present:
        return "none"
    if secret and not auth.verify_schemes(present, sent, exchange.body, delivery.body, secret):
        return "valid"
    return "wrong"


def recording_of(check: str, delivery: Delivery, exchange: Exchange, ctx: ReceiverContext | None,
                 expected: str) -> Recording:
    """The request a failing check sent, as a recording a replay can send again (``expected``: what a good
    receiver answers it; for ``in time``, ``within`` the seconds the contract documents its platform waits, so
    that a replay holds the answer to them as the check did)."""
    from hookproof.conformance.report import excerpt

    try:
        path = urlsplit(exchange.url).path or "/"
    except ValueError:
        path = "/"
    answer = Answer(exchange.status, round(exchange.elapsed, 4), excerpt(redact.data(exchange.answer)),
                    exchange.error)
    event = None if delivery.event.startswith("(") else delivery.event
    return Recording(
        kind="failure", id="", platform=delivery.platform, method=exchange.method, path=path,
        headers=recordings.masked(delivery.platform, exchange.headers.items()), body=redact.data(exchange.body),
        contract=delivery.contract, event=event, auth=_auth_mode(delivery, exchange, ctx.secret if ctx else None),
        expected=expected, repeat=2 if check == "duplicate_delivery" else 1,
        within=documented_wait(delivery.spec) if expected == "in time" else None,
        check=check, seed=ctx.seed if ctx else None, origin=redact.text(delivery.origin or "a generated delivery"),
        answer=answer, url=redact.url(exchange.url), extra={"breaks": delivery.breaks} if delivery.breaks else {})


def clear(folder: Path) -> None:
    """Remove the failure files an earlier run left in ``folder`` (only those: recordings of kind failure), so
    that the folder holds this run's failures and a replay of it judges nothing stale."""
    for old in folder.glob("failure-*.json"):
        try:
            if json.loads(old.read_text(encoding="utf-8")).get("kind") == "failure":
                old.unlink()
        except (OSError, ValueError, AttributeError):
            continue


def write(folder: Path, nodeid: str, found: tuple[Recording, ...]) -> list[str]:
    """Write each recording of one failing item; their ids are the item's check and platform and a number."""
    name = nodeid.rsplit("[", 1)[-1].rstrip("]").removeprefix("receiver-")
    written = []
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for number, rec in enumerate(found, start=1):
        named = Recording(**{**rec.__dict__, "id": f"{name}-{number}", "recorded_at": now})
        written.append(str(recordings.write(folder, named)))
    return written


REPLAY_TIMEOUT = 10.0  # hookproof replay's own --timeout, as its command line defines it


class FailureFiles:
    """Says at the end of a run where the failure files went and how to replay them (under pytest-xdist the
    workers write them; their paths come back in each report's ``user_properties``)."""

    def __init__(self, folder: str, target: str | None, timeout: float = REPLAY_TIMEOUT) -> None:
        # the run's --hookproof-response-timeout: a replay with another would judge answers by another bound
        self.folder, self.target, self.timeout = folder, target, timeout
        self.files: list[str] = []
        self.unwritten: list[str] = []  # failing sender and registration checks: "<role> <platform> <check>"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from hookproof.conformance.summary import judged_check

        for key, value in report.user_properties:
            if key == "hookproof_failure_files" and isinstance(value, list):
                self.files += [str(v) for v in value]
        judged = judged_check(report)
        if report.failed and judged is not None and judged[1] in ("sender", "registration"):
            platform, role, check = judged
            self.unwritten.append(f"{role} {platform} {check}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.files:
            target = redact.url(self.target) if self.target else "URL"
            bound = f" --timeout {self.timeout:g}" if self.timeout != REPLAY_TIMEOUT else ""
            terminalreporter.write_line(f"failing cases: {len(self.files)} written to {self.folder}; once the "
                                        f"receiver is fixed: hookproof replay {self.folder} --target-url {target}"
                                        f"{bound}")
        if self.unwritten:
            terminalreporter.write_line(
                f"failing cases not written to {self.folder}: {', '.join(sorted(self.unwritten))} (a sender failure "
                "is reproduced by the command line its report gives, a registration failure by its curl replay)")
