"""Account list latency on PostgreSQL at the scale set's 1,000,000 accounts: p50 and p95 per filter.

The list is what every surface uses: ``account_list`` (scoped to the user, with its
owner, region and industry joins) paged 50 rows at a time by ``keyset_page``, as
the list page and the API do. For each filter the list page offers (owner,
region with its sub-regions, industry, key account, tag, search, sort by name,
code or newest, a salesperson's and a manager's own lists) it times the first page
and a deep page (a cursor far into the list), ``--runs`` times each after a
warm-up, and prints p50 and p95 in milliseconds. The bar is p95 under 100 ms.
With ``--explain`` the plan (EXPLAIN ANALYZE) of every page slower than the bar
is printed too. The whole list page (filters, rows, what each account owes,
template) is timed for two users at the end.

    python benchmarks/bench_account_list_pg.py --url postgres://...   # a database holding the scale set
    python benchmarks/bench_account_list_pg.py                        # start PostgreSQL, load 1,000,000 accounts first
    python benchmarks/bench_account_list_pg.py --accounts 100000      # smaller, quicker

With ``--url`` the database is migrated if it is behind, otherwise only read. Not part of ``benchmarks/run.py`` by
default (it needs the scale set): ``python benchmarks/run.py list_pg`` runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _pg import Server, setup_django  # noqa: E402

RUN_BY_DEFAULT = False  # benchmarks/run.py runs it only when asked by name
TODAY = dt.date(2026, 11, 25)
PAGE = 50
BAR_MS = 100.0


@dataclass
class Case:
    label: str
    user: str
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "name"


def _cases(search_name: str, search_short: str, code: str, city: str) -> list[Case]:
    return [
        Case("all, by name", "admin"),
        Case("all, by code", "admin", sort="code"),
        Case("all, newest first", "admin", sort="-created_at"),
        Case("owner = sales (admin filters), by name", "admin", {"owner": "sales"}),
        Case("a salesperson's own list, by name", "sales"),
        Case("a salesperson's own list, newest first", "sales", sort="-created_at"),
        Case("a manager's team, by name", "manager"),
        Case("region Guangdong with its cities, by name", "admin", {"region": "GD"}),
        Case(f"region city {city}, by code", "admin", {"region": city}, sort="code"),
        Case(f"region city {city}, by name", "admin", {"region": city}),
        Case("region Anhui (a small province), by name", "admin", {"region": "AH"}),
        Case("region Anhui (a small province), by code", "admin", {"region": "AH"}, sort="code"),
        Case("industry retail, by name", "admin", {"industry": "RETAIL"}),
        Case("key accounts, newest first", "admin", {"key_account": True}, sort="-created_at"),
        Case("tag VIP, by name", "admin", {"tags": ["VIP"]}),
        Case("tag 出口 (rare), by name", "admin", {"tags": ["出口"]}),
        Case(
            "region + industry + key account, by name",
            "admin",
            {"region": "GD", "industry": "RETAIL", "key_account": True},
        ),
        Case("owner + tag, by code", "admin", {"owner": "sales", "tags": ["价格敏感"]}, sort="code"),
        Case(f"search {search_name!r} (part of a name), by name", "admin", {"q": search_name}),
        Case(f"search {search_short!r} (two characters), by name", "admin", {"q": search_short}),
        Case(f"search {code!r} (a code)", "admin", {"q": code}, sort="code"),
        Case(f"salesperson searches {search_short!r}, by name", "sales", {"q": search_short}),
    ]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _time(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()
    fn()  # warm-up: plans cached, pages in memory
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _filters(case: Case, users: dict[str, Any]) -> Any:
    from patron.accounts.selectors import AccountFilters

    values = dict(case.filters)
    if "owner" in values:
        values["owner"] = users[values["owner"]].pk
    return AccountFilters(sort=case.sort, **values)


def _deep_cursor(qs: Any, sort: str) -> tuple[str | None, int]:
    """A cursor deep into the list: after row 100,000, or halfway through a shorter one."""
    from patron.core.pagination import encode_cursor

    total = qs.count()
    depth = min(100_000, total // 2)
    if depth < PAGE:
        return None, 0
    row = qs[depth - 1]
    field_name = sort.lstrip("-")
    return encode_cursor(getattr(row, field_name), row.pk), depth


def _examples() -> tuple[str, str, str, str]:
    """Search terms taken from the data: part of a real name, two characters of it, a code, a small city."""
    from django.db.models import Count

    from patron.accounts.models import Account, Region

    code = Account.objects.order_by("id").values_list("code", flat=True)[Account.objects.count() // 2]
    company = Account.objects.filter(kind="company").order_by("id").values_list("name", flat=True)[1000]
    city = Region.objects.filter(level="city").annotate(n=Count("accounts")).filter(n__gt=0).order_by("n").first()
    assert city is not None
    brand = company[3:7] if len(company) > 8 else company[:4]
    return brand, brand[:2], code, city.code


def measure(runs: int, explain: bool) -> dict[str, Any]:
    from django.db import connection

    from patron.accounts.models import Account
    from patron.accounts.selectors import account_list
    from patron.core.pagination import keyset_page
    from patron.staff.models import User

    users = {u.username: u for u in User.objects.filter(username__in=["admin", "sales", "manager"])}
    search_name, search_short, code, city = _examples()
    figures: dict[str, Any] = {"accounts": Account.objects.count(), "runs per figure": runs}
    slow: list[str] = []
    for case in _cases(search_name, search_short, code, city):
        user = users[case.user]
        filters = _filters(case, users)

        def page(cursor: str | None, user: Any = user, filters: Any = filters, sort: str = case.sort) -> list[Any]:
            qs = account_list(user=user, filters=filters)
            return keyset_page(qs, sort=sort, cursor=cursor, limit=PAGE).items

        first = _time(lambda page=page: page(None), runs)
        cursor, depth = _deep_cursor(account_list(user=user, filters=filters), case.sort)
        results = {"first page": first}
        if cursor is not None:
            results[f"page after row {depth:,}"] = _time(lambda page=page, cursor=cursor: page(cursor), runs)
        for which, times in results.items():
            p50, p95 = _percentile(times, 0.5), _percentile(times, 0.95)
            figures[f"{case.label}: {which}, p50 / p95 (ms)"] = f"{p50:.1f} / {p95:.1f}"
            if p95 > BAR_MS:
                slow.append(f"{case.label}: {which}")
                if explain:
                    qs = account_list(user=user, filters=filters)
                    sql_cursor = cursor if which != "first page" else None
                    plan = _explain(qs, case.sort, sql_cursor)
                    print(f"--- {case.label}, {which}: p95 {p95:.1f} ms\n{plan}\n")
    figures["pages over the bar (p95 > 100 ms)"] = ", ".join(slow) or "none"
    figures.update(_pages(users, runs))
    with connection.cursor() as c:
        c.execute("SHOW shared_buffers")
        figures["shared_buffers"] = c.fetchone()[0]
    return figures


def _explain(qs: Any, sort: str, cursor: str | None) -> str:
    """EXPLAIN ANALYZE of the page query keyset_page runs."""
    from django.db.models import Q

    from patron.core.pagination import decode_cursor

    descending = sort.startswith("-")
    name = sort.lstrip("-")
    qs = qs.order_by(*([f"-{name}", "-id"] if descending else [name, "id"]))
    if cursor:
        value, pk = decode_cursor(cursor)
        op = "lt" if descending else "gt"
        after = Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"id__{op}": pk})
        qs = qs.filter(**{f"{name}__{op}e": value}).filter(after)
    return str(qs[: PAGE + 1].explain(analyze=True, buffers=True))


def _pages(users: dict[str, Any], runs: int) -> dict[str, Any]:
    """The whole list page (GET /accounts/), as a browser asks for it."""
    from django.conf import settings
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    figures = {}
    for username, query in (("admin", "?sort=name"), ("sales", "?sort=name&region=GD")):
        client = Client()
        client.force_login(users[username])

        def get(client: Client = client, query: str = query) -> None:
            response = client.get("/accounts/" + query)
            assert response.status_code == 200, response.status_code

        times = _time(get, runs)
        p50, p95 = _percentile(times, 0.5), _percentile(times, 0.95)
        figures[f"whole list page, {username} {query}: p50 / p95 (ms)"] = f"{p50:.1f} / {p95:.1f}"
    return figures


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a PostgreSQL database that holds the scale set (only read)")
    parser.add_argument("--accounts", type=int, default=1_000_000, help="without --url: accounts to load first")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="print the plan of every page slower than the bar")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    server = None
    if args.url:
        setup_django(args.url, Path(tempfile.mkdtemp(prefix="patron-bench-var-")))
    else:
        server = Server()
        setup_django(server.url, server.dir / "var")
        from patron.demo.copy_loader import load_copy
        from patron.demo.scale import scale_spec

        result = load_copy(scale_spec(today=TODAY, accounts=args.accounts))
        assert result.loaded, result.message
    try:
        return measure(args.runs, args.explain)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    for key, value in main().items():
        shown = f"{value:,}" if isinstance(value, int) else value
        print(f"{key:<78} {shown}")
