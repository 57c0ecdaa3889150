"""How fast an orders file imports: 100,000 lines (25,000 orders of 4 lines) in GB18030 CSV.

Figures, each measured in this one run:
* upload (decode, parse, map the header), the dry run, and the real run: seconds and rows/s;
* the same file as XLSX: upload (the header and first rows only, streamed), the mapping page's preview,
  the full read the check starts with, and the dry run (which includes that read);
* undo of the whole import.

Bar (issue 3): the real run of the 100,000-row file under 60 s.

    python benchmarks/bench_import.py [--rows 100000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _django import fresh_environment, remove  # noqa: E402

ACCOUNTS = 2000
PRODUCTS = 200
LINES_PER_ORDER = 4


def _reference() -> tuple[list[str], dict[str, str]]:
    from patron.accounts.models import Account
    from patron.sales.models import Product
    from patron.staff.models import User

    admin = User.objects.create_user("bench", password="x", role="admin", is_superuser=True, is_staff=True)
    Account.objects.bulk_create(
        [Account(code=f"C{i:05}", name=f"客户{i}", owner=admin) for i in range(ACCOUNTS)], batch_size=1000
    )
    rng = random.Random(7)
    prices = {f"SKU{i:04}": str(Decimal(rng.randint(100, 99999)) / 100) for i in range(PRODUCTS)}
    Product.objects.bulk_create([Product(sku=sku, name=f"产品{sku}", list_price=p) for sku, p in prices.items()])
    return [f"C{i:05}" for i in range(ACCOUNTS)], prices


def _orders_csv(rows: int, codes: list[str], prices: dict[str, str]) -> str:
    rng = random.Random(42)
    skus = list(prices)
    out = ["订单号,客户编号,订单日期,产品编号,数量,单价,金额"]
    start = dt.date(2025, 1, 1)
    for n in range(rows // LINES_PER_ORDER):
        code = rng.choice(codes)
        day = start + dt.timedelta(days=rng.randrange(600))
        for sku in rng.sample(skus, LINES_PER_ORDER):
            quantity = rng.randint(1, 50)
            price = prices[sku]
            total = f"{Decimal(price) * quantity:,.2f}"
            out.append(f'IMP{n:07},{code},{day:%Y/%m/%d},{sku},{quantity},{price},"{total}"')
    return "\n".join(out) + "\n"


def _xlsx(text: str) -> bytes:
    import csv

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in csv.reader(io.StringIO(text)):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _timed(label: str, rows: int, fn, results: list[tuple[str, float, int]]):  # type: ignore[no-untyped-def]
    wall = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - wall
    results.append((label, seconds, rows))
    print(f"  {label:<40} {seconds:8.1f} s  {rows / seconds:10,.0f} rows/s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="Run on this (empty) PostgreSQL database instead.")
    args = parser.parse_args()
    tmp = fresh_environment("patron-bench-import-")
    if args.database_url:
        os.environ["PATRON_DATABASE_URL"] = args.database_url
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    from patron.imports.files import read_table
    from patron.imports.models import ImportJob
    from patron.imports.preview import preview_rows
    from patron.imports.services import job_create, job_execute, job_undo, rows_exact
    from patron.sales.models import Order, OrderLine
    from patron.staff.models import User

    codes, prices = _reference()
    actor = User.objects.get(username="bench")
    text = _orders_csv(args.rows, codes, prices)
    data = text.encode("gb18030")
    rows = args.rows
    print(f"Orders file: {rows:,} lines, {len(data) / 1e6:.1f} MB GB18030 CSV; database: {connection.vendor}")
    results: list[tuple[str, float, int]] = []
    job = _timed(
        "upload (decode, parse, map)",
        rows,
        lambda: job_create(actor=actor, kind="orders", file_name="orders.csv", data=data),
        results,
    )
    job = _timed("dry run (check every row)", rows, lambda: job_execute(actor=actor, job=job, dry_run=True), results)
    assert job.error_count == 0, job.report[:5]
    job = _timed("run (check and write)", rows, lambda: job_execute(actor=actor, job=job, dry_run=False), results)
    assert job.status == ImportJob.DONE, job.report[:5]
    assert OrderLine.objects.count() == rows
    orders = Order.objects.count()
    _timed("undo", rows, lambda: job_undo(actor=actor, job=job), results)
    assert not Order.objects.exists()
    book = _xlsx(text)
    print(f"Same file as XLSX: {len(book) / 1e6:.1f} MB")
    xjob = _timed(
        "XLSX upload (header and first rows)",
        rows,
        lambda: job_create(actor=actor, kind="orders", file_name="orders.xlsx", data=book),
        results,
    )
    stated = f"about {xjob.total_rows:,}" if xjob.total_rows else "not stated (counted by the check)"
    print(f"  {'':<40} rows at upload: {stated}; exact: {rows_exact(xjob)}")
    _timed("XLSX preview (mapping page, first view)", rows, lambda: preview_rows(xjob), results)
    _timed("XLSX full read (first step of a check)", rows, lambda: read_table(book, "orders.xlsx"), results)
    xjob = _timed("XLSX dry run", rows, lambda: job_execute(actor=actor, job=xjob, dry_run=True), results)
    assert xjob.total_rows == rows
    assert xjob.error_count == 0
    run_seconds = next(s for label, s, _r in results if label.startswith("run"))
    print(f"Orders written: {orders:,}; run under the 60 s bar: {'yes' if run_seconds < 60 else 'NO'}")
    remove(tmp)


if __name__ == "__main__":
    main()
