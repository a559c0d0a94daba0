"""Writing the schema set out for vendoring: every platform's files, the schemas derived for later contracts,
the profile schema, and an index (``catalog.json``) of platforms, contracts and events.

``strict=True`` writes the drift-alert variant (:func:`hookproof.schema_store.strictify`) with every ``$id`` moved
under ``.../schemas/strict/``, so that both sets can live in one registry; relative ``$ref`` s keep resolving
because the layout is the same. Existing files are never overwritten.

``bundled`` writes one self-contained schema per platform contract instead (:mod:`hookproof.bundle`), and
``api_description`` an OpenAPI 3.1 or AsyncAPI 3.0 document per contract (:mod:`hookproof.api_docs`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hookproof import catalog
from hookproof.schema_store import BASE_URI, STRICT_BASE_URI, is_schema, strictify


def _files(cat: catalog.Catalog) -> dict[str, str]:
    """Every file to write, by its path under the destination, as text."""
    out: dict[str, str] = {}
    for platform_id, folder in cat.folders.platforms.items():
        for rel in folder.files((".json", ".txt")):
            out[f"{platform_id}/{rel}"] = folder.read_text(rel)
    for uri, doc in cat.documents().items():
        if uri.startswith(BASE_URI) and "/contracts/" in uri:  # derived for a later contract: not a file of ours
            out[uri[len(BASE_URI):]] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    for uri, doc in cat.folders.shared_documents().items():
        out[uri[len(BASE_URI):]] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out["catalog.json"] = json.dumps(index(cat), indent=2, ensure_ascii=False) + "\n"
    return out


def index(cat: catalog.Catalog) -> dict[str, Any]:
    """Platforms, their contracts and each contract's events with their schema ``$id`` s."""
    platforms = {}
    for platform_id in cat.ids:
        plat = cat.platform(platform_id)
        platforms[platform_id] = {
            "name": plat.name, "kind": plat.kind, "profile": f"{platform_id}/profile.json",
            "contracts": {c.name: {"title": c.title, "based_on": c.based_on,
                                   "events": {name: e.schema_id for name, e in c.events.items()}}
                          for c in plat.contracts},
        }
    return {"$id": f"{BASE_URI}catalog.json", "title": "hookproof schema catalog (generated)", "platforms": platforms}


def export(dest: Path, strict: bool = False) -> list[Path]:
    """Write the schema set under ``dest``; refuses to write over existing files."""
    files = _files(catalog.active())
    if strict:
        files = {rel: _strict_text(text) if rel.endswith(".json") else text for rel, text in files.items()}
    return _write_new(dest, files)


def _strict_text(text: str) -> str:
    doc = json.loads(text)
    if is_schema(doc):
        doc = strictify(doc)
    return json.dumps(doc, indent=2, ensure_ascii=False).replace(BASE_URI, STRICT_BASE_URI) + "\n"


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
