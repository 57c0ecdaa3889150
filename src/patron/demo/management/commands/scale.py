"""``patron scale``: make the scale data set (1,000,000 accounts by default) and load it."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from patron.demo.copy_loader import CHUNK_ACCOUNTS, load_copy
from patron.demo.loader import load_demo, rows_loaded
from patron.demo.scale import SCALE_ACCOUNTS, scale_spec

# Above this many accounts a database other than PostgreSQL is refused: the row-by-row
# loader writes about 25,000 rows a second, a million accounts would take 20 minutes.
OTHER_DATABASE_LIMIT = 20_000
SUMMARY = (
    "accounts",
    "key accounts",
    "contacts",
    "orders",
    "order lines",
    "returns",
    "invoices",
    "payments",
    "payment allocations",
    "timeline entries",
)


class Command(BaseCommand):
    help = (
        "Make the scale data set (by default 1,000,000 accounts with about 10 million order lines, invoices, "
        "payments and returns; the same seed always gives the same rows) and load it into an empty PostgreSQL "
        "database with COPY, in one transaction. On another database (SQLite) up to "
        f"{OTHER_DATABASE_LIMIT:,} accounts are loaded with the demo loader instead; more are refused."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--accounts", type=int, default=SCALE_ACCOUNTS, help="number of accounts (default 1000000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
        parser.add_argument("--years", type=int, default=3, help="years of order history (default 3)")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="the last day of the history, YYYY-MM-DD (default: today)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(os.cpu_count() or 1, 8),
            help="processes generating the data (default: one per core, at most 8)",
        )
        parser.add_argument(
            "--chunk-accounts",
            type=int,
            default=CHUNK_ACCOUNTS,
            help=f"accounts a worker generates at a time (default {CHUNK_ACCOUNTS})",
        )
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="keep indexes and foreign keys during the load instead of rebuilding them after it (slower)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"]
        try:
            if isinstance(today, str):  # call_command("scale", today="...") skips the parser
                today = dt.date.fromisoformat(today)
            spec = scale_spec(
                today=today or timezone.localdate(),
                seed=options["seed"],
                accounts=options["accounts"],
                years=options["years"],
                time_zone=settings.TIME_ZONE,
                now=None if today else timezone.now(),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["workers"] < 1 or options["chunk_accounts"] < 1:
            raise CommandError("--workers and --chunk-accounts must be at least 1")
        verbose = int(options.get("verbosity", 1))
        self.stdout.write(
            f"Making the scale data set: seed {spec.seed}, {spec.accounts:,} accounts, {spec.years} years "
            f"to {spec.today.isoformat()} ..."
        )
        if connection.vendor != "postgresql":
            self._other_database(spec)
            return
        shown = [0]

        def progress(done: int, total: int) -> None:
            tenth = done * 10 // total
            if verbose >= 2 and tenth > shown[0]:
                shown[0] = tenth
                self.stdout.write(f"  {done:,} / {total:,} accounts")

        result = load_copy(
            spec,
            workers=options["workers"],
            chunk_accounts=options["chunk_accounts"],
            defer_indexes=not options["keep_indexes"],
            progress=progress,
        )
        if not result.loaded:
            self.stdout.write(self.style.WARNING(result.message))
            return
        rows = rows_loaded(result.counts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the scale data set with COPY in {result.seconds:.1f} s ({rows:,} rows, "
                f"{rows / max(result.seconds, 1e-9):,.0f} rows/s, {result.workers} workers):"
            )
        )
        self.stdout.write("  " + ", ".join(f"{result.counts.get(key, 0):,} {key}" for key in SUMMARY))
        if verbose >= 2:
            for name, seconds in result.phases.items():
                self.stdout.write(f"  {name}: {seconds:.1f} s")
            for name, st in result.tables.items():
                rate = st.rows / st.copy_seconds if st.copy_seconds else 0.0
                self.stdout.write(
                    f"  {name}: {st.rows:,} rows, COPY {st.copy_seconds:.1f} s ({rate:,.0f} rows/s), "
                    f"indexes {st.index_seconds:.1f} s"
                )

    def _other_database(self, spec: Any) -> None:
        if spec.accounts > OTHER_DATABASE_LIMIT:
            raise CommandError(
                f"The scale data set loads with COPY into PostgreSQL (set PATRON_DATABASE_URL=postgres://...); "
                f"on {connection.vendor} at most {OTHER_DATABASE_LIMIT:,} accounts are loaded, "
                f"with the demo loader. Nothing changed."
            )
        result = load_demo(spec)
        if not result.loaded:
            self.stdout.write(self.style.WARNING(result.message))
            return
        rows = rows_loaded(result.counts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the scale data set with the demo loader ({connection.vendor}) in {result.seconds:.1f} s "
                f"({rows:,} rows):"
            )
        )
        self.stdout.write("  " + ", ".join(f"{result.counts.get(key, 0):,} {key}" for key in SUMMARY))
