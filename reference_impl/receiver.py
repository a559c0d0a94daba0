"""The reference webhook receiver: what the receiver checks expect a careful implementation to do.

One route per webhook platform (``POST /<platform>``). It answers fast and decides from the catalog
alone, so a new platform needs no code here:

- 415 for a body that is not declared as JSON, 413 past the size cap, 400 for a body that is not a JSON
  object in UTF-8;
- with a secret configured for a platform whose contracts authenticate: 401 when no authentication header is
  there, 403 when one is there but wrong (shared secrets and signatures compared in constant time, on bytes);
- 202 for an event no contract of the platform knows (forward compatible: a new vendor event must not make the
  vendor retry), 422 for a known event whose body breaks its schema;
- 200 for a conforming delivery, recorded once in SQLite; a repeat of it (same delivery id where the
  contract gives one, else the same body) is answered 200 without being processed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from hookproof import auth, catalog, pointers, validation
from hookproof.command_line import SECRET_ENV, OneLineParser
from hookproof.contract import Contract
from hookproof.reference_impl.http_input import parse_json, read_body
from hookproof.reference_impl.receiver_store import DeliveryStore

MAX_BODY_BYTES = 1024 * 1024


def _answer(code: int, **payload: Any) -> Response:
    return Response(json.dumps(payload), status=code, mimetype="application/json")


def idempotency_key(spec: Contract, event: str, body: Any, raw: bytes) -> str:
    """The contract's per-delivery id when it has one (DoSelect meta.delivery_id), else the body's hash.

    The id is paired with the event: DoSelect's own examples reuse one delivery_id for two different
    events (docs/decisions.md#receiver-idempotency), and dropping a real event is worse than keeping a
    duplicate.
    """
    for field in spec.metadata:
        if field.value == "uuid4":
            value = pointers.find(body, field.pointer)
            if isinstance(value, str) and value:
                return f"{spec.platform}:{event}:id:{value}"
    return f"{spec.platform}:{event}:sha256:{hashlib.sha256(raw).hexdigest()}"  # Codewars: the event is in a header


class Receiver:
    """A WSGI app. ``secrets`` maps a platform to the secret its deliveries must authenticate with."""

    def __init__(self, store: DeliveryStore | None = None, secrets: dict[str, str] | None = None,
                 max_body: int = MAX_BODY_BYTES, platforms: Iterable[str] | None = None):
        self.store = store or DeliveryStore()
        self.secrets = {p: s for p, s in (secrets or {}).items() if s}
        self.max_body = max_body
        self.platforms = set(platforms or catalog.webhook_platforms())

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:  # never a traceback on the wire; the sender will retry a 500
            response = _answer(500, status="error", message="internal error")
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        platform = request.path.strip("/")
        if platform not in self.platforms:
            return _answer(404, status="error", message=f"no receiver at {request.path[:100]}; try /<platform>")
        if request.method != "POST":
            return _answer(405, status="error", message="webhooks are delivered with POST")
        if request.mimetype != "application/json":
            return _answer(415, status="error", message="Content-Type must be application/json")
        raw, refusal = read_body(request, self.max_body)
        if raw is None:
            assert refusal is not None
            return _answer(refusal[0], status="error", message=refusal[1])
        body, problem = parse_json(raw)
        if problem is not None:
            return _answer(400, status="error", message=problem)
        if not isinstance(body, dict):
            return _answer(400, status="error", message="body is not a JSON object")
        headers = dict(request.headers.items())
        denied = self._authenticate(platform, headers, raw, body)
        if denied:
            return denied
        # Identify by the headers that carry the event name; a proxy-rewritten User-Agent is no reason to
        # lose a delivery, so the other documented headers are the sender checks' business, not ours.
        contracts = catalog.platform(platform).contracts
        naming = {h.lower() for c in contracts if c.event_naming for h in c.event_naming.header_names}
        verdict = validation.validate(platform, body, {k: v for k, v in headers.items() if k.lower() in naming},
                                      authenticate=False)  # checked above, against every contract's schemes
        if verdict.event is None:  # no event name where the contract says it travels: not a delivery of ours
            return _answer(400, status="error", message=verdict.problems[0].message)
        known = any(verdict.event in c.events for c in contracts)
        if not known:
            return _answer(202, status="ignored", message="event not known to this receiver")
        if not verdict.ok:
            return _answer(422, status="error", event=verdict.event, problems=[str(p) for p in verdict.problems[:5]])
        spec = catalog.contract(platform, verdict.contract)
        hidden = {h.lower() for c in contracts for h in c.secret_headers}
        kept = {k: v for k, v in headers.items() if k.lower() not in hidden}
        fresh = self.store.add(idempotency_key(spec, verdict.event, body, raw), platform, verdict.event, kept, raw)
        return _answer(200, status="accepted" if fresh else "duplicate", event=verdict.event, contract=spec.name)

    def _authenticate(self, platform: str, headers: dict[str, str], raw: bytes, body: Any) -> Response | None:
        """With a secret configured: some authentication of the platform's contracts must be there, and every
        one that is there must be right (a forged signature is refused even where another is missing)."""
        secret = self.secrets.get(platform)
        schemes = auth.schemes_of(catalog.platform(platform).contracts)
        if secret is None or not schemes:
            return None
        given = [s for s in schemes if auth.present(s, headers)]
        if not given:
            names = ", ".join(h for s in schemes for h in s.headers)
            return _answer(401, status="error", message=f"missing authentication ({names})")
        problems = auth.verify_schemes(given, headers, raw, body, secret)
        if problems:
            return _answer(403, status="error", message=problems[0].message)
        return None


def main(argv: list[str] | None = None) -> int:
    from hookproof.reference_impl.serving import serve_forever

    parser = OneLineParser(prog="python -m hookproof.reference_impl.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--secret", default=os.environ.get(SECRET_ENV),
                        help="shared secret or signing key required from platforms whose contracts authenticate "
                        "(default: $HOOKPROOF_SECRET, which keeps it out of ps)")
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep deliveries in (default: memory)")
    parser.add_argument("--max-body", type=int, default=MAX_BODY_BYTES, help="largest body accepted, in bytes")
    parser.add_argument("--until-stdin-closes", action="store_true",
                        help="serve until standard input ends (for a program that starts the receiver with a pipe "
                        "there: closing it, or exiting, stops the receiver)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
    if args.secret is not None and (args.secret != args.secret.strip() or not args.secret.isprintable()):
        parser.error("--secret has leading or trailing spaces or control characters: a header cannot carry it as is")
    try:
        store = DeliveryStore(args.db)
    except Exception as exc:  # sqlite3 errors name the problem; a traceback would not help
        print(f"receiver: cannot open --db {args.db}: {exc}", file=sys.stderr)
        return 2
    secrets = dict.fromkeys(catalog.webhook_platforms(), args.secret) if args.secret else {}
    app = Receiver(store, secrets, args.max_body)
    try:
        serve_forever(
            app,
            args.host,
            args.port,
            "hookproof reference receiver (routes: /" + ", /".join(sorted(app.platforms)) + ")",
            until_stdin_closes=args.until_stdin_closes,
        )
    except OSError as exc:
        print(f"receiver: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
