"""``patron segments run [--as-of DAY] [--changed]``: recompute segments now, in this process."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.segments.models import Classification
from patron.segments.services import recompute_changed, run_create, run_perform


class Command(BaseCommand):
    help = "Recompute every account's indicators and classes (or only the accounts that changed)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="measure and classify every account")
        run.add_argument("--as-of", help="the day to measure to (YYYY-MM-DD, default today)")
        run.add_argument("--changed", action="store_true", help="only accounts changed since the last run")
        sub.add_parser("list", help="the classifications and their classes")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for c in Classification.objects.all():
                state = "active" if c.active else "inactive"
                self.stdout.write(f"{c.key}\t{c.kind}\t{state}\t{c.window}")
            return
        if options["changed"]:
            changed = recompute_changed()
            self.stdout.write(
                "nothing changed" if changed is None else f"run {changed.pk}: {changed.accounts} accounts"
            )
            return
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of: {options['as_of']!r} is not a date (YYYY-MM-DD)") from None
        try:
            run = run_create(actor=None, as_of=as_of)
            run_perform(run)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        run.refresh_from_db()
        self.stdout.write(
            f"run {run.pk} as of {run.as_of}: {run.accounts} accounts, {run.moved} moved, "
            f"{(run.finished_at - run.started_at).total_seconds():.1f} s"  # type: ignore[operator]
        )
        for snapshot in run.snapshots.select_related("classification"):
            counts = ", ".join(f"{k} {v}" for k, v in snapshot.counts.items())
            self.stdout.write(f"  {snapshot.classification.key}: {counts}")
