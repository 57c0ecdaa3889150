"""Cadence task generation for a million accounts on PostgreSQL: the hourly job ``cadences_run``.

Starts a throwaway PostgreSQL (scripts/pg.sh), migrates it and writes, with ``INSERT ... SELECT`` over
``generate_series`` (no Python loop over rows), 1,000,000 accounts shared among 100 active salespeople, a
preferred channel each (phone, WeChat, email, visit, SMS in turn), and for every other account a call 15 to 44
days ago (the others were never contacted). One cadence, "every 14 days since the last contact" on all
accounts (written through ``cadence_save``), so every account is due. Then times
``patron.service.cadences.cadences_run`` on the day, checks a task was made for each account (for its owner, on
its channel, due that day at 10:00), and times a second run the same day, which must make none (each account
has its open task). Prints both times, the tasks made, this process's peak memory (the server's is its own)
and PostgreSQL's CPU.

Bar: the run for 1,000,000 accounts in under 60 s.

    python benchmarks/bench_cadences.py [--accounts 1000000] [--profile]

Not run by ``benchmarks/run.py`` by default (a PostgreSQL server, a million accounts):
``python benchmarks/run.py cadences``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

RUN_BY_DEFAULT = False  # a PostgreSQL server and a million accounts: `python benchmarks/run.py cadences`
ACCOUNTS = 1_000_000
OWNERS = 100
BAR = 60.0  # seconds for a million accounts
TODAY = dt.date(2026, 11, 25)
CHANNELS = ("phone", "wechat", "email", "visit", "sms")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _insert_select(model: Any, values: dict[str, Any], count: int, where: str = "") -> int:
    """``count`` rows of ``model`` from ``generate_series(1, count) AS g(i)``: ``values`` gives SQL for some
    columns (attnames; or SQL and its parameters; ``mod(i, n)``, not ``%``), the others get their model defaults."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.attname in values:
            value = values[field.attname]
            sql, more = value if isinstance(value, tuple) else (value, [])
            exprs.append(sql)
            params.extend(more)
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "  # names from the model
        f"SELECT {', '.join(exprs)} FROM generate_series(1, %s) AS g(i) {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count])
        return int(cursor.rowcount)


def make_accounts(count: int) -> list[int]:
    """The accounts, their owners and their last calls; the owners' ids."""
    from django.db import connection
    from django.utils import timezone

    from patron.accounts.models import Account, Activity
    from patron.staff.models import User

    # Unusable passwords: hashing a hundred real ones would take longer than the rest.
    users = [User(username=f"sales{n:03d}", role="salesperson", password="!") for n in range(OWNERS)]
    owners = User.objects.bulk_create(users)
    first = owners[0].pk
    assert [u.pk for u in owners] == list(range(first, first + OWNERS))
    channels = "(ARRAY[" + ", ".join(f"'{c}'" for c in CHANNELS) + f"])[1 + mod(i, {len(CHANNELS)})]"
    _insert_select(
        Account,
        {
            "code": "'C' || lpad(i::text, 7, '0')",
            "name": "'Account ' || i",
            "owner_id": f"{first} + mod(i, {OWNERS})",
            "preferred_channel": channels,
            "created_at": "now()",
            "updated_at": "now()",
        },
        count,
    )
    lowest = Account.objects.order_by("pk").values_list("pk", flat=True).first()
    noon = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(12)))
    _insert_select(
        Activity,
        {
            "account_id": f"{lowest} - 1 + i",
            "kind": "'call'",
            "occurred_at": ("%s::timestamptz - ((15 + mod(i, 30)) * interval '1 day')", [noon]),
            "subject": "'Called'",
        },
        count,
        where="WHERE mod(i, 2) = 0",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [u.pk for u in owners]


def main(accounts: int = ACCOUNTS, profile: bool = False) -> dict[str, Any]:
    import _pg

    server = _pg.Server()
    figures: dict[str, Any] = {}
    try:
        _pg.setup_django(server.url, server.dir / "var")  # removed with the server
        from django.db import connection
        from django.db.models import Count
        from django.utils import timezone

        from patron.accounts.models import Activity
        from patron.service import cadences
        from patron.service.models import Task
        from patron.staff.models import User

        t0 = time.perf_counter()
        make_accounts(accounts)
        figures["accounts"] = accounts
        figures["  of them with a last call 15-44 days ago"] = Activity.objects.count()
        figures["  data written in (s)"] = round(time.perf_counter() - t0, 1)
        manager = User.objects.create(username="manager", role="sales_manager", password="!")
        cadence = cadences.cadence_save(
            actor=manager, data={"name": "Revisit", "rule": "every", "days": "14", "subject": "Revisit"}
        )
        memory_before = _peak_mib()

        profiler = cProfile.Profile() if profile else None
        cpu, pg_cpu = _cpu(), _pg.postgres_cpu_seconds(server)
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        made = cadences.cadences_run(TODAY)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu, pg_cpu = _cpu() - cpu, _pg.postgres_cpu_seconds(server) - pg_cpu
        peak = _peak_mib()

        started = time.perf_counter()
        again = cadences.cadences_run(TODAY)
        second = time.perf_counter() - started

        tasks = Task.objects.filter(source=Task.CADENCE)
        stored = tasks.count()
        assert made == {cadence.pk: accounts}, made
        assert stored == accounts, stored
        assert again == {cadence.pk: 0}, again
        assert tasks.count() == accounts
        assert tasks.values("account_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
        due = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(10)))
        assert tasks.exclude(due_at=due).count() == 0
        sample = list(
            tasks.order_by("?")[:1000].values_list(
                "account__owner_id", "owner_id", "account__preferred_channel", "kind"
            )
        )
        expected = cadences.CHANNEL_TASK
        assert all(o == t and expected.get(c, Task.CALL) == k for o, t, c, k in sample), sample[:5]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('service_task')")
            size = cursor.fetchone()[0]

        figures["FIRST RUN, cadences_run wall (s)"] = round(elapsed, 1)
        figures["  tasks made"] = made[cadence.pk]
        figures["  tasks per second"] = round(accounts / elapsed)
        figures["  PostgreSQL connections writing at once"] = cadences.WORKERS
        figures["  CPU of this process (s)"] = round(cpu, 1)
        figures["  CPU of PostgreSQL (s)"] = round(pg_cpu, 1)
        figures["  peak memory of this process (MiB)"] = peak
        figures["  peak memory before the run (MiB)"] = memory_before
        figures["  task table with its indexes (MiB)"] = round(size / 2**20)
        figures["SECOND RUN, same day (s)"] = round(second, 1)
        figures["  tasks made (duplicates)"] = again[cadence.pk]
        scaled = elapsed * ACCOUNTS / accounts
        figures["ratio to the bar (time / 60 s, at a million)"] = round(scaled / BAR, 2)
        figures["  bar: under 60 s for 1,000,000 accounts"] = (
            ("met" if elapsed < BAR else "MISSED") if accounts >= ACCOUNTS else "n/a (fewer accounts)"
        )
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumtime").print_stats(20)
            print(out.getvalue())
        return figures
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions (slower)")
    args = parser.parse_args()
    for key, value in main(args.accounts, args.profile).items():
        print(f"{key:<48} {value}")
