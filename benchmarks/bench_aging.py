"""The aging report over a million open invoices on PostgreSQL, on this machine.

Starts a throwaway PostgreSQL, migrates it, makes 200,000 accounts (owned by 20 salespeople) and
1,000,000 invoices (all open, some partly paid, due from 200 days ago to 60 days ahead, a few in USD),
then times what the receivables page asks for, as finance (every account) and as one salesperson:

- the totals: one GROUP BY currency with a conditional sum per bucket, DSO over the last 90 days;
- the first page of accounts, most overdue first: one GROUP BY account and currency, sorted, 50 rows,
  with its count for the pager, and the page's accounts, risk (broken promises) and DSO;

and, as the floor, the bare GROUP BY account of the outstanding amounts in SQL.

Bar (issue 8): the aging report over 1,000,000 invoices on PostgreSQL in under 10 s.

    python benchmarks/bench_aging.py [--invoices 1000000]

Not run by ``benchmarks/run.py`` by default (a PostgreSQL server, a million rows):
``python benchmarks/run.py aging``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

RUN_BY_DEFAULT = False
INVOICES = 1_000_000
ACCOUNTS = 200_000
BAR = 10.0  # seconds for the report over a million invoices (issue 8)


def _load(invoices: int, accounts: int) -> dict[str, Any]:
    from django.db import connection

    from patron.accounts.models import Account
    from patron.staff.models import User

    # Unusable passwords: hashing 21 of them would be most of the loading time.
    finance = User.objects.create(username="finance", role="finance", password="!")
    sellers = [User.objects.create(username=f"sales{i}", role="salesperson", password="!") for i in range(20)]
    batch = 20_000
    for start in range(0, accounts, batch):
        Account.objects.bulk_create(
            [
                Account(code=f"B{n:07d}", name=f"Bench {n}", owner=sellers[n % len(sellers)])
                for n in range(start, min(start + batch, accounts))
            ]
        )
    first = Account.objects.order_by("pk").values_list("pk", flat=True).first()
    with connection.cursor() as cursor:
        # Due from 200 days ago to 60 days ahead; issued 30 days before; a third partly paid; 2% in USD.
        cursor.execute(
            """
            INSERT INTO sales_invoice (number, account_id, order_id, currency, issue_date, due_date, amount,
                                       paid_amount, status, idempotency_key, created_by_id, created_at)
            SELECT 'INV' || lpad(g::text, 8, '0'),
                   %s + (g * 7919) %% %s,
                   NULL,
                   CASE WHEN g %% 50 = 0 THEN 'USD' ELSE 'CNY' END,
                   CURRENT_DATE - ((g * 31) %% 260)::int + 60 - 30,
                   CURRENT_DATE - ((g * 31) %% 260)::int + 60,
                   (100 + (g * 37) %% 9900)::numeric,
                   CASE WHEN g %% 3 = 0 THEN 50 ELSE 0 END,
                   'open', NULL, NULL, now()
            FROM generate_series(1::bigint, %s::bigint) AS g
            """,
            [first, accounts, invoices],
        )
        cursor.execute("INSERT INTO sales_exchangerate (currency, valid_from, rate) VALUES ('USD', '2020-01-01', 7.1)")
        cursor.execute("VACUUM ANALYZE sales_invoice")
        cursor.execute("VACUUM ANALYZE accounts_account")
    return {"finance": finance, "seller": sellers[0]}


def _report(user: Any, today: Any) -> tuple[float, float, Any, list[dict[str, Any]]]:
    from patron.receivables import selectors

    t0 = time.perf_counter()
    totals = selectors.aging_totals(user=user, today=today)
    t1 = time.perf_counter()
    page = selectors.aging_page(user=user, today=today, filters=selectors.Filters(), totals=totals, number=1)
    rows = selectors.decorate(list(page.object_list), today)
    t2 = time.perf_counter()
    assert page.paginator.count > 0
    return t1 - t0, t2 - t1, totals, rows


def main(invoices: int = INVOICES, accounts: int = ACCOUNTS) -> dict[str, Any]:
    import _pg

    server = _pg.Server()
    figures: dict[str, Any] = {}
    try:
        _pg.setup_django(server.url, server.dir / "var")
        from django.db import connection
        from django.utils import timezone

        started = time.perf_counter()
        people = _load(invoices, accounts)
        figures["invoices (open)"] = invoices
        figures["accounts"] = accounts
        figures["loading (s, not timed against the bar)"] = round(time.perf_counter() - started, 1)
        today = timezone.localdate()

        _report(people["finance"], today)  # warm the caches once, as a page seen twice would be
        pg_cpu = _pg.postgres_cpu_seconds(server)
        totals_s, page_s, totals, rows = _report(people["finance"], today)
        pg_cpu = _pg.postgres_cpu_seconds(server) - pg_cpu
        whole = totals_s + page_s
        assert totals.company["owed"] > 0
        assert len(rows) == 50
        figures["FINANCE (all accounts): report wall (s)"] = round(whole, 2)
        figures["  totals and DSO (s)"] = round(totals_s, 2)
        figures["  first page, 50 accounts most overdue, with count (s)"] = round(page_s, 2)
        figures["  CPU of PostgreSQL (s)"] = round(pg_cpu, 2)
        figures["  owed (CNY, USD converted)"] = str(totals.company["owed"])
        figures["  DSO (days)"] = str(totals.dso)
        seller_totals, seller_page, _t, _r = _report(people["seller"], today)
        figures["ONE SALESPERSON (1/20 of accounts): report wall (s)"] = round(seller_totals + seller_page, 2)

        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            cursor.execute(
                "SELECT account_id, currency, SUM(amount - paid_amount) FROM sales_invoice "
                "WHERE status = 'open' GROUP BY account_id, currency"
            )
            groups = len(cursor.fetchall())
            floor = time.perf_counter() - t0
        figures["FLOOR: bare GROUP BY account in SQL (s)"] = round(floor, 2)
        figures["  groups"] = groups
        figures["  report / floor"] = round(whole / floor, 1) if floor else "n/a"
        figures["peak memory of this process (MiB)"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        scaled = whole * INVOICES / invoices
        figures["ratio to the bar (time / 10 s, at a million)"] = round(scaled / BAR, 2)
        figures["  bar: under 10 s for 1,000,000 invoices"] = (
            ("met" if whole < BAR else "MISSED") if invoices >= INVOICES else "n/a (fewer invoices)"
        )
        return figures
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=INVOICES)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    args = parser.parse_args()
    for key, value in main(args.invoices, args.accounts).items():
        print(f"{key:<56} {value}")
