"""JSON pointers: escapes, reads, and copies that never change the original."""

from __future__ import annotations

import pytest

from hookproof import pointers


def test_keys_unescape_in_the_rfc_6901_order() -> None:
    assert pointers.keys("/a~1b/c~0d/~01") == ["a/b", "c~d", "~1"]
    assert pointers.keys("") == [] and pointers.from_path(["a/b", "c~d"]) == "/a~1b/c~0d"


def test_get_find_has() -> None:
    doc = {"meta": {"id": None, "a/b": 1}}
    assert pointers.get(doc, "/meta/a~1b") == 1 and pointers.get(doc, "/meta/id") is None
    with pytest.raises(KeyError):
        pointers.get(doc, "/meta/missing")
    with pytest.raises(KeyError):
        pointers.get({"meta": "text"}, "/meta/id")
    assert pointers.find(doc, "/nope", "d") == "d"
    assert pointers.has(doc, "/meta/id") and not pointers.has(doc, "/meta/x")


def test_replaced_and_removed_copy_only_the_path() -> None:
    other = {"deep": [1]}
    doc = {"meta": {"id": "a", "keep": 1}, "other": other}
    new = pointers.replaced(doc, "/meta/id", "b")
    assert new == {"meta": {"id": "b", "keep": 1}, "other": other} and doc["meta"]["id"] == "a"
    assert new["other"] is other
    assert pointers.replaced({}, "/meta/id", 1) == {"meta": {"id": 1}}
    gone = pointers.removed(doc, "/meta/id")
    assert gone == {"meta": {"keep": 1}, "other": other} and "id" in doc["meta"]
    assert pointers.removed(doc, "/meta/nope") == doc
