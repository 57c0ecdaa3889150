"""Counts per key and time window, shared by every process of this machine, one transaction per try.

Throttles count every try of a code by user, token and address. Django's file cache shares counts
between processes, but costs a read and an atomic file write per key and lists its directory on
every write; here the counts live in one small SQLite file under the var directory (WAL), and all
of a try's keys are counted in one transaction (an upsert each, with ``RETURNING``: SQLite 3.35 or
later). A file that cannot be read (damaged by a crash) is started afresh: the counts of a minute
are all it ever holds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, window INTEGER NOT NULL, n INTEGER NOT NULL, "
    "PRIMARY KEY (key, window)) WITHOUT ROWID"
)
_INDEX = "CREATE INDEX IF NOT EXISTS hits_window ON hits (window)"
_COUNT = (
    "INSERT INTO hits (key, window, n) VALUES (?, ?, 1) ON CONFLICT (key, window) DO UPDATE SET n = n + 1 RETURNING n"
)
# Connections a forked process inherited: never used there, and never closed there either (SQLite
# must not touch a connection across a fork; closing it would).
_INHERITED: list[Any] = []


class WindowCounts:
    """``add(keys, window)`` counts one more for each key in that window and gives the counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._swept = -1  # the window before which this process last removed the counts

    def _db(self) -> sqlite3.Connection:
        pid, db = getattr(self._local, "db", (None, None))
        if db is not None and pid == os.getpid():
            return db
        if db is not None:
            _INHERITED.append(db)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # in WAL: a crash may lose the last counts, never the file
        db.execute(_SCHEMA)
        db.execute(_INDEX)
        self._local.db = (os.getpid(), db)
        return db

    def add(self, keys: Sequence[str], window: int) -> dict[str, int]:
        if not keys:
            return {}
        try:
            return self._add(keys, window)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise  # busy past the timeout: not damage
            self._start_afresh()
        return self._add(keys, window)

    def _add(self, keys: Sequence[str], window: int) -> dict[str, int]:
        db = self._db()
        counts = {}
        with db:  # one transaction for the try's keys: one write to the file
            db.execute("BEGIN IMMEDIATE")
            for key in keys:
                (counts[key],) = db.execute(_COUNT, (key, window)).fetchone()
            if window - 1 > self._swept:  # the windows before the last are over: once per window and process
                db.execute("DELETE FROM hits WHERE window < ?", (window - 1,))
                self._swept = window - 1
        return counts

    def _start_afresh(self) -> None:
        _pid, db = getattr(self._local, "db", (None, None))
        if db is not None:
            db.close()
            self._local.db = (None, None)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def clear(self) -> None:
        self._db().execute("DELETE FROM hits")
