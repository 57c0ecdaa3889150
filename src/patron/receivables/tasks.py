"""Collections on the background queue: payment reminders each morning, promises to pay checked each day."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next
from patron.service.jobs import recorded

logger = logging.getLogger("patron.receivables")


@db_periodic_task(crontab(minute="20"))
@recorded("collections", dt.timedelta(hours=1), _("Payment reminders"))
def remind_payments() -> None:
    """Hourly, though each invoice's step goes once: a worker that was down catches up on its next hour."""
    from .collections import collection_runs_due, collections_prepare

    collections_prepare()
    for run_id in collection_runs_due():
        send_collection_reminders(run_id, 0)


@db_task()
def send_collection_reminders(run_id: int, outages: int = 0) -> None:
    from .collections import collections_send

    report = collections_send(run_id, outages=outages)
    logger.info("collection run %s: %s sent, %s failed", run_id, report.sent, report.failed)
    schedule_next(send_collection_reminders, run_id, report, outages)


@db_periodic_task(crontab(minute="40"))
@recorded("promises", dt.timedelta(hours=1), _("Promises to pay followed up"))
def check_promises() -> None:
    from .services import promises_check

    promises_check()
