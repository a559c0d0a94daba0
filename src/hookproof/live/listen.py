"""``hookproof listen``: an endpoint for a platform's real deliveries that identifies, validates, keeps and
(optionally) forwards each one, and says what it saw, one line per delivery.

Each delivery is read with a cap, validated against every contract of the platform (its authentication too,
given the secret), stored (:mod:`hookproof.live.store`: committed before any answer), and answered: 2XX for a
conforming delivery, 4XX with the reason otherwise (``accept_all`` answers 200 to everything, for a platform
that disables a webhook after refusals); with ``forward_to`` the delivery goes on, unchanged, to the user's
receiver, whose answer is stored and given back to the platform (docs/decisions.md#listen-answers).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from hookproof import auth, catalog, pointers, redact, tls, validation
from hookproof.contract import CatalogError
from hookproof.deadline import Deadline
from hookproof.live import terminal
from hookproof.live.recording import HOP_BY_HOP, Answer, AuthMode, Recording, masked
from hookproof.live.store import CaptureStore, Stored
from hookproof.reference_impl.http_input import parse_json, read_body

if TYPE_CHECKING:  # imported by a Forwarder only: a listener that forwards nothing starts without httpx (65 ms)
    import ssl

    import httpx

MAX_BODY_BYTES = 1024 * 1024
ANSWER_CAP = 64 * 1024
EXCERPT = 120


def _text_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header values as the sender wrote them: a WSGI server hands them over as Latin-1 (PEP 3333)."""
    return [(k, auth.header_bytes(v).decode("utf-8", errors="replace")) for k, v in headers]


def delivery_key(platform: str, rec: Recording, body: Any) -> str:
    """What makes two requests one delivery: the contract's per-delivery id (DoSelect meta.delivery_id), a
    Standard Webhooks webhook-id, else the event and the bytes (a retry repeats both)."""
    try:
        specs = catalog.platform(platform).contracts
    except CatalogError:
        specs = ()
    for spec in specs:
        for entry in spec.metadata:
            value = pointers.find(body, entry.pointer) if entry.value == "uuid4" else None
            if isinstance(value, str) and value:
                return f"{platform}:{rec.event}:id:{value}"
    msg_id = rec.header("webhook-id")
    if msg_id:
        return f"{platform}:webhook-id:{msg_id}"
    return f"{platform}:{rec.event}:{rec.path}:sha256:{hashlib.sha256(rec.body).hexdigest()}"


@dataclass
class Counter:
    received: int = 0
    conforming: int = 0
    not_conforming: int = 0
    repeats: int = 0
    forward_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self) -> str:
        return (f"received {self.received}  conforming {self.conforming}  not conforming {self.not_conforming}  "
                f"repeats {self.repeats}  forward failures {self.forward_failures}")


class Output:
    """Per-delivery lines (or JSON lines) on stdout; on a terminal, a live counter on stderr beneath them."""

    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.counter = Counter()
        self.live = not as_json and self.err.isatty()
        self._lock = threading.Lock()

    def delivery(self, rec: Recording, stored: Stored, status: int) -> None:
        c = self.counter
        with c.lock:
            c.received += 1
            if not stored.new:
                c.repeats += 1
            elif rec.conforms:
                c.conforming += 1
            else:
                c.not_conforming += 1
            if rec.forward is not None and (rec.forward.error or (rec.forward.status or 0) >= 500):
                c.forward_failures += 1
            counts = c.line()
        self._write(self._render(rec, stored, status), counts)

    def _write(self, line: str, counts: str | None) -> None:
        """One line on stdout; on a terminal, the live counter's line is cleared above it and written again
        beneath it (``counts`` None: not again, the counter is done)."""
        with self._lock:
            if self.live:
                self.err.write("\r\x1b[K")
                if counts is None:
                    self.err.flush()
                    self.live = False
            self.out.write(line + "\n")
            self.out.flush()
            if self.live and counts is not None:
                self.err.write(counts)
                self.err.flush()

    def _render(self, rec: Recording, stored: Stored, status: int) -> str:
        if self.as_json:
            return json.dumps({"id": stored.id, "new": stored.new, "times": stored.times, "time": rec.recorded_at,
                               "event": rec.event, "contract": rec.contract, "conforms": rec.conforms,
                               "problems": list(rec.problems[:5]), "answered": status,
                               "forward": None if rec.forward is None else {
                                   "status": rec.forward.status, "error": rec.forward.error,
                                   "elapsed": round(rec.forward.elapsed, 4)}}, ensure_ascii=False)
        when = datetime.now().strftime("%H:%M:%S")
        verdict = "conforms" if rec.conforms else "DOES NOT CONFORM"
        first = f"  {_without_source(rec.problems[0])[:160]}" if rec.problems else ""
        repeat = "" if stored.new else f"  (repeat {stored.times} of #{stored.id})"
        forward = ""
        if rec.forward is not None:
            forward = f"  -> forward {rec.forward.status if rec.forward.error is None else rec.forward.error[:80]}"
        contract = f"contract {rec.contract}" if rec.contract else "no contract"
        return terminal.one_line(f"{when}  #{stored.id:<5} {rec.event or '(unknown event)'}  {contract}  {verdict}"
                                 f"{first}{repeat}  answered {status}{forward}")

    def refused(self, status: str, reason: str) -> None:
        """A request refused before it could be read as a delivery (by the HTTP parser): shown, never kept."""
        if self.as_json:
            line = json.dumps({"refused": status, "reason": reason, "kept": False}, ensure_ascii=False)
        else:
            line = terminal.one_line(f"{datetime.now().strftime('%H:%M:%S')}  refused unread, not kept: {status}: "
                                     f"{reason[:200]}")
        with self.counter.lock:
            counts = self.counter.line()
        self._write(line, counts)

    def stopped(self, kept: int, db: str) -> None:
        """The closing line: what this session received, and what the database now holds, so that a user who
        stops ``listen`` (Ctrl-C, SIGTERM) sees nothing was lost without opening it."""
        c = self.counter
        with c.lock:
            counts = {"received": c.received, "conforming": c.conforming, "not_conforming": c.not_conforming,
                      "repeats": c.repeats, "forward_failures": c.forward_failures}
        if self.as_json:
            line = json.dumps({"stopped": True, **counts, "kept": kept, "db": db}, ensure_ascii=False)
        else:
            line = (f"hookproof listen: stopped; received {c.received} (conforming {c.conforming}, not conforming "
                    f"{c.not_conforming}, repeats {c.repeats}, forward failures {c.forward_failures}); "
                    f"{kept} kept in {db}")
        self._write(line, None)  # the closing line replaces the live counter

    def close(self) -> None:
        if self.live:
            self.err.write("\n")
            self.err.flush()


def _without_source(problem: str) -> str:
    """A problem without its citation, for one line per delivery (``captures show`` prints it whole)."""
    return problem.rsplit(" [", 1)[0] if problem.endswith("]") else problem


def _answer(code: int, **payload: Any) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=code, mimetype="application/json")


class Forwarder:
    """Passes a delivery on to the user's receiver: bounded (a deadline over the whole exchange, a cap on the
    answer), no redirects followed, no proxy from the environment, one client per thread."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        # An https receiver's CA context now, so that a $SSL_CERT_FILE that cannot be read is said when listen
        # starts (tls.TrustError), not as a 500 at each delivery; http needs none.
        self._verify: ssl.SSLContext | bool = tls.client_context() if urlsplit(url).scheme == "https" else True
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        import httpx

        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=httpx.Timeout(self.timeout), trust_env=False, follow_redirects=False,
                                  verify=self._verify)
            self._local.client = client
        return client

    def send(self, method: str, headers: list[tuple[str, str]], body: bytes) -> tuple[Answer, bytes, str]:
        """Forward with the header bytes as received (``headers`` in WSGI's Latin-1 reading)."""
        import httpx

        wire = [(k.encode("ascii", "replace"), v.encode("latin-1", "replace")) for k, v in headers
                if k.lower() not in HOP_BY_HOP]
        deadline = Deadline(self.timeout)
        status: int | None = None
        content, kind, error = b"", "application/octet-stream", None
        try:
            with deadline:
                request = self._client().build_request(method, self.url, headers=wire, content=body,
                                                       extensions={"trace": deadline.trace})
                response = self._client().send(request, stream=True)
                try:
                    status, kind = response.status_code, response.headers.get("content-type", kind)
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_raw():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= ANSWER_CAP or deadline.expired:
                            break
                    content = b"".join(chunks)[:ANSWER_CAP]
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {str(exc)[:200]}"
        if deadline.expired:
            status, error = None, f"no answer within {self.timeout:g} s"
        excerpt = redact.data(content)[:EXCERPT].decode("utf-8", "replace")
        return Answer(status, round(deadline.elapsed, 4), excerpt, error), content, kind


class Listener:
    """The WSGI app of ``hookproof listen``: every request, at any path, is taken as a delivery of ``platform``."""

    def __init__(self, platform: str, store: CaptureStore, output: Output, *, secret: str | None = None,
                 forward: Forwarder | None = None, accept_all: bool = False, max_body: int = MAX_BODY_BYTES) -> None:
        self.platform, self.store, self.output = platform, store, output
        self.secret, self.forward, self.accept_all, self.max_body = secret, forward, accept_all, max_body
        self.contracts = catalog.platform(platform).contracts
        self.schemes = auth.schemes_of(self.contracts)
        redact.remember(secret)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception as exc:  # never a traceback on the wire; the sender retries a 500
            print(f"hookproof listen: internal error: {type(exc).__name__}: {redact.text(str(exc))[:200]}",
                  file=sys.stderr, flush=True)
            response = _answer(500, status="error", message="internal error")
        return response(environ, start_response)

    def refused(self, status: str, reason: str) -> None:
        """Called by the server for a request it refused before this app saw it (its head unreadable, say)."""
        self.output.refused(status, redact.text(reason))

    def _auth_mode(self, headers: dict[str, str], raw: bytes, body: Any) -> tuple[AuthMode, list[str]]:
        given = [s for s in self.schemes if auth.present(s, headers)]
        if not given:
            return "none", []
        if not self.secret:
            return "unchecked", []
        problems = auth.verify_schemes(given, headers, raw, body, self.secret)
        return ("wrong" if problems else "valid"), [f"header {p.header}: {p.message}" for p in problems]

    def _key(self, method: str, rec: Recording, body: Any, mode: AuthMode, headers: dict[str, str], *,
             refused_unread: bool) -> str:
        """A retry is the same method and delivery (its id, or its bytes) judged the same way: it is counted on
        the capture it repeats. A forgery is not a repeat of the real one, nor of another forgery of the same
        body (a wrong value and one cut short are two attempts, each with its own headers), nor a request whose
        headers break the contract where the first one kept it (its own headers and answer would be lost), and
        a body refused unread (too large, badly framed) has no bytes to tell one delivery from another: each
        is kept. The forged values enter the key only as a digest: the key is stored."""
        if refused_unread:
            return f"{self.platform}:unread:{uuid.uuid4().hex}"
        verdict = hashlib.sha256("\n".join(rec.problems).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        key = f"{delivery_key(self.platform, rec, body)}:{method}:{mode}:{verdict}"
        if mode == "wrong":
            lowered = {k.lower(): v for k, v in headers.items()}
            forged = "\n".join(lowered.get(h.lower(), "") for s in self.schemes for h in s.headers)
            key += ":" + hashlib.sha256(forged.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return key

    def handle(self, request: Request) -> Response:
        raw_headers = _text_headers(request.headers.items())
        headers = dict(request.headers.items())
        raw, refusal = read_body(request, self.max_body)
        truncated = raw is None and refusal is not None and refusal[0] == 413
        content = raw or b""
        problems: list[str] = []
        body: Any = None
        contract = event = None
        mode: AuthMode = "unchecked"
        refuse = 422
        if refusal is not None:
            problems.append(refusal[1])
            refuse = refusal[0]
        else:
            body, problem = parse_json(content)
            if problem is not None:
                problems.append(problem)
                refuse = 400
            else:
                mode, auth_problems = self._auth_mode(headers, content, body)
                verdict = validation.validate(self.platform, body, headers, authenticate=False)
                contract, event = verdict.contract, verdict.event
                problems += [redact.text(str(p)) for p in verdict.problems]
                if self.secret and self.schemes and mode == "none":
                    names = ", ".join(h for s in self.schemes for h in s.headers)
                    auth_problems.insert(0, f"no authentication: {names} missing")
                    refuse = 401
                elif auth_problems:
                    refuse = 403
                elif event is not None and not any(event in c.events for c in self.contracts):
                    refuse = 202  # a new vendor event: kept and shown, but not refused (a refusal is retried)
                problems = auth_problems + problems
        rec = Recording(kind="capture", id="", platform=self.platform, method=request.method,
                        path=redact.target(request.full_path.rstrip("?") if request.query_string else request.path),
                        headers=masked(self.platform, raw_headers), body=redact.data(content), contract=contract,
                        event=event, auth=mode, body_truncated=truncated, problems=tuple(problems),
                        expected="2XX" if not problems else "not 5XX")
        forwarded: tuple[Answer, bytes, str] | None = None
        if self.forward is not None and refusal is None:
            forwarded = self.forward.send(request.method, list(request.headers.items()), content)
            rec = Recording(**{**rec.__dict__, "forward": forwarded[0]})
        if forwarded is not None:
            status = forwarded[0].status or 502
        else:
            status = 200 if not problems or self.accept_all else refuse
        key = self._key(request.method, rec, body, mode, headers, refused_unread=refusal is not None)
        stored = self.store.add(key, rec, status,
                                forwarded[0] if forwarded else None)  # committed: only now may it be answered
        rec = Recording(**{**rec.__dict__, "id": str(stored.id), "recorded_at": datetime.now().astimezone()
                           .isoformat(timespec="seconds")})
        self.output.delivery(rec, stored, status)
        if forwarded is not None:
            answer, content_back, kind = forwarded
            if answer.error is not None:
                return _answer(502, status="error", capture=stored.id,
                               message=f"the receiver behind hookproof listen: {answer.error}")
            return Response(content_back, status=status, content_type=kind)
        if status == 202 and problems:
            return _answer(status, status="ignored", capture=stored.id, event=event,
                           message="an event no contract of this platform has; kept")
        if status < 300:
            return _answer(status, status="accepted" if not problems else "accepted, does not conform",
                           capture=stored.id, event=event, contract=contract, problems=problems[:5])
        return _answer(status, status="refused", capture=stored.id, event=event, problems=problems[:5])

