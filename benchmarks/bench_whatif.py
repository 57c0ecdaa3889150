"""What-if replay of a draft discount policy over 1,000,000 confirmed order lines (bar: under 60 s).

Builds its own data set (the same for the same seed) in a throwaway database:

* a category tree (20 groups of 10), 5,000 products with list prices and unit costs;
* regions (China, 30 provinces, 10 cities each), 20 industries, 50,000 accounts;
* memberships of value tier and lifecycle stage for every account, one in ten of them moving
  class during the quarter (so "classes as of each order's date" has work to do);
* one quarter of confirmed orders (about 200,000 orders, 1,000,000 lines, 1 to 9 lines each, some sold
  below list by hand, across four channels), 1% of them with a return;
* an active rule book of 100 rules in five policies (classes, provinces, industries, everyone; every
  benefit kind; groups, exclusive rules, thresholds) and a draft policy of four rules.

Then replays the draft over the quarter exactly as a what-if run does (``analysis.replay``) and prints
the replay time, order lines per second, the carts the engine priced, and peak memory (this process and
its forked workers). Loading uses COPY on PostgreSQL and multi-row INSERTs on SQLite.

    python benchmarks/bench_whatif.py                      # PostgreSQL (a throwaway server, scripts/pg.sh)
    python benchmarks/bench_whatif.py --sqlite             # a SQLite file in a temporary directory
    python benchmarks/bench_whatif.py --lines 200000 --processes 1

Not run by ``benchmarks/run.py`` by default (it builds a million rows): ``python benchmarks/run.py whatif``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RUN_BY_DEFAULT = False
START = dt.date(2026, 7, 1)
END = dt.date(2026, 9, 30)
ACCOUNTS = 50_000
PRODUCTS = 5_000
GROUPS, LEAVES = 20, 10
PROVINCES, CITIES = 30, 10
INDUSTRIES = 20
TIERS = ("low", "mid", "high")
STAGES = ("new", "loyal", "at_risk")
CHANNELS = ("sales_rep", "sales_rep", "web_shop", "store", "phone")
CENT = Decimal("0.01")
DRAFT = "Draft: high tier and volume"


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def build(lines_wanted: int, seed: int = 5) -> dict[str, Any]:
    """The data set; returns what the replay needs (the draft policy) and how long each part took."""
    from django.db import transaction
    from django.utils import timezone

    from patron.accounts.models import Account, Industry, Region
    from patron.core.bulk import BulkInsert
    from patron.discounts.models import DiscountRule, Policy
    from patron.sales.models import Category, Order, OrderLine, Product, Return, ReturnLine
    from patron.segments.models import Classification, Membership, SegmentRun, Snapshot
    from patron.segments.services import install_builtins
    from patron.staff.models import User

    rnd = random.Random(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        install_builtins()
        owner = User.objects.create_user(username="bench", password="x", role="admin")
        groups = [Category.objects.create(code=f"G{g}", name_zh=f"组{g}", name_en=f"Group {g}") for g in range(GROUPS)]
        leaves = [
            Category.objects.create(code=f"G{g}L{i}", name_zh=f"类{g}-{i}", name_en=f"Leaf {g}-{i}", parent=groups[g])
            for g in range(GROUPS)
            for i in range(LEAVES)
        ]
        china = Region.objects.create(code="CN", name_zh="中国", name_en="China", level="country")
        provinces = [
            Region.objects.create(code=f"P{p}", name_zh=f"省{p}", level="province", parent=china)
            for p in range(PROVINCES)
        ]
        cities = [
            Region.objects.create(code=f"P{p}C{c}", name_zh=f"市{p}-{c}", level="city", parent=provinces[p])
            for p in range(PROVINCES)
            for c in range(CITIES)
        ]
        industries = [Industry.objects.create(code=f"I{i}", name_zh=f"行业{i}") for i in range(INDUSTRIES)]
        product_rows = []
        for n in range(PRODUCTS):
            price = Decimal(rnd.randint(20, 400)) + Decimal(rnd.choice([0, 50])) / 100
            cost = _q(price * Decimal(rnd.randint(45, 75)) / 100)
            product_rows.append((f"SKU{n:05d}", f"Product {n}", rnd.choice(leaves).pk, price, cost))
        BulkInsert(Product, ["sku", "name", "category_id", "list_price", "unit_cost"]).insert(product_rows)
        products = list(Product.objects.values_list("id", "list_price"))
        first_orders = {}
        rows = []
        for n in range(ACCOUNTS):
            first = START - dt.timedelta(days=rnd.randint(-80, 900))
            first_orders[n] = first
            rows.append(
                (f"BA{n:06d}", f"Account {n}", rnd.choice(cities).pk, rnd.choice(industries).pk, first, now, now)
            )
        BulkInsert(
            Account, ["code", "name", "region_id", "industry_id", "first_order_date", "created_at", "updated_at"]
        ).insert(rows)
        accounts = list(Account.objects.order_by("id").values_list("id", flat=True))
        timings["catalogue and accounts (s)"] = time.perf_counter() - started

        lap = time.perf_counter()
        membership_rows = []
        for key, classes in (("value_tier", TIERS), ("lifecycle", STAGES)):
            classification = Classification.objects.get(key=key)
            run = SegmentRun.objects.create(as_of=START, status=SegmentRun.DONE)
            snapshot = Snapshot.objects.create(
                run=run, classification=classification, as_of=START, period_start=START, period_end=START
            )
            for account in accounts:
                cls = rnd.choice(classes)
                if rnd.random() < 0.1:
                    moved = START + dt.timedelta(days=rnd.randint(10, 80))
                    membership_rows.append((classification.pk, account, cls, snapshot.pk, START, moved))
                    membership_rows.append((classification.pk, account, rnd.choice(classes), snapshot.pk, moved, None))
                else:
                    membership_rows.append((classification.pk, account, cls, snapshot.pk, START, None))
        BulkInsert(
            Membership, ["classification_id", "account_id", "class_key", "snapshot_id", "valid_from", "valid_to"]
        ).insert(membership_rows)
        timings["memberships (s)"] = time.perf_counter() - lap

        lap = time.perf_counter()
        days = (END - START).days + 1
        order_rows = []
        plans = []
        total_lines = 0
        n = 0
        while total_lines < lines_wanted:
            count = min(rnd.randint(1, 9), lines_wanted - total_lines)
            day = START + dt.timedelta(days=rnd.randrange(days))
            moment = dt.datetime.combine(day, dt.time(rnd.randint(8, 19), rnd.randint(0, 59)), tzinfo=dt.UTC)
            chosen = rnd.sample(products, count)
            lines = []
            list_total = net_total = Decimal(0)
            for position, (product_id, price) in enumerate(chosen, start=1):
                quantity = Decimal(rnd.choice([1, 1, 2, 3, 5, 10, 12, 20, 50]))
                net = price if rnd.random() < 0.7 else _q(price * Decimal(rnd.randint(85, 99)) / 100)
                total = _q(quantity * net)
                lines.append((position, product_id, quantity, price, net, total))
                list_total += _q(quantity * price)
                net_total += total
            order_rows.append(
                (
                    f"WI{n:07d}",
                    accounts[rnd.randrange(len(accounts))],
                    Order.CONFIRMED,
                    rnd.choice(CHANNELS),
                    "CNY",
                    day,
                    list_total,
                    net_total,
                    moment,
                    moment,
                )
            )
            plans.append(lines)
            total_lines += count
            n += 1
        BulkInsert(
            Order,
            [
                "number",
                "account_id",
                "status",
                "channel",
                "currency",
                "order_date",
                "list_total",
                "net_total",
                "created_at",
                "confirmed_at",
            ],
        ).insert(order_rows)
        ids = dict(Order.objects.filter(number__startswith="WI").values_list("number", "id"))
        line_rows = [
            (ids[row[0]], position, product_id, quantity, price, net, total)
            for row, lines in zip(order_rows, plans, strict=True)
            for position, product_id, quantity, price, net, total in lines
        ]
        del plans
        BulkInsert(
            OrderLine,
            ["order_id", "position", "product_id", "quantity", "list_unit_price", "net_unit_price", "line_total"],
        ).insert(line_rows)
        del line_rows
        timings["orders and lines (s)"] = time.perf_counter() - lap

        lap = time.perf_counter()
        returned = rnd.sample(order_rows, len(order_rows) // 100)
        BulkInsert(
            Return, ["number", "order_id", "account_id", "return_date", "currency", "total", "created_at"]
        ).insert(
            [(f"WR{i:06d}", ids[row[0]], row[1], row[5], "CNY", Decimal(0), now) for i, row in enumerate(returned)]
        )
        returns = dict(Return.objects.filter(number__startswith="WR").values_list("order_id", "id"))
        first_lines = dict(
            OrderLine.objects.filter(order_id__in=list(returns), position=1).values_list("order_id", "id")
        )
        BulkInsert(ReturnLine, ["ret_id", "order_line_id", "quantity", "amount"]).insert(
            [(ret, first_lines[order_id], Decimal(1), Decimal("1.00")) for order_id, ret in returns.items()]
        )
        timings["returns (s)"] = time.perf_counter() - lap

        lap = time.perf_counter()
        for p in range(5):
            policy = Policy.objects.create(name=f"Active {p}", status=Policy.ACTIVE, owner=owner)
            DiscountRule.objects.bulk_create(
                [
                    DiscountRule(policy=policy, name=f"rule {p}-{i}", priority=rnd.randint(0, 100), definition=d)
                    for i in range(20)
                    for d in [_active_rule(rnd, groups, leaves, provinces, industries, products)]
                ]
            )
        draft = Policy.objects.create(name=DRAFT, status=Policy.DRAFT, owner=owner)
        DiscountRule.objects.bulk_create(
            [
                DiscountRule(policy=draft, name=name, priority=priority, definition=definition)
                for name, priority, definition in _draft_rules(groups, provinces, industries)
            ]
        )
        timings["policies (s)"] = time.perf_counter() - lap
    return {"draft": draft, "orders": len(order_rows), "lines": total_lines, "timings": timings}


def _active_rule(
    rnd: random.Random,
    groups: list[Any],
    leaves: list[Any],
    provinces: list[Any],
    industries: list[Any],
    products: list[Any],
) -> dict[str, Any]:
    shape = rnd.random()
    if shape < 0.35:
        who: dict[str, Any] = {"classes": [f"value_tier:{rnd.choice(TIERS)}"]}
    elif shape < 0.45:
        who = {"stages": [rnd.choice(STAGES)]}
    elif shape < 0.7:
        who = {"regions": [rnd.choice(provinces).pk]}
    elif shape < 0.85:
        who = {"industries": [rnd.choice(industries).pk]}
    else:
        who = {}
    what: dict[str, Any] = {"categories": [rnd.choice(leaves + groups).pk]}
    kind = rnd.choices(
        ["percent_off", "amount_off_unit", "fixed_price", "tiers", "buy_get", "spend_save", "cart_amount_off"],
        weights=[40, 15, 5, 15, 5, 10, 10],
    )[0]
    benefit: dict[str, Any]
    if kind == "percent_off":
        benefit = {"kind": kind, "percent": str(rnd.randint(2, 12))}
    elif kind == "amount_off_unit":
        benefit = {"kind": kind, "amount": f"{rnd.randint(1, 5)}.00"}
    elif kind == "fixed_price":
        product_id, price = rnd.choice(products)
        what = {"products": [product_id]}
        benefit = {"kind": kind, "price": str(_q(price * Decimal("0.9")))}
    elif kind == "tiers":
        benefit = {"kind": kind, "tiers": [{"from": "10", "percent": "3"}, {"from": "50", "percent": "6"}]}
    elif kind == "buy_get":
        benefit = {"kind": kind, "buy": rnd.randint(3, 10), "free": 1}
    elif kind == "spend_save":
        benefit = {"kind": kind, "spend": "1000", "save": "50", "repeat": rnd.random() < 0.5}
    else:
        benefit = {"kind": kind, "amount": str(rnd.randint(10, 60))}
    when: dict[str, Any] = {}
    if rnd.random() < 0.2:
        when["min_quantity"] = str(rnd.choice([5, 10, 20]))
    if rnd.random() < 0.1:
        when["channels"] = ["web_shop"]
    stacking = {"exclusive": rnd.random() < 0.05, "group": rnd.choice(["", "", "", "volume", "season"])}
    return {"who": who, "what": what, "when": when, "benefit": benefit, "stacking": stacking}


def _draft_rules(
    groups: list[Any], provinces: list[Any], industries: list[Any]
) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (
            "High tier: 5% on the first five groups",
            60,
            {
                "who": {"classes": ["value_tier:high"]},
                "what": {"categories": [g.pk for g in groups[:5]]},
                "benefit": {"kind": "percent_off", "percent": "5"},
            },
        ),
        (
            "Volume tiers in three provinces",
            40,
            {
                "who": {"regions": [p.pk for p in provinces[:3]]},
                "benefit": {
                    "kind": "tiers",
                    "tiers": [{"from": "20", "percent": "2"}, {"from": "60", "percent": "4"}],
                },
            },
        ),
        (
            "Spend 2,000 save 100, two industries",
            20,
            {
                "who": {"industries": [industries[0].pk, industries[1].pk]},
                "benefit": {"kind": "spend_save", "spend": "2000", "save": "100", "repeat": True},
            },
        ),
        (
            "Loyal customers: buy 10 get 1 in group 6",
            10,
            {
                "who": {"stages": ["loyal"]},
                "what": {"categories": [groups[5].pk]},
                "benefit": {"kind": "buy_get", "buy": 10, "free": 1},
            },
        ),
    ]


def _peak_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def measure(processes: int | None, as_of: str) -> dict[str, Any]:
    """Replay the draft over the quarter (in a process of its own: its peak memory is the replay's)."""
    from django.db import connection

    from patron.discounts import analysis
    from patron.discounts.models import Policy
    from patron.segments.models import Classification

    spec = analysis.WhatIfSpec(
        period="custom",
        start=START,
        end=END,
        classification=Classification.objects.get(key="value_tier"),
        classes_as_of=as_of,
    )
    draft = Policy.objects.get(name=DRAFT)
    cpu = os.times()
    started = time.perf_counter()
    outcome = analysis.replay(draft, spec, processes=processes)
    elapsed = time.perf_counter() - started
    after = os.times()
    cpu_seconds = sum(after[:4]) - sum(cpu[:4])  # this process and its workers, user + system
    own, children = _peak_mib()
    totals = outcome.data["totals"]
    bar = "met" if elapsed < 60 else "MISSED"
    if outcome.lines < 1_000_000:
        bar = "n/a (fewer than 1,000,000 lines)"
    return {
        "database": connection.vendor,
        "classes as of": as_of,
        "order lines replayed": outcome.lines,
        "orders replayed": totals["orders"],
        "carts priced by the engine (current, with the draft)": outcome.data["orders_priced"],
        "processes": outcome.timings["processes"],
        "replay wall time (s)": round(elapsed, 2),
        "  loading rules, products, account profiles (s)": outcome.timings["load"],
        "  reading and pricing the orders (s)": outcome.timings["replay"],
        "replay CPU time, all processes (s)": round(cpu_seconds, 1),
        "order lines per second": round(outcome.lines / elapsed),
        "peak memory, main process (MiB)": round(own),
        "peak memory, largest worker (MiB)": round(children) if outcome.timings["processes"] > 1 else "-",
        "bar: 1,000,000 lines under 60 s": bar,
        "discount actual / current rules / with the draft": " / ".join(
            (totals["actual_discount"], totals["current_discount"], totals["policy_discount"])
        ),
    }


def _setup(url: str) -> None:
    import tempfile

    import _pg

    _pg.setup_django(url, Path(tempfile.mkdtemp(prefix="patron-bench-var-")))


def _elsewhere(*args: str) -> dict[str, Any]:
    """This script in a child process (building, or measuring with nothing else in its memory)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(
    lines: int = 1_000_000,
    sqlite: bool = False,
    processes: int | None = None,
    as_of: str = "order_date",
    url: str | None = None,
) -> dict[str, Any]:
    import shutil
    import tempfile

    server = None
    tmp = None
    figures: dict[str, Any] = {}
    try:
        if url is None and sqlite:
            tmp = Path(tempfile.mkdtemp(prefix="patron-bench-whatif-"))
            url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        elif url is None:
            import _pg

            server = _pg.Server()
            url = server.url
        if server is not None or tmp is not None:
            started = time.perf_counter()
            built = _elsewhere("--build-into", url, "--lines", str(lines))
            figures["data set built (s)"] = round(time.perf_counter() - started, 1)
            for name, seconds in built["timings"].items():
                figures[f"  {name}"] = round(seconds, 1)
        options = ["--measure", url, "--as-of", as_of]
        if processes is not None:
            options += ["--processes", str(processes)]
        figures.update(_elsewhere(*options))
        return figures
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of a throwaway PostgreSQL")
    parser.add_argument("--processes", type=int, default=None, help="worker processes (default: up to 2 cores)")
    parser.add_argument("--as-of", choices=["order_date", "period_end"], default="order_date")
    parser.add_argument("--url", help="replay on a database that already holds the data set (--build-into)")
    parser.add_argument("--build-into", metavar="URL", help="only build the data set into this (empty) database")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_into:
        _setup(args.build_into)
        made = build(args.lines)
        print(json.dumps({"draft": made["draft"].pk, "timings": made["timings"]}))
    elif args.measure:
        _setup(args.measure)
        print(json.dumps(measure(args.processes, args.as_of)))
    else:
        for key, value in main(args.lines, args.sqlite, args.processes, args.as_of, args.url).items():
            print(f"{key:<58} {value}")
