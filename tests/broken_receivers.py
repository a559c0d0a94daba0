"""Receivers that each break one rule the receiver checks enforce.

Each is the reference receiver with one mistake, made the way real integrations make it, so that a
test can show the matching check catches it (and only the reference passes).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from hookproof import validation
from hookproof.reference_impl.http_input import read_body
from hookproof.reference_impl.receiver import MAX_BODY_BYTES, Receiver


def _raw(request: Request) -> bytes:
    """The body as the reference receiver will read it (read once, kept for it)."""
    return read_body(request, MAX_BODY_BYTES)[0] or b""


def _parsed(request: Request) -> Any:
    try:
        return json.loads(_raw(request))
    except ValueError:
        return None


def _json(status: int, payload: Any = None) -> Response:
    return Response(json.dumps(payload or {}), status=status, mimetype="application/json")


class ChecksSlugAgainstUri(Receiver):
    """Insists that DoSelect's test_slug matches the end of test_uri - the documented example does not."""

    def handle(self, request: Request) -> Response:
        body = _parsed(request) or {}
        obj = body.get("object") if isinstance(body, dict) else None
        if isinstance(obj, dict) and "test_slug" in obj and not str(obj.get("test_uri", "")).endswith(obj["test_slug"]):
            return _json(422, {"error": "test_slug does not match test_uri"})
        return super().handle(request)


class CrashesOnNonAscii(Receiver):
    """Stores text in a latin-1 column: any character outside it is a 500."""

    def handle(self, request: Request) -> Response:
        try:
            _raw(request).decode("utf-8").encode("latin-1")
        except UnicodeEncodeError:
            return _json(500, {"error": "internal error"})
        return super().handle(request)


class RejectsUnknownProperties(Receiver):
    """Validates against the strict schema variant: any property the document does not list is a 400."""

    def handle(self, request: Request) -> Response:
        platform = request.path.strip("/")
        body = _parsed(request)
        if isinstance(body, dict) and platform in self.platforms:
            verdict = validation.validate(platform, body, dict(request.headers), strict=True)
            if any("strict" in p.expected for p in verdict.problems):
                return _json(400, {"error": "unexpected property"})
        return super().handle(request)


class RefusesRepeats(Receiver):
    """Answers 409 Conflict to a delivery it has seen - so the sender retries it, forever."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if response.status_code == 200 and b'"duplicate"' in response.get_data():
            return _json(409, {"error": "already received"})
        return response


class CrashesOnBadJson(Receiver):
    """Parses the body without catching errors: malformed JSON is a 500."""

    def handle(self, request: Request) -> Response:
        try:
            json.loads(_raw(request) or b"null")
        except ValueError:
            return _json(500, {"error": "internal error"})
        return super().handle(request)


class CrashesOnEmptyBody(Receiver):
    def handle(self, request: Request) -> Response:
        if not _raw(request):
            return _json(500, {"error": "internal error"})
        return super().handle(request)


class CrashesOnArray(Receiver):
    def handle(self, request: Request) -> Response:
        if _raw(request).lstrip().startswith(b"["):
            return _json(500, {"error": "list has no attribute get"})
        return super().handle(request)


class IgnoresContentType(Receiver):
    """Parses any body as JSON whatever its Content-Type says."""

    def handle(self, request: Request) -> Response:
        if request.mimetype == "text/plain":
            request.environ["CONTENT_TYPE"] = "application/json"
            request = Request(request.environ)
        return super().handle(request)


class IgnoresSecret(Receiver):
    """Configured with a secret but never checks it."""

    def _authenticate(self, platform: str, headers: dict[str, str], raw: bytes, body: Any) -> Response | None:
        return None


class Slow(Receiver):
    """Does its work before answering: every answer takes ``delay`` seconds."""

    delay = 1.0

    def handle(self, request: Request) -> Response:
        time.sleep(self.delay)
        return super().handle(request)


class Redirects(Receiver):
    """Moved to a new path and answers 307 to the old one."""

    def handle(self, request: Request) -> Response:
        return Response("", status=307, headers={"Location": "/v2" + request.path})


class CrashesOnUnknownEvent(Receiver):
    """Looks the event up in a dict of handlers: an event it does not know is a KeyError, a 500."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if response.status_code == 202:
            return _json(500, {"error": "KeyError"})
        return response


class EchoesTheSecret(Receiver):
    """Refuses a missing secret but accepts a wrong one, answering with the header it got - which a report
    must not show (the wrong secret the check sends is the real one plus a character)."""

    def _authenticate(self, platform: str, headers: dict[str, str], raw: bytes, body: Any) -> Response | None:
        return None if headers.get("X-Webhook-Secret") else _json(401)

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if response.status_code in (401, 403):
            return response
        return _json(200, {"got": request.headers.get("X-Webhook-Secret", "")})


class EchoesTheSecretEncoded(EchoesTheSecret):
    """The same, answering with what it got as a Basic credential (base64 of ``hookproof:<value>``) and as hex, as
    a receiver that logs what it was sent may."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if response.status_code in (401, 403):
            return response
        got = request.headers.get("X-Webhook-Secret", "").encode("latin-1")
        return _json(200, {"basic": base64.b64encode(b"hookproof:" + got).decode(), "hex": got.hex()})


class FailsTwoWays(Receiver):
    """Answers 500 to one half of the deliveries and 302 to the other: two distinct failures, which a
    shrinking Hypothesis run would report as a group."""

    def handle(self, request: Request) -> Response:
        if len(_raw(request)) % 2:
            return _json(500)
        return Response("", status=302, headers={"Location": "/elsewhere"})


class KnowsOnlyTheDocumentsNames(Receiver):
    """Written from the document alone: an event under the name the vendor really sends is a 400."""

    def handle(self, request: Request) -> Response:
        platform = request.path.strip("/")
        body = _parsed(request)
        if isinstance(body, dict) and platform in self.platforms:
            verdict = validation.validate(platform, body, dict(request.headers), contract="document",
                                          authenticate=False)
            if verdict.event is not None and verdict.problems and "is not a" in verdict.problems[0].message:
                return _json(400, {"error": f"unknown event {verdict.event}"})
        return super().handle(request)


class AcceptsForgedSignatures(Receiver):
    """Checks that a signature header is there, never what it says."""

    def _authenticate(self, platform: str, headers: dict[str, str], raw: bytes, body: Any) -> Response | None:
        if platform == "doselect":
            return None if headers.get("Doselect-Webhook-Signature") else _json(401)
        return super()._authenticate(platform, headers, raw, body)


class CrashesOnNullModel(Receiver):
    """Reads the model object without looking: a null (or missing, or non-object) model is a 500, as a Go
    service's nil-pointer panic or ``body["user"]["id"]`` on ``None`` would have it."""

    def handle(self, request: Request) -> Response:
        body = _parsed(request)
        if isinstance(body, dict) and request.path.strip("/") == "codewars":
            model = request.headers.get("X-Webhook-Event", "")
            try:
                body[model]["id"]
            except (KeyError, TypeError):
                return _json(500, {"error": "nil pointer dereference"})
        return super().handle(request)


def _codewars_event(request: Request, body: Any) -> str:
    action = body.get("action") if isinstance(body, dict) else None
    return f"{request.headers.get('X-Webhook-Event', '')}.{action}"


class RejectsRankUpgrades(Receiver):
    """Answers 400 to Codewars ``user.rank_upgraded`` (a handler nobody wrote), and handles the rest."""

    def handle(self, request: Request) -> Response:
        if request.path.strip("/") == "codewars" and _codewars_event(request, _parsed(request)) == "user.rank_upgraded":
            return _json(400, {"error": "unsupported event"})
        return super().handle(request)


class TwoIndependentBugs(RejectsRankUpgrades):
    """Two bugs at once: the 400 above, and a 500 for a Codewars user id that is not plain letters and digits
    (it is put unescaped into a URL, as one real receiver did)."""

    def handle(self, request: Request) -> Response:
        body = _parsed(request)
        user = body.get("user") if isinstance(body, dict) else None
        uid = user.get("id") if isinstance(user, dict) else None
        if request.path.strip("/") == "codewars" and isinstance(uid, str) \
                and not (uid.isascii() and uid.isalnum()):
            return _json(500, {"error": "invalid URL"})
        return super().handle(request)
