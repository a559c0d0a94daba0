"""The catalog: which platforms and events exist, what a delivery looks like on the wire, and whether
a delivery conforms.

Everything here is read from the profiles and schemas under ``schemas/``; this module holds no platform
fact of its own. A delivery is validated against the schema of *its* event - identified first from the
body and headers as the profile says - so a failure reads as one event's errors, not a wall of
``oneOf`` alternatives.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from conformance import pointers, schema_store

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


class CatalogError(Exception):
    """Bad input from a user: an unknown platform or event, or a delivery that names no event."""


@dataclass(frozen=True)
class Example:
    """A payload the platform's own document shows (or one derived from it, as its source says)."""

    platform: str
    event: str
    file: str
    body: Any
    source: str
    verbatim: str | None = None


@dataclass(frozen=True)
class Event:
    platform: str
    name: str
    schema_id: str
    examples: tuple[Example, ...]

    @property
    def schema(self) -> dict[str, Any]:
        return schema_store.resolve(self.schema_id)


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
    event: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True)
class Profile:
    """One platform's transport facts (``schemas/<platform>/profile.json``) as an object."""

    raw: dict[str, Any]
    events: dict[str, Event]

    def __getattr__(self, name: str) -> Any:  # platform, kind, seed, method, content_type, retry, ...
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw.get("headers") or {})

    @property
    def secret_header(self) -> str | None:
        return (self.raw.get("secret") or {}).get("header")

    @property
    def name_parts(self) -> list[dict[str, str]]:
        return self.raw["event_name"]["parts"] if self.raw.get("event_name") else []

    @property
    def delivery_metadata(self) -> list[dict[str, str]]:
        return list(self.raw.get("delivery_metadata") or [])

    def retry_policy(self) -> dict[str, Any]:
        """The retry policy that applies: the platform's own, or the one its profile says to assume where
        its document gives none (docs/decisions.md#retry-policy); ``documented`` tells which."""
        retry = self.raw.get("retry") or {}
        if retry.get("documented") or "assumed_from" not in retry:
            return dict(retry)
        assumed = profile(retry["assumed_from"]).raw["retry"]
        return {**assumed, "documented": False, "source": f"{retry['source']} Policy applied: {assumed['source']}"}

    def split_event_name(self, event: str) -> list[str]:
        """The values of the name's parts, e.g. 'code_challenge.created' -> ['code_challenge', 'created']."""
        parts = self.name_parts
        if not parts:  # a registration API: its bodies are not named events
            return []
        return event.split(self.raw["event_name"]["separator"], len(parts) - 1)

    def delivery_headers(self, event: str, secret: str | None = None) -> dict[str, str]:
        """Exactly the headers the platform documents for a delivery of ``event``."""
        headers = {"Content-Type": self.content_type, **self.headers}
        for part, value in zip(self.name_parts, self.split_event_name(event), strict=False):
            if "header" in part:
                headers[part["header"]] = value
        if secret and self.secret_header:
            headers[self.secret_header] = secret
        return headers

    def event_of(self, body: Any, headers: Mapping[str, str] | None = None) -> str:
        """The event a delivery claims to be, read from where the profile says the name travels."""
        headers = headers or {}
        values = []
        for part in self.name_parts:
            if "header" in part:
                value = _header(headers, part["header"])
                if value is None:
                    raise CatalogError(f"cannot tell the {self.name} event: header {part['header']} is missing")
            else:
                try:
                    value = pointers.get(body, part["body"])
                except KeyError:
                    raise CatalogError(f"cannot tell the {self.name} event: the body has no {part['body']}") from None
                if not isinstance(value, str):
                    raise CatalogError(
                        f"cannot tell the {self.name} event: {part['body']} is {json.dumps(value)}, not a string"
                    )
            values.append(value)
        return self.raw["event_name"]["separator"].join(values)


@cache
def platforms() -> tuple[str, ...]:
    return tuple(schema_store.read_json("catalog.json")["platforms"])


def _examples(platform: str, event: str, entries: list[dict[str, str]]) -> tuple[Example, ...]:
    return tuple(
        Example(
            platform,
            event,
            f"{platform}/{e['file']}",
            schema_store.read_json(f"{platform}/{e['file']}"),
            e["source"],
            e.get("verbatim") and f"{platform}/{e['verbatim']}",
        )
        for e in entries
    )


@cache
def profile(platform: str) -> Profile:
    catalog = schema_store.read_json("catalog.json")["platforms"]
    if platform not in catalog:
        raise CatalogError(f"unknown platform {platform!r}; known platforms: {', '.join(catalog)}")
    raw = schema_store.read_json(catalog[platform])
    events = {
        name: Event(
            platform,
            name,
            schema_store.schema_uri(platform, entry["schema"]),
            _examples(platform, name, entry["examples"]),
        )
        for name, entry in raw["events"].items()
    }
    for operation in ("request", "response"):  # a registration API's bodies, catalogued like events
        if operation in raw:
            entry = raw[operation]
            events[operation] = Event(
                platform,
                operation,
                schema_store.schema_uri(platform, entry["schema"]),
                _examples(platform, operation, entry["examples"]),
            )
    return Profile(raw, events)


def webhook_platforms() -> tuple[str, ...]:
    return tuple(p for p in platforms() if profile(p).kind == "webhook")


def event(platform: str, name: str) -> Event:
    events = profile(platform).events
    if name not in events:
        raise CatalogError(f"unknown {platform} event {name!r}; documented events: {', '.join(events)}")
    return events[name]


def documented_examples(platform: str) -> list[Example]:
    return [ex for ev in profile(platform).events.values() for ex in ev.examples]


def python_literal_to_json(text: str) -> Any:
    """Read an example that is JSON except for Python string prefixes (``u"..."``), as DoSelect's is.

    ``ast.literal_eval`` reads such text exactly; plain JSON is tried first so that ``true``/``null``
    keep working (docs/decisions.md#doselect-python-literals).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


@cache
def validator(schema_id: str, strict: bool = False) -> Draft202012Validator:
    return Draft202012Validator(
        schema_store.resolve(schema_id, strict), registry=schema_store.registry(strict), format_checker=FORMAT_CHECKER
    )


def _missing_property(error: ValidationError) -> str:
    """The property a ``required`` error is about (jsonschema reports one error per missing name)."""
    for name in error.validator_value:
        if isinstance(error.instance, dict) and name not in error.instance and error.message.startswith(repr(name)):
            return name
    return ""


def _expected(error: ValidationError) -> str:
    value = error.validator_value
    if error.validator == "required":
        return f"required property {_missing_property(error)!r}"
    if error.validator == "const":
        return f"the value {json.dumps(value)}"
    if error.validator == "enum":
        return "one of " + ", ".join(json.dumps(v) for v in value)
    if error.validator == "type":
        return "type " + (" or ".join(value) if isinstance(value, list) else value)
    if error.validator == "format":
        return f"a valid {value}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return "no properties beyond the documented ones (strict mode)"
    return f"{error.validator}: {json.dumps(value)}"


def problems_of(error: ValidationError, fallback_source: str) -> Problem:
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
    return Problem(where, reason.message, _expected(reason), source)


def check_instance(schema_id: str, instance: Any, strict: bool = False) -> list[Problem]:
    """Every problem of ``instance`` against one schema, in document order."""
    top = schema_store.resolve(schema_id)
    fallback = top.get("$comment", schema_id)
    errors = sorted(validator(schema_id, strict).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [problems_of(e, fallback) for e in errors]


def check_headers(prof: Profile, event_name: str, headers: Mapping[str, str]) -> list[Problem]:
    """Headers that are present but carry a value other than the documented one."""
    problems = []
    content_type = _header(headers, "Content-Type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != prof.content_type:
        problems.append(
            Problem(
                "header Content-Type",
                f"is {content_type!r}",
                repr(prof.content_type),
                prof.raw.get("headers_source", prof.seed),
            )
        )
    expected = prof.delivery_headers(event_name)
    expected.pop("Content-Type")
    for name, value in expected.items():
        got = _header(headers, name)
        if got is not None and got != value:
            problems.append(
                Problem(f"header {name}", f"is {got!r}", repr(value), prof.raw.get("headers_source", prof.seed))
            )
    return problems


def validate(
    platform: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
    event_name: str | None = None,
    strict: bool = False,
) -> Verdict:
    """Whether one delivery conforms: its event is identified (or given), then its body is checked
    against that event's schema with format checking on, and any headers given against the profile.

    Raises :class:`CatalogError` for an unknown platform or event; a delivery whose event cannot be told
    is a :class:`Verdict` with one problem, since that is a fault of the delivery, not of the caller.
    """
    prof = profile(platform)
    headers = headers or {}
    verdict = Verdict(platform, event_name)
    if event_name is None:
        if prof.kind != "webhook":
            event_name = "request"
        else:
            try:
                event_name = prof.event_of(body, headers)
            except CatalogError as exc:
                verdict.problems.append(Problem("", str(exc), "a documented event", prof.raw["event_name"]["source"]))
                return verdict
            if event_name not in prof.events:
                verdict.event = event_name  # named, but not documented: a caller may treat it as forward-compatible
                verdict.problems.append(
                    Problem(
                        "",
                        f"{event_name!r} is not a documented {prof.name} event",
                        "one of " + ", ".join(prof.events),
                        prof.raw["event_name"]["source"],
                    )
                )
                return verdict
    else:
        event(platform, event_name)  # raises for an unknown name
        if prof.kind == "webhook" and prof.name_parts:
            try:
                claimed = prof.event_of(body, headers)
            except CatalogError:
                claimed = None  # the schema check below names the missing field
            if claimed is not None and claimed != event_name:
                verdict.problems.append(
                    Problem(
                        "", f"the delivery names event {claimed!r}", repr(event_name), prof.raw["event_name"]["source"]
                    )
                )
    verdict.event = event_name
    if prof.kind == "webhook":
        verdict.problems.extend(check_headers(prof, event_name, headers))
    verdict.problems.extend(check_instance(event(platform, event_name).schema_id, body, strict))
    return verdict
