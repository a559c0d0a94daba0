"""Reading a platform folder's ``profile.json`` into the typed model of :mod:`hookproof.contract`.

The profile is validated against ``profile.schema.json`` first, so a bad profile is one line naming the
file and the field, never an ``AttributeError`` later; after that no code reads raw profile keys.

A later contract is an overlay on the contract it is ``based_on``: facts it states replace the base's,
``renames`` give events new names, ``adds`` and ``drops`` change the set. A renamed event keeps its base
schema, written once: its schema is derived here, with the name's ``const`` replaced where the body carries
the name (the derived schema gets an ``$id`` of its own and its relative ``$ref`` s made absolute).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from urllib.parse import urljoin

from hookproof import pointers
from hookproof.contract import (
    NO_SOURCE,
    NON_2XX,
    ApiKey,
    AuthScheme,
    Citation,
    Contract,
    Document,
    Event,
    EventNaming,
    Example,
    HmacSignature,
    MetadataField,
    NamePart,
    PartialUpdate,
    Platform,
    ProfileError,
    ReadBack,
    Registration,
    RetryPolicy,
    Settings,
    SharedSecret,
    StandardWebhooks,
    StatusRange,
)
from hookproof.schema_store import BASE_URI, PlatformFolder, builtin_root

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

CHECKED_ENV = "HOOKPROOF_CHECKED_PROFILES"
_checked: set[str] = set()  # digests (_digest) of the users' profiles read and found valid

FACTS = ("method", "method_source", "content_type", "headers", "headers_source", "event_name", "delivery_metadata",
         "auth", "retry", "registration", "document", "date")


@cache
def _profile_schema() -> bytes:
    return builtin_root().joinpath("profile.schema.json").read_bytes()


@cache
def _profile_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(_profile_schema()))


def _digest(profile: str) -> str:
    """What names a profile as checked: its text and the schema it was checked against (another version of
    hookproof may check it otherwise)."""
    import hashlib  # only for a user's profile: OpenSSL's hashlib is 3-4 ms of each sender command's start

    return hashlib.sha256(_profile_schema() + b"\0" + profile.encode("utf-8")).hexdigest()


def checked_profiles() -> str:
    """The profiles of the users' folders this process has read and found valid, for ``$HOOKPROOF_CHECKED_PROFILES``
    in the environment of the commands it starts (digests only: nothing of the profiles themselves)."""
    return ",".join(sorted(_checked))


def check_profile(raw: Any, where: str) -> None:
    """Raise :class:`ProfileError` naming the file and the field when ``raw`` is not a valid profile."""
    from jsonschema.exceptions import best_match

    errors = list(_profile_validator().iter_errors(raw))
    # A field that fails inside a contract's facts leaves every fact "unevaluated" as well: name the field.
    specific = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    error = best_match(specific)
    if error is not None:
        error = _pertinent(error)
        at = pointers.from_path(error.absolute_path) or "/"
        raise ProfileError(f"{where}: {at}: {error.message[:300]}")


def _pertinent(error: Any) -> Any:
    """Within a ``oneOf`` or ``anyOf``, the error of the one branch the value meant: each branch of the profile
    schema's choices is told by a ``const`` (``documented``, ``scheme``) or by a type, so a branch whose own
    ``const`` or type fails was not meant. ``best_match`` alone named the deepest error of any branch: a
    ``max_tries`` of ``"2"`` read "/contract/retry/documented: False was expected"."""
    from jsonschema.exceptions import best_match

    above = None  # the choice already settled: look below it only
    while True:
        choice = error if error.validator in ("oneOf", "anyOf") and error.context else None
        node = error
        while node.parent is not None and node.parent is not above:
            node = node.parent
            if node.validator in ("oneOf", "anyOf"):
                choice = node  # the outermost one still open
        if choice is None:
            return error
        branches: dict[Any, list[Any]] = {}
        for sub in choice.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [errors for errors in branches.values()
                 if not any((e.validator == "const" and len(e.relative_path) == 1)
                            or (e.validator == "type" and not e.relative_path) for e in errors)]
        if len(meant) != 1:
            return error
        error, above = best_match(meant[0]), choice


class LoadedPlatform(NamedTuple):
    """A platform as read, with the schema documents its contracts need (files and derived ones)."""

    platform: Platform
    documents: dict[str, Any]  # $id -> schema, for the registry


def load(folder: PlatformFolder, retry_of: Callable[[str, str], RetryPolicy]) -> LoadedPlatform:
    """Read ``folder``'s profile; ``retry_of(platform, asker)`` gives another platform's base retry policy, for
    a profile that assumes it (``"assumed_from"``)."""
    where = folder.describe()
    text = folder.read_text("profile.json")
    raw = folder.parse_json("profile.json", text)
    # The built-in profiles are checked by the project's tests (test_schemas); checking one at every start costs
    # the sender command jsonschema's import (about 60 ms, twice what the rest of a delivery costs it). A
    # folder of the user's is checked once per run: the run that checked it tells the commands it starts.
    if folder.origin != "built-in":
        digest = _digest(text)
        if digest not in os.environ.get(CHECKED_ENV, "").split(","):
            check_profile(raw, where)
        _checked.add(digest)
    if raw["platform"] != folder.id:
        raise ProfileError(f"{where}: /platform: {raw['platform']!r} is not the folder's name {folder.id!r}")
    reader = _Reader(folder, raw, retry_of)
    return reader.read()


class _Reader:
    def __init__(self, folder: PlatformFolder, raw: dict[str, Any],
                 retry_of: Callable[[str, str], RetryPolicy]) -> None:
        self.folder, self.raw, self.retry_of = folder, raw, retry_of
        self.where = folder.describe()
        self.id: str = raw["platform"]
        self.name: str = raw["name"]
        self.kind = raw["kind"]
        self.documents = {key: Document(key, d["title"], d["url"], d.get("repository"), d.get("path"),
                                        d.get("commit"), d.get("date")) for key, d in raw["documents"].items()}
        self.schemas: dict[str, Any] = {}
        self._read_schema_files()

    # -- files ------------------------------------------------------------------------------------------

    def _read_schema_files(self) -> None:
        """Every schema file of the folder (examples aside), by ``$id``; and each one's ``$id`` by its path."""
        self.uri_by_path: dict[str, str] = {}
        for rel in self.folder.files():
            if rel == "profile.json" or rel.startswith("examples/"):
                continue
            doc = self.folder.read_json(rel)
            if isinstance(doc, (dict, bool)):
                uri = self.folder.uri(rel, doc)
                if isinstance(doc, dict) and "$id" not in doc:  # given, so that every engine resolves its $ref s
                    doc = {"$id": uri, **doc}  # against the URI its path mirrors (jsonschema-rs has no other base)
                self.schemas[uri] = doc
                self.uri_by_path[rel] = uri

    def schema_uri(self, relpath: str, at: str) -> str:
        if relpath not in self.uri_by_path:
            outside = relpath.startswith("/") or ".." in relpath.split("/")
            raise ProfileError(f"{self.where}: {at}: schema file {relpath!r} "
                               + ("is outside the platform's folder (a path relative to it, without '..')" if outside
                                  else "does not exist"))
        return self.uri_by_path[relpath]

    # -- pieces -----------------------------------------------------------------------------------------

    def cite(self, raw: Mapping[str, Any] | None, at: str) -> Citation:
        if not raw:
            return NO_SOURCE
        document = None
        if "document" in raw:
            if raw["document"] not in self.documents:
                raise ProfileError(f"{self.where}: {at}/document: {raw['document']!r} is not one of /documents "
                                   f"({', '.join(self.documents)})")
            document = self.documents[raw["document"]]
        return Citation(document, raw.get("section", ""), raw.get("quote", ""), raw.get("decision", ""),
                        raw.get("note", ""))

    def examples(self, event: str, entries: list[dict[str, Any]], at: str) -> tuple[Example, ...]:
        out = []
        for n, entry in enumerate(entries):
            body = self.folder.read_json(entry["file"])
            verbatim = entry.get("verbatim")
            if verbatim is not None:
                self.folder.read_text(verbatim)  # must exist: it is what the example was derived from
            out.append(Example(self.id, event, f"{self.id}/{entry['file']}", body,
                               self.cite(entry["source"], f"{at}/examples/{n}/source"),
                               f"{self.id}/{verbatim}" if verbatim else None))
        return tuple(out)

    def event(self, contract: str, name: str, entry: dict[str, Any], at: str) -> Event:
        return Event(self.id, contract, name, self.schema_uri(entry["schema"], f"{at}/schema"),
                     self.examples(name, entry["examples"], at))

    def naming(self, raw: dict[str, Any] | None, at: str) -> EventNaming | None:
        if raw is None:
            return None
        parts = tuple(NamePart(body=p.get("body"), header=p.get("header")) for p in raw["parts"])
        return EventNaming(parts, raw["separator"], self.cite(raw["source"], f"{at}/source"))

    def retry(self, raw: dict[str, Any] | None, at: str) -> RetryPolicy | None:
        if raw is None:
            return None
        source = self.cite(raw["source"], f"{at}/source")
        if not raw["documented"]:
            assumed = self.retry_of(raw["assumed_from"], self.id)
            note = Citation(note=f"{self.name} documents no retry policy; {assumed.source} is applied",
                            decision=source.decision, document=source.document, section=source.section,
                            quote=source.quote)
            return RetryPolicy(False, assumed.max_tries, assumed.backoff, note, assumed.retry_on,
                               assumed.transport_failures, assumed.delay, assumed.min_delay, assumed.timeout,
                               assumed_from=raw["assumed_from"])
        retry_on = _statuses(raw.get("retry_on", ["non-2XX"]))
        policy = RetryPolicy(True, raw["max_tries"], raw["backoff"], source, retry_on,
                             raw.get("transport_failures", True), raw.get("delay"), raw.get("min_delay", 0.0),
                             raw.get("timeout"))
        if policy.backoff == "constant" and policy.delay is None:
            raise ProfileError(f"{self.where}: {at}/delay: a constant backoff needs its delay")
        return policy

    def auth(self, raw: list[dict[str, Any]], at: str) -> tuple[AuthScheme, ...]:
        schemes: list[AuthScheme] = []
        for n, entry in enumerate(raw):
            source = self.cite(entry["source"], f"{at}/{n}/source")
            if entry["scheme"] == "shared-secret":
                schemes.append(SharedSecret(entry["header"], source, entry.get("optional", True)))
            elif entry["scheme"] == "hmac":
                schemes.append(HmacSignature(entry["header"], source, entry.get("algorithm", "sha256"),
                                             entry.get("encoding", "hex"), entry.get("prefix", ""),
                                             entry.get("signs", "body"), entry.get("optional", False)))
            else:
                schemes.append(StandardWebhooks(source, entry.get("tolerance", 300.0), entry.get("optional", False)))
        return tuple(schemes)

    def registration(self, raw: dict[str, Any] | None, contract: str, at: str) -> Registration | None:
        if raw is None:
            return None
        settings = raw["settings"]
        partial = raw.get("partial_update")
        read_back = raw["read_back"]
        return Registration(
            method=self.raw["contract"]["method"],
            path=raw["path"],
            content_type=self.raw["contract"]["content_type"],
            api_key=ApiKey(raw["api_key"]["header"], self.cite(raw["api_key"]["source"], f"{at}/api_key/source")),
            request=self.event(contract, "request", raw["request"], f"{at}/request"),
            response=self.event(contract, "response", raw["response"], f"{at}/response"),
            settings=Settings(settings["at"], tuple(settings["keys"]), dict(settings["fields"]),
                              self.cite(settings["source"], f"{at}/settings/source")),
            partial_update=None if partial is None else PartialUpdate(
                self.cite(partial["source"], f"{at}/partial_update/source"), dict(partial.get("extra", {}))),
            read_back=ReadBack(read_back.get("answer_at"), read_back["get"],
                               self.cite(read_back["source"], f"{at}/read_back/source")),
            apply_to_all=raw.get("apply_to_all"),
            source=self.cite(raw.get("source"), f"{at}/source"),
        )

    # -- contracts --------------------------------------------------------------------------------------

    def contract(self, facts: dict[str, Any], events: dict[str, Event], at: str, based_on: str | None,
                 renames: Mapping[str, str]) -> Contract:
        name = facts["name"]
        document = self.documents.get(facts["document"]) if facts.get("document") else None
        if facts.get("document") and document is None:
            raise ProfileError(f"{self.where}: {at}/document: {facts['document']!r} is not one of /documents")
        registration = self.registration(facts.get("registration"), name, f"{at}/registration")
        if self.kind == "registration_api" and registration is None:
            raise ProfileError(f"{self.where}: {at}: a registration_api profile needs /contract/registration")
        if self.kind == "webhook" and facts.get("event_name") is None:
            raise ProfileError(f"{self.where}: {at}: a webhook profile needs event_name")
        if registration is not None:
            events = {**events, "request": registration.request, "response": registration.response}
        return Contract(
            platform=self.id, platform_name=self.name, name=name, title=facts["title"], kind=self.kind,
            document=document, method=facts["method"],
            method_source=self.cite(facts.get("method_source"), f"{at}/method_source"),
            content_type=facts["content_type"], headers=dict(facts.get("headers", {})),
            headers_source=self.cite(facts.get("headers_source"), f"{at}/headers_source"),
            event_naming=self.naming(facts.get("event_name"), f"{at}/event_name"),
            metadata=tuple(MetadataField(m["pointer"], m["value"], self.cite(m["source"], f"{at}/delivery_metadata"))
                           for m in facts.get("delivery_metadata", [])),
            auth=self.auth(facts.get("auth", []), f"{at}/auth"),
            retry=self.retry(facts.get("retry"), f"{at}/retry"),
            events=events, date=facts.get("date"), based_on=based_on, renames=dict(renames),
            registration=registration, historical=bool(facts.get("historical", False)),
        )

    def read(self) -> LoadedPlatform:
        base_raw = self.raw["contract"]
        base_name = base_raw["name"]
        base_events = {name: self.event(base_name, name, entry, f"/contract/events/{name}")
                       for name, entry in base_raw["events"].items()}
        if self.kind == "webhook" and not base_events:  # every check sends some event: with none, nothing is checked
            raise ProfileError(f"{self.where}: /contract/events: a webhook platform names at least one event")
        contracts = [self.contract(base_raw, base_events, "/contract", None, {})]
        raws = {base_name: base_raw}
        for n, later in enumerate(self.raw.get("later_contracts", [])):
            at = f"/later_contracts/{n}"
            if later["name"] in raws:
                raise ProfileError(f"{self.where}: {at}/name: {later['name']!r} is already a contract")
            if later["based_on"] not in raws:
                raise ProfileError(f"{self.where}: {at}/based_on: {later['based_on']!r} is not an earlier contract "
                                   f"({', '.join(raws)})")
            parent = next(c for c in contracts if c.name == later["based_on"])
            merged = {**{k: v for k, v in raws[later["based_on"]].items() if k in FACTS}, **later}
            events = self.derive_events(parent, merged, later, at)
            renames = {parent.renames.get(_base_of(parent, old), _base_of(parent, old)): new
                       for old, new in later.get("renames", {}).items()}
            renames = {**{k: v for k, v in parent.renames.items() if v in events}, **renames}
            contracts.append(self.contract(merged, events, at, later["based_on"], renames))
            raws[later["name"]] = merged
        platform = Platform(self.id, self.name, self.kind, tuple(contracts), self.where)
        return LoadedPlatform(platform, self.schemas)

    def derive_events(self, parent: Contract, merged: dict[str, Any], later: dict[str, Any],
                      at: str) -> dict[str, Event]:
        name = later["name"]
        dropped = set(later.get("drops", []))
        renames: dict[str, str] = later.get("renames", {})
        for old in (*dropped, *renames):
            if old not in parent.events:
                raise ProfileError(f"{self.where}: {at}: {old!r} is not an event of contract {parent.name!r}")
        naming = self.naming(merged.get("event_name"), f"{at}/event_name")
        events: dict[str, Event] = {}
        for old, event in parent.events.items():
            if old in dropped or old in ("request", "response"):
                continue
            new = renames.get(old, old)
            if new == old:
                events[old] = Event(self.id, name, old, event.schema_id, event.examples, event.base_name)
                continue
            uri = f"{BASE_URI}{self.id}/contracts/{name}/events/{new}.json"
            self.schemas[uri] = self.renamed_schema(event, uri, new, naming, f"{at}/renames/{old}")
            examples = tuple(Example(e.platform, new, e.file, _renamed_body(e.body, naming, new), e.source, e.verbatim)
                             for e in event.examples)
            events[new] = Event(self.id, name, new, uri, examples, event.base_name or old)
        for new, entry in later.get("adds", {}).items():
            where = f"{at}/adds/{new}"
            if new in events:
                raise ProfileError(f"{self.where}: {where}: already an event of this contract")
            if "like" not in entry:
                events[new] = self.event(name, new, entry, where)
                continue
            model = events.get(entry["like"]) or parent.events.get(entry["like"])
            if model is None:
                raise ProfileError(f"{self.where}: {where}/like: {entry['like']!r} is not an event of this contract "
                                   f"or of {parent.name!r}")
            uri = f"{BASE_URI}{self.id}/contracts/{name}/events/{new}.json"
            self.schemas[uri] = self.renamed_schema(model, uri, new, naming, where)
            events[new] = Event(self.id, name, new, uri, self.examples(new, entry["examples"], where))
        for event_name, entries in later.get("examples", {}).items():
            if event_name not in events:
                raise ProfileError(f"{self.where}: {at}/examples/{event_name}: not an event of this contract")
            more = self.examples(event_name, entries, f"{at}/examples/{event_name}")
            event = events[event_name]
            events[event_name] = Event(event.platform, event.contract, event.name, event.schema_id,
                                       event.examples + more, event.base_name)
        return events

    def renamed_schema(self, event: Event, uri: str, new: str, naming: EventNaming | None, at: str) -> Any:
        original = self.schemas.get(event.schema_id)
        if not isinstance(original, dict):
            raise ProfileError(f"{self.where}: {at}: the schema {event.schema_id} cannot be renamed")
        import copy  # only for a renamed event: not on the sender command's way

        schema = _absolute_refs(copy.deepcopy(original), event.schema_id)
        schema["$id"] = uri
        schema["title"] = f"{original.get('title', event.name)} (as {new})"
        if isinstance(original.get("$comment"), str):  # a failure cites it: say whose source it is
            schema["$comment"] = f"{new}: the schema of {event.name}, derived by this contract. {original['$comment']}"
        values = naming.split(new) if naming else [new]
        for part, value in zip(naming.parts if naming else (), values, strict=False):
            if part.body is None:
                continue
            node = schema
            for key in pointers.keys(part.body):
                props = node.get("properties") if isinstance(node, dict) else None
                if not isinstance(props, dict) or key not in props:
                    raise ProfileError(f"{self.where}: {at}: {event.schema_id} does not state {part.body} inline, so "
                                       "the renamed event's schema cannot be derived")
                node = props[key]
            if "const" in node:
                node["const"] = value
                node["$comment"] = f"Named {value!r} by this contract (derived from {event.name!r}). " + \
                    node.get("$comment", "")
        return schema


def _base_of(contract: Contract, name: str) -> str:
    event = contract.events.get(name)
    return event.base_name or name if event else name


def _renamed_body(body: Any, naming: EventNaming | None, new: str) -> Any:
    if naming is None:
        return body
    for part, value in zip(naming.parts, naming.split(new), strict=False):
        if part.body is not None and pointers.has(body, part.body):
            body = pointers.replaced(body, part.body, value)
    return body


def _absolute_refs(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                node[key] = urljoin(base, value)
            else:
                _absolute_refs(value, base)
    elif isinstance(node, list):
        for item in node:
            _absolute_refs(item, base)
    return node


def _statuses(raw: list[Any]) -> tuple[StatusRange, ...]:
    ranges: list[StatusRange] = []
    for item in raw:
        if item == "non-2XX":
            ranges.extend(NON_2XX)
        elif isinstance(item, str):
            low = int(item[0]) * 100
            ranges.append(StatusRange(low, low + 99))
        else:
            ranges.append(StatusRange(cast(int, item), cast(int, item)))
    return tuple(ranges)
