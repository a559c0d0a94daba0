"""Root causes: one fault of the implementation under test is reported once, however many checks run into it.

A receiver that answers 400 to one event fails the first check that sends that event; every later check that
sends it again learns nothing new. Each failure carries a *cause key* - what went wrong where, without the
check's name (``("codewars", "user.rank_upgraded", "status 400")``) - and a run keeps one :class:`Ledger`
of the causes it has seen. A check that only meets known causes is *not checked because of* them (its premise
failed: it could not judge its own rule), not failed; a check that meets new ones fails with every one of them,
one line each, the first in full.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from types import TracebackType

from hookproof.conformance.report import CheckFailure, NotChecked
from hookproof.conformance.run_budget import RunOutOfTime

CauseKey = tuple[Hashable, ...]


@dataclass
class Cause:
    """One fault, the check that found it, and every check and event it affected since."""

    key: CauseKey
    failure: CheckFailure
    checks: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    count: int = 1

    @property
    def title(self) -> str:
        return self.failure.title


class Ledger:
    """The causes one run has seen, shared by all its checks (thread-safe: sender cases run side by side)."""

    def __init__(self) -> None:
        self._causes: dict[CauseKey, Cause] = {}
        self._lock = threading.Lock()

    def note(self, failure: CheckFailure) -> Cause | None:
        """Record ``failure``; the cause it shares with an earlier failure, or None when its cause is new."""
        key = failure.cause_key
        with self._lock:
            known = self._causes.get(key)
            if known is None:
                self._causes[key] = Cause(key, failure, [failure.check], [failure.event])
                return None
            known.count += 1
            if failure.check not in known.checks:
                known.checks.append(failure.check)
            if failure.event and failure.event not in known.events:
                known.events.append(failure.event)
            return known

    def knows(self, key: CauseKey) -> bool:
        with self._lock:
            return key in self._causes

    def causes(self) -> list[Cause]:
        with self._lock:
            return list(self._causes.values())


class BecauseOf(NotChecked):
    """A check whose premise failed: it met only faults that other checks already reported."""

    def __init__(self, causes: list[Cause]) -> None:
        self.causes = causes
        shown = "; ".join(c.title for c in causes[:3]) + (f"; and {len(causes) - 3} more" if len(causes) > 3 else "")
        super().__init__(f"because of {shown}")


class Findings:
    """What one check found over the events it sends: new causes (its failures) and known ones.

    Used as a context manager, it finishes at the end of the block (:meth:`finish`), and a check cut short
    by the run's time limit (:class:`~hookproof.conformance.run_budget.RunOutOfTime`, raised by its next
    request) still fails with what it had found before; only where it found nothing is it not judged."""

    def __init__(self, check: str, ledger: Ledger) -> None:
        self.check, self.ledger = check, ledger
        self.new: list[CheckFailure] = []
        self.known: list[Cause] = []

    def __enter__(self) -> Findings:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        cut_short = isinstance(exc, RunOutOfTime) and bool(self.new)
        if cut_short:  # what it found stands; what it did not send, it says
            self.new[0] = self.new[0].noted("the run's time limit passed before this check had sent everything: "
                                            "it judged only what it sent until then")
        if exc is None or cut_short:
            self.finish()

    def record(self, failure: CheckFailure) -> None:
        known = self.ledger.note(failure)
        if known is None:
            self.new.append(failure)
        elif known not in self.known:
            self.known.append(known)

    def attempt(self, step: Callable[[], object]) -> None:
        """Run one event's part of the check; a failure is recorded and the check goes on to the next event."""
        try:
            step()
        except CheckFailure as failure:
            self.record(failure)

    def finish(self) -> None:
        """Fail with every new cause (the first in full); else, if it met known ones only, say so."""
        if self.new:
            first = self.new[0]
            if len(self.new) == 1:
                raise first
            others = [f"also: {f.event or f.platform}: {f.summary}" for f in self.new[1:]]
            shown = [line.removeprefix("  ") for line in str(first).splitlines()[2:]]  # CheckFailure indents again
            grouped = CheckFailure(first.check, first.summary + f" (and {len(self.new) - 1} more failing events, "
                                   "listed)", platform=first.platform, event=first.event, cause=first.cause_key,
                                   details=[*others, *shown])
            grouped.faults = tuple(f.title for f in self.new)
            grouped.recordings = tuple(r for f in self.new for r in f.recordings)
            raise grouped
        if self.known:
            raise BecauseOf(self.known)
