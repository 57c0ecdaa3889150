"""How long `patron scale` takes to make and load the scale data set into PostgreSQL.

Starts a throwaway PostgreSQL (scripts/pg.sh), migrates it and loads the scale set
with ``load_copy`` (what ``patron scale`` runs), then prints the wall time, each
step, rows and rows per second per table (COPY, then the rebuild of its indexes),
and where the CPU went: the generator workers, this process, the PostgreSQL server.

    python benchmarks/bench_scale_load.py                     # 1,000,000 accounts (the bar: under 10 minutes)
    python benchmarks/bench_scale_load.py --accounts 100000   # a tenth, for quick comparisons
    python benchmarks/bench_scale_load.py --keep-indexes      # indexes and foreign keys kept during the COPY
    python benchmarks/bench_scale_load.py --keep-server       # leave the server running (for bench_account_list_pg)

Not part of ``benchmarks/run.py`` by default (the full set takes minutes and 6 GB
of disk): ``python benchmarks/run.py scale`` runs it with its defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _pg import Server, postgres_cpu_seconds, setup_django  # noqa: E402

TODAY = dt.date(2026, 11, 25)
RUN_BY_DEFAULT = False  # benchmarks/run.py runs it only when asked by name


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(accounts: int, workers: int, keep_indexes: bool, keep_server: bool, seed: int = 42) -> dict[str, Any]:
    server = Server()
    try:
        setup_django(server.url, server.dir / "var")
        from django.db import connection

        from patron.demo.copy_loader import load_copy
        from patron.demo.loader import rows_loaded
        from patron.demo.scale import scale_spec

        spec = scale_spec(today=TODAY, seed=seed, accounts=accounts)
        before = (_cpu_self(), _cpu_children(), postgres_cpu_seconds(server), time.perf_counter())
        result = load_copy(spec, workers=workers, defer_indexes=not keep_indexes)
        after = (_cpu_self(), _cpu_children(), postgres_cpu_seconds(server), time.perf_counter())
        assert result.loaded, result.message
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
        rows = rows_loaded(result.counts)
        figures: dict[str, Any] = {
            "accounts": accounts,
            "workers": result.workers,
            "indexes": "kept during the load" if keep_indexes else "rebuilt after the load",
            "load, wall (s)": result.seconds,
            "rows loaded": rows,
            "rows per second": rows / result.seconds,
        }
        for name, seconds in result.phases.items():
            if name != "total":
                figures[f"step: {name} (s)"] = seconds
        for name, st in result.tables.items():
            rate = st.rows / st.copy_seconds if st.copy_seconds else 0.0
            figures[f"{name}: rows"] = st.rows
            figures[f"{name}: COPY (s), rows/s"] = f"{st.copy_seconds:.1f} s, {rate:,.0f}/s"
            figures[f"{name}: indexes and keys rebuilt (s)"] = st.index_seconds
        slowest = sorted(result.rebuilt.items(), key=lambda item: -item[1])[:12]
        for name, seconds in slowest:
            figures[f"rebuilt: {name} (s)"] = seconds
        figures["CPU: generator workers (s)"] = after[1] - before[1]
        for name, seconds in result.worker_seconds.items():
            figures[f"CPU: workers, {name} (s)"] = seconds
        figures["CPU: this process (s)"] = after[0] - before[0]
        figures["CPU: PostgreSQL (s)"] = after[2] - before[2]
        figures["database size (GB)"] = size / 1e9
        if keep_server:
            print(f"server left running: PATRON_DATABASE_URL={server.url}")
            print(f"stop it with: bash scripts/pg.sh stop {server.dir}/pg")
        return figures
    finally:
        if not keep_server:
            server.stop()


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep-indexes", action="store_true")
    parser.add_argument("--keep-server", action="store_true")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    return run(args.accounts, args.workers, args.keep_indexes, args.keep_server)


if __name__ == "__main__":
    for key, value in main().items():
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        print(f"{key:<52} {shown}")
