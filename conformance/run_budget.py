"""The bound on a whole run (``--hookproof-max-time``): past it, nothing more is sent and nothing is judged.

Each request has its timeout and the breaker stops a run after three stalls, but a receiver that answers
every delivery in 2 s, inside any timeout, would hold a default run for well over an hour; a sender command
that takes 59 s of its 60 s each time, half an hour. A CI job needs a bound it can count on. So a run has one
deadline, counted from its start (in each pytest-xdist worker, from the worker's): once it has passed, no check
starts, a check under way stops at its next request or command run, and each is *not judged* - neither a pass
nor a failure of the target, whose fault a slow run need not be. The summary, the JUnit file and the HTML
report say so, and the run exits 2, as an interrupted one does (:mod:`hookproof.conformance.summary`).

A check that had found a fault before the deadline still fails with it: what it saw is not lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hookproof.conformance.report import NotChecked

OPTION = "--hookproof-max-time"
DEFAULT = 900.0  # seconds: a run's sending at loopback speed takes seconds; over the internet, minutes
NOT_RUN = "not run: the run's time limit passed before this case's turn"  # a sender case's, as its observation


class RunOutOfTime(NotChecked):
    """The run's deadline passed before this check had sent (or run) everything it judges."""


@dataclass
class RunBudget:
    seconds: float
    started: float = field(default_factory=time.monotonic)

    @property
    def passed(self) -> bool:
        return time.monotonic() - self.started >= self.seconds

    @property
    def left(self) -> float:
        """Seconds until the limit (0 once it has passed)."""
        return max(0.0, self.seconds - (time.monotonic() - self.started))

    def reason(self) -> str:
        return (f"the run's time limit passed ({OPTION} {self.seconds:g} s) before this check was done; allow more "
                "time, or send less (--hookproof-examples, --hookproof-events, -k CHECK)")

    def check(self) -> None:
        """Raise :class:`RunOutOfTime` once the deadline has passed."""
        if self.passed:
            raise RunOutOfTime(self.reason())
