"""The reference webhook receiver: what the receiver checks expect a careful implementation to do.

One route per webhook platform (``POST /<platform>``). It answers fast and decides from the catalog
alone, so a sixth platform needs no code here:

- 415 for a body that is not declared as JSON, 413 past the size cap, 400 for a body that is not a JSON
  object in UTF-8;
- 401/403 when the platform has a secret header and a secret is configured but the header is missing or
  wrong (compared in constant time, on bytes);
- 202 for an event the catalog does not know (forward compatible: a new vendor event must not make the
  vendor retry), 422 for a known event whose body breaks its schema;
- 200 for a conforming delivery, recorded once in SQLite; a repeat of it (same delivery id where the
  profile gives one, else the same body) is answered 200 without being processed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from conformance import catalog, pointers
from reference_impl.command_line import OneLineParser
from reference_impl.receiver_store import DeliveryStore
from reference_impl.secret_header import refusal_status

MAX_BODY_BYTES = 1024 * 1024


def _answer(code: int, **payload: Any) -> Response:
    return Response(json.dumps(payload), status=code, mimetype="application/json")


def idempotency_key(platform: str, event: str, body: Any, raw: bytes) -> str:
    """The profile's per-delivery id when it has one (DoSelect meta.delivery_id), else the body's hash.

    The id is paired with the event: DoSelect's own examples reuse one delivery_id for two different
    events (docs/decisions.md#receiver-idempotency), and dropping a real event is worse than keeping a
    duplicate.
    """
    for field in catalog.profile(platform).delivery_metadata:
        if field["value"] == "uuid4":
            value = pointers.find(body, field["pointer"])
            if isinstance(value, str) and value:
                return f"{platform}:{event}:id:{value}"
    return f"{platform}:{event}:sha256:{hashlib.sha256(raw).hexdigest()}"  # Codewars: the event is in a header


class Receiver:
    """A WSGI app. ``secrets`` maps a platform to the secret its deliveries must carry."""

    def __init__(
        self,
        store: DeliveryStore | None = None,
        secrets: dict[str, str] | None = None,
        max_body: int = MAX_BODY_BYTES,
        platforms: Iterable[str] | None = None,
    ):
        self.store = store or DeliveryStore()
        self.secrets = {p: s.encode("utf-8") for p, s in (secrets or {}).items() if s}
        self.max_body = max_body
        self.platforms = set(platforms or catalog.webhook_platforms())

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        platform = request.path.strip("/")
        if platform not in self.platforms:
            return _answer(404, status="error", message=f"no receiver at {request.path}; try /<platform>")
        if request.method != "POST":
            return _answer(405, status="error", message="webhooks are delivered with POST")
        if request.mimetype != "application/json":
            return _answer(415, status="error", message="Content-Type must be application/json")
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _answer(413, status="error", message=f"body larger than {self.max_body} bytes")
        refusal = self._authenticate(platform, request)
        if refusal:
            return refusal
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _answer(400, status="error", message="body is not JSON in UTF-8")
        except RecursionError:
            return _answer(400, status="error", message="body is nested too deeply")
        if not isinstance(body, dict):
            return _answer(400, status="error", message="body is not a JSON object")
        headers = dict(request.headers.items())
        # Identify by the headers that carry the event name; a proxy-rewritten User-Agent is no reason to
        # lose a delivery, so the other documented headers are the sender checks' business, not ours.
        naming = {part["header"].lower() for part in catalog.profile(platform).name_parts if "header" in part}
        verdict = catalog.validate(platform, body, {k: v for k, v in headers.items() if k.lower() in naming})
        if verdict.event is None:  # no event name where the profile says it travels: not a delivery of ours
            return _answer(400, status="error", message=verdict.problems[0].message)
        if verdict.event not in catalog.profile(platform).events:
            return _answer(202, status="ignored", message="event not known to this receiver")
        if not verdict.ok:
            return _answer(422, status="error", event=verdict.event, problems=[str(p) for p in verdict.problems[:5]])
        secret_header = catalog.profile(platform).secret_header
        kept = {k: v for k, v in headers.items() if not secret_header or k.lower() != secret_header.lower()}
        fresh = self.store.add(idempotency_key(platform, verdict.event, body, raw), platform, verdict.event, kept, body)
        return _answer(200, status="accepted" if fresh else "duplicate", event=verdict.event)

    def _authenticate(self, platform: str, request: Request) -> Response | None:
        expected = self.secrets.get(platform)
        header = catalog.profile(platform).secret_header
        if expected is None or header is None:
            return None
        status = refusal_status(request.headers.get(header), expected)
        if status is None:
            return None
        return _answer(status, status="error", message=f"{'missing' if status == 401 else 'wrong'} {header}")


def main(argv: list[str] | None = None) -> int:
    from reference_impl.serving import serve_forever

    parser = OneLineParser(prog="python -m reference_impl.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", default=os.environ.get("HOOKPROOF_SECRET"),
                        help="shared secret required from platforms that have a secret header "
                        "(default: $HOOKPROOF_SECRET, which keeps it out of ps)")
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep deliveries in (default: memory)")
    parser.add_argument("--max-body", type=int, default=MAX_BODY_BYTES, help="largest body accepted, in bytes")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
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
        )
    except OSError as exc:
        print(f"receiver: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
