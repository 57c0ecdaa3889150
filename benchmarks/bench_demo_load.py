"""How fast `patron demo` loads the demo data set into a fresh SQLite database.

Figures:
* the command as a user runs it (`patron demo` after `patron migrate`), wall time
  including Django's start-up, and its second run, which only finds the data there;
* the load alone, in process: seconds, CPU seconds, rows per second;
* the generator alone (no database);
* the two ways of writing rows on a smaller set: prepared rows with executemany
  (what the loader uses) against model instances with bulk_create.

    python benchmarks/bench_demo_load.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _django import fresh_environment, remove, setup_django  # noqa: E402

TODAY = dt.date(2026, 11, 25)
ACCOUNTS = 2000
SMALL = 400


def _child(accounts: int, method: str) -> dict[str, float]:
    """In a fresh process: migrate a new database, then time the load."""
    tmp = setup_django()
    from patron.demo.generator import DemoSpec
    from patron.demo.loader import load_demo, rows_loaded

    spec = DemoSpec(today=TODAY, seed=42, accounts=accounts)
    cpu, wall = time.process_time(), time.perf_counter()
    result = load_demo(spec, method=method)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert result.loaded, result.message
    rows = rows_loaded(result.counts)
    size = (tmp / "bench.sqlite3").stat().st_size
    remove(tmp)
    return {"seconds": wall, "cpu": cpu, "rows": rows, "rows_per_s": rows / wall, "db_mb": size / 1e6}


def _in_child(accounts: int, method: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(accounts), method],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _command() -> tuple[float, float]:
    """`patron migrate` (not timed), then `patron demo` twice, timed as a user sees it."""
    tmp = fresh_environment()
    patron = str(Path(sys.executable).with_name("patron"))
    env = dict(os.environ)
    subprocess.run([patron, "migrate", "-v0"], env=env, check=True, cwd=tmp)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        subprocess.run(
            [patron, "demo", "--today", TODAY.isoformat()],
            env=env,
            check=True,
            cwd=tmp,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    remove(tmp)
    return times[0], times[1]


def _generator_only() -> tuple[float, int]:
    from patron.demo.generator import DemoSpec, account_bundles

    started = time.perf_counter()
    records = sum(b.row_count() for b in account_bundles(DemoSpec(today=TODAY, seed=42, accounts=ACCOUNTS)))
    return time.perf_counter() - started, records


def main() -> dict[str, float | int]:
    figures: dict[str, float | int] = {}
    first, second = _command()
    figures[f"`patron demo`, {ACCOUNTS:,} accounts, wall (s)"] = first
    figures["`patron demo` again, nothing to do (s)"] = second
    load = _in_child(ACCOUNTS, "rows")
    figures["load alone, wall (s)"] = load["seconds"]
    figures["load alone, CPU (s)"] = load["cpu"]
    figures["rows loaded"] = int(load["rows"])
    figures["rows per second"] = load["rows_per_s"]
    figures["database size (MB)"] = load["db_mb"]
    seconds, records = _generator_only()
    figures[f"generator alone, {ACCOUNTS:,} accounts (s)"] = seconds
    figures["generator records per second"] = records / seconds
    rows = _in_child(SMALL, "rows")
    orm = _in_child(SMALL, "orm")
    figures[f"{SMALL} accounts, executemany rows (s)"] = rows["seconds"]
    figures[f"{SMALL} accounts, ORM bulk_create (s)"] = orm["seconds"]
    figures["bulk_create / executemany, CPU ratio"] = orm["cpu"] / rows["cpu"]
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(int(sys.argv[2]), sys.argv[3])))
    else:
        for key, value in main().items():
            print(f"{key:<50} {value:,.3f}" if isinstance(value, float) else f"{key:<50} {value:,}")
