"""Recomputes on the background queue: nightly for everyone, every few minutes for accounts that changed."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.service.jobs import recorded

from .models import SegmentRun
from .services import recompute_changed, run_create, run_perform


@db_task()
def perform_run(run_id: int) -> None:
    run_perform(SegmentRun.objects.get(pk=run_id))


@db_periodic_task(crontab(hour="2", minute="10"))
@recorded("segments_nightly", dt.timedelta(hours=24), gettext_lazy("Nightly segment recompute"))
def nightly_recompute() -> None:
    """Every account, every active classification, with fresh cut points."""
    run_perform(run_create(actor=None))


@db_periodic_task(crontab(minute="*/10"))
@recorded("segments_changed", dt.timedelta(minutes=10), gettext_lazy("Changed accounts re-segmented"))
def recompute_changed_accounts() -> None:
    """Accounts whose orders, returns, invoices or payments changed move within minutes, not overnight."""
    recompute_changed()
