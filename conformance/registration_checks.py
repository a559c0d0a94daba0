"""Conformance checks for a webhook registration API (Xobin's ``POST /webhooks``), driven by its contract.

Everything API-specific comes from the contract's :class:`~hookproof.contract.Registration`: the path, the key
header, where the settings travel and what one holds, what a partial update also sends, where the settings
may be read back. A second registration API is therefore files only. One small function per check, registered
in :mod:`hookproof.conformance.registry`; a check talks to a :class:`Target` over HTTP and returns quietly or
raises :class:`~hookproof.conformance.report.CheckFailure` carrying the request (as a curl command, API key
masked), the status and an excerpt of the answer. Requests go through
:class:`~hookproof.conformance.http_exchange.HttpSession`: no proxy from the environment, no redirect followed,
one overall deadline per request.

A check that needs to see the stored settings (:func:`keeps_omitted_keys`) raises
:class:`~hookproof.conformance.report.NotChecked` when the target exposes them nowhere - the Xobin document
defines no way to read them - so that a run says "not checked" instead of passing silently.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from hypothesis import example, given
from hypothesis import strategies as st

from hookproof import catalog, pointers, redact, validation
from hookproof.conformance import strategies
from hookproof.conformance.http_exchange import Exchange, HttpSession
from hookproof.conformance.registry import check
from hookproof.conformance.report import CheckFailure, NotChecked, curl_command, excerpt
from hookproof.conformance.run_budget import RunOutOfTime
from hookproof.conformance.run_settings import runner
from hookproof.contract import Registration

if TYPE_CHECKING:
    from hookproof.conformance.run_budget import RunBudget

MARK_HOST = "hookproof.example"  # URLs the checks register; .example never resolves (RFC 2606)
API_KEY_ENV = "HOOKPROOF_API_KEY"  # where the plugin reads the key from, and a replay too


# --- talking to the target -----------------------------------------------------------------------------


class Masked(str):
    """A key whose ``repr`` is ``'***'``: pytest prints the arguments (and with ``-l`` the locals) of the
    frames in a traceback, and a key held in a plain ``str`` would appear there in clear."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class Target:
    """A registration API under test: its base URL (the contract's path is appended unless the URL already
    ends with it), how to authenticate, and which registration contract it is held to."""

    base_url: str
    api_key: str = field(repr=False)
    api_key_header: str | None = None
    timeout: float = 10.0
    platform: str = "xobin"
    contract: str | None = None
    budget: RunBudget | None = field(default=None, compare=False)  # the run's time limit (run_budget.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_key", Masked(self.api_key))
        redact.remember(self.api_key)
        if self.api_key_header is None:
            object.__setattr__(self, "api_key_header", self.spec.api_key.header)

    @property
    def spec(self) -> Registration:
        registration = catalog.contract(self.platform, self.contract).registration
        if registration is None:
            raise ValueError(f"{self.platform} is not a registration API")
        return registration

    @property
    def header(self) -> str:
        assert self.api_key_header is not None
        return self.api_key_header

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith(self.spec.path) else base + self.spec.path


@dataclass
class RegistrationContext:
    """A registration check's view of the run: the target, and how Hypothesis runs there."""

    target: Target
    hypothesis: Callable[[Callable[..., None]], Callable[..., None]] = field(default_factory=runner)


class Client:
    """Requests for one check, API key attached unless a request says otherwise. An update is sent with the
    contract's method and content type (Xobin: ``POST``, ``application/json``)."""

    def __init__(self, target: Target):
        self.target = target
        self.spec = target.spec
        self._session = HttpSession(target.timeout, budget=target.budget)

    def close(self) -> None:
        self._session.close()

    def send(self, method: str, body: bytes = b"", *, key: str | None = None, omit_key: bool = False,
             replay_body: str | None = None) -> Exchange:
        """Send one request with the right key (or ``key``, or none with ``omit_key``) within the deadline."""
        headers: dict[str, str] = {}
        if method != "GET":
            headers["Content-Type"] = self.spec.content_type
        if not omit_key:
            headers[self.target.header] = self.target.api_key if key is None else key
        return self._session.send(self.target.url, headers, body if method != "GET" else b"", method, replay_body)

    def update(self, body: bytes, **options: Any) -> Exchange:
        """One update request (the contract's method) carrying ``body`` as it is."""
        return self.send(self.spec.method, body, **options)

    def update_json(self, body: Any) -> Exchange:
        return self.update(json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def get(self) -> Exchange:
        return self.send("GET")


@contextmanager
def client_for(target: Target) -> Iterator[Client]:
    client = Client(target)
    try:
        yield client
    finally:
        client.close()


WRONG_KEY_SHOWN = "(a wrong key)"  # stands for a wrong key in a replay: it is derived from the real one


def replay(target: Target, exchange: Exchange) -> str:
    """A curl command repeating ``exchange``. The right API key is read from ``$HOOKPROOF_API_KEY`` (where the
    suite reads it too), so that the command works when pasted; a wrong key sent on purpose is shown as
    ``***`` (it is derived from the right one), and an empty one as it was."""
    headers = dict(exchange.headers)
    hidden: list[str] = []
    for name, value in exchange.headers.items():
        if name.lower() == target.header.lower() and value:
            hidden.append(name)
            if value != target.api_key:
                headers[name] = WRONG_KEY_SHOWN  # not a known secret: curl_command shows it as ***
    body = b"" if exchange.replay_body is not None else exchange.body
    command = curl_command(exchange.url, headers, body, hidden, exchange.method, secret_env=API_KEY_ENV,
                           max_time=target.timeout)
    if exchange.replay_body is not None:
        return f"{exchange.replay_body} | {command} --data-binary @-"
    return command


def failure(name: str, target: Target, exchange: Exchange, summary: str, details: Iterable[str] = (),
            source: object = None) -> CheckFailure:
    lines = [*details, f"request: {exchange.method} {redact.url(exchange.url)}",
             f"status: {exchange.status if exchange.status is not None else 'none - ' + str(exchange.error)}",
             f"answer: {excerpt(exchange.answer)}"]
    return CheckFailure(name, summary, platform=target.platform, details=lines, replay=replay(target, exchange),
                        source=str(source) if source else None)


# --- bodies --------------------------------------------------------------------------------------------


def request_bodies(target: Target) -> st.SearchStrategy[Any]:
    """Valid request bodies, from the one shared generator."""
    return strategies.events(target.platform, "request", contract=target.contract).map(lambda d: d.body)


def _example_body(spec: Registration) -> Any:
    if spec.request.examples:
        return copy.deepcopy(spec.request.examples[0].body)
    return pointers.replaced({}, spec.settings.at, {})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# Values of other JSON types, to put where the example has a value of the key's type.
_WRONG_TYPES: dict[str, tuple[tuple[str, Any], ...]] = {
    "boolean": (("a string", "true"), ("a number", 1), ("null", None), ("an object", {"enabled": True})),
    "string": (("a number", 42), ("an array", ["https://hookproof.example/a"])),
    "object": (("a string", "https://hookproof.example/x"), ("an array", [])),
    "number": (("a string", "1"),),
    "array": (("an object", {}),),
    "null": (),
}


def _members(body: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    """Every object member of ``body``, depth first, as (pointer, value)."""
    if isinstance(body, dict):
        for key, value in body.items():
            pointer = f"{at}/{pointers.from_path([key])[1:]}"
            yield pointer, value
            yield from _members(value, pointer)


def _breaks_at(spec: Registration, body: Any, pointer: str, rule: str) -> bool:
    return any(p.where == pointer and p.expected.startswith(rule) for p in
               validation.check_instance(spec.request.schema_id, body))


def wrong_type_cases(spec: Registration) -> list[tuple[str, str, Any]]:
    """(pointer, what, value): each member of the documented example given a value of another type that the
    request schema rejects for its type, at most two per member."""
    example_body = _example_body(spec)
    cases = []
    for pointer, value in _members(example_body):
        found = 0
        for what, wrong in _WRONG_TYPES[_json_type(value)]:
            if found < 2 and _breaks_at(spec, pointers.replaced(example_body, pointer, wrong), pointer, "type"):
                cases.append((pointer, what, wrong))
                found += 1
    return cases


NOT_URLS: tuple[tuple[str, str], ...] = (
    ("not a url", "plain words"),
    ("", "an empty string"),
    ("hookproof.example/hooks/start", "no scheme"),
    ("//hookproof.example/hooks/start", "a scheme-relative reference"),
    ("http://hook proof.example/start", "a space in the host"),
)


def url_pointer(spec: Registration) -> str | None:
    """The first member of the example that the schema checks as a URL."""
    example_body = _example_body(spec)
    for pointer, value in _members(example_body):
        if isinstance(value, str) and _breaks_at(spec, pointers.replaced(example_body, pointer, "not a url"), pointer,
                                                 "a valid uri"):
            return pointer
    return None


def _plain_name(name: str, fallback: str) -> str:
    """``name`` if it can be written inside JSON and shell quotes as it is, else ``fallback``."""
    return name if name and all(c.isalnum() or c in "_-." for c in name) else fallback


def malformed_bodies(spec: Registration) -> tuple[tuple[str, bytes, str | None], ...]:
    """Bodies that are not well-formed JSON: (what, bytes, a shell command printing them for the replay).

    They use the contract's own names (Xobin: ``webhooks``, ``start``), so that each is a near miss of a real
    request rather than noise a target could dismiss by its first byte."""
    text = json.dumps(_example_body(spec)).encode()
    top = pointers.keys(spec.settings.at)
    outer = _plain_name(top[0] if top else "", "hookproof").encode()
    inner = _plain_name(spec.settings.keys[0], "key").encode()
    shell_outer, shell_inner = outer.decode(), inner.decode()
    return (
        ("truncated JSON", text[:-1], None),
        ("a missing value", b'{"' + outer + b'": }', None),
        ("single-quoted strings", b"{'" + outer + b"': {}}", None),
        ("trailing garbage", text + b" }", None),
        ("NaN, which JSON does not have", b'{"hookproof": NaN}', None),
        ("an empty body", b"", None),
        ("bytes that are not UTF-8", b'{"' + outer + b'": {"' + inner + b'": "\xff\xfe"}}',
         f"printf '{{\"{shell_outer}\": {{\"{shell_inner}\": \"\\377\\376\"}}}}'"),
        ("50,000 unclosed brackets (nesting past a recursive parser's limit)", b"[" * 50_000,
         "python3 -c \"import sys; sys.stdout.write('[' * 50000)\""),
    )


# --- the checks ----------------------------------------------------------------------------------------


def _accepted(exchange: Exchange) -> bool:
    """Whether the target accepted a request: any 2XX. A document that shows only its success answer's body
    (Xobin's § Response names no status code) does not make 200 the only success status."""
    return exchange.status is not None and 200 <= exchange.status < 300


def _answer_rule(spec: Registration) -> object:
    """Where the contract shows the answer to an accepted request (Xobin: § Response)."""
    return spec.response.examples[0].source if spec.response.examples else spec.source


def accept_valid_body(client: Client, body: Any) -> None:
    """One valid body: a 2XX with the documented answer shape."""
    name = "accepts_valid_bodies"
    target = client.target
    spec = target.spec
    problems = validation.check_instance(spec.request.schema_id, body)
    if problems:  # a fault of the generator, not of the target
        raise AssertionError(f"hookproof generated an invalid request body: {problems[0]}")
    exchange = client.update_json(body)
    answer_rule = _answer_rule(spec)
    if not _accepted(exchange):
        raise failure(name, target, exchange, f"a valid body was not accepted: the target {exchange.outcome()}; "
                      f"expected 2XX with the documented answer", [f"body: {json.dumps(body)[:300]}"],
                      answer_rule)
    try:
        answer = exchange.json()
    except ValueError:
        what = "an empty body" if not exchange.answer else "a body that is not JSON"
        raise failure(name, target, exchange, f"the target answered {exchange.status} to a valid body with "
                      f"{what}: a 2XX is a success, but the documented answer is missing",
                      [f"body: {json.dumps(body)[:300]}"], answer_rule) from None
    wrong = validation.check_instance(spec.response.schema_id, answer)
    if wrong:
        raise failure(name, target, exchange, "the answer to a valid body does not have the documented shape",
                      [f"problem: {p}" for p in wrong[:5]], answer_rule)


@check("registration", "documented")
def accepts_valid_bodies(ctx: RegistrationContext, platform: str) -> None:
    """Generated valid bodies (any combination of the settings) get a 2XX and the documented answer."""
    target = ctx.target
    found: list[CheckFailure] = []  # what failed, for when the run's time limit cuts Hypothesis' run short
    with client_for(target) as client:

        def prop(body: Any) -> None:
            try:
                accept_valid_body(client, body)
            except CheckFailure as failure:
                found.append(failure)
                raise

        run = given(request_bodies(target))(prop)
        for ex in reversed(target.spec.request.examples):  # the document's own examples first
            run = example(copy.deepcopy(ex.body))(run)
        try:
            ctx.hypothesis(run)()
        except (RunOutOfTime, ExceptionGroup) as exc:
            # Past the limit, Hypothesis' shrinking (or its replay of the failing case) met the deadline on its
            # next request, and raised that (or both, as a group): the fault it had found stands, as the
            # smallest case it got to.
            cut = not isinstance(exc, ExceptionGroup) or exc.subgroup(RunOutOfTime) is not None
            if cut and found:
                raise [f for f in found if f.cause_key == found[0].cause_key][-1] from None
            raise


def _expect_refused(name: str, client: Client, cases: list[tuple[str, dict[str, Any]]]) -> None:
    spec = client.target.spec
    for description, options in cases:
        exchange = client.update(json.dumps(_example_body(spec)).encode(), **options)
        if exchange.status not in (401, 403):
            verdict = "accepted it" if exchange.status is not None and exchange.status < 300 else exchange.outcome()
            raise failure(name, client.target, exchange, f"a request {description} was not refused: the target "
                          f"{verdict}; expected 401 or 403", source=spec.api_key.source)


@check("registration", "documented")
def rejects_missing_api_key(ctx: RegistrationContext, platform: str) -> None:
    """A request without the API key (no header, or an empty one) gets 401 or 403."""
    target = ctx.target
    with client_for(target) as client:
        _expect_refused("rejects_missing_api_key", client, [
            (f"without the {target.header} header", {"omit_key": True}),
            (f"with an empty {target.header} header", {"key": ""}),
        ])


def wrong_keys(key: str) -> list[tuple[str, str]]:
    """Wrong keys that catch the usual comparison bugs: unrelated, prefix match, truncation, case folding.

    Each is derived from the key, so each is remembered as a secret: none is ever shown."""
    cases = [("with an unrelated API key", "hookproof-wrong-" + secrets.token_hex(8)),
             ("with the right API key plus one character (a prefix comparison accepts it)", key + "0")]
    if len(key) > 1:
        cases.append(("with the right API key minus its last character", key[:-1]))
    if key.swapcase() != key:
        cases.append(("with the right API key in swapped case (a case-insensitive comparison accepts it)",
                      key.swapcase()))
    redact.remember(*(wrong for _, wrong in cases))
    return [(description, Masked(wrong)) for description, wrong in cases]


@check("registration", "documented")
def rejects_wrong_api_key(ctx: RegistrationContext, platform: str) -> None:
    """A request with a wrong API key gets 401 or 403."""
    target = ctx.target
    with client_for(target) as client:
        _expect_refused("rejects_wrong_api_key", client,
                        [(description, {"key": key}) for description, key in wrong_keys(target.api_key)])


def _expect_client_error(name: str, client: Client, body: bytes, description: str, rule: object,
                         replay_body: str | None = None) -> None:
    """The target must answer 4XX - not 2XX, not 5XX, not a redirect - and not by refusing the right key."""
    exchange = client.update(body, replay_body=replay_body)
    target = client.target
    if exchange.status in (401, 403):
        raise failure(name, target, exchange, f"the target refused the API key ({exchange.status}), so the body "
                      f"was never judged; check --hookproof-api-key and --hookproof-api-key-header",
                      [f"body: {description}"])
    if exchange.status is None or not 400 <= exchange.status < 500:
        if exchange.status is not None and exchange.status < 300:
            verdict = f"accepted it ({exchange.status})"
        elif exchange.status is not None and exchange.status >= 500:
            verdict = f"failed on it ({exchange.status}, a server error)"
        else:
            verdict = exchange.outcome()
        raise failure(name, target, exchange, f"a body with {description} was not rejected as the client's "
                      f"error: the target {verdict}; expected 4XX", source=rule)


# The rules of the two checks below, as their failures show them. The documents give the members' types and
# call ``url`` a URL, but say nothing of what the API answers to a body that breaks them (Xobin documents its
# success answer only): refusing such a body as the client's error is practice, not a documented rule
# (docs/decisions.md#xobin-invalid-bodies).
WRONG_TYPE_RULE = ("robustness practice, not stated by the document: a body that gives a member another type "
                   "than the request schema is the client's error (4XX), neither accepted (2XX) nor a server "
                   "error (5XX)")
NOT_A_URL_RULE = ("robustness practice, not stated by the document: a url that is not a URL cannot receive "
                  "notifications, so the body is the client's error (4XX), neither accepted (2XX) nor a server "
                  "error (5XX)")


@check("registration", "robustness")
def rejects_wrong_types(ctx: RegistrationContext, platform: str) -> None:
    """Bodies whose fields have the wrong type (a status that is not a boolean, ...) get 4XX, never 5XX."""
    target = ctx.target
    spec = target.spec
    with client_for(target) as client:
        for pointer, what, value in wrong_type_cases(spec):
            body = pointers.replaced(_example_body(spec), pointer, value)
            _expect_client_error("rejects_wrong_types", client, json.dumps(body).encode(),
                                 f"{what} at {pointer} ({json.dumps(value)})", WRONG_TYPE_RULE)
        _expect_client_error("rejects_wrong_types", client, b"[]", "a JSON array instead of an object",
                             WRONG_TYPE_RULE)


@check("registration", "robustness")
def rejects_non_url_url(ctx: RegistrationContext, platform: str) -> None:
    """A ``url`` that is a string but not a URL gets 4XX, never 2XX or 5XX."""
    target = ctx.target
    spec = target.spec
    pointer = url_pointer(spec)
    if pointer is None:
        raise NotChecked(f"the {platform} request schema checks no member as a URL")
    with client_for(target) as client:
        for value, description in NOT_URLS:
            body = pointers.replaced(_example_body(spec), pointer, value)
            _expect_client_error("rejects_non_url_url", client, json.dumps(body).encode(),
                                 f"a url that is not a URL at {pointer} ({description}: {json.dumps(value)})",
                                 NOT_A_URL_RULE)


@check("registration", "robustness")
def rejects_malformed_json(ctx: RegistrationContext, platform: str) -> None:
    """A body that is not well-formed JSON gets 4XX, never 5XX."""
    target = ctx.target
    with client_for(target) as client:
        for description, body, shell in malformed_bodies(target.spec):
            _expect_client_error("rejects_malformed_json", client, body, description,
                                 "a body that cannot be parsed is a client error (4XX), not a server error",
                                 replay_body=shell)


# --- reading the settings back -------------------------------------------------------------------------


def _settings_in(spec: Registration, value: Any) -> dict[str, dict[str, Any]] | None:
    """The settings an object shows, if it shows any: ``{key: {field: value}}`` for the contract's fields."""
    if not isinstance(value, dict):
        return None
    found = {k: {f: v[f] for f in spec.settings.fields} for k, v in value.items()  # extra fields are not compared
             if k in spec.settings.keys and isinstance(v, dict) and all(f in v for f in spec.settings.fields)}
    return found or None


def _settings_of_answer(spec: Registration, answer: Any) -> dict[str, dict[str, Any]] | None:
    """Where a GET answer keeps the settings: where the request carries them, where the update's answer shows
    them, under ``settings`` or ``data``, or at the top."""
    candidates = [pointers.find(answer, spec.settings.at)]
    if spec.read_back.answer_at:
        candidates.append(pointers.find(answer, spec.read_back.answer_at))
    if isinstance(answer, dict):
        candidates += [answer.get("settings"), answer.get("data"), answer]
    for candidate in candidates:
        found = _settings_in(spec, candidate)
        if found:
            return found
    return None


def _shown_by_get(client: Client) -> tuple[dict[str, dict[str, Any]], Exchange, str | None]:
    """What ``GET`` shows: (the settings found, the exchange, why it cannot be read at all)."""
    spec = client.target.spec
    if not spec.read_back.get:
        return {}, Exchange(client.target.url, "GET", {}, b""), "the contract reads nothing back with GET"
    get = client.get()
    if get.status is None or not 200 <= get.status < 300:
        return {}, get, f"GET {get.url} {get.outcome()}"
    try:
        return _settings_of_answer(spec, get.json()) or {}, get, None
    except ValueError:
        return {}, get, f"GET {get.url} answered {get.status} with a body that is not JSON"


def _not_observable(spec: Registration, reason: str) -> NotChecked:
    answer_at = spec.read_back.answer_at
    shown = f" the update's answer at {answer_at}" if answer_at else " the update's answer"
    return NotChecked(
        f"cannot observe the stored settings, so the rule 'Omitted keys keep their existing values' was NOT checked: "
        f"{shown.strip()} does not show every setting, and {reason}. Expose the settings in{shown} or on GET "
        f"{spec.path} to have this rule checked.")


def _described(keys: tuple[str, ...]) -> str:
    return "only " + ", ".join(keys) if keys else "no setting at all"


def _shown(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value)


def _setting(spec: Registration, enabled: bool, url: str) -> dict[str, Any]:
    return {name: (enabled if kind == "boolean" else url) for name, kind in spec.settings.fields.items()}


def _body_with(spec: Registration, settings: dict[str, Any]) -> Any:
    assert spec.partial_update is not None
    return pointers.replaced(copy.deepcopy(dict(spec.partial_update.extra)), spec.settings.at, settings)


@check("registration", "documented")
def keeps_omitted_keys(ctx: RegistrationContext, platform: str) -> None:
    """After a partial update, every omitted setting keeps the value it had (observed via the answer or GET).

    Each round sets every setting, then sends a partial body (every proper subset of the keys, the empty
    one included). The settings are read from the partial update's answer when it shows all of them;
    otherwise from ``GET``, trusted only if it showed the full settings just before the partial update (so an
    unrelated GET answer is never mistaken for lost settings).
    """
    name = "keeps_omitted_keys"
    target = ctx.target
    spec = target.spec
    if spec.partial_update is None:
        raise NotChecked(f"the {platform} contract states no rule for settings a request omits")
    rule = spec.partial_update.source
    keys = spec.settings.keys
    token = secrets.token_hex(4)
    with client_for(target) as client:
        subsets = [s for size in range(len(keys)) for s in combinations(keys, size)]
        for round_no, given_keys in enumerate(subsets):
            full = {key: _setting(spec, True, f"https://{MARK_HOST}/{token}/{round_no}/{key}/full") for key in keys}
            setup = client.update_json(_body_with(spec, full))
            if not _accepted(setup):
                raise failure(name, target, setup, f"setting every webhook failed: the target {setup.outcome()}; "
                              "expected 2XX, so omitted keys could not be checked", source=_answer_rule(spec))
            before, calibration, get_problem = _shown_by_get(client)
            if get_problem is None and before != full:
                get_problem = (f"GET {target.url} answered {calibration.status} without showing the settings just "
                               f"set (answer: {excerpt(calibration.answer, 200)})")
            partial = {key: _setting(spec, False, f"https://{MARK_HOST}/{token}/{round_no}/{key}/partial")
                       for key in given_keys}
            sent = _body_with(spec, partial)
            post = client.update_json(sent)
            if not _accepted(post):
                raise failure(name, target, post, f"a partial update sending {_described(given_keys)} was not "
                              f"accepted: the target {post.outcome()}; expected 2XX", source=rule)
            try:
                answer_at = spec.read_back.answer_at
                in_answer = (_settings_in(spec, pointers.find(post.json(), answer_at)) if answer_at else None) or {}
            except ValueError:
                in_answer = {}
            expected = {**full, **partial}
            complete = True  # whether `seen` is the whole state, so that a missing key counts as lost
            if len(in_answer) == len(keys):
                seen, source, where = in_answer, post, f"the partial update's answer ({spec.read_back.answer_at})"
            elif get_problem is None:
                after, source, problem = _shown_by_get(client)
                if problem is not None:
                    raise failure(name, target, source, f"GET {target.url} showed the settings before the partial "
                                  f"update but not after it: {problem}", source=rule)
                seen, where = after, f"GET {target.url}"
            elif all(in_answer[key] == expected[key] for key in in_answer):
                raise _not_observable(spec, get_problem)
            else:  # the answer shows only some keys, and one of them wrongly: that much is observable
                seen, source, where, complete = in_answer, post, "the partial update's answer", False
            for key in keys:
                got = seen.get(key)
                if got == expected[key] or (got is None and not complete):
                    continue
                what = (f"the omitted key {key!r} lost its value" if key not in given_keys
                        else f"the given key {key!r} was not updated")
                raise failure(name, target, source, f"after a partial update sending {_described(given_keys)}, "
                              f"{what}", [f"observed via {where}: {key} = {_shown(got)}",
                                          f"expected: {key} = {json.dumps(expected[key])}",
                                          f"partial update sent: {json.dumps(sent)}"], source=rule)


def run_all(target: Target, names: Iterable[str] | None = None,
            hypothesis: Callable[[Callable[..., None]], Callable[..., None]] | None = None) -> dict[str, str]:
    """Run the registration checks outside pytest; ``{name: "passed" | "FAILED: ..." | "not checked: ..."}``."""
    from hookproof.conformance.registry import checks_of

    ctx = RegistrationContext(target, hypothesis or runner())
    chosen = {c.name: c for c in checks_of("registration")}
    results: dict[str, str] = {}
    for name in names or chosen:
        try:
            chosen[name](ctx, target.platform)
            results[name] = "passed"
        except CheckFailure as exc:
            results[name] = f"FAILED: {exc}"
        except NotChecked as exc:
            results[name] = f"not checked: {exc}"
    return results
