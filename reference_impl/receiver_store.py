"""The reference receiver's SQLite log: every delivery it accepted, once, with its body as the bytes received.

The body is kept as the sender wrote it (UTF-8 text: the receiver accepts no other), not re-encoded from the
parsed value: a re-encoding would lose what a user debugging their sender needs to see (key order, escapes,
spacing, numbers such as ``1.0`` or ``1e2``), and it cost a ``json.dumps`` per delivery.

The primary key is the delivery's idempotency key, so a retried delivery is recognised by the database
itself (``INSERT OR IGNORE``), with no read-then-write race between threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at REAL NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL
)
"""


COLUMNS = ("key", "platform", "event", "received_at", "headers", "body")


class StoreError(Exception):
    """The database cannot be used: not SQLite, damaged, or holding tables this receiver did not make."""


class DeliveryStore:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._local = threading.local()
        self._shared: sqlite3.Connection | None = None
        # A file database: a connection per thread, and SQLite serialises the writes. In memory: one shared
        # connection (each thread would otherwise see its own empty database), used by one thread at a time.
        self._lock: AbstractContextManager[Any] = nullcontext()
        if path == ":memory:":
            self._shared = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._lock = threading.Lock()
        try:
            self._check(self._connection())
            self._connection().execute(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use database {path}: {exc}") from None

    def _check(self, conn: sqlite3.Connection) -> None:
        """Refuse a damaged database, or one of another program, before anything is stored in it."""
        problem = conn.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise StoreError(f"database {self.path} is damaged: {problem}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables - {"deliveries"}:
            raise StoreError(f"database {self.path} holds other tables ({', '.join(sorted(tables)[:5])}): it was not "
                             "made by this receiver; give another --db")
        if "deliveries" in tables:
            columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(deliveries)"))
            if columns != COLUMNS:
                raise StoreError(f"database {self.path} has a deliveries table of another shape; give another --db")

    def _connection(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def add(self, key: str, platform: str, event: str, headers: dict[str, str], raw: bytes) -> bool:
        """Record a delivery whose body is ``raw`` (valid UTF-8 JSON, as the receiver parsed it); False when one
        with the same key was already recorded."""
        row = (key, platform, event, time.time(), json.dumps(headers), raw.decode("utf-8"))
        with self._lock:
            cursor = self._connection().execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)", row)
        return cursor.rowcount == 1

    def count(self, platform: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM deliveries", tuple[str, ...]()
        if platform:
            sql, args = sql + " WHERE platform = ?", (platform,)
        with self._lock:
            return int(self._connection().execute(sql, args).fetchone()[0])

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT key, platform, event, received_at, body FROM deliveries ORDER BY received_at DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [dict(zip(("key", "platform", "event", "received_at", "body"), r, strict=True)) for r in rows]
