"""``python -m hookproof.reference_impl.sender_cli``: deliver one event from a file, print the delivery record as JSON.

Exit status: 0 delivered (a 2XX answer), 1 every try failed, 2 bad input (a missing or unreadable file,
invalid JSON, an unknown platform or event, a bad option) - always one line on stderr, never a traceback.
The secret is never printed: the record holds statuses and timings, not headers. Without ``--secret`` it is
read from ``$HOOKPROOF_SECRET``, as the sender checks hand it over: a command line is visible to every user of
the machine.

It delivers with :class:`~hookproof.reference_impl.sender_plain.PlainSender` (a plain socket) rather than
httpx: the sender checks start it once per delivery, and start-up was most of what each run cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from hookproof.command_line import SECRET_ENV, OneLineParser
from hookproof.reference_impl.sender_core import SenderError, SendOptions
from hookproof.reference_impl.sender_plain import PlainSender

PROG = "python -m hookproof.reference_impl.sender_cli"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="Deliver one webhook event to one URL, the way the platform's contract "
                      "says, retrying as its retry policy says. Prints the delivery record (JSON).")
    p.add_argument("--url", required=True, help="where to deliver (http or https)")
    p.add_argument("--event-file", required=True, type=Path, help="the event's JSON body")
    p.add_argument("--platform", required=True, help="a webhook platform id, e.g. doselect or codewars")
    p.add_argument("--contract", default="", help="which of the platform's contracts to follow (default: the "
                   "document's)")
    p.add_argument("--event", default="", help="the event name, e.g. code_challenge.created (needed where part "
                   "of the name travels in a header, as Codewars'; read from the body otherwise)")
    p.add_argument("--secret", default=os.environ.get(SECRET_ENV, ""),
                   help="the shared secret or signing key, used as the contract says (Codewars X-Webhook-Secret); "
                   f"empty means none; never printed (default: ${SECRET_ENV}, which keeps it out of ps)")
    p.add_argument("--time-scale", type=_positive, default=1.0,
                   help="multiply every wait the retry policy gives by this (1; 0.001 turns 60 s into 60 ms)")
    p.add_argument("--backoff-base", type=_non_negative, default=None,
                   help="first wait of an increasing backoff, s (default: the policy's, else 1 s, times the scale)")
    p.add_argument("--jitter", type=_non_negative, default=0.0,
                   help="add up to this fraction of each increasing wait at random; never shortens a wait (0)")
    p.add_argument("--connect-timeout", type=_positive, default=5.0, help="s (5)")
    p.add_argument("--read-timeout", type=_positive, default=10.0, help="s per read (10)")
    p.add_argument("--attempt-deadline", type=_positive, default=15.0, help="s for a whole try (15)")
    return p


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def read_event(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"event file {str(path)!r} does not exist")
    except IsADirectoryError:
        _fail(f"event file {str(path)!r} is a directory")
    except UnicodeDecodeError:
        _fail(f"event file {str(path)!r} is not UTF-8 text")
    except OSError as exc:
        _fail(f"cannot read event file {str(path)!r}: {exc.strerror or exc}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        _fail(f"event file {str(path)!r} is not valid JSON: {exc}")
    except RecursionError:
        _fail(f"event file {str(path)!r} is nested too deeply to read")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        url = urlsplit(args.url)
        valid = url.scheme in ("http", "https") and bool(url.hostname) and url.port != 0
    except ValueError:  # a port that is not a number, or out of range
        valid = False
    if not valid:
        _fail(f"--url {args.url!r} is not an http(s) URL")
    body = read_event(args.event_file)
    try:
        options = SendOptions(time_scale=args.time_scale, jitter=args.jitter, backoff_base=args.backoff_base,
                              connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
                              attempt_deadline=args.attempt_deadline)
        sender = PlainSender(options)
        prepared = sender.prepare(args.url, args.platform, args.event or None, body, args.secret or None,
                                  args.contract or None)
        record = sender.deliver_prepared(prepared)
    except (SenderError, ValueError) as exc:
        _fail(str(exc))
    print(json.dumps(record.to_dict(), indent=2))
    return 0 if record.delivered else 1


if __name__ == "__main__":
    raise SystemExit(main())
