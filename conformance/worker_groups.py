"""A pytest-xdist scheduler that keeps each (role, platform) of the conformance checks on one worker.

The checks of a role share a root-cause ledger (:mod:`hookproof.conformance.causes`) that lives in the process
that runs them: spread over workers, a cause met on one worker would fail a check again on another. pytest-xdist's
own ``loadgroup`` reads ``xdist_group`` marks through a node-id suffix that pytest 9.2's structured node ids no
longer carry (https://github.com/pytest-dev/pytest-xdist/issues/1386), so the group is read from the node id
itself, which names the role and the platform (``test_conformance[receiver-codewars-duplicate_delivery]``).
"""

from __future__ import annotations

from xdist.scheduler import LoadGroupScheduling

from hookproof.conformance.summary import ITEM_ID


def group_of(nodeid: str) -> str | None:
    """``hookproof-<role>-<platform>`` for a conformance item, None for any other test."""
    found = ITEM_ID.search(nodeid)
    return f"hookproof-{found.group(1)}-{found.group(2)}" if found else None


class ConformanceGroups(LoadGroupScheduling):
    """``loadgroup`` scheduling, with the conformance checks grouped by role and platform."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid) or super()._split_scope(nodeid)
