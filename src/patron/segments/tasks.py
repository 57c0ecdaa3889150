"""Recomputes on the background queue: nightly for everyone, every few minutes for accounts that changed."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .models import SegmentRun
from .services import recompute_changed, run_create, run_perform


@db_task()
def perform_run(run_id: int) -> None:
    run_perform(SegmentRun.objects.get(pk=run_id))


@db_periodic_task(crontab(hour="2", minute="10"))
def nightly_recompute() -> None:
    """Every account, every active classification, with fresh cut points."""
    run_perform(run_create(actor=None))


@db_periodic_task(crontab(minute="*/10"))
def recompute_changed_accounts() -> None:
    """Accounts whose orders, returns, invoices or payments changed move within minutes, not overnight."""
    recompute_changed()
