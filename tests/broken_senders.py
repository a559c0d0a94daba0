"""Deliberately broken webhook senders, each breaking exactly one sender rule, for the sender checks' tests.

Run like the reference sender, with the way to break it first:

    python tests/broken_senders.py MODE --url URL --event-file F --platform P --event E --secret S ...

Each is the reference sender (:mod:`reference_impl.sender`) with one thing changed through its seams
(the per-try request, the policy, the client), so that a check failing on it fails for that one reason.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_impl.backoff import Backoff
from reference_impl.sender import Attempt, Outgoing, Prepared, RetryPolicy, Sender, encode, prepare, webhook_profile
from reference_impl.sender_cli import build_parser, read_event


class Broken(Sender):
    """The reference sender with hooks to break one rule per try."""

    def __init__(self, policy: RetryPolicy, change: Callable[[Broken, Prepared, int], Outgoing] | None = None,
                 accept: Callable[[int], bool] | None = None) -> None:
        super().__init__(policy)
        self._change, self._accept = change, accept

    def outgoing(self, prepared: Prepared, number: int) -> Outgoing:
        return self._change(self, prepared, number) if self._change else prepared.outgoing

    def _try(self, out: Outgoing, number: int, first: float) -> Attempt:
        attempt = super()._try(out, number, first)
        if self._accept and attempt.status is not None and not self._accept(attempt.status):
            return dataclasses.replace(attempt, status=None, error=f"treated {attempt.status} as a failure")
        return attempt


def _headers(out: Outgoing, **changes: str | None) -> Outgoing:
    headers = {k: v for k, v in out.headers.items() if k not in changes}
    headers.update({k: v for k, v in changes.items() if v is not None})
    return dataclasses.replace(out, headers=headers)


def _event_header(sender: Broken, p: Prepared, n: int) -> Outgoing:
    profile = webhook_profile(p.platform)
    names = [part["header"] for part in profile.name_parts if "header" in part]
    return _headers(p.outgoing, **{name: "not-" + p.outgoing.headers[name] for name in names})


def _no_secret(sender: Broken, p: Prepared, n: int) -> Outgoing:
    return _headers(p.outgoing, **{p.secret_header: None}) if p.secret_header else p.outgoing


def _no_user_agent(sender: Broken, p: Prepared, n: int) -> Outgoing:
    sender._client.headers.pop("User-Agent", None)  # no default either: the request carries no User-Agent
    return _headers(p.outgoing, **{"User-Agent": None})


def _altered_body(sender: Broken, p: Prepared, n: int) -> Outgoing:
    import json

    body = json.loads(p.outgoing.content)
    body["hookproof_added"] = "a property the payload did not have"
    return dataclasses.replace(p.outgoing, content=encode(body))


def _keeps_metadata(sender: Broken, p: Prepared, n: int) -> Outgoing:
    return dataclasses.replace(p.outgoing, content=encode(BODY))  # the payload as handed over, metadata untouched


def _new_delivery_each_try(sender: Broken, p: Prepared, n: int) -> Outgoing:
    return prepare(p.outgoing.url, p.platform, p.event, BODY, SECRET).outgoing  # fresh delivery_id, timestamp


BODY: Any = None
SECRET: str | None = None

# mode -> (what changes per try, how the policy changes, which 2XX count as success)
MODES: dict[str, tuple[Callable[..., Outgoing] | None, dict[str, Any], Callable[[int], bool] | None]] = {
    "wrong-method": (lambda s, p, n: dataclasses.replace(p.outgoing, method="PUT"), {}, None),
    "wrong-content-type": (lambda s, p, n: _headers(p.outgoing, **{"Content-Type": "text/plain"}), {}, None),
    "no-user-agent": (_no_user_agent, {}, None),
    "wrong-event-header": (_event_header, {}, None),
    "no-secret": (_no_secret, {}, None),
    # a retry path that builds its request afresh and forgets the secret header
    "no-secret-on-retry": (lambda s, p, n: _no_secret(s, p, n) if n > 1 else p.outgoing, {}, None),
    "altered-body": (_altered_body, {}, None),
    "keeps-metadata": (_keeps_metadata, {}, None),
    "new-delivery-id": (_new_delivery_each_try, {}, None),
    "only-200-succeeds": (None, {}, lambda status: status == 200),
    "no-retry": (None, {"max_tries": 1}, None),
    "six-tries": (None, {"max_tries": 6}, None),
    "constant-interval": (None, {"factor": 1.0}, None),
    "immediate-retries": (None, {"base": 0.0}, None),
    "follows-redirects": (None, {}, None),
}
NOT_SENDING = ("sends-nothing", "hangs", "crashes")


def main(argv: list[str]) -> int:
    global BODY, SECRET
    if not argv or argv[0] not in (*MODES, *NOT_SENDING):
        print(f"usage: broken_senders.py MODE ...; modes: {', '.join((*MODES, *NOT_SENDING))}", file=sys.stderr)
        return 2
    mode, args = argv[0], build_parser().parse_args(argv[1:])
    if mode == "sends-nothing":
        print("delivered (not really)")
        return 0
    if mode == "hangs":
        while True:
            time.sleep(60)
    if mode == "crashes":
        raise RuntimeError("the sender crashed before sending")
    BODY, SECRET = read_event(args.event_file), args.secret or None
    change, changes, accept = MODES[mode]
    policy_changes = dict(changes)
    max_tries = policy_changes.pop("max_tries", None)
    backoff = Backoff(args.backoff_base, args.backoff_factor, args.backoff_cap, args.jitter)
    backoff = dataclasses.replace(backoff, **policy_changes)
    policy = RetryPolicy.for_platform(args.platform, backoff=backoff)
    if max_tries:
        policy = dataclasses.replace(policy, max_tries=max_tries)
    with Broken(policy, change, accept) as sender:
        if mode == "follows-redirects":
            sender._client.follow_redirects = True
        record = sender.deliver(args.url, args.platform, args.event or None, BODY, secret=SECRET)
    print(f"{len(record.attempts)} tries, delivered: {record.delivered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
