"""The captures of ``hookproof listen``: every delivery received, in SQLite, as received.

It must survive a crash without losing a delivery it acknowledged: each capture is committed (WAL journal,
``synchronous=FULL``) before its answer is sent, so a delivery answered 2XX is on disk, and a delivery the
process died on was not answered and will be retried by its sender (docs/decisions.md#capture-store). A retry
of a delivery already stored (the same delivery key: the contract's per-delivery id, a Standard Webhooks
``webhook-id``, else the bytes) is counted on the first capture, not stored again. Bodies and headers are
capped, and secret headers are stored as ``***``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookproof.live.recording import Answer, Recording

MAX_HEADERS = 100
MAX_HEADER_CHARS = 8 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_key TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    last_received_at REAL NOT NULL,
    times INTEGER NOT NULL DEFAULT 1,
    platform TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_truncated INTEGER NOT NULL,
    contract TEXT,
    event TEXT,
    auth TEXT NOT NULL,
    problems TEXT NOT NULL,
    answer_status INTEGER,
    forward_status INTEGER,
    forward_elapsed REAL,
    forward_excerpt TEXT,
    forward_error TEXT
);
CREATE INDEX IF NOT EXISTS captures_event ON captures (event);
CREATE INDEX IF NOT EXISTS captures_received ON captures (received_at);
"""
TABLE = "captures"


class StoreError(Exception):
    """The database cannot be used; the message says why and which file."""


@dataclass(frozen=True)
class Stored:
    """A capture as listed: its id, and whether it was new or a repeat of one kept before."""

    id: int
    new: bool
    times: int


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def capped_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k[:200], v[:MAX_HEADER_CHARS]) for k, v in headers[:MAX_HEADERS]]


class CaptureStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        try:
            conn = self._connection()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables - {TABLE, "sqlite_sequence"}:
                raise StoreError(f"{path} holds other tables ({', '.join(sorted(tables)[:5])}): it is not a capture "
                                 "database of hookproof listen; give another --db")
            conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {path} as a capture database: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # committed means on disk, before the 2XX goes out
            self._local.conn = conn
        return conn

    def add(self, key: str, rec: Recording, answer_status: int, forward: Answer | None) -> Stored:
        """Store a capture (or count a repeat of a stored one) and commit, before the sender is answered."""
        now = time.time()
        row = (key, now, now, rec.platform, rec.method, rec.path[:2000],
               json.dumps(capped_headers(list(rec.headers))), rec.body, int(rec.body_truncated), rec.contract,
               rec.event, rec.auth, json.dumps(list(rec.problems)), answer_status,
               forward.status if forward else None, forward.elapsed if forward else None,
               forward.excerpt if forward else None, forward.error if forward else None)
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")  # one writer at a time: a repeat is counted, never stored twice
        try:
            found = conn.execute(
                "UPDATE captures SET times = times + 1, last_received_at = ?, answer_status = ?, "
                "forward_status = ?, forward_elapsed = ?, forward_excerpt = ?, forward_error = ? "
                "WHERE delivery_key = ? RETURNING id, times",
                (now, *row[-5:], key)).fetchone()
            if found is None:
                cursor = conn.execute(
                    "INSERT INTO captures (delivery_key, received_at, last_received_at, platform, method, path, "
                    "headers, body, body_truncated, contract, event, auth, problems, answer_status, forward_status, "
                    "forward_elapsed, forward_excerpt, forward_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?)", row)
                found = (cursor.lastrowid, 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Stored(int(found[0]), found[1] == 1, int(found[1]))

    def _rows(self, sql: str, args: tuple[Any, ...]) -> Iterator[sqlite3.Row]:
        conn = self._connection()
        conn.row_factory = sqlite3.Row
        try:
            yield from conn.execute(sql, args)
        finally:
            conn.row_factory = None

    def select(self, *, event: str | None = None, since: float | None = None, ids: list[int] | None = None,
               limit: int | None = None) -> list[Recording]:
        where: list[str] = []
        args: list[Any] = []
        if event:
            where.append("event = ?")
            args.append(event)
        if since is not None:
            where.append("received_at >= ?")
            args.append(since)
        if ids is not None:
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            args += ids
        sql = "SELECT * FROM captures" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            return [self._recording(row) for row in self._rows(sql, tuple(args))]
        except sqlite3.DatabaseError as exc:  # a damaged file: one line naming it, as at its opening
            raise StoreError(f"cannot read {self.path} as a capture database: {exc}") from None

    def get(self, capture_id: int) -> Recording | None:
        found = self.select(ids=[capture_id])
        return found[0] if found else None

    def count(self) -> int:
        try:
            return int(self._connection().execute("SELECT COUNT(*) FROM captures").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path} as a capture database: {exc}") from None

    def check(self) -> None:
        """Read the whole file once (``PRAGMA quick_check``): ``listen`` must not start on a damaged database,
        where every delivery would be answered 500 and none kept. It takes time in proportion to the file."""
        try:
            found = [row[0] for row in self._connection().execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {self.path} as a capture database: {exc}") from None
        if found != ["ok"]:
            first = " ".join(found[0].split())[:100]
            raise StoreError(f"cannot use {self.path} as a capture database: database disk image is malformed "
                             f"(PRAGMA quick_check: {first})")

    @staticmethod
    def _recording(row: sqlite3.Row) -> Recording:
        problems = tuple(json.loads(row["problems"]))
        forward = None
        if row["forward_status"] is not None or row["forward_error"] is not None:
            forward = Answer(row["forward_status"], row["forward_elapsed"] or 0.0, row["forward_excerpt"] or "",
                             row["forward_error"])
        return Recording(
            kind="capture", id=str(row["id"]), platform=row["platform"], method=row["method"], path=row["path"],
            headers=tuple((k, v) for k, v in json.loads(row["headers"])), body=bytes(row["body"]),
            contract=row["contract"], event=row["event"], auth=row["auth"],
            expected="2XX" if not problems else "not 5XX", recorded_at=iso(row["received_at"]),
            body_truncated=bool(row["body_truncated"]), problems=problems,
            origin=f"the capture {row['id']}, received {iso(row['received_at'])}",
            answer=Answer(row["answer_status"]), forward=forward,
            extra={"times_received": row["times"]} if row["times"] > 1 else {})

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
