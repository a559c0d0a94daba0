"""Whether a delivery conforms, and if not, why - in words a user can act on without reading hookproof.

A delivery is validated against the schema of *its* event, identified first from where the contract says
the name travels, so a failure reads as one event's errors, not a wall of ``oneOf`` alternatives. Without a
contract named, every contract of the platform is tried and the verdict says which one accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hookproof import auth, catalog, pointers
from hookproof.contract import CatalogError, Citation, Contract, Platform, header_value

if TYPE_CHECKING:  # jsonschema is imported where a delivery has problems to report, not for a valid one
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class Problem:
    """One way in which a delivery breaks its contract, readable without the suite's source."""

    where: str  # a JSON pointer into the body, or "header <Name>"
    message: str
    expected: str
    source: str

    def __str__(self) -> str:
        return f"{self.where or '/'}: {self.message} (expected {self.expected}) [{self.source}]"


@dataclass
class Verdict:
    platform: str
    contract: str | None
    event: str | None
    problems: list[Problem] = field(default_factory=list)
    base_name: str | None = None  # the document's spelling of the event, where the contract renamed it
    missing_header: str | None = None  # the event name travels in this header, and the delivery has none
    accepted_by: list[str] = field(default_factory=list)  # other contracts that accept it, when one was pinned
    auth_checked: bool = False  # False where the contract authenticates but no secret (or no bytes) was given

    @property
    def ok(self) -> bool:
        return not self.problems


def _missing_property(error: ValidationError) -> str:
    """The property a ``required`` error is about (jsonschema reports one error per missing name)."""
    names: Any = error.validator_value
    for name in names:
        if isinstance(error.instance, dict) and name not in error.instance and error.message.startswith(repr(name)):
            return str(name)
    return ""


def _expected(error: ValidationError) -> str:
    value: Any = error.validator_value
    if error.validator == "required":
        return f"required property {_missing_property(error)!r}"
    if error.validator == "const":
        return f"the value {json.dumps(value, ensure_ascii=False)}"
    if error.validator == "enum":
        return "one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in value)
    if error.validator == "type":
        return "type " + (" or ".join(value) if isinstance(value, list) else str(value))
    if error.validator == "format":
        return f"a valid {value}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return "no properties beyond the documented ones (strict mode)"
    return f"{error.validator}: {json.dumps(value, ensure_ascii=False)}"


def _short(message: str, limit: int = 300) -> str:
    """A validator's message, bounded: it quotes the value, which may be megabytes long."""
    return message if len(message) <= limit else message[:limit] + " ..."


def problem_of(error: ValidationError, fallback_source: str) -> Problem:
    from jsonschema.exceptions import best_match

    reason = error
    if error.validator in ("anyOf", "oneOf") and error.context:
        # A branch whose type does not fit the value says nothing useful ("is not of type 'null'") when
        # another branch got further: report from the branch that came closest.
        further = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        reason = best_match(further or error.context)
    where = pointers.from_path(reason.absolute_path)
    if reason.validator == "required":
        where = f"{where}/{pointers.from_path([_missing_property(reason)])[1:]}"
    schema = reason.schema if isinstance(reason.schema, dict) else {}
    outer = error.schema if isinstance(error.schema, dict) else {}
    source = schema.get("$comment") or outer.get("$comment") or fallback_source
    return Problem(where, _short(reason.message), _expected(reason), str(source))


def conforms(schema_id: str, instance: Any, strict: bool = False) -> bool:
    """Whether ``instance`` is valid against one schema, without the problems: for the searches that try many
    candidates and keep the valid ones (a shrink, a rewritten payload), where an invalid one's error messages
    would be built by jsonschema only to be thrown away."""
    return catalog.active().is_valid(schema_id, instance, strict)


def check_instance(schema_id: str, instance: Any, strict: bool = False) -> list[Problem]:
    """Every problem of ``instance`` against one schema, in document order."""
    cat = catalog.active()
    if cat.is_valid(schema_id, instance, strict):
        return []
    top = cat.schema(schema_id)
    fallback = top.get("$comment", schema_id) if isinstance(top, dict) else schema_id
    try:
        errors = sorted(cat.validator(schema_id, strict).iter_errors(instance),
                        key=lambda e: list(map(str, e.absolute_path)))
    except RecursionError:  # jsonschema recurses per level where jsonschema-rs, which gave the verdict, did not
        return [Problem("", "does not conform; it is nested too deeply for the problems to be listed",
                        "a body nested less deeply", str(fallback))]
    return [problem_of(e, fallback) for e in errors]


def check_headers(spec: Contract, event_name: str, headers: Mapping[str, str]) -> list[Problem]:
    """Headers that are present but carry a value other than the documented one."""
    problems = []
    content_type = header_value(headers, "Content-Type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != spec.content_type:
        problems.append(Problem("header Content-Type", f"is {content_type!r}", repr(spec.content_type),
                                str(spec.headers_source)))
    expected = spec.delivery_headers(event_name)
    expected.pop("Content-Type")
    for name, value in expected.items():
        got = header_value(headers, name)
        if got is not None and got != value:
            problems.append(Problem(f"header {name}", f"is {got!r}", repr(value), str(spec.headers_source)))
    return problems


def check_request(spec: Contract, event_name: str, method: str, headers: Mapping[str, str]) -> list[Problem]:
    """What a request recorded whole (a capture, a raw request) needs besides its body: the documented method
    and every documented header. :func:`check_headers` judges only the headers given, since a body validated
    with a few ``--header`` options is not a whole request."""
    problems = []
    if method != spec.method:
        problems.append(Problem("method", f"is {method!r}", repr(spec.method), str(spec.method_source)))
    for name, value in spec.delivery_headers(event_name).items():
        if header_value(headers, name) is None:
            problems.append(Problem(f"header {name}", "is missing", repr(value), str(spec.headers_source)))
    return problems


def check_auth(spec: Contract, headers: Mapping[str, str], content: bytes, body: Any, secret: str) -> list[Problem]:
    """Whether the request authenticates with ``secret``, recomputed from the bytes received."""
    return [Problem(f"header {p.header}", p.message, "authentication as " + p.scheme.scheme, str(p.scheme.source))
            for p in auth.verify(spec, headers, content, body, secret)]


def _naming_source(spec: Contract) -> str:
    return str(spec.event_naming.source) if spec.event_naming else str(Citation())


def _validate_one(spec: Contract, body: Any, headers: Mapping[str, str], event_name: str | None, strict: bool,
                  content: bytes | None, secret: str | None, authenticate: bool = True) -> Verdict:
    verdict = Verdict(spec.platform, spec.name, event_name)
    if event_name is None:
        if spec.kind != "webhook":
            event_name = "request"
        else:
            try:
                event_name = spec.event_of(body, headers)
            except CatalogError as exc:
                verdict.problems.append(Problem("", str(exc), "a documented event", _naming_source(spec)))
                assert spec.event_naming is not None
                verdict.missing_header = next((h for h in spec.event_naming.header_names
                                               if header_value(headers, h) is None), None)
                return verdict
            if event_name not in spec.events:
                verdict.event = event_name  # named, but not in this contract: a receiver may treat it as new
                verdict.problems.append(Problem("", f"{event_name!r} is not a {spec.label} event",
                                                "one of " + ", ".join(spec.events), _naming_source(spec)))
                return verdict
    else:
        spec.event(event_name)  # raises CatalogError for a name this contract does not have
        if spec.kind == "webhook":
            try:
                claimed: str | None = spec.event_of(body, headers)
            except CatalogError:
                claimed = None  # the schema check below names the missing field
            if claimed is not None and claimed != event_name:
                verdict.problems.append(Problem("", f"the delivery names event {claimed!r}", repr(event_name),
                                                _naming_source(spec)))
    verdict.event = event_name
    event = spec.event(event_name)
    verdict.base_name = event.base_name
    if spec.kind == "webhook":
        verdict.problems.extend(check_headers(spec, event_name, headers))
        if authenticate and spec.auth and secret and content is not None:
            verdict.problems.extend(check_auth(spec, headers, content, body, secret))
            verdict.auth_checked = True
    verdict.problems.extend(check_instance(event.schema_id, body, strict))
    return verdict


def _closest(verdicts: list[Verdict], spec_of: dict[str, Contract]) -> Verdict:
    """The verdict to report when no contract accepts: the first whose contract knows the event."""
    for verdict in verdicts:
        if verdict.event is not None and verdict.event in spec_of[str(verdict.contract)].events:
            return verdict
    return verdicts[0]


def validate(platform: str, body: Any, headers: Mapping[str, str] | None = None, *, event: str | None = None,
             contract: str | None = None, strict: bool = False, content: bytes | None = None,
             secret: str | None = None, authenticate: bool = True) -> Verdict:
    """Whether one delivery conforms: to ``contract``, or else to any contract of the platform (the verdict
    names the one that accepts it). Its event is identified (or given), its body checked against that event's
    schema with format checking on, and the headers given against the contract; with ``secret`` and the
    ``content`` bytes as received, its authentication too (without them it is not checked, and the verdict says
    so; ``authenticate=False`` leaves authentication to a caller that checked it already).

    Raises :class:`CatalogError` for an unknown platform, contract or event; a delivery whose event cannot be
    told is a :class:`Verdict` with one problem, since that is a fault of the delivery, not of the caller.
    """
    plat: Platform = catalog.platform(platform)
    headers = headers or {}
    pinned = [plat.contract(contract)] if contract else list(plat.contracts)
    candidates = [c for c in pinned if event is None or event in c.events]
    if not candidates:
        raise CatalogError(f"unknown {platform} event {event!r} in contract(s) {', '.join(c.name for c in pinned)}")
    verdicts = []
    for candidate in candidates:  # the first that accepts: the later ones are not validated (per delivery)
        verdict = _validate_one(candidate, body, headers, event, strict, content, secret, authenticate)
        if verdict.ok:
            return verdict
        verdicts.append(verdict)
    spec_of = {c.name: c for c in plat.contracts}
    chosen = _closest(verdicts, spec_of)
    if contract:
        for other in plat.contracts:
            fits = other.name != contract and (event is None or event in other.events)
            if fits and _validate_one(other, body, headers, event, strict, content, secret, authenticate).ok:
                chosen.accepted_by.append(other.name)
    return chosen
