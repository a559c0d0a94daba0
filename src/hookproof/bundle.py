"""One self-contained JSON Schema per platform contract: every event schema and every definition they use, in
``$defs``, each ``$ref`` rewritten to a local ``#/$defs/...`` pointer.

Type generators prefer this to the schema set (docs/decisions.md#bundled-export): they need no remote
``$ref`` fetching (``datamodel-codegen`` warns for every cross-file ``$ref``), and shared definitions become
models of their own instead of landing in whichever event's module came first. The same ``$defs`` are the
``components/schemas`` of the OpenAPI and AsyncAPI exports (:mod:`hookproof.api_docs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin

from hookproof import catalog
from hookproof.contract import Contract
from hookproof.schema_store import BASE_URI, STRICT_BASE_URI, is_schema, strictify

DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Bundle:
    """A contract's schemas as one document: ``defs`` by name, and which definition is each event's."""

    contract: Contract
    defs: dict[str, Any]
    events: dict[str, str]  # event name -> its definition's name

    def document(self, strict: bool = False) -> dict[str, Any]:
        spec = self.contract
        base = STRICT_BASE_URI if strict else BASE_URI
        return {
            "$schema": DIALECT,
            "$id": f"{base}bundles/{spec.platform}/{spec.name}.json",
            "title": f"{spec.platform_name} ({spec.title}): every {'event' if spec.kind == 'webhook' else 'body'}",
            "$comment": f"Bundled by hookproof from its schema set; source: {spec.document}",
            "anyOf": [{"$ref": f"#/$defs/{name}"} for name in self.events.values()],
            "$defs": self.defs,
        }


def _class_name(uri: str, platform: str) -> str:
    """A definition name a type generator turns into a readable class: ``SolutionSubmit``, ``Common``,
    ``SubmissionSubmit201909``."""
    rel = uri.split(f"/schemas/{platform}/", 1)[-1].removesuffix(".json")
    words = [w for w in re.split(r"[^A-Za-z0-9]+", rel) if w and w not in ("events", "contracts")]
    contract_part = ""
    if rel.startswith("contracts/"):
        contract_part = rel.split("/")[1].replace("-", "")
        words = [w for w in words if w not in rel.split("/")[1].split("-")]
    return "".join(w[:1].upper() + w[1:] for w in words) + contract_part


def _rewrite(node: Any, base: str, place: dict[str, str]) -> Any:
    """``node`` with every ``$ref`` pointing into the bundle: ``place`` maps a document's URI to its name."""
    if isinstance(node, list):
        return [_rewrite(v, base, place) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("$id", "$schema"):
            continue
        if key == "$ref" and isinstance(value, str):
            uri, fragment = urldefrag(urljoin(base, value))
            if uri not in place:
                raise ValueError(f"{base}: $ref {value!r} leaves the catalog")
            out[key] = f"#/$defs/{place[uri]}{fragment}"
        else:
            out[key] = _rewrite(value, base, place)
    return out


def _refs(node: Any, base: str) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_refs(v, base) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {urldefrag(urljoin(base, node["$ref"]))[0]} if isinstance(node.get("$ref"), str) else set()
    return found.union(*(_refs(v, base) for k, v in node.items() if k != "$ref"))


def bundle(spec: Contract, strict: bool = False) -> Bundle:
    """The bundle of one contract: its events' schemas and everything they ``$ref``, transitively."""
    docs = catalog.active().documents()
    wanted = [e.schema_id for e in spec.events.values()]
    seen: list[str] = []
    todo = list(wanted)
    while todo:
        uri = todo.pop(0)
        if uri in seen:
            continue
        seen.append(uri)
        todo += sorted(_refs(docs[uri], uri) - set(seen))
    names: dict[str, str] = {}
    for uri in seen:
        name = _class_name(uri, spec.platform)
        while name in names.values():
            name += "_"
        names[uri] = name
    defs = {}
    for uri in seen:
        doc = strictify(docs[uri]) if strict and is_schema(docs[uri]) else docs[uri]
        defs[names[uri]] = _rewrite(doc, uri, names)
    return Bundle(spec, defs, {event: names[e.schema_id] for event, e in spec.events.items()})
