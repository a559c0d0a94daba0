"""The catalog: every platform of the run's schema folders, its contracts, and the one ``referencing``
registry of their schemas.

One :class:`Catalog` is active at a time (:func:`active`); :func:`configure` replaces it when a run names
schema folders of its own (``--hookproof-schemas``, ``$HOOKPROOF_SCHEMAS``). Platforms are read on first use
and kept, so that a run that checks one platform does not pay for the others. jsonschema and referencing are
imported where they are needed (error messages, generation), not with the module: a command that needs only
the contracts (the reference sender, started once per delivery) does not pay for them, nor one that judges
valid deliveries with jsonschema-rs (docs/decisions.md#fast-validation, docs/performance.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from hookproof import pointers, profiles
from hookproof.contract import CatalogError, Contract, Event, Platform, ProfileError, RetryPolicy
from hookproof.schema_store import SchemaFolders, env_dirs, is_schema, strictify

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry

    FORMAT_CHECKER: FormatChecker


def __getattr__(name: str) -> Any:
    """``FORMAT_CHECKER`` (the RFCs' formats, :mod:`hookproof.formats`), imported on first use with jsonschema,
    then kept as a module attribute."""
    if name == "FORMAT_CHECKER":
        from hookproof.formats import FORMAT_CHECKER

        globals()[name] = FORMAT_CHECKER
        return FORMAT_CHECKER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _formats_named(documents: Any) -> set[str]:
    """Every ``format`` a schema names (a property called ``format`` or a ``format`` inside an example may add a
    name that no keyword uses: a callback too many, which nothing calls)."""
    return {value["format"] for _, value in pointers.walk(documents)
            if isinstance(value, dict) and isinstance(value.get("format"), str)}


def _format_callbacks(named: set[str]) -> dict[str, Callable[[str], bool]]:
    """The format checks jsonschema uses, for jsonschema-rs to call, for the formats the schemas name: both
    engines judge formats alike. The RFCs' four (:data:`hookproof.formats.CHECKS`) are called directly, so that
    a valid delivery is judged without importing jsonschema (0.1 s of ``hookproof validate``'s start); a format of
    a user's own schema that jsonschema knows keeps jsonschema's check, as the error messages do."""
    from hookproof.formats import CHECKS

    callbacks: dict[str, Callable[[str], bool]] = {
        name: partial(lambda value, check: not isinstance(value, str) or check(value), check=CHECKS[name])
        for name in named & CHECKS.keys()}
    if others := named - CHECKS.keys():
        checker = __getattr__("FORMAT_CHECKER")
        callbacks.update({name: partial(lambda value, name: checker.conforms(value, name), name=name)
                          for name in others & checker.checkers.keys()})
    return callbacks


class Catalog:
    def __init__(self, folders: SchemaFolders) -> None:
        self.folders = folders
        self._loaded: dict[str, profiles.LoadedPlatform] = {}
        self._loading: list[str] = []  # the profiles being read now, in the one thread that holds _load_lock
        # One thread reads profiles at a time (re-entrant: a profile whose retry policy is assumed from another
        # reads that one first); without it, two threads reading at once took each other's reads for a cycle.
        self._load_lock = threading.RLock()
        self._validators: dict[tuple[str, bool], Draft202012Validator] = {}
        self._registries: dict[bool, Registry] = {}
        self._fast: dict[tuple[str, bool], Callable[[Any], bool]] = {}
        self._fast_registries: dict[bool, Any] = {}
        self._variant_docs: dict[bool, dict[str, Any]] = {}
        self._fast_formats: dict[str, Callable[[str], bool]] | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.folders.platforms)

    def platform(self, platform_id: str) -> Platform:
        return self._load(platform_id).platform

    def _load(self, platform_id: str) -> profiles.LoadedPlatform:
        loaded = self._loaded.get(platform_id)
        if loaded is not None:
            return loaded
        with self._load_lock:
            return self._load_now(platform_id)

    def _load_now(self, platform_id: str) -> profiles.LoadedPlatform:
        if platform_id not in self._loaded:
            if platform_id not in self.folders.platforms:
                raise CatalogError(f"unknown platform {platform_id!r}; known platforms: {', '.join(self.ids)}")
            if platform_id in self._loading:
                raise ProfileError(f"{platform_id}/profile.json: its retry policy is assumed from itself "
                                   f"({' -> '.join([*self._loading, platform_id])})")
            self._loading.append(platform_id)
            try:
                self._loaded[platform_id] = profiles.load(self.folders.platforms[platform_id], self._retry_of)
            finally:
                self._loading.remove(platform_id)
        return self._loaded[platform_id]

    def _retry_of(self, platform_id: str, asker: str) -> RetryPolicy:
        try:
            retry = self.platform(platform_id).base.retry
        except CatalogError as exc:
            raise ProfileError(f"{asker}/profile.json: /contract/retry/assumed_from: {exc}") from None
        if retry is None or not retry.documented:
            raise ProfileError(f"{asker}/profile.json: /contract/retry/assumed_from: {platform_id} documents no retry "
                               "policy of its own")
        return retry

    def platforms(self, kind: str | None = None) -> tuple[str, ...]:
        return tuple(p for p in self.ids if kind is None or self.platform(p).kind == kind)

    # -- schemas ----------------------------------------------------------------------------------------

    def documents(self) -> dict[str, Any]:
        """Every schema of every platform (derived ones included), and the shared documents, by ``$id``."""
        docs = dict(self.folders.shared_documents())
        for platform_id in self.ids:
            docs.update(self._load(platform_id).documents)
        return docs

    @cached_property
    def _documents(self) -> dict[str, Any]:
        return self.documents()

    def registry(self, strict: bool = False) -> Registry:
        """The registry of every schema (``strict``: their strict variants), built on first use: a command
        that validates against the documents' schemas (``hookproof validate``) does not build the strict one."""
        if strict not in self._registries:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            resources = [(uri, Resource.from_contents(doc, default_specification=DRAFT202012))
                         for uri, doc in self._variants(strict).items()]
            self._registries[strict] = Registry().with_resources(resources).crawl()
        return self._registries[strict]

    def _variants(self, strict: bool) -> dict[str, Any]:
        """The documents by ``$id`` (``strict``: the strict variants of the schemas), made once for both engines:
        :meth:`registry` wraps them for jsonschema, and jsonschema-rs takes them as they are (it finds the
        subresources itself), so that a valid delivery is judged without importing referencing."""
        if strict not in self._variant_docs:
            self._variant_docs[strict] = {uri: (strictify(doc) if strict and is_schema(doc) else doc)
                                          for uri, doc in self._documents.items()}
        return self._variant_docs[strict]

    def schema(self, uri: str, strict: bool = False) -> Any:
        return self.registry(strict).contents(uri)

    def validator(self, schema_id: str, strict: bool = False) -> Draft202012Validator:
        key = (schema_id, strict)
        if key not in self._validators:
            from jsonschema import Draft202012Validator

            self._validators[key] = Draft202012Validator(self.schema(schema_id, strict), registry=self.registry(strict),
                                                         format_checker=__getattr__("FORMAT_CHECKER"))
        return self._validators[key]

    def is_valid(self, schema_id: str, instance: Any, strict: bool = False) -> bool:
        """The verdict alone, from jsonschema-rs over the same registry and format checks: where a delivery is
        judged per request (the reference receiver, the checks), most deliveries are valid and need no error
        messages, which jsonschema then gives for the rest (docs/decisions.md#fast-validation)."""
        key = (schema_id, strict)
        check = self._fast.get(key)
        if check is None:
            import jsonschema_rs

            documents = self._variants(strict)
            if strict not in self._fast_registries:
                self._fast_registries[strict] = jsonschema_rs.Registry(list(documents.items()))
            root = documents[schema_id] if schema_id in documents else self.schema(schema_id, strict)
            if self._fast_formats is None:
                self._fast_formats = _format_callbacks(_formats_named(self._documents))
            check = jsonschema_rs.validator_for(root, registry=self._fast_registries[strict],
                                                formats=self._fast_formats, validate_formats=True).is_valid
            self._fast[key] = check
        return check(instance)


_active: Catalog | None = None


def configure(extra_dirs: Sequence[str | os.PathLike[str]] | None = None) -> Catalog:
    """Make the catalog of the built-in folder plus ``extra_dirs`` (default: ``$HOOKPROOF_SCHEMAS``) active.

    With no folder of the user's, an active catalog of the built-in folder alone is kept, with all it has
    loaded and compiled: the package's own files do not change while it runs, and a program that configures
    before each command (``hookproof.cli.main`` called in process, once per command) read every profile and
    built the referencing registry again each time, about 30 ms. A user's folders are always read afresh:
    they may have been edited since."""
    global _active
    folders = SchemaFolders(env_dirs() if extra_dirs is None else extra_dirs)
    if not folders.extra and _active is not None and not _active.folders.extra:
        return _active
    _active = Catalog(folders)
    return _active


def active() -> Catalog:
    return _active if _active is not None else configure()


def platforms(kind: str | None = None) -> tuple[str, ...]:
    """Platform ids, optionally of one kind (``webhook`` or ``registration_api``), in sorted order."""
    return active().platforms(kind)


def platform(platform_id: str) -> Platform:
    return active().platform(platform_id)


def contract(platform_id: str, name: str | None = None) -> Contract:
    """A contract of a platform; its base contract (the document's) when ``name`` is None."""
    return platform(platform_id).contract(name)


def event(platform_id: str, name: str, contract_name: str | None = None) -> Event:
    return contract(platform_id, contract_name).event(name)


def webhook_platforms() -> tuple[str, ...]:
    return platforms("webhook")


def registration_platforms() -> tuple[str, ...]:
    return platforms("registration_api")
