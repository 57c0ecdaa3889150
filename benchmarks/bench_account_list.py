"""Account list latency: keyset pagination against OFFSET, first page and a deep page.

200,000 accounts are inserted into a fresh SQLite database; the list is the one
every surface uses (``account_list``, with its owner, region and industry joins),
paged 50 at a time by ``patron.core.pagination.keyset_page`` and, for
comparison, by Django slicing (LIMIT/OFFSET) at the same depth. Each figure is
the median of several runs after one warm-up; the deep pages of both methods are
checked to hold the same rows. A last figure per case times the keyset condition
with a leading range bound, which lets the database seek instead of scan (a
proposed change to ``keyset_page``).

    python benchmarks/bench_account_list.py
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _django import remove, setup_django  # noqa: E402

ACCOUNTS = 200_000
PAGE = 50
DEPTH = 150_000  # rows before the deep page
REPEAT = 7
OWNERS = 8


def _median_ms(fn: Callable[[], Any]) -> float:
    fn()  # warm-up
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _insert_accounts() -> float:
    """Bulk-insert the accounts with executemany (200,000 ORM objects would take longer than the test)."""
    from django.db import connection, transaction

    from patron.accounts.models import Account, Industry, Region
    from patron.demo.catalogue import BRAND, INDUSTRIES, PROVINCES
    from patron.staff.models import User

    started = time.perf_counter()
    rng = random.Random(1)
    with transaction.atomic():
        User.objects.create(username="admin", role="admin", is_superuser=True, is_staff=True, password="!")
        owners = [User.objects.create(username=f"rep{i}", role="salesperson", password="!").pk for i in range(OWNERS)]
        country = Region.objects.create(code="CN", name_zh="中国", level="country")
        cities = []
        for p in PROVINCES:
            province = Region.objects.create(code=p.code, name_zh=p.zh, level="province", parent=country)
            for c in p.cities:
                city = Region.objects.create(code=f"{p.code}-{c.code}", name_zh=c.zh, level="city", parent=province)
                cities.append((city.pk, c.zh))
        industries = [
            (Industry.objects.create(code=i.code, name_zh=i.zh, name_en=i.en).pk, i.suffixes) for i in INDUSTRIES
        ]
        start = dt.datetime(2023, 11, 25, tzinfo=dt.UTC)
        columns = (
            *("code", "name", "kind", "region_id", "industry_id", "owner_id", "is_key_account"),
            *("payment_terms_days", "credit_limit", "preferred_channel", "language", "tax_id", "phone"),
            *("email", "address", "notes", "custom", "created_at", "updated_at"),
        )
        table = Account._meta.db_table
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        rows = []
        for n in range(1, ACCOUNTS + 1):
            city_id, city = rng.choice(cities)
            industry_id, suffixes = rng.choice(industries)
            (b1, _), (b2, _) = rng.sample(BRAND, 2)
            created = start + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
            stamp = created.strftime("%Y-%m-%d %H:%M:%S")
            name = f"{city}{b1}{b2}{rng.choice(suffixes)[0]}有限公司"
            owner = rng.choice(owners)
            rows.append(
                (
                    *(f"C{n:06d}", name, "company", city_id, industry_id, owner, False, 30, "0"),
                    *("phone", "zh-hans", "", "", "", "", "", "{}", stamp, stamp),
                )
            )
        with connection.cursor() as cursor:
            # Index pages are written in random order; a big cache keeps SQLite from spilling them.
            cursor.execute("PRAGMA cache_size = -400000")
            for i in range(0, len(rows), 20000):
                cursor.executemany(sql, rows[i : i + 20000])
    return time.perf_counter() - started


def _case(user: Any, sort: str, depth: int) -> dict[str, float]:
    from django.db.models import Q

    from patron.accounts.selectors import AccountFilters, account_list
    from patron.core.pagination import encode_cursor, keyset_page

    qs = account_list(user=user, filters=AccountFilters(sort=sort))
    field = sort.lstrip("-")
    before = qs[depth - 1]  # the last row of the page before the deep one
    cursor = encode_cursor(getattr(before, field), before.pk)
    deep_keyset = [a.pk for a in keyset_page(qs, sort=sort, cursor=cursor, limit=PAGE).items]
    deep_offset = [a.pk for a in qs[depth : depth + PAGE]]
    assert deep_keyset == deep_offset, "keyset and OFFSET disagree on the deep page"
    # The same condition with a leading range bound, (f >= v) AND (f > v OR id > pk): the database
    # can then start an index range scan at v instead of scanning the index from its start.
    op = "lt" if sort.startswith("-") else "gt"
    value = getattr(before, field)
    bounded = qs.filter(
        Q(**{f"{field}__{op}e": value}) & (Q(**{f"{field}__{op}": value}) | Q(**{f"id__{op}": before.pk}))
    )
    assert [a.pk for a in bounded[:PAGE]] == deep_offset
    return {
        "deep bounded": _median_ms(lambda: list(bounded[:PAGE])),
        "first keyset": _median_ms(lambda: keyset_page(qs, sort=sort, cursor=None, limit=PAGE).items),
        "first OFFSET": _median_ms(lambda: list(qs[:PAGE])),
        "deep keyset": _median_ms(lambda: keyset_page(qs, sort=sort, cursor=cursor, limit=PAGE).items),
        "deep OFFSET": _median_ms(lambda: list(qs[depth : depth + PAGE])),
    }


def main() -> dict[str, float | int]:
    tmp = setup_django()
    from patron.staff.models import User

    figures: dict[str, float | int] = {"accounts": ACCOUNTS}
    figures["insert accounts (s)"] = _insert_accounts()
    admin = User.objects.get(username="admin")
    rep = User.objects.get(username="rep0")
    rep_depth = min(DEPTH, ACCOUNTS // OWNERS - PAGE)
    for label, user, sort, depth in (
        ("all, by name", admin, "name", DEPTH),
        ("all, by code", admin, "code", DEPTH),
        ("all, newest first", admin, "-created_at", DEPTH),
        ("one salesperson, by name", rep, "name", rep_depth),
    ):
        result = _case(user, sort, depth)
        figures[f"{label}: first page, keyset (ms)"] = result["first keyset"]
        figures[f"{label}: first page, OFFSET (ms)"] = result["first OFFSET"]
        figures[f"{label}: page at row {depth:,}, keyset (ms)"] = result["deep keyset"]
        figures[f"{label}: page at row {depth:,}, OFFSET (ms)"] = result["deep OFFSET"]
        figures[f"{label}: OFFSET / keyset at depth"] = result["deep OFFSET"] / result["deep keyset"]
        figures[f"{label}: page at row {depth:,}, keyset with range bound (ms)"] = result["deep bounded"]
    remove(tmp)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:<62} {value:,.2f}" if isinstance(value, float) else f"{key:<62} {value:,}")
