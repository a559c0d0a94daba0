"""The reference receiver's SQLite log: every delivery it accepted, once.

The primary key is the delivery's idempotency key, so a retried delivery is recognised by the database
itself (``INSERT OR IGNORE``), with no read-then-write race between threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
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


class DeliveryStore:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._local = threading.local()
        self._memory_lock = threading.Lock()
        self._shared: sqlite3.Connection | None = None
        if path == ":memory:":  # one shared connection, or each thread would see its own empty database
            self._shared = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection().execute(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def add(self, key: str, platform: str, event: str, headers: dict[str, str], body: Any) -> bool:
        """Record a delivery; False when one with the same key was already recorded."""
        row = (key, platform, event, time.time(), json.dumps(headers), json.dumps(body, ensure_ascii=False))
        with self._memory_lock if self._shared is not None else _nolock:
            cursor = self._connection().execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)", row)
        return cursor.rowcount == 1

    def count(self, platform: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM deliveries", ()
        if platform:
            sql, args = sql + " WHERE platform = ?", (platform,)
        with self._memory_lock if self._shared is not None else _nolock:
            return self._connection().execute(sql, args).fetchone()[0]

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._memory_lock if self._shared is not None else _nolock:
            rows = (
                self._connection()
                .execute(
                    "SELECT key, platform, event, received_at, body FROM deliveries ORDER BY received_at DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [dict(zip(("key", "platform", "event", "received_at", "body"), r, strict=True)) for r in rows]


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_nolock = _NoLock()
