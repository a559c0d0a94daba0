"""The live-traffic commands of ``hookproof``: ``trigger``, ``listen``, ``captures list|show|export``,
``replay``, and ``validate`` reading a capture file or a raw HTTP request.

They add to :mod:`hookproof.cli`'s parser and share its rules: exit 0 when the command did its job (a 2XX,
a conforming delivery, every replay FIXED), 1 when the target or the delivery did not, 2 for bad input -
one line on stderr, never a traceback. Secrets come from ``--secret`` or ``$HOOKPROOF_SECRET`` and are
never printed or stored.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hookproof import catalog, redact, tls
from hookproof.cli import SECRET_ENV, InputError, _add_schemas, _configure, _parse_json, _read_bytes
from hookproof.contract import CatalogError
from hookproof.live import terminal
from hookproof.live.sniff import REQUEST_LINE, looks_like_recording

if TYPE_CHECKING:
    from hookproof.live.recording import Recording

DEFAULT_DB = "hookproof-captures.sqlite3"
DEFAULT_PORT = 8787
SHOWN_BODY = 300


# --- shared helpers ------------------------------------------------------------------------------------


def _secret(args: argparse.Namespace) -> str | None:
    secret: str | None = args.secret or os.environ.get(SECRET_ENV) or None
    if secret is not None and (secret != secret.strip() or any(ord(c) < 32 or ord(c) == 127 for c in secret)):
        raise InputError("the secret has leading or trailing spaces or control characters: no header can carry it")
    redact.remember(secret)
    return secret


def _url(option: str, value: str) -> str:
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{option} {redact.url(value)!r}: {exc}") from None
    if not ok:
        raise InputError(f"{option} {redact.url(value)!r} is not an http(s) URL")
    if port == 0:  # no server listens on port 0: every request would be "refused", as if the receiver were down
        raise InputError(f"{option} {redact.url(value)!r}: port 0 is not a port a receiver can listen on")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 and at most 600 seconds")
    return value


def _secret_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--secret", help=f"{what} (default: ${SECRET_ENV}, which keeps it out of ps); never printed or "
                   "stored")


def _session(timeout: float) -> Any:
    from hookproof.conformance.http_exchange import Breaker, HttpSession

    return HttpSession(timeout, breaker=Breaker(limit=10**9),  # a person replaying asks for every request
                       timeout_option="--timeout")


def _show_request(method: str, url: str, headers: dict[str, str], body: bytes, secret_headers: Sequence[str]) -> None:
    from hookproof.conformance.report import excerpt, masked_headers

    print(f"> {method} {redact.url(url)}  ({len(body)} bytes)")
    for name, value in masked_headers(headers, secret_headers).items():
        print(f"> {name}: {value}")
    print(f"> {excerpt(body, SHOWN_BODY)}")


def _show_answer(exchange: Any) -> None:
    from hookproof.conformance.report import excerpt

    if exchange.error is not None:
        print(f"< the target {exchange.error} (after {exchange.elapsed:.3f} s)")
    else:
        print(f"< {exchange.status} after {exchange.elapsed:.3f} s: {excerpt(exchange.answer, SHOWN_BODY)}")


def _answer_json(exchange: Any) -> dict[str, Any]:
    from hookproof.conformance.report import excerpt

    return {"status": exchange.status, "elapsed": round(exchange.elapsed, 4), "error": exchange.error,
            "excerpt": excerpt(exchange.answer, SHOWN_BODY)}


# --- trigger -------------------------------------------------------------------------------------------


def cmd_trigger(args: argparse.Namespace) -> int:
    from hookproof.live import trigger
    from hookproof.live.trigger import TriggerError

    _configure(args)
    url = _url("--to", args.to)
    secret = _secret(args)
    if args.seed is not None and not args.generated:
        raise InputError("--seed chooses a generated body: give --generated too")
    if args.body and args.generated:
        raise InputError("--body and --generated both choose the body: give one")
    body, origin = None, ""
    if args.body:
        body, origin = _parse_json(args.body, _read_bytes(args.body)), f"the body in {args.body}"
    try:
        overrides = [trigger.parse_override(text) for text in args.set]
        built = trigger.build(args.platform, args.event, url, contract=args.contract, secret=secret, body=body,
                              body_origin=origin, generated=args.generated, seed=args.seed, overrides=overrides,
                              allow_invalid=args.allow_invalid)
    except TriggerError as exc:
        raise InputError(str(exc)) from None
    session = _session(args.timeout)
    try:
        exchange = session.send(url, built.headers, built.content, method=built.spec.method)
    finally:
        session.close()
    ok = exchange.error is None and 200 <= (exchange.status or 0) < 300
    if args.json:
        from hookproof.conformance.report import masked_headers

        print(json.dumps({"platform": built.spec.platform, "contract": built.spec.name, "event": built.event,
                          "origin": built.origin, "url": redact.url(url), "method": built.spec.method,
                          "headers": masked_headers(built.headers, built.spec.secret_headers),
                          "body": redact.json_value(json.loads(built.content.decode("utf-8", "replace"))),
                          "answer": _answer_json(exchange), "ok": ok}, ensure_ascii=False))
        return 0 if ok else 1
    print(f"trigger {built.spec.label} {built.event}: {built.origin}")
    _show_request(built.spec.method, url, built.headers, built.content, built.spec.secret_headers)
    _show_answer(exchange)
    unused = _unused_secret(built.spec, secret)
    if unused:
        print(unused)
    if exchange.status in (401, 403):
        hint = "" if secret else " (no secret was given: --secret or $HOOKPROOF_SECRET)"
        print(f"the target refused the delivery's authentication{hint}")
    return 0 if ok else 1


def _unused_secret(spec: Any, secret: str | None) -> str:
    """A secret given for a contract that authenticates nothing is not sent: say so, and name the contracts of
    the platform that would use it, rather than let a 401 look like a wrong secret."""
    if not secret or spec.auth:
        return ""
    signing = [c.name for c in catalog.platform(spec.platform).contracts if c.auth]
    where = f" (--contract {' or '.join(signing)} authenticates)" if signing else ""
    return f"note: the secret was not sent: contract {spec.name} of {spec.platform} has no authentication{where}"


# --- listen --------------------------------------------------------------------------------------------


def _store(path: str, *, create: bool) -> Any:
    """The capture database; one that cannot be used is a StoreError, which :func:`_one_line_store_errors`
    turns into one line, whether it is met here or at a read later."""
    from hookproof.live.store import CaptureStore

    if not path.strip():
        raise InputError("--db is empty: name the SQLite file of the captures (an unset variable?)")
    if not create and not Path(path).is_file():
        raise InputError(f"--db {path}: no such capture database (hookproof listen makes it)")
    store = CaptureStore(path)
    if create:
        store.check()
    return store


def _one_line_store_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command that opens the capture database: a file that cannot be used, at its opening or at a read
    after it (damaged past its first page), is one line of bad input, never a traceback."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from hookproof.live.store import StoreError

        try:
            return command(args)
        except StoreError as exc:
            raise InputError(str(exc)) from None

    return run


def cmd_listen(args: argparse.Namespace) -> int:
    from hookproof.live.listen import Forwarder, Listener, Output
    from hookproof.reference_impl.serving import LoopbackServer

    _configure(args)
    try:
        plat = catalog.platform(args.platform)
    except CatalogError as exc:
        raise InputError(str(exc)) from None
    if plat.kind != "webhook":
        raise InputError(f"{plat.id} is a {plat.kind}: it sends no deliveries to listen for")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port} is not a TCP port")
    if args.max_body < 1:
        raise InputError("--max-body must be at least 1 byte")
    secret = _secret(args)
    try:
        forward = Forwarder(_url("--forward-to", args.forward_to), args.timeout) if args.forward_to else None
    except tls.TrustError as exc:  # an https receiver's CA file that cannot be read
        raise InputError(f"--forward-to {redact.url(args.forward_to)}: {exc}") from None
    store = _store(args.db, create=True)
    output = Output(args.json)
    app = Listener(plat.id, store, output, secret=secret, forward=forward, accept_all=args.accept_all,
                   max_body=args.max_body)
    try:
        _can_bind(args.host, args.port)  # a busy port is one line of ours, not the server's
        server = LoopbackServer(app, args.host, args.port)
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {getattr(exc, 'strerror', None) or exc}") from None
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    forwarding = f"; forwarding to {redact.url(args.forward_to)}" if args.forward_to else ""
    checked = "authentication checked" if secret else "authentication not checked (no --secret)"
    banner = (f"hookproof listen: {plat.name} deliveries on http://{args.host}:{server.port}/ (any path); "
              f"captures in {args.db} ({store.count()} kept); {checked}{forwarding}")
    print(json.dumps({"listening": f"http://{args.host}:{server.port}/", "db": args.db}) if args.json
          else banner, flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        output.stopped(store.count(), args.db)
    finally:
        output.close()
        store.close()
    return 0


def _can_bind(host: str, port: int) -> None:
    """Raise the OSError a bind to ``host:port`` meets (a busy port, an address not of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a port in TIME_WAIT is free
        probe.bind((host, port))


def _stop(*_: object) -> None:
    """SIGTERM ends ``listen`` as Ctrl-C does: the server closes, every capture is committed already. The first
    signal stops it; the ones after it (Ctrl-C pressed twice) are ignored, so that they cannot interrupt the
    bounded shutdown with a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


# --- captures ------------------------------------------------------------------------------------------


_RELATIVE = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str, now: datetime | None = None) -> float:
    """``--since``: an ISO date or date-time (local time when it has no offset), or an age: ``30m``, ``2h``, ``1d``."""
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text.strip())
    if relative:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
        try:
            return (now - timedelta(**{unit: int(relative.group(1))})).timestamp()
        except (OverflowError, ValueError):  # past year 1, or more days than a timedelta holds
            raise InputError(f"--since {text!r} reaches back before the year 1: give a shorter age") from None
    try:
        when = datetime.fromisoformat(text.strip())
        return (when if when.tzinfo else when.astimezone()).timestamp()
    except (OverflowError, ValueError):
        raise InputError(f"--since {text!r} is neither a date (2026-12-02, 2026-12-02T05:00) nor an age (30m, 2h, "
                         "1d)") from None


def _selected(args: argparse.Namespace) -> list[Recording]:
    store = _store(args.db, create=False)
    try:
        since = parse_since(args.since) if args.since else None
        return list(store.select(event=args.event, since=since))
    finally:
        store.close()


def _line(rec: Recording) -> str:
    verdict = "conforms" if rec.conforms else "DOES NOT CONFORM"
    answered = rec.answer.status if rec.answer else "-"
    forward = ""
    if rec.forward is not None:
        forward = f"  forward {rec.forward.status if rec.forward.error is None else rec.forward.error[:60]}"
    times = f"  received {rec.extra['times_received']} times" if rec.extra.get("times_received") else ""
    return terminal.one_line(redact.text(f"#{rec.id:<6} {rec.recorded_at}  {rec.event or '(unknown event)'}  "
                                         f"{'contract ' + rec.contract if rec.contract else 'no contract'}  "
                                         f"{verdict}  answered {answered}{forward}{times}"))


def _masked_again(rec: Recording) -> Recording:
    """The capture with every secret known now (``--secret``, else ``$HOOKPROOF_SECRET``) masked in each field
    as stored: what ``captures list --json`` and ``show`` print and ``export`` writes (a capture stored before a
    form of the secret was masked, or by a listen given no secret, keeps it as it came)."""
    from dataclasses import replace

    forward = rec.forward and replace(rec.forward, excerpt=redact.text(rec.forward.excerpt),
                                      error=rec.forward.error and redact.text(rec.forward.error))
    return replace(rec, path=redact.text(rec.path), headers=tuple((k, redact.text(v)) for k, v in rec.headers),
                   body=redact.data(rec.body), problems=tuple(redact.text(p) for p in rec.problems), forward=forward)


def _show_capture(rec: Recording, *, as_json: bool) -> None:
    """``captures show``: the capture whole, with every secret known now (``$HOOKPROOF_SECRET``) masked in what
    is printed: in each field as stored (before ``--json`` escapes it again), once more in what is printed,
    where a body's JSON-escaped secret (``\\/``, ``\\u00f6``) reads as itself once parsed and pretty-printed, and
    before control characters are escaped or the body cut. So a capture stored before a form of the secret was
    masked, or by a listen given no secret, never prints it."""
    rec = _masked_again(rec)
    if as_json:
        print(redact.text(rec.dumps()), end="")
        return
    print(_line(rec))
    print(terminal.one_line(redact.text(f"{rec.method} {rec.path}")))
    for name, value in rec.headers:
        print(terminal.one_line(redact.text(f"{name}: {value}")))
    print()
    body = rec.json_body()
    text = redact.text(json.dumps(body, ensure_ascii=False, indent=2) if body is not None
                       else rec.body.decode("utf-8", "replace"))
    print(terminal.lines(text[:20000]) + ("\n... (cut)" if len(text) > 20000 else ""))
    if rec.body_truncated:
        print("(the body was larger than the cap and was not kept)")
    for problem in rec.problems:
        print(terminal.one_line(redact.text(f"problem: {problem}")))
    if rec.forward is not None:
        answer = rec.forward.status if rec.forward.error is None else rec.forward.error
        print(terminal.one_line(redact.text(f"forward: {answer} after {rec.forward.elapsed:.3f} s: "
                                            f"{rec.forward.excerpt!r}")))


def cmd_captures(args: argparse.Namespace) -> int:
    from hookproof.live import recording as recordings  # dataclasses: not for the commands that read none

    _secret(args)  # remembered: every field printed or written is masked with it

    if args.action == "list":
        found = _selected(args)
        for rec in found:
            print(json.dumps(_masked_again(rec).to_json(), ensure_ascii=False) if args.json else _line(rec))
        if not args.json:
            print(f"{len(found)} capture(s) in {args.db}")
        return 0
    if args.action == "show":
        if len(args.ids) != 1 or not args.ids[0].isdigit():
            raise InputError("captures show takes one capture id (a number, as captures list shows it)")
        store = _store(args.db, create=False)
        try:
            rec = store.get(int(args.ids[0]))
        finally:
            store.close()
        if rec is None:
            raise InputError(f"no capture {args.ids[0]} in {args.db}")
        _show_capture(rec, as_json=args.json)
        return 0
    if args.ids:
        raise InputError("captures export takes a folder, and --event / --since to choose (no ids)")
    if not args.dir:
        raise InputError("captures export needs a folder: hookproof captures export DIR")
    found = _selected(args)
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{args.dir} is a file, not a folder; choose a folder to export into")
    taken = [folder / rec.file_name() for rec in found if (folder / rec.file_name()).exists()]
    if taken:  # a file a user may have edited (a regression case) is never replaced without a word
        more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
        raise InputError(f"{taken[0]}{more} already exist: choose an empty folder, or remove them")
    try:
        for rec in found:
            recordings.write(folder, _masked_again(rec))
    except OSError as exc:
        raise InputError(f"cannot write to {args.dir}: {exc.strerror or exc}") from None
    print(f"wrote {len(found)} capture(s) to {args.dir}; replay them with hookproof replay {args.dir} --to URL, or "
          f"check a receiver with them: hookproof run --target-url URL --platform P --captures {args.dir}")
    return 0


# --- replay --------------------------------------------------------------------------------------------


def _replayed(args: argparse.Namespace) -> Iterator[tuple[str, Recording]]:
    from hookproof.live import recording as recordings

    ids = [item for item in args.items if item.isdigit() and not Path(item).exists()]
    paths = [item for item in args.items if item not in ids]
    if ids:
        store = _store(args.db, create=False)
        try:
            for capture_id in ids:
                rec = store.get(int(capture_id))
                if rec is None:
                    raise InputError(f"no capture {capture_id} in {args.db}")
                yield f"capture {capture_id}", rec
        finally:
            store.close()
    try:
        for path, rec in recordings.load_all(paths):
            yield str(path), rec
    except recordings.RecordingError as exc:
        raise InputError(str(exc)) from None


def cmd_replay(args: argparse.Namespace) -> int:
    from hookproof.live import recording as recordings
    from hookproof.live import replay
    from hookproof.live.replay import ReplayError

    _configure(args)
    if args.to is not None and args.target_url is not None and args.to != args.target_url:
        raise InputError(f"--to {redact.url(args.to)} and --target-url {redact.url(args.target_url)} name two "
                         "targets: give one")
    target = args.to or args.target_url
    if not target:
        raise InputError("replay needs a target: --to URL (or --target-url URL)")
    url = _url("--to", target)
    secret = _secret(args)
    chosen = list(_replayed(args))
    try:
        prepared = [(where, rec, replay.prepare(rec, secret, fresh=args.fresh)) for where, rec in chosen]
    except ReplayError as exc:
        raise InputError(str(exc)) from None
    session = _session(args.timeout)
    tally: dict[str, int] = {}
    results = []
    try:
        for where, rec, out in prepared:
            exchange, ok = replay.resend(session, url, rec, out)
            word = replay.word(rec, ok)
            tally[word] = tally.get(word, 0) + 1
            if args.json:
                results.append({"recording": where, "id": rec.id, "kind": rec.kind, "check": rec.check,
                                "expected": rec.expected, "within": rec.within, "answer": _answer_json(exchange),
                                "verdict": word})
                continue
            what = f"{rec.check}: " if rec.check else ""
            within = f", within {rec.within:g} s" if rec.within is not None else ""
            print(f"{where}: {what}{rec.platform} {rec.event or '(unknown event)'} (expected {rec.expected}{within})")
            hidden = sorted(recordings.secret_headers(rec.platform))
            _show_request(out.method, url, out.headers, out.body, hidden)
            _show_answer(exchange)
            before = ""
            if rec.answer is not None:
                before = f" (recorded: {rec.answer.error or rec.answer.status})"
            print(f"{word}{before}")
    finally:
        session.close()
    failed = tally.get("STILL FAILING", 0) + tally.get("FAILED", 0)
    if args.json:
        print(json.dumps({"results": results, "tally": tally}, ensure_ascii=False))
    else:
        print(f"replayed {len(prepared)}: " + ", ".join(f"{n} {w}" for w, n in sorted(tally.items())))
    return 1 if failed else 0


# --- validate, for recorded requests --------------------------------------------------------------------


def parse_raw_http(path: str, data: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A raw HTTP/1.1 request as a file (``POST /hooks HTTP/1.1``, headers, a blank line, the body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    match = REQUEST_LINE.match(lines[0])
    if match is None:
        raise InputError(f"{path}: not an HTTP request (the first line is not 'METHOD /path HTTP/1.1')")
    headers = []
    for number, line in enumerate(lines[1:], start=2):
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise InputError(f"{path}: line {number} is not a header ('Name: value')")
        headers.append((name.strip(), value.strip().encode("latin-1").decode("utf-8", "replace")))
    lowered = {k.lower(): v for k, v in headers}
    if "chunked" in lowered.get("transfer-encoding", "").lower():
        raise InputError(f"{path}: a chunked body; save the request with its body decoded")
    length = lowered.get("content-length")
    if length is not None and length.isdigit() and int(length) < len(body):
        body = body[:int(length)]
    return match.group(1).decode(), match.group(2).decode("latin-1"), headers, body


def _recorded_inputs(path: str, platform: str | None) -> list[tuple[str, Recording]]:
    from hookproof.live import recording as recordings

    try:
        if Path(path).is_dir() or looks_like_recording(Path(path)):
            return [(str(p), rec) for p, rec in recordings.load_all([path])]
    except recordings.RecordingError as exc:
        raise InputError(str(exc)) from None
    if not platform:
        raise InputError(f"{path}: a raw HTTP request names no platform: give --platform")
    method, target, headers, body = parse_raw_http(path, _read_bytes(path))
    return [(path, recordings.Recording(kind="capture", id=path, platform=platform, method=method, path=target,
                             headers=tuple(headers), body=body))]


def cmd_validate_recorded(args: argparse.Namespace, secret: str | None) -> int:
    """``hookproof validate`` on captures or raw requests: each is held to its platform's contracts, headers
    included; exit 0 when every one conforms."""
    from hookproof import validation
    from hookproof.live import recording as recordings

    _configure(args)
    worst = 0
    for where, rec in _recorded_inputs(args.file, args.platform):
        platform = args.platform or rec.platform
        try:
            plat = catalog.platform(platform)
        except CatalogError as exc:
            raise InputError(str(exc)) from None
        body = _parse_json(where, rec.body)
        headers = dict(rec.headers)
        masked = any(v == redact.MASK for k, v in rec.headers if k.lower() in recordings.secret_headers(platform))
        try:
            verdict = validation.validate(platform, body, headers, event=args.event, contract=args.contract,
                                          strict=args.strict, content=rec.body, secret=None if masked else secret)
        except CatalogError as exc:
            raise InputError(f"{where}: {exc}") from None
        label = f"{plat.id} {verdict.event}" if verdict.event else plat.id
        contract = plat.contract(verdict.contract) if verdict.contract else plat.base
        if verdict.event is not None and verdict.event in contract.events:
            verdict.problems += validation.check_request(contract, verdict.event, rec.method, headers)
        if verdict.ok:
            print(f"{where}: conforms to {label}{' (strict)' if args.strict else ''}, contract {contract.name} "
                  f"({contract.title})")
            if contract.auth and not verdict.auth_checked:
                why = "the capture keeps its secret headers masked" if masked else "give the secret with --secret-env"
                print(f"  authentication not checked: {why}")
            continue
        worst = 1
        print(f"{where}: does not conform to {label}, contract {contract.name}")
        for problem in verdict.problems:
            print(f"  {redact.text(str(problem))}")
    return worst


# --- the parser ----------------------------------------------------------------------------------------


def add_commands(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the live-traffic sub-commands to ``hookproof``'s parser; returns each command's function."""
    t = sub.add_parser("trigger", help="send one delivery of an event to a URL, as the platform would (exit 0 on "
                       "a 2XX, 1 otherwise, 2 bad input)")
    t.add_argument("platform", help="a webhook platform id (see hookproof list)")
    t.add_argument("event", help="the event, as the contract names it (see hookproof list)")
    t.add_argument("--to", required=True, metavar="URL", help="where to send it (http or https)")
    t.add_argument("--contract", help="the platform contract to send it as (default: the document's)")
    _secret_option(t, "shared secret or signing key, applied as the contract says")
    t.add_argument("--generated", action="store_true", help="a generated body instead of the documented example")
    t.add_argument("--seed", type=int, help="with --generated: this seed's body (default: the same body every run)")
    t.add_argument("--body", metavar="FILE", help="send this JSON body ('-' for standard input) instead")
    t.add_argument("--set", action="append", default=[], metavar="/POINTER=VALUE",
                   help="override one value (repeatable); VALUE is JSON where it reads as JSON (42, null, \"42\"), "
                   "else text; the result must still conform")
    t.add_argument("--allow-invalid", action="store_true", help="send a delivery that does not conform after the "
                   "overrides (default: refuse)")
    t.add_argument("--timeout", type=_positive, default=10.0, help="seconds to wait for the answer (10)")
    t.add_argument("--json", action="store_true", help="print one JSON object instead")
    _add_schemas(t)

    ln = sub.add_parser("listen", help="receive a platform's real deliveries: validate, keep (SQLite), answer, and "
                        "optionally forward each")
    ln.add_argument("--platform", required=True, help="the webhook platform whose deliveries arrive here")
    ln.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1; expose it with a tunnel)")
    ln.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port ({DEFAULT_PORT}; 0 picks a free one)")
    ln.add_argument("--forward-to", metavar="URL", help="pass each delivery on, unchanged, to this receiver; its "
                    "answer is kept and given back to the platform (502 when it gives none)")
    ln.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file of the captures ({DEFAULT_DB}, made if missing)")
    _secret_option(ln, "check each delivery's authentication with this secret")
    ln.add_argument("--accept-all", action="store_true", help="answer 200 to every delivery, conforming or not "
                    "(default: 4XX with the reason for one that does not conform); ignored with --forward-to")
    ln.add_argument("--max-body", type=int, default=1024 * 1024, help="largest body kept and accepted, bytes "
                    "(1 MiB; larger gets 413)")
    ln.add_argument("--timeout", type=_positive, default=10.0, help="seconds the forward target may take (10)")
    ln.add_argument("--json", action="store_true", help="one JSON line per delivery instead of text (no counter)")
    _add_schemas(ln)

    c = sub.add_parser("captures", help="list, show or export what hookproof listen kept", intermixed=True)
    c.add_argument("action", choices=("list", "show", "export"), help="list; show ID; export DIR")
    c.add_argument("ids", nargs="*", metavar="ID|DIR", help="show: the capture id; export: the folder to write "
                   "(one file per capture, capture-ID.json)")
    c.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file of the captures ({DEFAULT_DB})")
    c.add_argument("--dir", help=argparse.SUPPRESS)
    c.add_argument("--event", help="only captures of this event")
    c.add_argument("--since", help="only captures received since: a date or date-time (2026-12-02T05:00), or an "
                   "age (30m, 2h, 1d)")
    c.add_argument("--json", action="store_true", help="recordings as JSON (list: one per line)")
    _secret_option(c, "the secret the captures may hold (show and export mask it, in every form, also in a capture "
                   "kept before that form was masked)")

    r = sub.add_parser("replay", help="send captures or saved failures again and say whether each now gets the "
                       "answer it should (FIXED / STILL FAILING for failures; exit 0 when every one does)",
                       intermixed=True)
    r.add_argument("items", nargs="+", metavar="ID|FILE|DIR",
                   help="capture ids (from --db), recording files, or folders of them (captures export, "
                   "--hookproof-failures)")
    r.add_argument("--to", metavar="URL", help="where to send them (the whole URL; the recorded path is not added)")
    r.add_argument("--target-url", metavar="URL", help="the same as --to")
    r.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file the capture ids are in ({DEFAULT_DB})")
    _secret_option(r, "the secret to sign them with again: a recording keeps authentication masked")
    r.add_argument("--fresh", action="store_true", help="new per-delivery metadata (DoSelect meta.delivery_id and "
                   "meta.timestamp, webhook-id), so that a receiver that drops repeats processes them again")
    r.add_argument("--timeout", type=_positive, default=10.0, help="seconds the target may take per request (10); "
                   "a recording that holds its answer to fewer (its 'within') is judged by those")
    r.add_argument("--json", action="store_true", help="print one JSON object instead")
    _add_schemas(r)
    return {"trigger": cmd_trigger, **{name: _one_line_store_errors(command) for name, command in (
        ("listen", cmd_listen), ("captures", _captures_entry), ("replay", cmd_replay))}}


def _captures_entry(args: argparse.Namespace) -> int:
    if args.action == "export":
        args.dir = args.ids[0] if args.ids else None
        args.ids = args.ids[1:]
    return cmd_captures(args)

