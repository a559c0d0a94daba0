"""SQLite state of the reference registration server: the settings a registration API stores.

Modelled minimally, for any registration contract (:class:`hookproof.contract.Registration`):

- ``account_settings(key, value)``: one row per setting key (Xobin: start, submission, updates), the value as
  the request gave it (JSON). Every update writes here; a key a request omits is simply not written and keeps
  its stored value.
- ``account_options(name, value)``: the request's other top-level members (Xobin's ``updateAuth``, which the
  document shows but never describes), stored and echoed, changing nothing else.
- ``assessments(id, name)`` and ``assessment_webhooks(assessment_id, key, value)``: Xobin-only
  (``apply_to_all``, its ``updateAll``): existing assessments and their own settings, written only by a request
  that applies to all. Two sample assessments are seeded so that the difference is observable.

Each request's read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction on its own connection:
concurrent requests serialise on SQLite's write lock instead of overwriting each other, and the answer
describes exactly the state that request produced.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_ASSESSMENTS: tuple[tuple[str, str], ...] = (("a1", "Sample assessment 1"), ("a2", "Sample assessment 2"))
SCHEMA_VERSION = 2
TABLES = {"account_settings", "account_options", "assessments", "assessment_webhooks"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_options (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessments (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessment_webhooks (
    assessment_id TEXT NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (assessment_id, key)
);
"""


class StoreError(Exception):
    """The database cannot be opened or used (unwritable path, not an SQLite file, another schema)."""


Setting = dict[str, Any]  # one webhook setting, as the request gave it (Xobin: {"status": true, "url": "..."})


@dataclass(frozen=True)
class Snapshot:
    """Everything the server stores, read in one transaction (so it is never half of an update)."""

    settings: dict[str, Setting]
    options: dict[str, Any]
    assessments: dict[str, tuple[str, dict[str, Setting]]] = field(default_factory=dict)

    def assessments_json(self) -> dict[str, Any]:
        return {aid: {"name": name, "webhooks": hooks} for aid, (name, hooks) in self.assessments.items()}


class RegistrationStore:
    """The server's state in one SQLite file; safe to share between threads and processes.

    Every operation opens its own connection, so a threaded WSGI server needs no locking of its own,
    and a second process on the same file sees the same state. ``keys`` are the setting keys the contract
    knows, in the order answers show them.
    """

    def __init__(self, path: str | os.PathLike[str], keys: Sequence[str], busy_timeout: float = 10.0):
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise StoreError("the database must be a file path: state has to survive a restart")
        self.path = Path(path)
        self.keys = tuple(keys)
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
            damage = conn.execute("PRAGMA quick_check").fetchone()[0]
            if damage != "ok":
                raise StoreError(f"database {self.path} is damaged: {damage}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version > SCHEMA_VERSION:
                raise StoreError(f"database {self.path} has schema version {version}; this server knows "
                                 f"{SCHEMA_VERSION}")
            if tables and (version != SCHEMA_VERSION or not tables >= TABLES):
                raise StoreError(f"database {self.path} holds other tables (schema version {version}): it was not "
                                 "made by this server; give another --db")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany("INSERT OR IGNORE INTO assessments (id, name) VALUES (?, ?)", SEED_ASSESSMENTS)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def update(self, settings: Mapping[str, Setting], *, apply_to_all: bool = False,
               options: Mapping[str, Any] | None = None) -> Snapshot:
        """Write the given settings (keys not given keep their values) and return the resulting state.

        ``apply_to_all`` also writes them into every assessment; ``options`` are stored when given.
        """
        unknown = set(settings) - set(self.keys)
        if unknown:
            raise ValueError(f"unknown setting keys: {sorted(unknown)}")
        with self._transaction(write=True) as conn:
            for key, setting in settings.items():
                value = json.dumps(setting, ensure_ascii=False)
                conn.execute("INSERT INTO account_settings (key, value) VALUES (?, ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
                if apply_to_all:
                    # "WHERE true" lets SQLite parse ON CONFLICT after INSERT ... SELECT.
                    conn.execute("INSERT INTO assessment_webhooks (assessment_id, key, value) "
                                 "SELECT id, ?, ? FROM assessments WHERE true "
                                 "ON CONFLICT (assessment_id, key) DO UPDATE SET value = excluded.value", (key, value))
            for name, option in (options or {}).items():
                conn.execute("INSERT INTO account_options (name, value) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                             (name, json.dumps(option, ensure_ascii=False)))
            return self._read(conn)

    def snapshot(self) -> Snapshot:
        """The current state, consistent as of one moment."""
        with self._transaction(write=False) as conn:
            return self._read(conn)

    def _ordered(self, rows: Mapping[str, Setting]) -> dict[str, Setting]:
        return {key: rows[key] for key in self.keys if key in rows}

    def _read(self, conn: sqlite3.Connection) -> Snapshot:
        account = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM account_settings")}
        options = {k: json.loads(v) for k, v in conn.execute("SELECT name, value FROM account_options ORDER BY name")}
        assessments: dict[str, tuple[str, dict[str, Setting]]] = {}
        for aid, name in conn.execute("SELECT id, name FROM assessments ORDER BY id"):
            rows = conn.execute("SELECT key, value FROM assessment_webhooks WHERE assessment_id = ?", (aid,))
            assessments[aid] = (name, self._ordered({k: json.loads(v) for k, v in rows}))
        return Snapshot(self._ordered(account), options, assessments)
