"""What a schema folder of the user's must hold before a command or a run uses it: each fault is one line
naming the file and what is wrong (:class:`~hookproof.contract.ProfileError`), never a traceback later, and
never a verdict pinned on the reference implementations or on the user's target.

A profile is checked as it is read (:mod:`hookproof.profiles`); the schemas it names are checked here, once,
by the command the user started (``hookproof validate``, ``list``, ``export``, the live commands, a run's
configuration), never by the processes a run starts, whose start-up a delivery pays for. The built-in
folder is held to the same rules by the project's tests. A schema must be:

- JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/json-schema-core): the ``$schema`` it names, if
  any, and valid against that draft's meta-schema, since the schemas are vendored into other languages'
  validators as they are;
- whole: every ``$ref`` resolves in the folders themselves, so that a validator elsewhere needs no network;
- alone under its ``$id``: two files with one ``$id`` leave the registry holding either, silently;

and every example a profile lists conforms to its event's schema, in every contract that lists it: a run
sends the examples as valid deliveries, and would blame a receiver that refuses an example its own
platform's schema rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

from hookproof import pointers
from hookproof.contract import ProfileError
from hookproof.schema_store import DRAFT_2020_12

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from hookproof.catalog import Catalog

# Keywords whose values are data, not schemas: a "$ref" inside an example or a const is not a reference.
_DATA = frozenset({"const", "enum", "examples", "default"})


def check_user_folders(cat: Catalog) -> None:
    """Raise :class:`ProfileError` for the first fault of a platform of the user's folders (none: nothing)."""
    user = [pid for pid, folder in cat.folders.platforms.items() if folder.origin != "built-in"]
    if user:
        check_platforms(cat, user)


def check_platforms(cat: Catalog, user: list[str]) -> None:
    """The checks of :func:`check_user_folders` for the platforms ``user`` (the tests give every one)."""
    for pid in user:
        cat.platform(pid)  # the profile's own faults first: they name its fields
    where = _files_by_id(cat, user)
    for uri, (described, doc) in where.items():
        _check_schema(described, doc)
        for pointer, ref, base in _refs(doc, uri):
            _resolves(cat, described, pointer, ref, base)
    for pid in user:
        _names_agree(cat, pid, where)
        _examples_conform(cat, pid)


def _files_by_id(cat: Catalog, user: list[str]) -> dict[str, tuple[str, Any]]:
    """Each schema file of the user's platforms by ``$id`` (with how to name the file), refusing an ``$id``
    that two files hold, in one platform or across platforms (the built-in ones included)."""
    held: dict[str, tuple[str, str]] = {}  # $id -> (platform, file)
    out: dict[str, tuple[str, Any]] = {}
    for pid, folder in cat.folders.platforms.items():
        for rel in folder.files():
            if rel == "profile.json" or rel.startswith("examples/"):
                continue
            doc = folder.read_json(rel)
            if not isinstance(doc, (dict, bool)):
                continue
            uri, described = urldefrag(folder.uri(rel, doc)).url, folder.describe(rel)
            if uri in held and (pid in user or held[uri][0] in user):
                raise ProfileError(f"{described}: its $id {uri} is already the $id of {held[uri][1]}: a registry "
                                   "holds one document per $id")
            held[uri] = (pid, described)
            if pid in user:
                out[uri] = (described, doc)
    return out


@cache
def _meta_validator() -> Draft202012Validator:
    """2020-12's meta-schema, compiled once for every file checked."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _check_schema(described: str, doc: Any) -> None:
    from jsonschema.exceptions import best_match

    if isinstance(doc, dict) and "$schema" in doc and doc["$schema"] != DRAFT_2020_12:
        raise ProfileError(f"{described}: /$schema: {doc['$schema']!r} is not {DRAFT_2020_12}: hookproof's schemas "
                           "are JSON Schema 2020-12")
    error = best_match(_meta_validator().iter_errors(doc))
    if error is not None:
        at = pointers.from_path(error.absolute_path) or "/"
        raise ProfileError(f"{described}: {at}: not a JSON Schema 2020-12 schema: {error.message[:200]}")


def _refs(node: Any, base: str, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, str, str]]:
    """(pointer, $ref, the base URI it is resolved against) of every reference in a schema; a nested ``$id``
    moves the base, as JSON Schema 2020-12 section 8.2.1 says."""
    if isinstance(node, dict):
        if isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"])
        if isinstance(node.get("$ref"), str):
            yield pointers.from_path((*path, "$ref")), node["$ref"], base
        for key, value in node.items():
            if key not in _DATA:
                yield from _refs(value, base, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, base, (*path, index))


def _resolves(cat: Catalog, described: str, pointer: str, ref: str, base: str) -> None:
    from referencing.exceptions import Unresolvable

    try:
        cat.registry().resolver(base_uri=base).lookup(ref)
    except Unresolvable as exc:
        target = urljoin(base, ref)
        raise ProfileError(f"{described}: {pointer}: {ref!r} resolves to nothing in the schema folders ({target}: "
                           f"{type(exc).__name__})") from None


def _examples_conform(cat: Catalog, pid: str) -> None:
    folder = cat.folders.platforms[pid]
    for spec in cat.platform(pid).contracts:
        for name, event in spec.events.items():
            for example in event.examples:
                if cat.is_valid(event.schema_id, example.body):
                    continue
                from jsonschema.exceptions import best_match

                error = best_match(cat.validator(event.schema_id).iter_errors(example.body))
                why = f"{pointers.from_path(error.absolute_path) or '/'}: {error.message[:200]}" if error else ""
                shown = example.file if folder.origin == "built-in" else f"{folder.origin}/{example.file}"
                raise ProfileError(f"{shown}: the example does not conform to {pid} {name} (contract {spec.name}), "
                                   f"which a run sends as a valid delivery: {why}")


def _names_agree(cat: Catalog, pid: str, files: dict[str, tuple[str, Any]]) -> None:
    """Where the event name travels in the body, the schema must allow the profile's name there: a schema whose
    ``const`` spells another event makes every drawn delivery claim that event, which the reference sender
    refuses and a receiver routes elsewhere."""
    for spec in cat.platform(pid).contracts:
        naming = spec.event_naming
        if naming is None:
            continue
        for name, event in spec.events.items():
            for part, value in zip(naming.parts, naming.split(name), strict=False):
                if part.body is None:
                    continue
                allowed = _allowed_at(cat, event.schema_id, part.body)
                if allowed is not None and value not in allowed:
                    shown = files.get(urldefrag(event.schema_id).url, (event.schema_id,))[0]
                    raise ProfileError(f"{shown}: {part.body}: the schema allows {', '.join(map(repr, allowed))} "
                                       f"where {pid}'s event {name} (contract {spec.name}) puts {value!r}")


def _allowed_at(cat: Catalog, schema_id: str, pointer: str) -> list[Any] | None:
    """The values the schema allows at ``pointer`` (its ``const`` or ``enum``), following ``properties`` and
    ``$ref``; None where it names none there, or the way there is not a plain path of properties."""
    resolved = cat.registry().resolver().lookup(schema_id)
    node, resolver = resolved.contents, resolved.resolver
    for key in [*pointers.keys(pointer), None]:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and "properties" not in node:
            resolved = resolver.lookup(node["$ref"])
            node, resolver = resolved.contents, resolved.resolver
        if not isinstance(node, dict):
            return None
        if key is None:
            break
        node = node.get("properties", {}).get(key)
    if "const" in node:
        return [node["const"]]
    enum = node.get("enum")
    return list(enum) if isinstance(enum, list) else None
