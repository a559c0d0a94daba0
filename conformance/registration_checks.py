"""Conformance checks for a webhook registration API: Xobin's ``POST /webhooks`` (002_87eafd416189f785.txt).

One small function per check, registered by name in :data:`CHECKS`. A check talks to a :class:`Target`
over HTTP and returns quietly or raises :class:`~conformance.report.CheckFailure` carrying the request
(as a curl command, API key masked), the status and an excerpt of the answer. It needs no pytest, so
``tests/`` can run each check against deliberately broken servers.

Requests: httpx, ``trust_env=False`` (no proxy from the environment), redirects never followed (a 3XX
is a failure), and one overall deadline per request (``--response-timeout``) - httpx's own timeouts
reset on every chunk, so a server that drips its answer would never trip them.

A check that needs to see the stored settings (:func:`keeps_omitted_keys`) raises
:class:`CannotObserve` when the target exposes them nowhere - the document defines no way to read
them - so that a run says "not checked" instead of passing silently.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

from hypothesis import example, given
from hypothesis import strategies as st

from conformance import catalog, pointers, strategies
from conformance.http_exchange import Exchange, HttpSession
from conformance.report import CheckFailure, curl_command, excerpt
from conformance.run_settings import runner

PLATFORM = "xobin"
SEED = "002_87eafd416189f785.txt"
PROFILE = catalog.profile(PLATFORM)
SETTING_KEYS: tuple[str, ...] = tuple(PROFILE.settings)
DEFAULT_API_KEY_HEADER: str = PROFILE.api_key["header"]
MARK_HOST = "hookproof.example"  # URLs the checks register; .example never resolves (RFC 2606)

Kind = Literal["documented", "robustness"]


class CannotObserve(Exception):
    """The target exposes its stored settings nowhere the check can read, so the rule was not checked."""


# --- talking to the target -----------------------------------------------------------------------------


class Masked(str):
    """A key whose ``repr`` is ``'***'``: pytest prints the arguments (and with ``-l`` the locals) of the
    frames in a traceback, and a key held in a plain ``str`` would appear there in clear."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class Target:
    """A registration API under test: its base URL (``/webhooks`` is appended unless the URL already ends
    with it) and how to authenticate."""

    base_url: str
    api_key: str = field(repr=False)
    api_key_header: str = DEFAULT_API_KEY_HEADER
    timeout: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_key", Masked(self.api_key))

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith(PROFILE.path) else base + PROFILE.path


class Client:
    """Requests for one check, API key attached unless a request says otherwise; the bounded sending
    itself (deadline, byte cap, no redirects) is :class:`conformance.http_exchange.HttpSession`'s."""

    def __init__(self, target: Target):
        self.target = target
        self._session = HttpSession(target.timeout)

    def close(self) -> None:
        self._session.close()

    def send(self, method: str, body: bytes = b"", *, key: str | None = None, omit_key: bool = False,
             content_type: str | None = "application/json", replay_body: str | None = None) -> Exchange:
        """Send one request with the right key (or ``key``, or none with ``omit_key``) within the deadline."""
        headers: dict[str, str] = {}
        if content_type and method != "GET":
            headers["Content-Type"] = content_type
        if not omit_key:
            headers[self.target.api_key_header] = self.target.api_key if key is None else key
        return self._session.send(self.target.url, headers, body if method != "GET" else b"", method, replay_body)

    def post_json(self, body: Any) -> Exchange:
        return self.send("POST", json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def get(self) -> Exchange:
        return self.send("GET")


@contextmanager
def client_for(target: Target) -> Iterator[Client]:
    client = Client(target)
    try:
        yield client
    finally:
        client.close()


def replay(target: Target, exchange: Exchange) -> str:
    """A curl command repeating ``exchange``; the API key header's value is masked."""
    secret = [target.api_key_header]
    if exchange.replay_body is not None:
        command = curl_command(exchange.url, exchange.headers, b"", secret, exchange.method)
        return f"{exchange.replay_body} | {command} --data-binary @-"
    return curl_command(exchange.url, exchange.headers, exchange.body, secret, exchange.method)


def _scrubbed(target: Target, data: bytes, sent_key: str | None = None) -> bytes:
    """The answer with any echo of the API key (or of the wrong key sent, which may be derived from it)
    masked, so that a failure report never shows it."""
    for key in sorted({target.api_key, sent_key or ""}, key=len, reverse=True):
        if key:
            data = data.replace(key.encode("utf-8"), b"***")
    return data


def failure(check: str, target: Target, exchange: Exchange, summary: str, details: Iterable[str] = ()) -> CheckFailure:
    answer = _scrubbed(target, exchange.answer, exchange.headers.get(target.api_key_header))
    lines = [*details, f"request: {exchange.method} {exchange.url}",
             f"status: {exchange.status if exchange.status is not None else 'none - ' + str(exchange.error)}",
             f"answer: {excerpt(answer)}"]
    return CheckFailure(check, summary, platform=PLATFORM, details=lines, replay=replay(target, exchange))


# --- the registry --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    kind: Kind
    section: str  # where in 002_87eafd416189f785.txt the rule comes from
    run: Callable[..., None]

    @property
    def summary(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


CHECKS: dict[str, Check] = {}


def check(kind: Kind, section: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        CHECKS[fn.__name__] = Check(fn.__name__, kind, section, fn)
        return fn
    return register


# --- generated bodies ----------------------------------------------------------------------------------


def request_bodies() -> st.SearchStrategy[Any]:
    """Valid request bodies, from the one shared generator."""
    return strategies.events(PLATFORM, "request").map(lambda delivery: delivery.body)


def _documented_examples(fn: Callable[..., None]) -> Callable[..., None]:
    """Try the document's own request example(s) first, whatever the generator draws."""
    for ex in reversed(PROFILE.events["request"].examples):
        fn = example(copy.deepcopy(ex.body))(fn)
    return fn


def _example_body() -> dict[str, Any]:
    return copy.deepcopy(PROFILE.events["request"].examples[0].body)


# --- the checks ----------------------------------------------------------------------------------------


def accept_valid_body(client: Client, body: Any) -> None:
    """One valid body: 200 with the documented answer shape (002_87eafd416189f785.txt § Response)."""
    name = "accepts_valid_bodies"
    problems = catalog.check_instance(PROFILE.events["request"].schema_id, body)
    if problems:  # a fault of the generator, not of the target
        raise AssertionError(f"hookproof generated an invalid request body: {problems[0]}")
    exchange = client.post_json(body)
    target = client.target
    if exchange.status != 200:
        raise failure(name, target, exchange, f"a valid body was not accepted: the target {exchange.outcome()}; "
                      f"expected 200 with the documented answer")
    try:
        answer = exchange.json()
    except ValueError:
        raise failure(name, target, exchange, "the answer to a valid body is not JSON; expected "
                      '{"status": "success", "message": ..., "webhook": {...}}') from None
    wrong = catalog.check_instance(PROFILE.events["response"].schema_id, answer)
    if wrong:
        raise failure(name, target, exchange, "the answer to a valid body does not have the documented shape",
                      [f"problem: {p}" for p in wrong[:5]])


@check("documented", "§ Body Parameters, § Parameters, § Response")
def accepts_valid_bodies(target: Target, hypothesis: Callable[[Any], Any] | None = None) -> None:
    """Generated valid bodies (any combination of start/submission/updates) get 200 and the documented answer."""
    decorate = hypothesis or runner()
    with client_for(target) as client:
        @decorate
        @given(request_bodies())
        @_documented_examples
        def prop(body: Any) -> None:
            accept_valid_body(client, body)

        prop()


def _expect_refused(name: str, client: Client, cases: list[tuple[str, dict[str, Any]]]) -> None:
    for description, options in cases:
        exchange = client.send("POST", json.dumps(_example_body()).encode(), **options)
        if exchange.status not in (401, 403):
            verdict = "accepted it" if exchange.status is not None and exchange.status < 300 else exchange.outcome()
            raise failure(name, client.target, exchange, f"a request {description} was not refused: the target "
                          f"{verdict}; expected 401 or 403",
                          [f"the API key belongs in a header ({SEED}: 'Make sure to add your API key in Header "
                           "of the request')"])


@check("documented", "§ Body Parameters, warning: 'Make sure to add your API key in Header of the request'")
def rejects_missing_api_key(target: Target) -> None:
    """A request without the API key (no header, or an empty one) gets 401 or 403."""
    with client_for(target) as client:
        _expect_refused("rejects_missing_api_key", client, [
            (f"without the {target.api_key_header} header", {"omit_key": True}),
            (f"with an empty {target.api_key_header} header", {"key": ""}),
        ])


def wrong_keys(key: str) -> list[tuple[str, str]]:
    """Wrong keys that catch the usual comparison bugs: unrelated, prefix match, truncation, case folding."""
    cases = [("with an unrelated API key", "hookproof-wrong-" + secrets.token_hex(8)),
             ("with the right API key plus one character (a prefix comparison accepts it)", key + "0")]
    if len(key) > 1:
        cases.append(("with the right API key minus its last character", key[:-1]))
    if key.swapcase() != key:
        cases.append(("with the right API key in swapped case (a case-insensitive comparison accepts it)",
                      key.swapcase()))
    return [(description, Masked(wrong)) for description, wrong in cases]  # derived from the key: never shown


@check("documented", "§ Body Parameters, warning: 'Make sure to add your API key in Header of the request'")
def rejects_wrong_api_key(target: Target) -> None:
    """A request with a wrong API key gets 401 or 403."""
    with client_for(target) as client:
        _expect_refused("rejects_wrong_api_key", client,
                        [(description, {"key": key}) for description, key in wrong_keys(target.api_key)])


def _expect_client_error(name: str, client: Client, body: bytes, description: str, rule: str,
                         replay_body: str | None = None) -> None:
    """The target must answer 4XX - not 2XX, not 5XX, not a redirect - and not by refusing the right key."""
    exchange = client.send("POST", body, replay_body=replay_body)
    target = client.target
    if exchange.status in (401, 403):
        raise failure(name, target, exchange, f"the target refused the API key ({exchange.status}), so the body "
                      f"was never judged; check --api-key and --api-key-header", [f"body: {description}"])
    if exchange.status is None or not 400 <= exchange.status < 500:
        if exchange.status is not None and exchange.status < 300:
            verdict = f"accepted it ({exchange.status})"
        elif exchange.status is not None and exchange.status >= 500:
            verdict = f"failed on it ({exchange.status}, a server error)"
        else:
            verdict = exchange.outcome()
        raise failure(name, target, exchange, f"a body with {description} was not rejected as the client's "
                      f"error: the target {verdict}; expected 4XX", [f"rule: {rule}"])


WRONG_TYPES: tuple[tuple[str, str, Any], ...] = (
    ("/webhooks/start/status", "a string status", "true"),
    ("/webhooks/start/status", "a number status", 1),
    ("/webhooks/submission/status", "a null status", None),
    ("/webhooks/updates/status", "an object status", {"enabled": True}),
    ("/webhooks/start/url", "a number url", 42),
    ("/webhooks/submission/url", "an array url", ["https://hookproof.example/a"]),
    ("/webhooks/start", "a string setting", "https://hookproof.example/start"),
    ("/webhooks", "an array for webhooks", []),
    ("/updateAll", "a string updateAll", "yes"),
    ("/updateAuth", "a number updateAuth", 0),
)


@check("documented", "§ Parameters: status | boolean, url | string, updateAll | boolean")
def rejects_wrong_types(target: Target) -> None:
    """Bodies whose fields have the wrong type (a status that is not a boolean, ...) get 4XX, never 5XX."""
    with client_for(target) as client:
        for pointer, description, value in WRONG_TYPES:
            body = pointers.replaced(_example_body(), pointer, value)
            _expect_client_error("rejects_wrong_types", client, json.dumps(body).encode(),
                                 f"{description} ({pointer} = {json.dumps(value)})",
                                 f"{SEED} § Parameters types {pointer.rsplit('/', 1)[-1]}")
        _expect_client_error("rejects_wrong_types", client, b"[]", "a JSON array instead of an object",
                             f"{SEED} § Body Parameters: the body is an object")


NOT_URLS: tuple[tuple[str, str], ...] = (
    ("not a url", "plain words"),
    ("", "an empty string"),
    ("hookproof.example/hooks/start", "no scheme"),
    ("//hookproof.example/hooks/start", "a scheme-relative reference"),
    ("http://hook proof.example/start", "a space in the host"),
)


@check("documented", "§ Parameters: 'url | string | The URL to receive event notifications.'")
def rejects_non_url_url(target: Target) -> None:
    """A ``url`` that is a string but not a URL gets 4XX, never 2XX or 5XX."""
    with client_for(target) as client:
        for value, description in NOT_URLS:
            body = pointers.replaced(_example_body(), "/webhooks/start/url", value)
            _expect_client_error("rejects_non_url_url", client, json.dumps(body).encode(),
                                 f"a url that is not a URL ({description}: {json.dumps(value)})",
                                 f"{SEED} § Parameters: url is 'The URL to receive event notifications'")


MALFORMED: tuple[tuple[str, bytes, str | None], ...] = (
    ("truncated JSON", b'{"webhooks": {"start": {"status": true, "url": "https://hookproof.example/s"}', None),
    ("a missing value", b'{"webhooks": }', None),
    ("single-quoted strings", b"{'webhooks': {}}", None),
    ("trailing garbage", b'{"webhooks": {}} }', None),
    ("NaN, which JSON does not have",
     b'{"webhooks": {"start": {"status": NaN, "url": "https://hookproof.example/s"}}}', None),
    ("an empty body", b"", None),
    ("bytes that are not UTF-8", b'{"webhooks": {"start": "\xff\xfe"}}',
     "printf '{\"webhooks\": {\"start\": \"\\377\\376\"}}'"),
    ("50,000 unclosed brackets (nesting past a recursive parser's limit)", b"[" * 50_000,
     "python3 -c \"import sys; sys.stdout.write('[' * 50000)\""),
)


@check("robustness", "§ Body Parameters (a JSON body); a malformed body is the client's error")
def rejects_malformed_json(target: Target) -> None:
    """A body that is not well-formed JSON gets 4XX, never 5XX."""
    with client_for(target) as client:
        for description, body, shell in MALFORMED:
            _expect_client_error("rejects_malformed_json", client, body, description,
                                 "a body that cannot be parsed is a client error (4XX), not a server error",
                                 replay_body=shell)


def _settings_in(value: Any) -> dict[str, dict[str, Any]] | None:
    """The settings an object shows, if it shows any: ``{key: {"status": ..., "url": ...}}``."""
    if not isinstance(value, dict):
        return None
    found = {k: {"status": v["status"], "url": v["url"]} for k, v in value.items()  # extra fields are not compared
             if k in SETTING_KEYS and isinstance(v, dict) and "status" in v and "url" in v}
    return found or None


def _settings_of_answer(answer: Any) -> dict[str, dict[str, Any]] | None:
    """Where a GET answer keeps the settings: ``webhooks``, ``webhook``, ``settings``, ``data`` or the top."""
    if not isinstance(answer, dict):
        return None
    for candidate in (answer.get("webhooks"), answer.get("webhook"), answer.get("settings"), answer.get("data"),
                      answer):
        found = _settings_in(candidate)
        if found:
            return found
    return None


def _shown_by_get(client: Client) -> tuple[dict[str, dict[str, Any]], Exchange, str | None]:
    """What ``GET /webhooks`` shows: (the settings found, the exchange, why it cannot be read at all)."""
    get = client.get()
    if get.status is None or not 200 <= get.status < 300:
        return {}, get, f"GET {get.url} {get.outcome()}"
    try:
        return _settings_of_answer(get.json()) or {}, get, None
    except ValueError:
        return {}, get, f"GET {get.url} answered {get.status} with a body that is not JSON"


def _not_observable(reason: str) -> CannotObserve:
    return CannotObserve(
        f"cannot observe the stored settings, so the rule 'Omitted keys keep their existing values' "
        f"({SEED} § note) was NOT checked: the POST answer's webhook object does not show every setting, "
        f"and {reason}. Expose the settings in the POST answer's webhook object or on GET {PROFILE.path} to "
        f"have this rule checked.")


def _described(keys: tuple[str, ...]) -> str:
    return "only " + ", ".join(keys) if keys else "an empty webhooks object"


def _shown(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value)


@check("documented", "§ note: 'Omitted keys keep their existing values where supported.'")
def keeps_omitted_keys(target: Target) -> None:
    """After a partial update, every omitted key keeps the value it had (observed via the answer or GET).

    Each round sets every webhook, then sends a partial body (every proper subset of the keys, the empty
    one included). The settings are read from the partial update's answer when its ``webhook`` object
    shows all of them; otherwise from ``GET /webhooks``, trusted only if it showed the full settings just
    before the partial update (so an unrelated GET answer is never mistaken for lost settings).
    """
    name = "keeps_omitted_keys"
    token = secrets.token_hex(4)
    with client_for(target) as client:
        subsets = [s for size in range(len(SETTING_KEYS)) for s in combinations(SETTING_KEYS, size)]
        for round_no, given_keys in enumerate(subsets):
            full = {key: {"status": True, "url": f"https://{MARK_HOST}/{token}/{round_no}/{key}/full"}
                    for key in SETTING_KEYS}
            setup = client.post_json({"webhooks": full, "updateAll": False})
            if setup.status is None or not 200 <= setup.status < 300:
                raise failure(name, target, setup, f"setting every webhook failed: the target {setup.outcome()}; "
                              "expected 200, so omitted keys could not be checked")
            before, calibration, get_problem = _shown_by_get(client)
            if get_problem is None and before != full:
                get_problem = (f"GET {target.url} answered {calibration.status} without showing the settings just "
                               f"set (answer: {excerpt(_scrubbed(target, calibration.answer), 200)})")
            partial = {key: {"status": False, "url": f"https://{MARK_HOST}/{token}/{round_no}/{key}/partial"}
                       for key in given_keys}
            sent = {"webhooks": partial, "updateAll": False}
            post = client.post_json(sent)
            if post.status is None or not 200 <= post.status < 300:
                raise failure(name, target, post, f"a partial update sending {_described(given_keys)} was not "
                              f"accepted: the target {post.outcome()}; expected 200")
            try:
                in_answer = _settings_in(post.json().get("webhook")) or {}
            except (ValueError, AttributeError):
                in_answer = {}
            expected = {**full, **partial}
            complete = True  # whether `seen` is the whole state, so that a missing key counts as lost
            if len(in_answer) == len(SETTING_KEYS):
                seen, source, where = in_answer, post, "the partial update's answer (webhook object)"
            elif get_problem is None:
                after, source, problem = _shown_by_get(client)
                if problem is not None:
                    raise failure(name, target, source, f"GET {target.url} showed the settings before the partial "
                                  f"update but not after it: {problem}")
                seen, where = after, f"GET {target.url}"
            elif all(in_answer[key] == expected[key] for key in in_answer):
                raise _not_observable(get_problem)
            else:  # the answer shows only some keys, and one of them wrongly: that much is observable
                seen, source, where, complete = in_answer, post, "the partial update's answer (webhook object)", False
            for key in SETTING_KEYS:
                got = seen.get(key)
                if got == expected[key] or (got is None and not complete):
                    continue
                what = (f"the omitted key {key!r} lost its value" if key not in given_keys
                        else f"the given key {key!r} was not updated")
                raise failure(name, target, source, f"after a partial update sending "
                              f"{_described(given_keys)}, {what}",
                              [f"observed via {where}: {key} = {_shown(got)}",
                               f"expected: {key} = {json.dumps(expected[key])}",
                               f"partial update sent: {json.dumps(sent)}",
                               f"rule: {SEED} § note: 'Omitted keys keep their existing values where supported.'"])


def run_all(target: Target, names: Iterable[str] | None = None,
            hypothesis: Callable[[Any], Any] | None = None) -> dict[str, str]:
    """Run checks outside pytest; returns ``{name: "passed" | "FAILED: ..." | "not checked: ..."}``."""
    results: dict[str, str] = {}
    for name in names or CHECKS:
        fn = CHECKS[name].run
        try:
            if name == "accepts_valid_bodies":
                fn(target, hypothesis)
            else:
                fn(target)
            results[name] = "passed"
        except CheckFailure as exc:
            results[name] = f"FAILED: {exc}"
        except CannotObserve as exc:
            results[name] = f"not checked: {exc}"
    return results
