"""Small registration servers that each break one rule, to prove that every registration check can fail.

:class:`MiniRegistration` is a deliberately simple, in-memory ``POST /webhooks`` implementation (not the
reference): with every flag at its default it passes every check, and each factory below turns off
exactly one behaviour. A test that sees a broken app fail its check therefore knows the check failed for
that reason and no other.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

API_KEY = "broken-test-key-5f1c2a"
HEADER = "X-API-Key"
KEYS = ("start", "submission", "updates")


class ServerError(Exception):
    """Stands for whatever crash the broken app lets escape; answered as a bare 500."""


@dataclass
class Flags:
    check_key: bool = True  # refuse a missing or wrong key
    check_types: bool = True  # 400 on a non-boolean status / non-string url / non-object parts
    check_url: bool = True  # 400 on a url that is not an absolute http(s) URL
    catch_bad_json: bool = True  # 400 on a body that does not parse
    merge: bool = True  # omitted keys keep their values (else the settings are replaced by the body's)
    reset_omitted: bool = False  # with merge off: omitted keys are reset to disabled instead of dropped
    documented_answer: bool = True  # answer {"status", "message", "webhook"}
    settings_in_answer: bool = True  # the answer's webhook object shows the stored settings
    has_get: bool = True  # GET /webhooks shows the settings
    success_status: int = 200  # the status of the answer to a valid body (204: with no body at all)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _is_url(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    return bool(sep) and scheme.lower() in ("http", "https") and bool(rest) and " " not in value


class MiniRegistration:
    """An in-memory registration API whose behaviours can be switched off one by one."""

    def __init__(self, flags: Flags | None = None):
        self.flags = flags or Flags()
        self.settings: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except ServerError:
            response = Response("Internal Server Error", status=500)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path != "/webhooks":
            return _json(404, {"status": "error", "message": "not found"})
        if request.method == "GET" and self.flags.has_get:
            return self._authorised(request) or _json(200, {"webhooks": dict(self.settings)})
        if request.method != "POST":
            return _json(405, {"status": "error", "message": "method not allowed"})
        refusal = self._authorised(request)
        if refusal:
            return refusal
        try:
            body = json.loads(request.get_data().decode("utf-8"))
        except (ValueError, RecursionError):
            if not self.flags.catch_bad_json:
                raise ServerError from None
            return _json(400, {"status": "error", "message": "malformed JSON"})
        problem = self._problem(body)
        if problem:
            return _json(400, {"status": "error", "message": problem})
        with self._lock:
            given = {k: {"status": v["status"], "url": v["url"]} for k, v in body["webhooks"].items() if k in KEYS}
            if self.flags.merge:
                self.settings = {**self.settings, **given}
            elif self.flags.reset_omitted:
                self.settings = {**{k: {"status": False, "url": ""} for k in KEYS}, **given}
            else:
                self.settings = given
            shown = dict(self.settings)
        status = self.flags.success_status
        if status == 204:  # No Content: HTTP allows no body, so not the documented answer either
            return Response(status=204)
        if not self.flags.documented_answer:
            return _json(status, {"ok": True, "webhooks": shown})
        return _json(status, {"status": "success", "message": "Webhook added successfully",
                              "webhook": shown if self.flags.settings_in_answer else {}})

    def _authorised(self, request: Request) -> Response | None:
        if not self.flags.check_key:
            return None
        if request.headers.get(HEADER) != API_KEY:  # fine for a test double; the reference compares in constant time
            return _json(401, {"status": "error", "message": "unauthorised"})
        return None

    def _problem(self, body: Any) -> str | None:
        """Why the body is invalid; with ``check_types`` off a wrong type escapes as a crash (500)."""
        try:
            problem = self._type_problem(body)
        except (TypeError, KeyError, AttributeError) as exc:
            problem = f"wrong type: {exc}"
        if problem and not self.flags.check_types:
            raise ServerError(problem)
        if problem:
            return problem
        if self.flags.check_url:
            for key in KEYS:
                if key in body["webhooks"] and not _is_url(body["webhooks"][key]["url"]):
                    return f"/webhooks/{key}/url: not a URL"
        return None

    @staticmethod
    def _type_problem(body: Any) -> str | None:
        hooks = body["webhooks"]
        if not isinstance(hooks, dict):
            return "/webhooks must be an object"
        for key in KEYS:
            if key not in hooks:
                continue
            setting = hooks[key]
            if not isinstance(setting, dict):
                return f"/webhooks/{key} must be an object"
            if not isinstance(setting.get("status"), bool):
                return f"/webhooks/{key}/status must be a boolean"
            if not isinstance(setting.get("url"), str):
                return f"/webhooks/{key}/url must be a string"
        for flag in ("updateAll", "updateAuth"):
            if flag in body and not isinstance(body[flag], bool):
                return f"/{flag} must be a boolean"
        return None


def sound() -> MiniRegistration:
    """Passes every check (the control for the broken ones)."""
    return MiniRegistration()


def accepts_any_key() -> MiniRegistration:
    return MiniRegistration(Flags(check_key=False))


def crashes_on_bad_types() -> MiniRegistration:
    return MiniRegistration(Flags(check_types=False))


def accepts_non_url() -> MiniRegistration:
    return MiniRegistration(Flags(check_url=False))


def crashes_on_malformed_json() -> MiniRegistration:
    return MiniRegistration(Flags(catch_bad_json=False))


def forgets_omitted_keys() -> MiniRegistration:
    return MiniRegistration(Flags(merge=False))


def forgets_omitted_keys_no_get() -> MiniRegistration:
    """Resets omitted keys to disabled and has no GET; its answer shows every setting, so the check sees it."""
    return MiniRegistration(Flags(merge=False, reset_omitted=True, has_get=False))


def wrong_answer_shape() -> MiniRegistration:
    return MiniRegistration(Flags(documented_answer=False))


def answers_with(status: int) -> MiniRegistration:
    """Stores a valid body as the sound one does, and answers it with ``status`` (the documented answer, or
    no body for 204)."""
    return MiniRegistration(Flags(success_status=status))


def refuses_valid_bodies() -> MiniRegistration:
    """Answers a valid body 400 (with the documented success answer, so that only the status is wrong)."""
    return answers_with(400)


def unobservable() -> MiniRegistration:
    """Correct, but shows its settings nowhere: no GET, and ``"webhook": {}`` as in the document."""
    return MiniRegistration(Flags(settings_in_answer=False, has_get=False))


def observable_by_get_only() -> MiniRegistration:
    """Correct, answers ``"webhook": {}`` as in the document, and shows its settings on GET."""
    return MiniRegistration(Flags(settings_in_answer=False))


BROKEN: dict[str, tuple[Callable[[], MiniRegistration], tuple[str, ...]]] = {
    # name: (factory, the checks it must fail)
    "accepts_any_key": (accepts_any_key, ("rejects_missing_api_key", "rejects_wrong_api_key")),
    "crashes_on_bad_types": (crashes_on_bad_types, ("rejects_wrong_types",)),
    "accepts_non_url": (accepts_non_url, ("rejects_non_url_url",)),
    "crashes_on_malformed_json": (crashes_on_malformed_json, ("rejects_malformed_json",)),
    "forgets_omitted_keys": (forgets_omitted_keys, ("keeps_omitted_keys",)),
    "forgets_omitted_keys_no_get": (forgets_omitted_keys_no_get, ("keeps_omitted_keys",)),
    "wrong_answer_shape": (wrong_answer_shape, ("accepts_valid_bodies",)),
    "refuses_valid_bodies": (refuses_valid_bodies, ("accepts_valid_bodies", "keeps_omitted_keys")),
}
