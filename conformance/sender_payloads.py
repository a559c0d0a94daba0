"""The payloads the sender cases hand over: generated ones, pushed into the corners where encoders break
(docs/decisions.md#sender-corners).

A sender check sees one payload per case, so a payload drawn at random rarely holds the text that shows an
encoding bug (``?`` for non-ASCII, ``repr`` instead of JSON, numbers turned into strings). The cases of a run
therefore take turns: one gets every free-text string replaced by text JSON must escape and UTF-8 must carry
in four bytes, with numbers at the ends of their interoperable range and a deeply nested extra member; one
gets empty strings, zeros and nulls wherever its schema allows them; one gets a documented example; one stays
as generated. Every change is kept only where the body still validates against its event's schema, so a
payload stays one the platform may send; where no string could take the text (an event of ids and
timestamps only), it travels in an extra member instead, where the schema leaves members open.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from typing import Any

from hookproof import catalog, pointers, validation
from hookproof.contract import Contract

# Characters JSON must escape (quote, backslash, controls, NUL), ones it may (solidus, U+2028/2029 that
# JavaScript source cannot hold), two-, three- and four-byte UTF-8, and a right-to-left run.
# Surrounded by spaces: a sender that strips its strings changes the data, and must be seen to.
CORNER_TEXT = ' ñ 語 𐍈 💩 תב "quoted" back\\slash /solidus\b\f\n\r\t\u0000\u001f\u2028\u2029 </script> '
BIG_INTEGER = -(2**53 - 1)  # the most negative integer I-JSON promises to carry (RFC 7493 section 2.2)
NUMBER = -1.5e300  # an exponent a fixed-point printer cannot write
DEPTH = 32  # levels of the nested extra member: deeper than any documented payload, well within parsers' limits
EXTRA = "hookproof_corners"

TURNS = ("text", "blank", "example", "generated")


def _nested(depth: int) -> Any:
    value: Any = CORNER_TEXT
    for level in range(depth):
        value = [value] if level % 2 else {"level": level, "next": value}
    return value


def _fixed(spec: Contract, event: str) -> set[pointers.Path]:
    """Paths a corner must not rewrite: where the event name travels, and what the sender sets itself."""
    naming = [part.body for part in spec.event_naming.parts if part.body] if spec.event_naming else []
    return {tuple(pointers.keys(p)) for p in [*naming, *(m.pointer for m in spec.metadata)]}


def _rewrite(body: Any, schema_id: str, fixed: set[pointers.Path],
             change: Callable[[Any], list[Any]]) -> tuple[Any, int]:
    """``body`` with each value replaced by the first of ``change(value)`` that keeps it valid; how many were.
    Innermost first, so a container is emptied only after its parts were blanked, and never under them."""
    changed = 0
    for path, value in reversed(list(pointers.walk(body))):  # innermost first: parts before their whole
        if not path or path in fixed:
            continue
        for candidate in change(value):
            attempt = pointers.set_at(body, path, candidate)
            if validation.conforms(schema_id, attempt):
                body, changed = attempt, changed + 1
                break
    return body, changed


def _text_values(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [CORNER_TEXT]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [BIG_INTEGER, -BIG_INTEGER]
    if isinstance(value, float):
        return [NUMBER, -0.000125]
    return []


def _blank_values(value: Any) -> list[Any]:
    if isinstance(value, str):
        return ["", None]
    if isinstance(value, bool):
        return [None]
    if isinstance(value, (int, float)):
        return [0, None]
    if isinstance(value, (list, dict)):
        return [type(value)(), None]
    return []


def _with_extra(body: Any, schema_id: str, extra: Any) -> Any:
    if not isinstance(body, dict) or EXTRA in body:
        return body
    attempt = {**body, EXTRA: extra}
    return attempt if validation.conforms(schema_id, attempt) else body


def text_corner(spec: Contract, event: str, body: Any) -> Any:
    """Every free-text string as :data:`CORNER_TEXT`, numbers at their ends, plus a nested extra member."""
    schema_id = spec.event(event).schema_id
    body = _rewrite(body, schema_id, _fixed(spec, event), _text_values)[0]
    texts = sum(1 for _, v in pointers.walk(body) if v == CORNER_TEXT)
    return _with_extra(body, schema_id, {"text": CORNER_TEXT, "nested": _nested(DEPTH)} if not texts
                       else {"nested": _nested(DEPTH)})


def blank_corner(spec: Contract, event: str, body: Any) -> Any:
    """Empty strings, zeros, empty containers and nulls wherever the event's schema allows them."""
    return _rewrite(body, spec.event(event).schema_id, _fixed(spec, event), _blank_values)[0]


def documented_example(spec: Contract, index: int) -> tuple[str, Any] | None:
    """One of the contract's documented examples (the ``index``-th, cycling), or None when it has none."""
    examples = [(name, ex.body) for name, ev in spec.events.items() for ex in ev.examples]
    if not examples:
        return None
    name, body = examples[index % len(examples)]
    return name, copy.deepcopy(body)  # the catalog's example stays as documented


def generated_payload(platform: str, contract: str, scenario: str, seed: int | None = None) -> tuple[str, Any]:
    """One generated (event, body) for a case, the same for the same platform, scenario and seed.

    Each case is a whole run of the command, so one payload per case rather than many; a different seed
    per scenario spreads the cases over the platform's events.
    """
    from hookproof.conformance import strategies
    from hookproof.conformance.run_settings import draws

    # Hypothesis tries the simplest value first; the third draw is a random one.
    picked = draws(strategies.events(platform, contract=contract), 3,
                   zlib.crc32(f"{seed or 0}/{platform}/{scenario}".encode()))[-1]
    return picked.event, picked.body


def case_payload(platform: str, contract: str, scenario: str, place: int,
                 seed: int | None = None) -> tuple[str, Any, str]:
    """(event, body, what it is) for the case at ``place`` among the platform's cases: its turn among
    :data:`TURNS` (the first case, ``accept-200``, gets the text corners)."""
    spec = catalog.contract(platform, contract)
    turn = TURNS[place % len(TURNS)]
    if turn == "example":
        found = documented_example(spec, place // len(TURNS))
        if found is not None:
            return found[0], found[1], f"a documented example of {found[0]}"
        turn = "text"
    event, body = generated_payload(platform, spec.name, scenario, seed)
    if turn == "text":
        return event, text_corner(spec, event, body), "generated, with the text corners (escapes, non-ASCII)"
    if turn == "blank":
        return event, blank_corner(spec, event, body), "generated, with the blank corners (empty, zero, null)"
    return event, body, "generated"
