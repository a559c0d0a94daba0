"""JSON pointers (RFC 6901) into delivery bodies: read one, or make a copy with one value changed.

Profiles name fields by pointer (where the event name travels, which metadata a sender sets), so the
catalog, the checks and the reference implementations all need the same few operations. Copies share
every object off the changed path with the original: cheap, and the caller's body is never changed.
Pointers address object members only (none of the profiles points into an array); :func:`walk` and
:func:`set_at` address every value, arrays included, by a path of keys and indexes, for the code that
rewrites bodies one value at a time (shrinking a failing case, making a sender's payload reach the corners).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

Path = tuple[str | int, ...]

_MISSING = object()


def keys(pointer: str) -> list[str]:
    """``"/meta/delivery_id"`` -> ``["meta", "delivery_id"]``, with ``~1`` and ``~0`` unescaped."""
    if pointer in ("", "/"):
        return []
    return [raw.replace("~1", "/").replace("~0", "~") for raw in pointer.lstrip("/").split("/")]


def from_path(path: Iterable[Any]) -> str:
    """A jsonschema error path (``deque(['meta', 'action'])``) as a pointer (``/meta/action``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def get(doc: Any, pointer: str) -> Any:
    """The value at ``pointer``; ``KeyError`` when the document has none there."""
    node = doc
    for key in keys(pointer):
        if not isinstance(node, dict) or key not in node:
            raise KeyError(pointer)
        node = node[key]
    return node


def find(doc: Any, pointer: str, default: Any = None) -> Any:
    """The value at ``pointer``, or ``default`` when there is none."""
    try:
        return get(doc, pointer)
    except KeyError:
        return default


def has(doc: Any, pointer: str) -> bool:
    return find(doc, pointer, _MISSING) is not _MISSING


def replaced(doc: Any, pointer: str, value: Any) -> Any:
    """A copy of ``doc`` with ``value`` at ``pointer``; missing (or non-object) parents become objects."""
    path = keys(pointer)
    if not path:
        return value

    def put(node: Any, depth: int) -> dict[str, Any]:
        copied = dict(node) if isinstance(node, dict) else {}
        key = path[depth]
        copied[key] = value if depth == len(path) - 1 else put(copied.get(key), depth + 1)
        return copied

    return put(doc, 0)


def removed(doc: Any, pointer: str) -> Any:
    """A copy of ``doc`` without the value at ``pointer`` (``doc`` itself when there is none)."""
    path = keys(pointer)

    def drop(node: Any, depth: int) -> Any:
        if not isinstance(node, dict) or path[depth] not in node:
            return node
        copied = dict(node)
        if depth == len(path) - 1:
            del copied[path[depth]]
        else:
            copied[path[depth]] = drop(node[path[depth]], depth + 1)
        return copied

    return drop(doc, 0) if path else doc


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value in ``value`` with its path, outermost first (so whole members come before their parts)."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))


def set_at(doc: Any, path: Path, value: Any = None, *, delete: bool = False) -> Any:
    """A copy of ``doc`` with ``value`` at ``path`` (or without the value there, with ``delete``); the path
    must exist, as :func:`walk` gives it."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copied: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    if delete and not rest:
        del copied[head]
    else:
        copied[head] = set_at(doc[head], rest, value, delete=delete)
    return copied
