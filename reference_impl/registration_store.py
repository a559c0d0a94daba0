"""SQLite state of the reference Xobin registration server (``POST /webhooks``, 002_87eafd416189f785.txt).

The document knows two places a webhook setting can live: "assessment settings" and "all the
assessments" (§ Parameters, ``updateAll``). They are modelled minimally:

- ``account_settings(key, status, url)``: the account's assessment settings - one row per documented
  key (start, submission, updates); what a new assessment would start with. Every update writes here.
- ``assessments(id, name)`` and ``assessment_webhooks(assessment_id, key, status, url)``: existing
  assessments and their own webhooks. Only ``updateAll: true`` writes here, to every assessment. Two
  sample assessments are seeded so that the difference is observable through ``GET /webhooks``.
- ``account_options(name, value)``: ``updateAuth``, which the document shows but never describes; it is
  stored and echoed, and changes nothing else.

A setting is a row, so a key that a request omits is simply not written and keeps its stored value.
Each request's read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction on its own connection:
concurrent requests serialise on SQLite's write lock instead of overwriting each other, and the
answer describes exactly the state that request produced.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import catalog

SETTING_KEYS: tuple[str, ...] = tuple(catalog.profile("xobin").settings)  # start, submission, updates
SEED_ASSESSMENTS: tuple[tuple[str, str], ...] = (("a1", "Sample assessment 1"), ("a2", "Sample assessment 2"))
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_settings (
    key    TEXT PRIMARY KEY,
    status INTEGER NOT NULL CHECK (status IN (0, 1)),
    url    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_options (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assessments (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessment_webhooks (
    assessment_id TEXT NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    status        INTEGER NOT NULL CHECK (status IN (0, 1)),
    url           TEXT NOT NULL,
    PRIMARY KEY (assessment_id, key)
);
"""


class StoreError(Exception):
    """The database cannot be opened or used (unwritable path, not an SQLite file, newer schema)."""


@dataclass(frozen=True)
class Setting:
    """One webhook: the document's ``{"status": boolean, "url": string}``."""

    status: bool
    url: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "url": self.url}


@dataclass(frozen=True)
class Snapshot:
    """Everything the server stores, read in one transaction (so it is never half of an update)."""

    webhooks: dict[str, Setting]
    update_auth: bool
    assessments: dict[str, tuple[str, dict[str, Setting]]] = field(default_factory=dict)

    def webhooks_json(self) -> dict[str, Any]:
        """The account settings in the request body's own shape; keys never set are absent."""
        return {key: s.to_json() for key, s in self.webhooks.items()}

    def to_json(self) -> dict[str, Any]:
        """The ``GET /webhooks`` view: the account settings as a valid request body, plus assessments."""
        return {
            "webhooks": self.webhooks_json(),
            "updateAuth": self.update_auth,
            "assessments": {
                aid: {"name": name, "webhooks": {k: s.to_json() for k, s in hooks.items()}}
                for aid, (name, hooks) in self.assessments.items()
            },
        }


def _ordered(rows: Mapping[str, Setting]) -> dict[str, Setting]:
    return {key: rows[key] for key in SETTING_KEYS if key in rows}


class RegistrationStore:
    """The server's state in one SQLite file; safe to share between threads and processes.

    Every operation opens its own connection, so a threaded WSGI server needs no locking of its own,
    and a second process on the same file sees the same state.
    """

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float = 10.0):
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise StoreError("the database must be a file path: state has to survive a restart")
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        try:
            self._initialise()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use database {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly below, never implicitly by the module.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection; ``write`` takes the write lock up front, so two
        updates cannot both read the old state and then overwrite each other."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _initialise(self) -> None:
        conn = self._connect()
        try:
            # WAL lets GET read while an update writes; the setting persists in the file.
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        with self._transaction(write=True) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"database {self.path} has schema version {version}; this server knows "
                                 f"{SCHEMA_VERSION}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO account_options (name, value) VALUES ('updateAuth', 0)")
            conn.executemany("INSERT OR IGNORE INTO assessments (id, name) VALUES (?, ?)", SEED_ASSESSMENTS)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def update(self, webhooks: Mapping[str, Setting], *, update_all: bool = False,
               update_auth: bool | None = None) -> Snapshot:
        """Write the given settings (keys not given keep their values) and return the resulting state.

        ``update_all`` also writes them into every assessment; ``update_auth`` is stored when given.
        """
        unknown = set(webhooks) - set(SETTING_KEYS)
        if unknown:
            raise ValueError(f"unknown webhook keys: {sorted(unknown)}")
        with self._transaction(write=True) as conn:
            for key, setting in webhooks.items():
                conn.execute(
                    "INSERT INTO account_settings (key, status, url) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET status = excluded.status, url = excluded.url",
                    (key, int(setting.status), setting.url))
                if update_all:
                    # "WHERE true" lets SQLite parse ON CONFLICT after INSERT ... SELECT.
                    conn.execute(
                        "INSERT INTO assessment_webhooks (assessment_id, key, status, url) "
                        "SELECT id, ?, ?, ? FROM assessments WHERE true "
                        "ON CONFLICT (assessment_id, key) DO UPDATE SET status = excluded.status, url = excluded.url",
                        (key, int(setting.status), setting.url))
            if update_auth is not None:
                conn.execute("UPDATE account_options SET value = ? WHERE name = 'updateAuth'", (int(update_auth),))
            return self._read(conn)

    def snapshot(self) -> Snapshot:
        """The current state, consistent as of one moment."""
        with self._transaction(write=False) as conn:
            return self._read(conn)

    @staticmethod
    def _read(conn: sqlite3.Connection) -> Snapshot:
        account = {k: Setting(bool(s), u) for k, s, u in conn.execute("SELECT key, status, url FROM account_settings")}
        update_auth = bool(conn.execute("SELECT value FROM account_options WHERE name = 'updateAuth'").fetchone()[0])
        assessments: dict[str, tuple[str, dict[str, Setting]]] = {}
        for aid, name in conn.execute("SELECT id, name FROM assessments ORDER BY id"):
            rows = conn.execute("SELECT key, status, url FROM assessment_webhooks WHERE assessment_id = ?", (aid,))
            assessments[aid] = (name, _ordered({k: Setting(bool(s), u) for k, s, u in rows}))
        return Snapshot(_ordered(account), update_auth, assessments)
