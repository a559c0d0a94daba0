"""Deliberately broken webhook senders, each breaking exactly one sender rule, for the sender checks' tests.

Run like the reference sender, with the way to break it first:

    python tests/broken_senders.py MODE --url URL --event-file F --platform P --event E --secret S ...

Each is the reference sender with one thing changed through its seams (the per-try request, the waits and
the number of tries in :class:`SendOptions`, the retry policy it reads, the client), so that a check failing
on it fails for that one reason: the command's own sender (:mod:`hookproof.reference_impl.sender_plain`,
which starts without httpx's imports), or the httpx :class:`~hookproof.reference_impl.sender.Sender` where a
mode changes the client (its default User-Agent, following redirects). Run as a file, it imports
``hookproof`` from the installed package.

One mode breaks no rule: ``stalls-once`` is the reference sender stalled 300 ms before one retry, in the first
delivery that finds no file at ``$HOOKPROOF_TEST_STALL_MARKER`` (it creates the file), as a busy machine stalls
a process now and then; a check must not fail it for that.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from hookproof.contract import NON_2XX, StatusRange
from hookproof.reference_impl.backoff import for_policy
from hookproof.reference_impl.sender_cli import build_parser, read_event
from hookproof.reference_impl.sender_core import (
    Attempt,
    Outgoing,
    Prepared,
    SendOptions,
    _SenderBase,
    prepare,
    webhook_contract,
)
from hookproof.reference_impl.sender_plain import PlainSender
from hookproof.wire import encode

# A change to one try's request: (sender, the prepared delivery, the try's number) -> the request sent.
Change = Callable[["Broken", Prepared, int], Outgoing]


class Broken(_SenderBase):
    """The reference sender with hooks to break one rule per try (mixed into a sender below)."""

    _client: Any  # the httpx senders' client, for the modes that change it

    def __init__(self, options: SendOptions, change: Change | None = None,
                 accept: Callable[[int], bool] | None = None,
                 retry_on: tuple[StatusRange, ...] | None = None) -> None:
        super().__init__(options)  # type: ignore[call-arg]  # the sender mixed in takes the options alone
        self._change, self._accept, self._retry_on = change, accept, retry_on

    def signed(self, prepared: Prepared, number: int) -> Outgoing:
        """The reference sender's request of this try, authentication included."""
        return super().outgoing(prepared, number)

    def outgoing(self, prepared: Prepared, number: int) -> Outgoing:
        return self._change(self, prepared, number) if self._change else self.signed(prepared, number)

    def prepare(self, url: str, platform: str, event: str | None, body: Any, secret: str | None,
                contract: str | None = None) -> Prepared:
        prepared = super().prepare(url, platform, event, body, secret, contract)
        if self._retry_on is None:
            return prepared
        # Reads the policy as if it retried these failures (every one: a 4XX the policy does not retry is
        # retried too; 5XX only: a 4XX it retries is not).
        policy = prepared.policy._replace(retry_on=self._retry_on)
        return prepared._replace(contract=prepared.contract._replace(retry=policy))

    def _try(self, out: Outgoing, number: int, first: float) -> Attempt:
        attempt = super()._try(out, number, first)  # type: ignore[misc]
        if self._accept and attempt.status is not None and not self._accept(attempt.status):
            return attempt._replace(status=None, error=f"treated {attempt.status} as a failure")
        return attempt


class BrokenPlain(Broken, PlainSender):
    """A broken sender on the command's own ``http.client`` sender."""


def _headers(out: Outgoing, **changes: str | None) -> Outgoing:
    lowered = {k.lower() for k in changes}
    headers = {k: v for k, v in out.headers.items() if k.lower() not in lowered}
    headers.update({k: v for k, v in changes.items() if v is not None})
    return out._replace(headers=headers)


def _with_body(sender: Broken, p: Prepared, n: int, body: Any) -> Outgoing:
    """The try with another body, authenticated over that body (so that only the body is wrong)."""
    changed = p._replace(body=body, outgoing=p.outgoing._replace(content=encode(body)))
    return sender.signed(changed, n)


def _event_header(sender: Broken, p: Prepared, n: int) -> Outgoing:
    out = sender.signed(p, n)
    names = p.contract.event_naming.header_names if p.contract.event_naming else ()
    return _headers(out, **{name: "not-" + out.headers[name] for name in names})


def _no_secret(sender: Broken, p: Prepared, n: int) -> Outgoing:
    return _headers(sender.signed(p, n), **dict.fromkeys(p.contract.secret_headers))


def _no_user_agent(sender: Broken, p: Prepared, n: int) -> Outgoing:
    sender._client.headers.pop("User-Agent", None)  # no default either: the request carries no User-Agent
    return _headers(sender.signed(p, n), **{"User-Agent": None})


def _altered_body(sender: Broken, p: Prepared, n: int) -> Outgoing:
    body = json.loads(p.outgoing.content)
    body["hookproof_added"] = "a property the payload did not have"
    return _with_body(sender, p, n, body)


def _with_bytes(sender: Broken, p: Prepared, n: int, content: bytes) -> Outgoing:
    """The try with other bytes for a body, authenticated over them (so that only the encoding is wrong)."""
    return sender.signed(p._replace(outgoing=p.outgoing._replace(content=content)), n)


def _numbers_as_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _numbers_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_strings(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _stripped(value: Any) -> Any:
    """Every string with its surrounding whitespace removed, as a sender that "cleans" its input does."""
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    return value.strip() if isinstance(value, str) else value


def _keeps_metadata(sender: Broken, p: Prepared, n: int) -> Outgoing:
    return _with_body(sender, p, n, BODY)  # the payload as handed over, metadata untouched


def _new_delivery_each_try(sender: Broken, p: Prepared, n: int) -> Outgoing:
    fresh = prepare(p.outgoing.url, p.platform, p.event, BODY, SECRET, contract=p.contract.name)
    return sender.signed(fresh, n)  # a fresh delivery_id and timestamp on every try


BODY: Any = None
SECRET: str | None = None


STALL = 0.3  # seconds: longer than 2 x a constant wait + 100 ms at the tests' time scale


def _stalls_once(sender: Broken, prepared: Prepared, number: int) -> Outgoing:
    """The reference request, after a stall before the last try of the first delivery of a test."""
    if number == 3:
        try:
            os.close(os.open(os.environ["HOOKPROOF_TEST_STALL_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            time.sleep(STALL)
    return sender.signed(prepared, number)


class Mode(NamedTuple):
    change: Change | None = None  # what changes per try
    max_tries: int | None = None  # tries in total, instead of the policy's
    waits: Mapping[str, float] = MappingProxyType({})  # Backoff fields replaced in the waits
    accept: Callable[[int], bool] | None = None  # which 2XX count as success
    follow_redirects: bool = False
    retry_on: tuple[StatusRange, ...] | None = None  # the answers retried, instead of the policy's
    client: bool = False  # changes the httpx client: runs on the httpx Sender
    leaves_a_child: bool = False  # delivers as it should, and leaves a process of its own running


MODES: dict[str, Mode] = {
    "wrong-method": Mode(lambda s, p, n: s.signed(p, n)._replace(method="PUT")),
    "wrong-content-type": Mode(lambda s, p, n: _headers(s.signed(p, n), **{"Content-Type": "text/plain"})),
    "no-user-agent": Mode(_no_user_agent, client=True),
    "wrong-event-header": Mode(_event_header),
    "no-secret": Mode(_no_secret),
    # a retry path that builds its request afresh and forgets the authentication
    "no-secret-on-retry": Mode(lambda s, p, n: _no_secret(s, p, n) if n > 1 else s.signed(p, n)),
    "altered-body": Mode(_altered_body),
    "keeps-metadata": Mode(_keeps_metadata),
    "new-delivery-id": Mode(_new_delivery_each_try),
    "only-200-succeeds": Mode(accept=lambda status: status == 200),
    "no-retry": Mode(max_tries=1),
    "six-tries": Mode(max_tries=6),
    "constant-interval": Mode(waits={"factor": 1.0}),  # the first wait, every time
    "immediate-retries": Mode(waits={"base": 0.0}),
    "growing-interval": Mode(waits={"factor": 5.0, "cap": 60.0}),  # a constant wait, five times longer each retry
    "stalls-once": Mode(_stalls_once),
    "follows-redirects": Mode(follow_redirects=True, client=True),
    # encoders gone wrong: non-ASCII as "?", Python's repr for JSON, numbers written as strings
    "mangles-non-ascii": Mode(lambda s, p, n: _with_bytes(
        s, p, n, json.dumps(json.loads(p.outgoing.content), ensure_ascii=False).encode("ascii", "replace"))),
    "writes-repr": Mode(lambda s, p, n: _with_bytes(s, p, n, repr(json.loads(p.outgoing.content)).encode())),
    "numbers-as-strings": Mode(lambda s, p, n: _with_body(s, p, n, _numbers_as_strings(
        json.loads(p.outgoing.content)))),
    "strips-whitespace": Mode(lambda s, p, n: _with_body(s, p, n, _stripped(json.loads(p.outgoing.content)))),
    "retries-every-failure": Mode(retry_on=NON_2XX),
    "retries-only-5xx": Mode(retry_on=(StatusRange(500, 599),)),
    "three-tries": Mode(max_tries=3),
    # delivers as it should, then hands "the rest" to a process in a session of its own that outlives it
    "leaves-a-child": Mode(leaves_a_child=True),
}
NOT_SENDING = ("sends-nothing", "hangs", "crashes")


def options_for(mode: Mode, args: Any) -> SendOptions:
    """The reference sender's options from the command line, with the mode's tries and waits."""
    options = SendOptions(time_scale=args.time_scale, jitter=args.jitter, backoff_base=args.backoff_base,
                          max_tries=mode.max_tries, connect_timeout=args.connect_timeout,
                          read_timeout=args.read_timeout, attempt_deadline=args.attempt_deadline)
    if mode.waits:
        policy = webhook_contract(args.platform, args.contract or None).retry
        assert policy is not None
        waits = for_policy(policy, time_scale=args.time_scale, jitter=args.jitter, base=args.backoff_base)
        options = options._replace(backoff=waits._replace(**mode.waits))
    return options


def main(argv: list[str]) -> int:
    global BODY, SECRET
    if not argv or argv[0] not in (*MODES, *NOT_SENDING):
        print(f"usage: broken_senders.py MODE ...; modes: {', '.join((*MODES, *NOT_SENDING))}", file=sys.stderr)
        return 2
    name, args = argv[0], build_parser().parse_args(argv[1:])
    if name == "sends-nothing":
        print("delivered (not really)")
        return 0
    if name == "hangs":
        while True:
            time.sleep(60)
    if name == "crashes":
        raise RuntimeError("the sender crashed before sending")
    BODY, SECRET = read_event(args.event_file), args.secret or None
    mode = MODES[name]
    if mode.client:
        from hookproof.reference_impl.sender import Sender

        class BrokenHttpx(Broken, Sender):
            pass

        with BrokenHttpx(options_for(mode, args), mode.change, mode.accept, mode.retry_on) as sender:
            if mode.follow_redirects:
                sender._client.follow_redirects = True
            record = sender.deliver(args.url, args.platform, args.event or None, BODY, secret=SECRET,
                                    contract=args.contract or None)
    else:
        plain = BrokenPlain(options_for(mode, args), mode.change, mode.accept, mode.retry_on)
        record = plain.deliver(args.url, args.platform, args.event or None, BODY, secret=SECRET,
                               contract=args.contract or None)
    print(f"{len(record.attempts)} tries, delivered: {record.delivered}")
    if mode.leaves_a_child:
        import subprocess

        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
