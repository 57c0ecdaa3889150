"""Rebates at scale: settle a quarter for 100,000 accounts over 5,000,000 order lines on PostgreSQL
(bar: under 60 s), and the accrual update each recorded order costs (bar: under 5 ms).

Builds the what-if benchmark's data set (``bench_whatif.build``: a quarter of confirmed orders with
1 to 9 lines, 1% with a return) with 100,000 accounts, then one active quarterly program with
retroactive tiers and an agreement for every account. Times ``settlement_start`` (every agreement's
line computed from its documents and written in chunks) and then records 1,000 orders through the
sales service, timing the rebate listener that runs inside each order's transaction.

    python benchmarks/bench_rebates.py [--lines 5000000] [--accounts 100000] [--orders 1000] [--approve]

Not run by ``benchmarks/run.py`` by default (it builds five million rows): ``python benchmarks/run.py rebates``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

RUN_BY_DEFAULT = False
TERMS = {
    "basis": "amount",
    "mode": "retroactive",
    "threshold": "5000",
    "tiers": [{"from": "0", "percent": "1"}, {"from": "20000", "percent": "2"}, {"from": "60000", "percent": "3"}],
}


def main(lines: int = 5_000_000, accounts: int = 100_000, orders: int = 1_000, approve: bool = False) -> dict[str, Any]:
    import _pg
    import bench_whatif

    server = _pg.Server()
    figures: dict[str, Any] = {}
    try:
        _pg.setup_django(server.url, Path(tempfile.mkdtemp(prefix="patron-bench-rebates-")))
        from django.db import connection
        from django.utils import timezone

        from patron.accounts.models import Account
        from patron.core.bulk import BulkInsert
        from patron.rebates import accrual
        from patron.rebates.models import RebateAgreement, RebateProgram, RebateSettlementLine
        from patron.rebates.settlement import settlement_start, settlement_total
        from patron.sales import hooks
        from patron.sales import services as sales
        from patron.sales.models import OrderLine, Product
        from patron.staff.models import User

        bench_whatif.ACCOUNTS = accounts
        started = time.perf_counter()
        built = bench_whatif.build(lines)
        figures["data set built (s)"] = round(time.perf_counter() - started, 1)
        figures["order lines"] = OrderLine.objects.count()
        figures["orders"] = built["orders"]
        figures["accounts"] = Account.objects.count()

        owner = User.objects.get(username="bench")
        finance = User.objects.create_user(username="finance", password="x", role="finance")
        approver = User.objects.create_user(username="finance2", password="x", role="finance")
        program = RebateProgram.objects.create(
            name="Quarterly volume",
            status=RebateProgram.ACTIVE,
            period_kind="quarter",
            effective_from=dt.date(2026, 1, 1),
            terms=TERMS,
            owner=owner,
        )
        now = timezone.now()
        ids = list(Account.objects.values_list("id", flat=True))
        BulkInsert(RebateAgreement, ["program_id", "account_id", "signed_on", "valid_from", "created_at"]).insert(
            [(program.pk, pk, dt.date(2026, 1, 1), dt.date(2026, 1, 1), now) for pk in ids]
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        settlement = settlement_start(actor=finance, program=program, day=bench_whatif.START)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        written = RebateSettlementLine.objects.filter(settlement=settlement).count()
        figures["settlement lines written"] = written
        figures["SETTLE a quarter, wall (s)"] = round(elapsed, 1)
        figures["  CPU of this process (s)"] = round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 1)
        figures["  order lines per second"] = round(figures["order lines"] / elapsed)
        figures["  total due"] = str(settlement_total(settlement))
        figures["  peak memory (MiB)"] = round(after.ru_maxrss / 1024)
        figures["  bar: under 60 s for 5,000,000 lines"] = (
            ("met" if elapsed < 60 else "MISSED") if figures["order lines"] >= 5_000_000 else "n/a (fewer lines)"
        )
        if approve:
            from patron.rebates.settlement import settlement_approve

            started = time.perf_counter()
            settlement_approve(actor=approver, settlement=settlement)
            figures["approve and pay, one credit note per account (s)"] = round(time.perf_counter() - started, 1)

        # The accrual each recorded order costs, measured inside the order's transaction.
        timings: list[float] = []

        def timed(event: Any) -> None:
            t0 = time.perf_counter()
            accrual.documents_changed(event)
            timings.append(time.perf_counter() - t0)

        hooks._LISTENERS[:] = [timed if fn is accrual.documents_changed else fn for fn in hooks._LISTENERS]
        rnd = random.Random(9)
        products = list(Product.objects.order_by("?").values_list("id", flat=True)[:200])
        accounts_by_id = Account.objects.in_bulk(rnd.sample(ids, min(orders, len(ids))))
        catalogue = Product.objects.in_bulk(products)
        day = timezone.localdate()
        whole: list[float] = []
        for account in list(accounts_by_id.values())[:orders]:
            chosen = [catalogue[p] for p in rnd.sample(products, 3)]
            t0 = time.perf_counter()
            sales.order_create(
                actor=owner,
                account=account,
                lines=[sales.LineInput(product=p, quantity=Decimal(rnd.randint(1, 20))) for p in chosen],
                order_date=day,
                confirm=True,
            )
            whole.append(time.perf_counter() - t0)
        timings.sort()
        figures["ACCRUAL per recorded order, p50 (ms)"] = round(statistics.median(timings) * 1000, 2)
        figures["  p95 (ms)"] = round(timings[int(len(timings) * 0.95)] * 1000, 2)
        figures["  the whole order_create with confirm, p50 (ms)"] = round(statistics.median(whole) * 1000, 1)
        figures["  bar: under 5 ms"] = "met" if statistics.median(timings) < 0.005 else "MISSED"
        return figures
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--approve", action="store_true", help="also time approving (a credit note per account)")
    args = parser.parse_args()
    for key, value in main(args.lines, args.accounts, args.orders, args.approve).items():
        print(f"{key:<52} {value}")
