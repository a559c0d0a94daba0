"""A sixth platform written as files only, the way a company describes its own webhooks to hookproof.

``acme``: POST JSON, the event name in a header (``X-Acme-Event``), an HMAC-SHA256 signature of the body in
``X-Acme-Signature`` (``sha256=<hex>``), a documented policy of 3 tries that retries only 5XX with a constant
1 s backoff, and two events with an example each. Nothing in hookproof's code knows any of this.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOC = {"document": "acme", "section": "Webhooks"}

PROFILE: dict[str, Any] = {
    "$schema": "https://hookproof.dev/schemas/profile.schema.json",
    "$id": "https://hookproof.dev/schemas/acme/profile.json",
    "title": "Acme Assessments webhook profile",
    "platform": "acme",
    "name": "Acme Assessments",
    "kind": "webhook",
    "documents": {"acme": {"title": "Acme Assessments developer guide, Webhooks",
                           "url": "https://developer.acme.example/webhooks"}},
    "contract": {
        "name": "v1",
        "title": "Acme webhooks v1",
        "document": "acme",
        "method": "POST",
        "method_source": {**DOC, "quote": "We POST a JSON body"},
        "content_type": "application/json",
        "headers": {"User-Agent": "Acme-Hooks/1"},
        "headers_source": {**DOC, "quote": "User-Agent: Acme-Hooks/1"},
        "event_name": {"parts": [{"header": "X-Acme-Event"}], "separator": ".",
                       "source": {**DOC, "quote": "The event travels in X-Acme-Event"}},
        "delivery_metadata": [{"pointer": "/id", "value": "uuid4", "source": {**DOC, "quote": "id: one per delivery"}}],
        "auth": [{"scheme": "hmac", "header": "X-Acme-Signature", "algorithm": "sha256", "encoding": "hex",
                  "prefix": "sha256=", "signs": "body", "source": {**DOC, "quote": "X-Acme-Signature: sha256=HMAC"}}],
        "retry": {"documented": True, "max_tries": 3, "retry_on": ["5XX"], "transport_failures": True,
                  "backoff": "constant", "delay": 1.0,
                  "source": {**DOC, "quote": "3 tries in all, 1 s apart, on a 5XX answer only"}},
        "events": {
            "candidate.invited": {"schema": "events/candidate.invited.json",
                                  "examples": [{"file": "examples/candidate.invited.json", "source": DOC}]},
            "result.scored": {"schema": "events/result.scored.json",
                              "examples": [{"file": "examples/result.scored.json", "source": DOC}]},
        },
    },
}


def _schema(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://hookproof.dev/schemas/acme/events/{name}.json",
        "title": f"Acme {name} delivery body",
        "$comment": "Source: Acme Assessments developer guide, Webhooks <https://developer.acme.example/webhooks>",
        "type": "object",
        "required": ["id", *properties],
        "properties": {"id": {"type": "string", "format": "uuid"}, **properties},
        "additionalProperties": True,
    }


SCHEMAS = {
    "candidate.invited": _schema("candidate.invited", {"email": {"type": "string", "format": "email"},
                                                       "invited_at": {"type": "string", "format": "date-time"}}),
    "result.scored": _schema("result.scored", {"score": {"type": "number"}, "passed": {"type": "boolean"}}),
}
EXAMPLES = {
    "candidate.invited": {"id": "6f1c2a5e-8d1b-4c3a-9f0e-2b7d4e6a8c01", "email": "ada@example.com",
                          "invited_at": "2026-11-30T09:00:00Z"},
    "result.scored": {"id": "0b2e4c6a-1d3f-4a5b-8c7d-9e0f1a2b3c4d", "score": 87.5, "passed": True},
}


def write(root: Path) -> Path:
    """Write the platform under ``root/acme`` and return ``root`` (the folder to give --hookproof-schemas)."""
    folder = root / "acme"
    (folder / "events").mkdir(parents=True)
    (folder / "examples").mkdir()
    (folder / "profile.json").write_text(json.dumps(PROFILE, indent=2), encoding="utf-8")
    for name, schema in SCHEMAS.items():
        (folder / "events" / f"{name}.json").write_text(json.dumps(schema, indent=2), encoding="utf-8")
        (folder / "examples" / f"{name}.json").write_text(json.dumps(EXAMPLES[name], indent=2), encoding="utf-8")
    return root
