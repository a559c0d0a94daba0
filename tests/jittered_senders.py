"""Webhook senders whose waits are drawn at random, for the tests that a backoff verdict does not depend on the
draw (docs/decisions.md#jitter-proof-backoff).

Run like the reference sender, with the schedule first:

    python tests/jittered_senders.py SCHEDULE --url URL --event-file F --platform P --event E ...

Each is the reference sender command's sender (:mod:`hookproof.reference_impl.sender_plain`, which starts
without httpx's imports) with its waits replaced. ``full``,
``equal`` and ``decorrelated`` are the three jitters of the AWS Architecture Blog's "Exponential Backoff And
Jitter" (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): they keep an increasing
backoff, although one delivery's waits may shrink. ``constant`` jitters around one wait and ``shrinking`` halves
its wait each time: neither is an increasing backoff, whatever the draw. No seed is taken: every run draws anew.
"""

from __future__ import annotations

import random
import sys

from hookproof.reference_impl.backoff import Backoff, Uniform, for_policy
from hookproof.reference_impl.sender_cli import build_parser, read_event
from hookproof.reference_impl.sender_core import SendOptions, webhook_contract
from hookproof.reference_impl.sender_plain import PlainSender


class Drawn(Backoff):
    """The wait before retry ``retry`` (0 for the first) drawn by one named schedule over ``base * 2 ** retry``."""

    kind: str

    def __new__(cls, base: float, kind: str = "full") -> Drawn:
        drawn = super().__new__(cls, base=base)
        drawn.kind = kind  # beside the Backoff's fields: a subclass of a named tuple holds no fields of its own
        return drawn

    def delay(self, retry: int, previous: float = 0.0, rng: Uniform | None = None) -> float:
        draw = (rng or random).random()
        bound = self.base * 2**retry
        if self.kind == "full":  # uniform in [0, bound]
            return draw * bound
        if self.kind == "equal":  # half the bound, plus up to half at random
            return bound / 2 + draw * bound / 2
        if self.kind == "decorrelated":  # uniform in [base, 3 x the previous wait]
            return self.base + draw * (max(previous, self.base) * 3 - self.base)
        if self.kind == "constant":  # the base, give or take a quarter
            return self.base * (0.75 + draw / 2)
        if self.kind == "shrinking":  # eight times the base, halved at every retry, give or take a tenth
            return self.base * 8 / 2**retry * (0.9 + draw / 5)
        raise ValueError(f"unknown schedule {self.kind!r}")


KINDS = ("full", "equal", "decorrelated", "constant", "shrinking")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in KINDS:
        print(f"usage: jittered_senders.py SCHEDULE ...; schedules: {', '.join(KINDS)}", file=sys.stderr)
        return 2
    kind, args = argv[0], build_parser().parse_args(argv[1:])
    policy = webhook_contract(args.platform, args.contract or None).retry
    assert policy is not None
    base = for_policy(policy, time_scale=args.time_scale).base
    options = SendOptions(time_scale=args.time_scale, backoff=Drawn(base=base, kind=kind),
                          connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
                          attempt_deadline=args.attempt_deadline)
    record = PlainSender(options).deliver(args.url, args.platform, args.event or None, read_event(args.event_file),
                                          secret=args.secret or None, contract=args.contract or None)
    print(f"{len(record.attempts)} tries, delivered: {record.delivered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
