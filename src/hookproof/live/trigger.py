"""``hookproof trigger``: one delivery of one event, exactly as the platform would send it, to a URL of yours.

The body is the event's documented example, a generated one (``--generated``, ``--seed``) or a file; the
per-delivery metadata the contract says a sender sets (DoSelect ``meta.delivery_id``, ``meta.timestamp``;
viasto ``time``) is fresh, then ``--set`` overrides are applied - and the result is held to the event's
schema, so that an override that makes the delivery one the platform never sends is refused unless
``--allow-invalid`` (docs/decisions.md#trigger-overrides). Authentication is computed last, over the exact bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hookproof import auth, catalog, validation
from hookproof.contract import CatalogError, Contract
from hookproof.wire import encode


class TriggerError(ValueError):
    """Bad input: the message names the option and what is wrong with it."""


@dataclass(frozen=True)
class Built:
    spec: Contract
    event: str
    body: Any
    content: bytes
    headers: dict[str, str]
    origin: str


def parse_override(text: str) -> tuple[str, Any]:
    """``/object/email=a@b.test`` -> (pointer, value): the value as JSON where it reads as JSON (``42``,
    ``null``, ``{"a": 1}``, ``"42"`` for the string), else as the text itself."""
    pointer, sep, raw = text.partition("=")
    if not sep or not pointer.startswith("/"):
        raise TriggerError(f"--set {text!r} is not of the form /json/pointer=value")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return pointer, value


def _keys(pointer: str) -> list[str]:
    return [k.replace("~1", "/").replace("~0", "~") for k in pointer[1:].split("/")]


def set_value(doc: Any, pointer: str, value: Any) -> Any:
    """A copy of ``doc`` with ``value`` at ``pointer`` (RFC 6901, arrays by index, ``-`` appends); a missing
    object member is added, a path through a scalar or past an array's end is an error."""
    keys = _keys(pointer)

    def put(node: Any, depth: int) -> Any:
        if depth == len(keys):
            return value
        key = keys[depth]
        if isinstance(node, dict):
            copied = dict(node)
            copied[key] = put(node.get(key), depth + 1)
            return copied
        if isinstance(node, list):
            items = list(node)
            if key == "-":
                items.append(put(None, depth + 1))
                return items
            if not key.isdigit() or int(key) >= len(items):
                raise TriggerError(f"--set {pointer}: {key!r} is not an index of the array there ({len(items)} items)")
            items[int(key)] = put(items[int(key)], depth + 1)
            return items
        if node is None:
            return {key: put(None, depth + 1)}
        where = "/" + "/".join(keys[:depth])
        raise TriggerError(f"--set {pointer}: {where} is {json.dumps(node)[:40]}, not an object or array")

    return put(doc, 0)


def generated_body(platform: str, event: str, contract: str, seed: int | None) -> Any:
    """One generated body of ``event``: the same every time for one seed (derandomized without one)."""
    from hookproof.conformance import strategies
    from hookproof.conformance.run_settings import draws

    # Hypothesis tries its simplest case first; the last of three is a more typical delivery.
    return draws(strategies.events(platform, event, contract=contract), 3, seed)[-1].body


def example_body(spec: Contract, event: str) -> tuple[Any, str]:
    examples = spec.event(event).examples
    if not examples:
        raise TriggerError(f"{spec.label} documents no example of {event}: use --generated, or --body FILE")
    return examples[0].body, f"the documented example {examples[0].file}"


def build(platform: str, event: str, url: str, *, contract: str | None = None, secret: str | None = None,
          body: Any = None, body_origin: str = "", generated: bool = False, seed: int | None = None,
          overrides: Sequence[tuple[str, Any]] = (), allow_invalid: bool = False) -> Built:
    """The delivery to send: body, fresh metadata, overrides, schema check, headers and authentication."""
    from hookproof.reference_impl.sender import SenderError, prepare

    try:
        spec = catalog.contract(platform, contract)
        if spec.kind != "webhook":
            raise TriggerError(f"{platform} is a {spec.kind}: it sends no deliveries to trigger")
        spec.event(event)
    except CatalogError as exc:
        raise TriggerError(str(exc)) from None
    if body is not None:
        origin = body_origin
    elif generated:
        body, origin = generated_body(platform, event, spec.name, seed), "a generated delivery" + (
            f" (seed {seed})" if seed is not None else "")
    elif spec.event(event).examples:
        body, origin = example_body(spec, event)
    else:  # nothing documented to send: a generated delivery, and the view says so
        body = generated_body(platform, event, spec.name, seed)
        origin = "a generated delivery (the document shows no example of this event)"
    try:
        prepared = prepare(url, platform, event, body, secret, contract=spec.name)
    except SenderError as exc:
        raise TriggerError(str(exc)) from None
    body = prepared.body
    for pointer, value in overrides:
        body = set_value(body, pointer, value)
    try:
        content = encode(body)
    except ValueError as exc:
        raise TriggerError(f"the body cannot be sent as JSON: {exc}") from None
    headers = dict(prepared.outgoing.headers)
    verdict = validation.validate(platform, body, headers, event=event, contract=spec.name)
    if not verdict.ok and not allow_invalid:
        shown = "; ".join(str(p) for p in verdict.problems[:3])
        what = "with these overrides " if overrides else ""
        raise TriggerError(f"the delivery {what}does not conform to {spec.label} {event}: {shown} "
                           "(--allow-invalid sends it anyway)")
    headers.update(auth.sign(spec, content, body, secret, msg_id=prepared.delivery_id))
    return Built(spec, event, body, content, headers, origin + (f", with {len(overrides)} override(s)"
                                                                 if overrides else ""))
