"""Writing the schema set out for vendoring: every platform's files, the schemas derived for later contracts,
the profile schema, and an index (``catalog.json``) of platforms, contracts and events.

``strict=True`` writes the drift-alert variant (:func:`hookproof.schema_store.strictify`) with every ``$id`` moved
to ``.../schemas/strict/<its path in the export>``, so that both sets can live in one registry: a platform of
the user's whose ``$id`` s are on a domain of its own moves there too (docs/decisions.md#strict-variant). Each
``$ref`` to a document of the set is pointed at that document's strict ``$id``; relative ones stay as written
where they still resolve there, which is every ``$ref`` of a set whose ``$id`` s mirror its paths. Existing files
are never overwritten.

``bundled`` writes one self-contained schema per platform contract instead (:mod:`hookproof.bundle`), and
``api_description`` an OpenAPI 3.1 or AsyncAPI 3.0 document per contract (:mod:`hookproof.api_docs`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from hookproof import catalog
from hookproof.schema_store import BASE_URI, STRICT_BASE_URI, is_schema, strictify


def _files(cat: catalog.Catalog, strict: bool = False) -> dict[str, str]:
    """Every file to write, by its path under the destination, as text."""
    out: dict[str, str] = {}
    for platform_id, folder in cat.folders.platforms.items():
        for rel in folder.files((".json", ".txt")):
            out[f"{platform_id}/{rel}"] = folder.read_text(rel)
    listed = examples(cat, strict)
    for found in listed.values():
        for path, body in found:
            if path not in out:  # rewritten for its contract: written beside the contract's derived schemas
                out[path] = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    for uri, doc in cat.documents().items():
        if uri.startswith(BASE_URI) and "/contracts/" in uri:  # derived for a later contract: not a file of ours
            out[uri[len(BASE_URI):]] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    for uri, doc in cat.folders.shared_documents().items():
        out[uri[len(BASE_URI):]] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out["catalog.json"] = json.dumps(index(cat, strict, listed), indent=2, ensure_ascii=False) + "\n"
    return out


def examples(cat: catalog.Catalog, strict: bool = False) -> dict[tuple[str, str, str], list[tuple[str, Any]]]:
    """Each contract event's documented examples (platform, contract, event -> path in the export, body).

    An example is listed at its own file where the contract takes it as written; where the contract rewrote it
    (a renamed event whose name travels in the body: Codewars' ``user.rank_upgraded`` example says
    ``rank_earned`` for contract ``2021-04``), at ``<platform>/contracts/<contract>/<its path>``, beside the
    contract's derived schemas, so that a vendoring user finds a file that validates against the contract's
    schema. ``strict`` leaves out the examples the strict variant rejects (docs/decisions.md#strict-variant)."""
    out: dict[tuple[str, str, str], list[tuple[str, Any]]] = {}
    for platform_id in cat.ids:
        folder = cat.folders.platforms[platform_id]
        for spec in cat.platform(platform_id).contracts:
            for name, event in spec.events.items():
                found = []
                for ex in event.examples:
                    rel = ex.file.removeprefix(f"{platform_id}/")
                    path = ex.file if ex.body == folder.read_json(rel) else f"{platform_id}/contracts/{spec.name}/{rel}"
                    if not strict or cat.is_valid(event.schema_id, ex.body, strict=True):
                        found.append((path, ex.body))
                if found:
                    out[(platform_id, spec.name, name)] = found
    return out


def index(cat: catalog.Catalog, strict: bool = False,
          listed: dict[tuple[str, str, str], list[tuple[str, Any]]] | None = None) -> dict[str, Any]:
    """Platforms, their contracts, each contract's events with their schema ``$id`` s and, for the events that
    have any, the paths of the examples that validate against that schema (:func:`examples`)."""
    listed = examples(cat, strict) if listed is None else listed
    platforms = {}
    for platform_id in cat.ids:
        plat = cat.platform(platform_id)
        platforms[platform_id] = {
            "name": plat.name, "kind": plat.kind, "profile": f"{platform_id}/profile.json",
            "contracts": {c.name: {"title": c.title, "based_on": c.based_on,
                                   "events": {name: e.schema_id for name, e in c.events.items()},
                                   "examples": {name: [path for path, _ in listed[(platform_id, c.name, name)]]
                                                for name in c.events if (platform_id, c.name, name) in listed}}
                          for c in plat.contracts},
        }
    return {"$id": f"{BASE_URI}catalog.json", "title": "hookproof schema catalog (generated)", "platforms": platforms}


def export(dest: Path, strict: bool = False) -> list[Path]:
    """Write the schema set under ``dest``; refuses to write over existing files."""
    files = _files(catalog.active(), strict)
    if strict:
        files = _strict_files(files)
    return _write_new(dest, files)


def _default_uri(rel: str, doc: Any) -> str:
    """The URI a written file is known by in the default set: its ``$id``, else its path under ``BASE_URI`` (as
    :meth:`hookproof.schema_store.PlatformFolder.uri` gives it)."""
    if isinstance(doc, dict) and isinstance(doc.get("$id"), str):
        return str(doc["$id"])
    return BASE_URI + rel


def _strict_files(files: dict[str, str]) -> dict[str, str]:
    """The strict variant of every file of the schema set.

    Each JSON file's strict URI is ``STRICT_BASE_URI`` + its path, whatever its ``$id`` was: a text replacement
    of ``BASE_URI`` (as before) left a user's own-domain ``$id`` s as they were, so that the strict file claimed
    the default file's ``$id`` with other content, and no prefix of some other scheme (``urn:``, ``tag:``) can be
    moved the same way. The path is unique within the set and mirrors the layout, so built-in files keep
    exactly the ``$id`` s and relative ``$ref`` s they had."""
    docs = {rel: doc for rel, text in files.items() if rel.endswith(".json") and (doc := _json(text)) is not _NOT_JSON}
    moved = {_default_uri(rel, doc): STRICT_BASE_URI + rel for rel, doc in docs.items()}
    out = dict(files)
    for rel, doc in docs.items():
        base, strict_base = _default_uri(rel, doc), STRICT_BASE_URI + rel
        if is_schema(doc):
            doc = strictify(doc)
        doc = _moved_refs(doc, base, strict_base, moved)
        if isinstance(doc, dict):
            if isinstance(doc.get("$id"), str):
                doc["$id"] = strict_base
            if isinstance(doc.get("$schema"), str) and doc["$schema"] in moved:  # a profile's profile.schema.json
                doc["$schema"] = moved[doc["$schema"]]
        if rel == "catalog.json":
            doc = _moved_ids(doc, moved)
        out[rel] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


_NOT_JSON = object()


def _json(text: str) -> Any:
    """``text`` as JSON, or ``_NOT_JSON``: a ``.json`` file of a user's folder that the catalog never reads (an
    example no profile names) may be anything, and the default export copies it as it is; the strict one then
    does the same rather than stop with a traceback."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _moved_refs(node: Any, base: str, strict_base: str, moved: dict[str, str]) -> Any:
    """``node`` with each ``$ref`` (read against ``base``) pointing where it pointed, in the strict set: a document
    of the set by its strict URI, anything else where it was; written as before wherever that still resolves
    from ``strict_base``."""
    if isinstance(node, list):
        return [_moved_refs(v, base, strict_base, moved) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            uri, fragment = urldefrag(urljoin(base, value))
            target = moved.get(uri, uri) + (f"#{fragment}" if fragment or value.endswith("#") else "")
            out[key] = value if urljoin(strict_base, value) == target else target
        else:
            out[key] = _moved_refs(value, base, strict_base, moved)
    return out


def _moved_ids(node: Any, moved: dict[str, str]) -> Any:
    """The catalog index with each schema ``$id`` it names replaced by the strict one."""
    if isinstance(node, dict):
        return {k: _moved_ids(v, moved) for k, v in node.items()}
    if isinstance(node, list):
        return [_moved_ids(v, moved) for v in node]
    return moved.get(node, node) if isinstance(node, str) else node


def _write_new(dest: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` (relative path -> text) under ``dest``, or nothing if any of them exists already."""
    clashes = [rel for rel in files if (dest / rel).exists()]
    if clashes:
        raise FileExistsError(f"{dest / clashes[0]} already exists ({len(clashes)} files would be overwritten)")
    written = []
    for rel, text in sorted(files.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


FORMATS = ("jsonschema", "openapi", "asyncapi")


def _contracts(cat: catalog.Catalog, kind: str | None) -> list[Any]:
    return [spec for platform_id in cat.ids for spec in cat.platform(platform_id).contracts
            if kind is None or spec.kind == kind]


def _described(fmt: str, strict: bool, bundled: bool) -> dict[str, str]:
    """Every file of a bundled or API-description export, by its path under the destination, as text."""
    from hookproof import api_docs
    from hookproof.bundle import bundle

    cat = catalog.active()
    out: dict[str, str] = {}
    if fmt == "jsonschema":
        for spec in _contracts(cat, None):
            out[f"{spec.platform}/{spec.name}.schema.json"] = _text(bundle(spec, strict).document(strict))
    elif fmt == "openapi":
        for spec in _contracts(cat, None):
            out[f"{spec.platform}/{spec.name}.openapi.json"] = _text(api_docs.openapi(spec, strict))
    else:
        if strict:
            raise ValueError("--strict applies to the JSON Schema and OpenAPI exports, not to AsyncAPI's schemas")
        for spec in _contracts(cat, "webhook"):
            out[f"{spec.platform}/{spec.name}.asyncapi.json"] = _text(api_docs.asyncapi(spec))
    return out


def _text(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def export_described(dest: Path, fmt: str, strict: bool = False, bundled: bool = False) -> list[Path]:
    """Write a bundled schema or API-description export under ``dest``, one file per platform contract
    (``<platform>/<contract>.<kind>.json``); refuses to write over existing files."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    if bundled and fmt != "jsonschema":  # never ignored: the user would take the documents for a bundle
        raise ValueError(f"--bundle applies to --format jsonschema, not to {fmt}: its documents are one file per "
                         "contract already")
    if fmt == "jsonschema" and not bundled:
        return export(dest, strict)
    return _write_new(dest, _described(fmt, strict, bundled))
