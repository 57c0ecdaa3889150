"""Segment recompute on the scale set: every account's indicators and every built-in classification.

Times, in one run against a database holding the scale set (1,000,000 accounts,
10,000,000 order lines):

* the floor: the bare per-account aggregation of orders (count and sum per account),
  read out of the database and grouped in polars, which is the least any recompute does;
* the indicators alone (``account_indicators``: orders, costs, returns, receivables,
  collections, joined in polars);
* a full recompute (``run_create`` + ``run_perform``): indicators once, the five
  built-in classifications, snapshots and the first memberships written;
* the same again the next day (nothing moved: only snapshots are written);
* an incremental recompute after 10,000 new orders (``recompute_changed``);

and prints the ratios to the floor and this process's peak memory (the database
server's memory is its own and not counted). Bars: full recompute within 60 s on
PostgreSQL and 180 s on SQLite, peak memory under 2 GiB, incremental within 5 s.

    python benchmarks/bench_segments.py --url postgres://...        # a database holding the scale set
    python benchmarks/bench_segments.py --sqlite /path/scale.sqlite3 # the scale set in SQLite
    python benchmarks/bench_segments.py --make-sqlite /path/scale.sqlite3 --url postgres://...  # copy it first
    python benchmarks/bench_segments.py --make-sqlite /path/scale.sqlite3 --url postgres://... --copy-only

The database is changed (runs, memberships, 10,000 orders): use a copy you can throw away.
Not part of ``benchmarks/run.py`` by default (it needs the scale set): ``python benchmarks/run.py segments``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RUN_BY_DEFAULT = False
AS_OF = dt.date(2026, 11, 25)  # the scale set's "today"
NEW_ORDERS = 10_000


def _setup(url: str) -> None:
    os.environ["PATRON_DATABASE_URL"] = url
    os.environ["PATRON_VAR_DIR"] = tempfile.mkdtemp(prefix="patron-bench-var-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "patron.config.settings"
    os.environ.setdefault("PATRON_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _floor() -> tuple[float, int]:
    """Orders per account: read (account, amount) rows and group them in polars."""
    import polars as pl
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, CAST(ROUND(net_total * 100) AS BIGINT) FROM sales_order "
            "WHERE status = 'confirmed' AND order_date < %s",
            [AS_OF + dt.timedelta(days=1)],
        )
        rows = cursor.fetchall()
    frame = pl.DataFrame(rows, schema={"account_id": pl.Int64, "cents": pl.Int64}, orient="row")
    grouped = frame.group_by("account_id").agg(pl.len(), pl.col("cents").sum())
    return time.perf_counter() - started, grouped.height


def _new_orders(count: int) -> list[int]:
    """``count`` confirmed one-line orders for random accounts, recorded now (as an import would)."""
    import random
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from patron.accounts.models import Account
    from patron.core.bulk import BulkInsert
    from patron.sales.models import Order, OrderLine, Product

    rng = random.Random(7)
    top = Account.objects.order_by("-id").values_list("id", flat=True).first() or 0
    accounts = sorted({rng.randint(1, top) for _ in range(count * 2)})[:count]
    products = list(Product.objects.values_list("id", "list_price")[:50])
    now = timezone.now()
    stamp = int(time.time())
    with transaction.atomic():
        BulkInsert(
            Order,
            [
                "number",
                "account_id",
                "status",
                "currency",
                "order_date",
                "list_total",
                "net_total",
                "created_at",
                "confirmed_at",
                "channel",
            ],
        ).insert(
            [
                (
                    f"BENCH-{stamp}-{i}",
                    aid,
                    "confirmed",
                    "CNY",
                    AS_OF + dt.timedelta(days=1),
                    products[i % 50][1],
                    products[i % 50][1],
                    now,
                    now,
                    "sales_rep",
                )
                for i, aid in enumerate(accounts)
            ]
        )
        ids = dict(Order.objects.filter(number__startswith=f"BENCH-{stamp}-").values_list("number", "id"))
        BulkInsert(
            OrderLine,
            ["order_id", "position", "product_id", "quantity", "list_unit_price", "net_unit_price", "line_total"],
        ).insert(
            [
                (
                    ids[f"BENCH-{stamp}-{i}"],
                    1,
                    products[i % 50][0],
                    Decimal(1),
                    products[i % 50][1],
                    products[i % 50][1],
                    products[i % 50][1],
                )
                for i in range(len(accounts))
            ]
        )
    return accounts


def incremental_only() -> dict[str, Any]:
    """Only the incremental recompute, on a database whose last full run is already there."""
    from django.db import connection

    from patron.segments.services import recompute_changed

    figures: dict[str, Any] = {"database": connection.vendor}
    changed = _new_orders(NEW_ORDERS)
    started = time.perf_counter()
    incremental = recompute_changed()
    figures[f"incremental after {NEW_ORDERS:,} new orders (s)"] = round(time.perf_counter() - started, 2)
    assert incremental is not None
    incremental.refresh_from_db()
    figures["incremental: accounts recomputed"] = incremental.accounts
    figures["incremental: accounts with new orders"] = len(changed)
    for step, seconds in incremental.timings.items():
        figures[f"  incremental: {step} (s)"] = seconds
    return figures


def measure(skip_incremental: bool) -> dict[str, Any]:
    from django.db import connection

    from patron.domain.periods import window_period
    from patron.segments.indicators import account_indicators
    from patron.segments.models import Classification, Membership, SegmentRun
    from patron.segments.services import recompute_changed, run_create, run_perform

    figures: dict[str, Any] = {"database": connection.vendor}
    Classification.objects.filter(builtin=True).update(active=True)
    figures["active classifications"] = Classification.objects.filter(active=True).count()
    floor, accounts_with_orders = _floor()
    figures["floor: orders per account, read and grouped in polars (s)"] = round(floor, 2)
    figures["accounts with orders"] = accounts_with_orders

    # Start from no snapshots, so the full run writes every account's first memberships.
    if connection.vendor == "postgresql":
        # As on a new installation: an empty table, not one holding millions of deleted rows.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Membership._meta.db_table}")
    else:
        Membership.objects.all().delete()
    SegmentRun.objects.all().delete()

    started = time.perf_counter()
    frame = account_indicators(window_period("trailing_12_months", AS_OF), today=AS_OF).frame
    indicators = time.perf_counter() - started
    figures["accounts measured"] = frame.height
    figures["indicators alone (s)"] = round(indicators, 2)
    del frame

    started = time.perf_counter()
    run = run_create(actor=None, as_of=AS_OF)
    run_perform(run)
    full = time.perf_counter() - started
    figures["full recompute, first run (s)"] = round(full, 2)
    run.refresh_from_db()
    for step, seconds in run.timings.items():
        figures[f"  first run: {step} (s)"] = seconds
    figures["memberships written"] = Membership.objects.count()
    figures["full recompute / floor"] = round(full / floor, 1)

    started = time.perf_counter()
    again = run_create(actor=None, as_of=AS_OF + dt.timedelta(days=1))
    run_perform(again)
    figures["full recompute, next day (s)"] = round(time.perf_counter() - started, 2)
    again.refresh_from_db()
    for step, seconds in again.timings.items():
        figures[f"  next day: {step} (s)"] = seconds
    figures["accounts moved on the next day"] = again.moved

    figures.update(_pages())

    if not skip_incremental:
        changed = _new_orders(NEW_ORDERS)
        started = time.perf_counter()
        incremental = recompute_changed()
        elapsed = time.perf_counter() - started
        assert incremental is not None
        figures[f"incremental after {NEW_ORDERS:,} new orders (s)"] = round(elapsed, 2)
        figures["incremental: accounts recomputed"] = incremental.accounts
        figures["incremental: accounts with new orders"] = len(changed)
        figures["incremental: moved"] = incremental.moved
        incremental.refresh_from_db()
        for step, seconds in incremental.timings.items():
            figures[f"  incremental: {step} (s)"] = seconds
    figures["peak memory of this process (MiB)"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def _pages() -> dict[str, Any]:
    """The segment pages that read every membership: the RFM grid and the movement between the two
    runs' days, for a manager (their team's accounts) and for one salesperson, the median of three."""
    import statistics

    from patron.segments import pages, selectors
    from patron.segments.models import Classification
    from patron.staff.models import User

    rfm = Classification.objects.get(key="rfm")
    manager = User.objects.filter(role="sales_manager").first() or User.objects.create_user(
        "bench-sales-manager", password="x", role="sales_manager"
    )
    owner = User.objects.filter(role="salesperson", accounts__isnull=False).first()
    figures: dict[str, Any] = {}
    for label, user in (("manager", manager), ("one salesperson", owner)):
        if user is None:
            continue
        times = []
        for _ in range(3):
            started = time.perf_counter()
            grid = pages.rfm_grid(rfm, AS_OF + dt.timedelta(days=1), user)
            times.append(time.perf_counter() - started)
        assert grid is not None
        figures[f"RFM grid, {label}: {grid.total:,} accounts (s)"] = round(statistics.median(times), 2)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            moved = selectors.movement(rfm, AS_OF, AS_OF + dt.timedelta(days=1), user=user)
            times.append(time.perf_counter() - started)
        figures[f"movement between two days, {label}: {moved.moved():,} moved (s)"] = round(statistics.median(times), 2)
    return figures


def _make_sqlite(url: str, path: Path) -> None:
    """Copy the scale set's tables from PostgreSQL into a fresh, migrated SQLite file."""
    import subprocess

    env = dict(os.environ, PATRON_DATABASE_URL=f"sqlite:///{path}", PATRON_VAR_DIR=tempfile.mkdtemp())
    subprocess.run([str(Path(sys.executable).parent / "patron"), "migrate", "-v", "0"], env=env, check=True)
    import sqlite3

    import psycopg

    tables = [
        "accounts_region",
        "accounts_industry",
        "staff_team",
        "staff_user",
        "accounts_account",
        "sales_category",
        "sales_product",
        "sales_exchangerate",
        "sales_order",
        "sales_orderline",
        "sales_return",
        "sales_returnline",
        "sales_invoice",
        "sales_payment",
        "sales_paymentallocation",
    ]
    target = sqlite3.connect(path)
    target.execute("PRAGMA journal_mode=OFF")
    target.execute("PRAGMA synchronous=OFF")
    target.execute("PRAGMA foreign_keys=OFF")
    target.execute("PRAGMA cache_size=-1000000")
    # Indexes are built once after the rows are in, not kept up to date row by row.
    marks = ",".join("?" * len(tables))
    indexes = target.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _sql in indexes:
        target.execute(f'DROP INDEX "{name}"')
    with psycopg.connect(url) as source:
        for table in tables:
            columns = [r[1] for r in target.execute(f"PRAGMA table_info({table})")]
            target.execute(f"DELETE FROM {table}")
            names = ", ".join(f'"{c}"' for c in columns)
            with source.cursor(name=f"copy_{table}") as cursor:
                cursor.itersize = 50_000
                cursor.execute(f"SELECT {names} FROM {table}")
                marks = ", ".join("?" * len(columns))
                while rows := cursor.fetchmany(50_000):
                    target.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        [tuple(_sqlite(v) for v in row) for row in rows],
                    )
            target.commit()
            print(f"copied {table}", file=sys.stderr)
    for _name, sql in indexes:
        target.execute(sql)
    target.commit()
    target.execute("ANALYZE")
    target.close()


def _sqlite(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return value


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a PostgreSQL database holding the scale set")
    parser.add_argument("--sqlite", type=Path, help="a SQLite file holding the scale set")
    parser.add_argument("--make-sqlite", type=Path, help="copy --url into this SQLite file first")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--incremental-only", action="store_true", help="after an earlier full run: only that")
    parser.add_argument("--copy-only", action="store_true", help="with --make-sqlite: copy, then stop (measure later)")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    if args.make_sqlite:
        if not args.url:
            parser.error("--make-sqlite needs --url")
        started = time.perf_counter()
        _make_sqlite(args.url, args.make_sqlite)
        print(f"copied into {args.make_sqlite} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if args.copy_only:
            return {"copied into": str(args.make_sqlite)}
        args.sqlite, args.url = args.make_sqlite, None
    if args.sqlite:
        _setup(f"sqlite:///{args.sqlite}")
    elif args.url:
        _setup(args.url)
    else:
        parser.error("give --url or --sqlite (a database holding the scale set)")
    return incremental_only() if args.incremental_only else measure(args.skip_incremental)


if __name__ == "__main__":
    for key, value in main().items():
        shown = f"{value:,}" if isinstance(value, int) else value
        print(f"{key:<64} {shown}")
