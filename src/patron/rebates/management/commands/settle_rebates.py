"""``patron settle_rebates``: compute a program's settlement for a period (safe to run again after a crash)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from patron.rebates.models import RebateProgram
from patron.staff.models import User


class Command(BaseCommand):
    help = (
        "Settle a rebate program's period: every agreement's line is written once, in chunks; "
        "run it again after an interruption and it finishes what is missing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--program", type=int, required=True, help="program id")
        parser.add_argument("--day", required=True, help="a day of the period to settle, YYYY-MM-DD")
        parser.add_argument("--kind", choices=["final", "partial"], default="final")
        parser.add_argument("--as-of", help="partial settlements: count orders up to this day")
        parser.add_argument("--user", required=True, help="the finance user who runs it")
        parser.add_argument("--chunk", type=int, default=500, help="agreements per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        from patron.rebates import settlement as settling

        try:
            program = RebateProgram.objects.get(pk=options["program"])
            actor = User.objects.get(username=options["user"])
            day = dt.date.fromisoformat(options["day"])
            as_of = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except (RebateProgram.DoesNotExist, User.DoesNotExist, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        chunk = max(1, options["chunk"])

        def progress(written: int) -> None:
            self.stdout.write(f"{written} lines written")
            self.stdout.flush()

        settlement = settling.settlement_start(
            actor=actor,
            program=program,
            day=day,
            kind=options["kind"],
            as_of=as_of,
            chunk=chunk,
            after_chunk=progress,
        )
        total = settling.settlement_total(settlement)
        self.stdout.write(
            self.style.SUCCESS(
                f"settlement {settlement.pk}: {settlement.lines.count()} lines, {total} {program.currency} due, "
                f"{settlement.status}"
            )
        )
