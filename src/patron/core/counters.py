"""Counts per key and time window, shared by every process of this machine, one statement per count.

Throttles count every try of a code by user, token and address. Django's file cache shares counts
between processes, but costs a read and an atomic file write per key and lists its directory on
every write; here the counts live in one small SQLite file under the var directory (WAL, no sync:
a count lost in a power cut costs nothing), and all of a try's keys are counted by one upsert.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, window INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (key, window)) WITHOUT ROWID"  # noqa: E501


class WindowCounts:
    """``add(keys, window)`` counts one more for each key in that window and gives the counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        pid, db = getattr(self._local, "db", (None, None))
        if db is None or pid != os.getpid():  # a forked worker opens its own
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(_SCHEMA)
            self._local.db = (os.getpid(), db)
        return db

    def add(self, keys: Sequence[str], window: int) -> dict[str, int]:
        if not keys:
            return {}
        marks = ", ".join(["(?, ?, 1)"] * len(keys))
        params = [p for key in keys for p in (key, window)]
        db = self._db()
        rows = db.execute(
            f"INSERT INTO hits (key, window, n) VALUES {marks} "  # noqa: S608  (placeholders only)
            "ON CONFLICT (key, window) DO UPDATE SET n = n + 1 RETURNING key, n",
            params,
        ).fetchall()
        counts = dict(rows)
        if 1 in counts.values():  # a window opened: the ones before the last are over
            db.execute("DELETE FROM hits WHERE window < ?", (window - 1,))
        return counts

    def clear(self) -> None:
        self._db().execute("DELETE FROM hits")
