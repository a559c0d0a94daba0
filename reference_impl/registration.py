"""The reference registration server: a registration API (Xobin's ``POST /webhooks``) as its contract documents it.

A plain WSGI app over :class:`~hookproof.reference_impl.registration_store.RegistrationStore`, driven by the
contract's :class:`~hookproof.contract.Registration` data, so that a second registration API is files only.
What it does, and which parts the Xobin document leaves open:

- The API key travels in a header (the document: "Make sure to add your API key in Header of the
  request", without naming one): the contract's (``X-API-Key``) unless configured otherwise; compared in
  constant time. No header: 401; a wrong key: 403.
- The update (the contract's method; Xobin: ``POST``): the body is validated against the contract's request
  schema; a body that breaks it gets 400 naming the field by JSON pointer. Settings the body omits keep their
  stored values; the Xobin-only ``apply_to_all`` flag (``updateAll: true``) also writes the given settings into
  every assessment. The answer is the documented one (the response example), with the resulting settings where
  the contract reads them back (Xobin: ``webhook``; the document shows ``{ }``), the stored options and, for
  Xobin, ``updateAll`` and ``updatedAssessments``.
- ``GET`` (not in the Xobin document) returns the stored state in the request's own shape, so that clients -
  and the conformance checks - can observe what an update did.
- Errors are JSON ``{"status": "error", "message": ...}``; bodies over 64 KiB get 413, other methods
  405, other paths 404.

Run it: ``python -m hookproof.reference_impl.registration --port 8080 --api-key KEY [--db PATH] [--platform P]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import sqlite3
import sys
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from hookproof import auth, catalog, plain_http, pointers, validation
from hookproof.command_line import OneLineParser
from hookproof.contract import Registration
from hookproof.reference_impl.http_input import parse_json, read_body
from hookproof.reference_impl.registration_store import RegistrationStore, Snapshot, StoreError
from hookproof.reference_impl.serving import serve_forever

DEFAULT_PLATFORM = "xobin"
MAX_BODY_BYTES = 64 * 1024
DEFAULT_DB = "registration.sqlite3"
READ_METHODS = ("GET", "HEAD")  # beside the contract's update method (Xobin: POST)
MESSAGE_CHARS = 300  # error messages quote client values; keep them short



def registration_of(platform: str, contract: str | None = None) -> Registration:
    spec = catalog.contract(platform, contract)
    if spec.registration is None:
        raise ValueError(f"{platform} is a {spec.kind}, not a registration API")
    return spec.registration


def _error(status: int, message: str, headers: Iterable[tuple[str, str]] = (), **extra: Any) -> Response:
    body = {"status": "error", "message": message[:MESSAGE_CHARS], **extra}
    return Response(json.dumps(body), status=status, headers=list(headers), mimetype="application/json")


def _success(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=200, mimetype="application/json")


def _top(pointer: str | None) -> str | None:
    keys = pointers.keys(pointer) if pointer else []
    return keys[0] if keys else None


class RegistrationApp:
    """The WSGI app. One instance serves one account of one registration API: one API key, one store."""

    def __init__(self, store: RegistrationStore, api_key: str, api_key_header: str | None = None, *,
                 platform: str = DEFAULT_PLATFORM, contract: str | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES):
        self.spec = registration_of(platform, contract)
        self.api_key_header = api_key_header or self.spec.api_key.header
        problem = api_key_problem(api_key) or header_name_problem(self.api_key_header)
        if problem:
            raise ValueError(problem)
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.allowed_methods = (*READ_METHODS, self.spec.method)
        self._key = api_key.encode("utf-8")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except sqlite3.OperationalError:  # the write lock stayed busy past the timeout, or the disk failed
            response = _error(503, "the settings store is busy; retry the request", [("Retry-After", "1")])
        except Exception:  # never a traceback on the wire
            response = _error(500, "internal error")
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = self.spec.path
        if request.path != path:
            return _error(404, f"no such resource: {request.path[:100]}; the API is {path}")
        if request.method not in self.allowed_methods:
            return _error(405, f"method {request.method} is not allowed on {path}",
                          [("Allow", ", ".join(self.allowed_methods))])
        refusal = self._refuse_key(request)
        if refusal is not None:
            return refusal
        if request.method in READ_METHODS:
            return _success(self._state(self.store.snapshot()))
        return self._post(request)

    def _refuse_key(self, request: Request) -> Response | None:
        status = auth.refusal_status(request.headers.get(self.api_key_header), self._key)
        if status == 401:
            return _error(401, f"missing API key: send it in the {self.api_key_header} header")
        if status == 403:
            return _error(403, "the API key is not valid")
        return None

    def _post(self, request: Request) -> Response:
        wanted = self.spec.content_type
        if request.mimetype and request.mimetype not in (wanted, "application/json") \
                and not request.mimetype.endswith("+json"):
            return _error(415, f"the body must be {wanted}, not {request.mimetype[:60]}")
        data, refusal = read_body(request, self.max_body_bytes)
        if data is None:
            assert refusal is not None
            return _error(*refusal)
        body, problem = parse_json(data)
        if problem:
            return _error(400, problem)
        problems = validation.check_instance(self.spec.request.schema_id, body)
        if problems:
            first = problems[0]
            return _error(400, f"{first.where or '/'}: {first.message} (expected {first.expected})",
                          field=first.where,
                          errors=[{"field": p.where, "message": p.message[:MESSAGE_CHARS],
                                   "expected": p.expected} for p in problems[:20]])
        given = pointers.find(body, self.spec.settings.at, {})
        if not isinstance(given, dict):  # a request schema that allows it; there are no settings to store then
            given = {}
        keys = self.spec.settings.keys
        settings = {k: given[k] for k in keys if k in given}
        apply_to_all = bool(pointers.find(body, self.spec.apply_to_all)) if self.spec.apply_to_all else False
        skip = {_top(self.spec.settings.at), _top(self.spec.apply_to_all)}
        options = {k: v for k, v in body.items() if k not in skip} if isinstance(body, dict) else {}
        snapshot = self.store.update(settings, apply_to_all=apply_to_all, options=options)
        return _success(self._answer(snapshot, apply_to_all, ignored=[k for k in given if k not in keys]))

    def _answer(self, snapshot: Snapshot, apply_to_all: bool, ignored: list[str]) -> dict[str, Any]:
        """The documented answer (the response example), showing the resulting settings where the contract
        reads them back, and echoing the stored options."""
        examples = self.spec.response.examples
        answer: Any = copy.deepcopy(examples[0].body) if examples else {}
        if self.spec.read_back.answer_at:
            answer = pointers.replaced(answer, self.spec.read_back.answer_at, snapshot.settings)
        answer.update(snapshot.options)
        if self.spec.apply_to_all:
            answer[str(_top(self.spec.apply_to_all))] = apply_to_all
            answer["updatedAssessments"] = list(snapshot.assessments) if apply_to_all else []
        if ignored:
            answer["ignoredKeys"] = ignored[:20]
        return dict(answer)

    def _state(self, snapshot: Snapshot) -> dict[str, Any]:
        """The ``GET`` view: the stored state as a valid request body, plus the assessments."""
        state: Any = pointers.replaced(dict(snapshot.options), self.spec.settings.at, snapshot.settings)
        if self.spec.apply_to_all:
            state["assessments"] = snapshot.assessments_json()
        return dict(state)


def make_app(store: RegistrationStore, api_key: str, api_key_header: str | None = None, *,
             platform: str = DEFAULT_PLATFORM) -> RegistrationApp:
    return RegistrationApp(store, api_key, api_key_header, platform=platform)


def store_for(path: str | os.PathLike[str], platform: str = DEFAULT_PLATFORM, **kwargs: Any) -> RegistrationStore:
    """A store for the settings keys of ``platform``'s registration contract."""
    return RegistrationStore(path, registration_of(platform).settings.keys, **kwargs)


def api_key_problem(key: str | None) -> str | None:
    """Why ``key`` cannot work as a header value, if it cannot."""
    if not key:
        return "--api-key (or $HOOKPROOF_API_KEY) is required and must not be empty"
    if not key.isascii() or not key.isprintable() or key != key.strip():
        return "--api-key must be printable ASCII without leading or trailing spaces (it travels in a header)"
    return None


def header_name_problem(name: str) -> str | None:
    if not plain_http.is_token(name or ""):
        return f"--api-key-header {name!r} is not a valid HTTP header name"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m hookproof.reference_impl.registration",
                           description="Reference webhook registration server (Xobin's POST /webhooks, and GET).")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help=f"the registration API ({DEFAULT_PLATFORM})")
    parser.add_argument("--api-key", default=os.environ.get("HOOKPROOF_API_KEY"),
                        help="the API key clients must send (default: $HOOKPROOF_API_KEY, which keeps it out of ps)")
    parser.add_argument("--api-key-header", default=None,
                        help="header that carries the key (default: the contract's, X-API-Key for Xobin)")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file holding the settings (default ./{DEFAULT_DB})")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        spec = registration_of(args.platform)
    except (ValueError, catalog.CatalogError) as exc:
        parser.error(f"--platform: {exc}")
    header = args.api_key_header or spec.api_key.header
    problem = (None if 0 <= args.port <= 65535 else f"--port {args.port} is not a port number (0-65535)") \
        or api_key_problem(args.api_key) or header_name_problem(header)
    if problem:
        parser.error(problem)
    try:
        store = store_for(args.db, args.platform)
    except StoreError as exc:
        parser.error(f"--db: {exc}")
    problem = bind_problem(args.host, args.port)
    if problem:
        parser.error(problem)
    app = make_app(store, args.api_key, header, platform=args.platform)
    serve_forever(app, args.host, args.port,
                  f"{args.platform} registration server (key header {header}, db {store.path})")
    return 0


def bind_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port. Checked up front because Werkzeug reports a busy
    port with a paragraph and exit status 1; this CLI reports every bad start in one line, status 2."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
        try:
            probe.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


if __name__ == "__main__":
    sys.exit(main())
