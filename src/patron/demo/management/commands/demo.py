"""``patron demo``: load the demo data set once (``make run`` calls it every time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patron.demo.generator import DemoSpec
from patron.demo.loader import load_demo, rows_loaded
from patron.web.demo_users import DEMO_PASSWORD, DEMO_USERS

SUMMARY = (
    ("accounts", "accounts"),
    ("key accounts", "key accounts"),
    ("contacts", "contacts"),
    ("orders", "orders"),
    ("order lines", "order lines"),
    ("returns", "returns"),
    ("invoices", "invoices"),
    ("payments", "payments"),
    ("timeline entries", "timeline entries"),
    ("products", "products"),
    ("regions", "regions"),
    ("staff", "staff"),
)


class Command(BaseCommand):
    help = (
        "Load a realistic demo data set (accounts, contacts, orders, returns, invoices, payments, staff) "
        "into a database without accounts. Running it again changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
        parser.add_argument("--accounts", type=int, default=2000, help="number of accounts (default 2000)")
        parser.add_argument("--years", type=int, default=3, help="years of order history (default 3)")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="the last day of the history, YYYY-MM-DD (default: today)",
        )

    def handle(
        self, *args: Any, seed: int, accounts: int, years: int, today: dt.date | str | None, **options: Any
    ) -> None:
        try:
            if isinstance(today, str):  # call_command("demo", today="...") skips the parser
                today = dt.date.fromisoformat(today)
            spec = DemoSpec(
                today=today or timezone.localdate(),
                seed=seed,
                accounts=accounts,
                years=years,
                time_zone=settings.TIME_ZONE,
                now=None if today else timezone.now(),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verbose = int(options.get("verbosity", 1))

        shown = [0]

        def progress(done: int, total: int) -> None:
            tenth = done * 10 // total
            if verbose >= 2 and tenth > shown[0]:
                shown[0] = tenth
                self.stdout.write(f"  {done:,} / {total:,} accounts")

        if verbose >= 1:
            self.stdout.write(
                f"Loading demo data: seed {seed}, {accounts:,} accounts, {years} years to {spec.today.isoformat()} ..."
            )
        result = load_demo(spec, progress=progress)
        if not result.loaded:
            self.stdout.write(self.style.WARNING(result.message))
            return
        counts = result.counts
        rows = rows_loaded(counts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the demo data set in {result.seconds:.1f} s ({rows:,} rows, "
                f"{rows / max(result.seconds, 1e-9):,.0f} rows/s):"
            )
        )
        self.stdout.write("  " + ", ".join(f"{counts.get(key, 0):,} {label}" for key, label in SUMMARY))
        names = ", ".join(username for username, _role, _team in DEMO_USERS)
        self.stdout.write(f"  demo sign-ins (password for all: {DEMO_PASSWORD}): {names}")
        # Segments on day one: every account measured and classified as of the demo's today.
        from patron.segments.services import install_builtins, run_create, run_perform

        install_builtins()
        run = run_create(actor=None, as_of=spec.today)
        run_perform(run)
        run.refresh_from_db()
        self.stdout.write(f"  segments: {run.accounts:,} accounts classified as of {run.as_of.isoformat()}")
        from patron.discounts.demo import install_demo_policies

        policies = install_demo_policies(spec.today)
        self.stdout.write(f"  discounts: {len(policies)} policies with their rules, and manual discount limits")
        from patron.rebates.demo import install_demo_programs

        programs = install_demo_programs(spec.today)
        self.stdout.write(
            f"  rebates: {len(programs)} programs with agreements, accruals and last quarter's settlement"
        )
        from patron.coupons.demo import install_demo_campaigns

        campaigns = install_demo_campaigns(spec.today)
        self.stdout.write(f"  coupons: {len(campaigns)} campaigns, one sent with a hold-out and redeemed")
        from patron.pipeline.demo import install_demo_opportunities

        opportunities = install_demo_opportunities(spec.today)
        self.stdout.write(f"  pipeline: {len(opportunities)} opportunities on key accounts, with their stage history")
