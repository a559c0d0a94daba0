"""Where the schema files live: the built-in folder, and any folders of the user's that add or replace
platforms (``--hookproof-schemas DIR``, ``$HOOKPROOF_SCHEMAS``).

A folder has the layout of ``schemas/``: one sub-folder per platform holding ``profile.json``, its event
schemas and its examples. A platform in a later folder replaces the one of the same id in an earlier folder
as a whole, so that a company can check its own contract without forking. Files are read through
``importlib.resources`` so that an installed wheel works from any directory; nothing else in hookproof
knows where the files are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from hookproof.contract import ProfileError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

BASE_URI = "https://hookproof.dev/schemas/"
STRICT_BASE_URI = BASE_URI + "strict/"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
PROFILE = "profile.json"
PROFILE_SCHEMA = "profile.schema.json"  # at the top of the built-in folder
ENV = "HOOKPROOF_SCHEMAS"  # folders separated by os.pathsep
MAX_FILE_BYTES = 5 * 1024 * 1024  # a schema folder is the user's input too: bound what one file may cost


def builtin_root() -> Traversable:
    """The built-in schema folder. Installed as files (a wheel, an editable install), it is the package's own
    directory, read with pathlib; ``importlib.resources`` (which imports tempfile and zipfile machinery, a
    tenth of the reference sender command's start-up) only where the package is not on the file system."""
    import hookproof.schemas

    folder = Path(hookproof.schemas.__file__ or "").parent
    if hookproof.schemas.__file__ and folder.joinpath(PROFILE_SCHEMA).is_file():
        return folder
    from importlib import resources

    return resources.files("hookproof.schemas")


def env_dirs() -> list[str]:
    return [d for d in os.environ.get(ENV, "").split(os.pathsep) if d.strip()]


class PlatformFolder(NamedTuple):
    """One platform's folder, and which schema folder it came from."""

    id: str
    node: Traversable
    origin: str  # the folder as the user named it, or "built-in"

    def file(self, relpath: str) -> Traversable:
        node = self.node
        for part in relpath.split("/"):
            if part in ("", ".", ".."):
                raise ProfileError(f"{self.describe(relpath)}: a path inside the platform folder, without '..'")
            node = node.joinpath(part)
        return node

    def describe(self, relpath: str = PROFILE) -> str:
        where = f"{self.id}/{relpath}"
        return where if self.origin == "built-in" else f"{self.origin}/{where}"

    def read_text(self, relpath: str) -> str:
        node = self.file(relpath)
        try:
            if not node.is_file():
                raise ProfileError(f"{self.describe(relpath)}: no such file")
            data = node.read_bytes()
        except OSError as exc:
            raise ProfileError(f"{self.describe(relpath)}: cannot read: {exc.strerror or exc}") from None
        if len(data) > MAX_FILE_BYTES:
            raise ProfileError(f"{self.describe(relpath)}: larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"{self.describe(relpath)}: not UTF-8 (byte {exc.start})") from None

    def read_json(self, relpath: str) -> Any:
        return self.parse_json(relpath, self.read_text(relpath))

    def parse_json(self, relpath: str, text: str) -> Any:
        """The file's text as JSON, or a :class:`ProfileError` naming the file and where it stops being JSON."""
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{self.describe(relpath)}: not JSON: {exc.msg} at line {exc.lineno} column "
                               f"{exc.colno}") from None
        except RecursionError:
            raise ProfileError(f"{self.describe(relpath)}: nested too deeply to read") from None

    def uri(self, relpath: str, doc: Any) -> str:
        """The URI a file is known by: its ``$id``, else one mirroring its path (so relative ``$ref`` s work)."""
        if isinstance(doc, dict) and isinstance(doc.get("$id"), str):
            return doc["$id"]
        return f"{BASE_URI}{self.id}/{relpath}"

    def files(self, suffixes: tuple[str, ...] = (".json",)) -> Iterator[str]:
        """Every file of the folder with one of ``suffixes``, as a path relative to it, in sorted order."""
        yield from _walk(self.node, "", suffixes)


def _walk(node: Traversable, prefix: str, suffixes: tuple[str, ...]) -> Iterator[str]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name != "__pycache__" and not child.name.startswith("."):
                yield from _walk(child, f"{prefix}{child.name}/", suffixes)
        elif child.name.endswith(suffixes):
            yield f"{prefix}{child.name}"


class SchemaFolders:
    """The schema folders of one run: the built-in one first, then the user's, later ones winning."""

    def __init__(self, extra: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.extra = tuple(str(d) for d in extra)
        for folder in self.extra:
            path = Path(folder)
            if not path.is_dir():
                raise ProfileError(f"schema folder {folder!r}: not a folder")

    @cached_property
    def platforms(self) -> dict[str, PlatformFolder]:
        """Each platform id and the folder that defines it (the last schema folder that has it)."""
        found: dict[str, PlatformFolder] = {}
        roots: list[tuple[Traversable, str]] = [(builtin_root(), "built-in")]
        roots += [(Path(d), d) for d in self.extra]
        for root, origin in roots:
            held = [child for child in root.iterdir() if child.is_dir() and child.joinpath(PROFILE).is_file()]
            if origin != "built-in" and not held:
                raise ProfileError(f"schema folder {origin!r}: no platform in it (expected <platform>/{PROFILE})")
            for child in sorted(held, key=lambda c: c.name):
                found[child.name] = PlatformFolder(child.name, child, origin)
        return dict(sorted(found.items()))

    def shared_documents(self) -> dict[str, Any]:
        """The built-in documents beside the platforms (the profile schema), by ``$id``."""
        root = builtin_root()
        docs = {}
        for child in sorted(root.iterdir(), key=lambda c: c.name):
            if child.is_file() and child.name.endswith(".json"):
                doc = json.loads(child.read_text(encoding="utf-8"))
                docs[doc["$id"]] = doc
        return docs


def is_schema(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("$schema") == DRAFT_2020_12


def strictify(schema: Any) -> Any:
    """The strict variant of a schema: every open object (``additionalProperties: true``) is closed with
    ``unevaluatedProperties: false``, so that a property the documents do not list is reported.

    Offered as an opt-in because the documents list fields, not guarantees, and real deliveries carry
    more (docs/decisions.md#strict-variant).
    """
    import copy  # here: the sender command reads schema folders and never makes a strict variant

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
