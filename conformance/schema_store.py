"""Where the schema files live, and the one `referencing` registry built from them.

Everything else asks this module for a file by its path under ``schemas/`` or for a schema by ``$id``;
nothing else knows where the files are. Files are read through ``importlib.resources`` so that an
installed wheel works from any directory; a source checkout that has not been installed falls back to
the ``schemas/`` folder beside this package.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE_URI = "https://hookproof.dev/schemas/"


@cache
def schema_root() -> Traversable:
    """The folder holding catalog.json: the installed data package, else the checkout's ``schemas/``."""
    try:
        root = resources.files("hookproof_schemas")
        if root.joinpath("catalog.json").is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "schemas"


def read_text(relpath: str) -> str:
    """The text of a file under ``schemas/``, by its slash-separated path."""
    node = schema_root()
    for part in relpath.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def read_json(relpath: str) -> Any:
    return json.loads(read_text(relpath))


def _json_files(node: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _json_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith(".json"):
            yield f"{prefix}{child.name}", child


@cache
def schema_documents() -> dict[str, dict[str, Any]]:
    """Every JSON document under ``schemas/`` that declares an ``$id``, keyed by that ``$id``.

    Examples carry no ``$id`` and are skipped: they are payloads, not schemas.
    """
    docs = {}
    for _, node in _json_files(schema_root()):
        doc = json.loads(node.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "$id" in doc:
            docs[doc["$id"]] = doc
    return docs


def _build_registry(docs: dict[str, dict[str, Any]]) -> Registry:
    resources_ = [(uri, Resource.from_contents(doc, default_specification=DRAFT202012)) for uri, doc in docs.items()]
    return Registry().with_resources(resources_).crawl()


@cache
def registry(strict: bool = False) -> Registry:
    """The registry of every schema; ``strict=True`` gives the drift-alert variant (see :func:`strictify`)."""
    docs = schema_documents()
    if strict:
        docs = {uri: strictify(doc) for uri, doc in docs.items()}
    return _build_registry(docs)


def strictify(schema: Any) -> Any:
    """The strict variant of a schema: every open object (``additionalProperties: true``) is closed with
    ``unevaluatedProperties: false``, so that a property the documents do not list is reported.

    Offered as an opt-in because the documents list fields, not guarantees, and real deliveries carry
    more (docs/decisions.md#strict-variant).
    """
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("additionalProperties") is True:
                del node["additionalProperties"]
                node["unevaluatedProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def schema_uri(platform: str, relpath: str) -> str:
    """The ``$id`` of a schema named relative to its platform folder, e.g. ('doselect', 'events/x.json')."""
    return f"{BASE_URI}{platform}/{relpath}"


def resolve(uri: str, strict: bool = False) -> dict[str, Any]:
    return registry(strict).contents(uri)


STRICT_BASE_URI = BASE_URI + "strict/"


def _all_files(node: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir() and child.name != "__pycache__":
            yield from _all_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith((".json", ".txt")):
            yield f"{prefix}{child.name}", child


def export(dest: Path, strict: bool = False) -> list[Path]:
    """Write the schema set (schemas, profiles, catalog, examples) under ``dest`` for vendoring.

    ``strict=True`` writes the drift-alert variant (see :func:`strictify`) with every ``$id`` moved under
    ``.../schemas/strict/``, so that it can live in one registry beside the default set; relative
    ``$ref``s keep resolving because the layout is the same. Refuses to write over existing files.
    """
    files = list(_all_files(schema_root()))
    clashes = [rel for rel, _ in files if (dest / rel).exists()]
    if clashes:
        raise FileExistsError(f"{dest / clashes[0]} already exists ({len(clashes)} files would be overwritten)")
    written = []
    for rel, node in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = node.read_text(encoding="utf-8")
        if strict and rel.endswith(".json"):
            doc = json.loads(text)
            if isinstance(doc, dict) and doc.get("$schema") == "https://json-schema.org/draft/2020-12/schema":
                doc = strictify(doc)
            text = json.dumps(doc, indent=2, ensure_ascii=False).replace(BASE_URI, STRICT_BASE_URI) + "\n"
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
