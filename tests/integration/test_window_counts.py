"""Throttle counts shared by processes: each try counted once per key, old minutes forgotten."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from patron.core.counters import WindowCounts


def _count_in_another_process(path: str, keys: list[str], window: int, out: object) -> None:
    out.put(WindowCounts(Path(path)).add(keys, window))  # type: ignore[attr-defined]


def test_counts_are_shared_between_processes_and_old_windows_go(tmp_path):
    path = tmp_path / "counts.sqlite3"
    here = WindowCounts(path)
    assert here.add(["user:1", "address:a"], 100) == {"user:1": 1, "address:a": 1}
    queue: mp.Queue[dict[str, int]] = mp.get_context("spawn").Queue()
    other = mp.get_context("spawn").Process(
        target=_count_in_another_process, args=(str(path), ["user:1", "token:t"], 100, queue)
    )
    other.start()
    assert queue.get(timeout=60) == {"user:1": 2, "token:t": 1}
    other.join()
    assert here.add(["user:1"], 100) == {"user:1": 3}
    assert here.add(["user:1"], 101) == {"user:1": 1}  # a new minute starts again
    assert here.add(["user:1"], 102) == {"user:1": 1}  # ... and the one before last is forgotten
    rows = here._db().execute("SELECT window FROM hits ORDER BY window").fetchall()
    assert sorted({w for (w,) in rows}) == [101, 102]
    here.clear()
    assert here.add(["user:1"], 102) == {"user:1": 1}
    assert here.add([], 102) == {}


def test_a_damaged_file_is_started_afresh(tmp_path):
    path = tmp_path / "counts.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    assert WindowCounts(path).add(["user:1"], 7) == {"user:1": 1}
    assert WindowCounts(path).add(["user:1"], 7) == {"user:1": 2}
