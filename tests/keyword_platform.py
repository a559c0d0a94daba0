"""A platform written as files whose event schemas use the JSON Schema keywords beyond the built-in ones:
number bounds and ``multipleOf``, string lengths (alone, beside a pattern and beside a format), array bounds,
``uniqueItems`` and ``prefixItems``, property counts and ``dependentRequired``, ``oneOf`` (alone and beside
other keywords) and a mergeable ``allOf``. The generator's tests for those keywords draw from it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests import sixth_platform

PLATFORM = "kwtest"
BASE = f"https://hookproof.dev/schemas/{PLATFORM}"

NUMBERS = {
    "count": {"type": "integer", "minimum": 1, "maximum": 100},
    "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "price": {"type": "number", "multipleOf": 0.01, "minimum": 0, "maximum": 1000000},
    "step": {"type": "integer", "multipleOf": 5, "exclusiveMinimum": -50},
    "kelvin": {"type": "number", "minimum": -273.15},
    "half": {"type": ["number", "null"], "multipleOf": 0.5, "maximum": 10},
}
STRINGS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 20},
    "code": {"type": "string", "pattern": "^[A-Z]{3}$", "minLength": 3, "maxLength": 3},
    "slug": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 12},
    "contact": {"type": "string", "format": "email", "maxLength": 40},
    "pin": {"type": "string", "minLength": 4},
    "level": {"type": "string", "enum": ["lo", "mid", "high"], "minLength": 3},
}
ARRAYS = {
    "tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 8}, "uniqueItems": True,
             "maxItems": 5},
    "scores": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 10}, "minItems": 1},
    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False,
             "minItems": 2},
    "ids": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3, "uniqueItems": True},
}
OBJECTS = {
    "billing": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
                                                 "zip": {"type": "string"}, "country": {"type": "string"}},
                "minProperties": 1, "maxProperties": 3, "dependentRequired": {"street": ["city"]},
                "additionalProperties": True},
    "flags": {"type": "object", "minProperties": 2, "additionalProperties": True},
}
CHOICES = {
    "payment": {"oneOf": [
        {"type": "object", "required": ["kind", "card"], "additionalProperties": True,
         "properties": {"kind": {"const": "card"}, "card": {"type": "string", "pattern": "^[0-9]{4}$"}}},
        {"type": "object", "required": ["kind", "iban"], "additionalProperties": True,
         "properties": {"kind": {"const": "bank"}, "iban": {"type": "string", "minLength": 15, "maxLength": 34}}},
    ]},
    "amount": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]},
    "window": {"oneOf": [{"type": "integer", "maximum": 10}, {"type": "integer", "minimum": 5}]},
    "contact": {"type": "object", "additionalProperties": True, "properties": {"email": {"type": "string"},
                                                                              "phone": {"type": "string"}},
                "oneOf": [{"type": "object", "required": ["email"], "properties": {"email": True}},
                          {"type": "object", "required": ["phone"], "properties": {"phone": True}}]},
    "actor": {"allOf": [{"$ref": "#/$defs/person"},
                        {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["admin", "member"]},
                                                              "age": {"type": "integer", "maximum": 130}}}]},
}
DEFS = {"person": {"type": "object", "required": ["name"], "additionalProperties": True,
                   "properties": {"name": {"type": "string", "minLength": 1},
                                  "age": {"type": "integer", "minimum": 0}}}}

EVENTS: dict[str, dict[str, Any]] = {"numbers.sent": NUMBERS, "strings.sent": STRINGS, "arrays.sent": ARRAYS,
                                     "objects.sent": OBJECTS, "choices.sent": CHOICES}
# What each event's example holds: the first valid value of each property, written by hand.
EXAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "numbers.sent": {"count": 1, "ratio": 0.5, "price": 9.99, "step": 10, "kelvin": 0, "half": 1.5},
    "strings.sent": {"name": "Ada", "code": "ABC", "slug": "a-1", "contact": "ada@example.com", "pin": "1234",
                     "level": "mid"},
    "arrays.sent": {"tags": ["a", "b"], "scores": [3], "pair": ["x", 1], "ids": [1, 2]},
    "objects.sent": {"billing": {"street": "Main St", "city": "X"}, "flags": {"a": True, "b": False}},
    "choices.sent": {"payment": {"kind": "card", "card": "1234"}, "amount": "12", "window": 2,
                     "contact": {"email": "a@example.com"}, "actor": {"name": "Ada", "role": "admin"}},
}
KEYWORDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
            "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "dependentRequired", "oneOf")


def schema(event: str) -> dict[str, Any]:
    properties = EVENTS[event]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE}/events/{event}.json",
        "title": f"kwtest {event} delivery body",
        "type": "object",
        "required": ["id", *properties],
        "properties": {"id": {"type": "string", "format": "uuid"}, **properties},
        "additionalProperties": True,
        "$defs": DEFS,
    }


def profile() -> dict[str, Any]:
    out = copy.deepcopy(sixth_platform.PROFILE)
    out["$id"] = f"{BASE}/profile.json"
    out["platform"] = PLATFORM
    out["title"] = out["name"] = "kwtest keyword platform"
    out["contract"]["events"] = {
        event: {"schema": f"events/{event}.json",
                "examples": [{"file": f"examples/{event}.json", "source": sixth_platform.DOC}]}
        for event in EVENTS
    }
    return out


def write(root: Path) -> Path:
    """Write the platform under ``root/kwtest`` and return ``root`` (a folder for catalog.configure)."""
    folder = root / PLATFORM
    (folder / "events").mkdir(parents=True)
    (folder / "examples").mkdir()
    (folder / "profile.json").write_text(json.dumps(profile(), indent=2), encoding="utf-8")
    for number, event in enumerate(EVENTS):
        (folder / "events" / f"{event}.json").write_text(json.dumps(schema(event), indent=2), encoding="utf-8")
        example = {"id": f"6f1c2a5e-8d1b-4c3a-9f0e-2b7d4e6a8c0{number}", **EXAMPLE_VALUES[event]}
        (folder / "examples" / f"{event}.json").write_text(json.dumps(example, indent=2), encoding="utf-8")
    return root
