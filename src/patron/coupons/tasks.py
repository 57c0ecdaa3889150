"""Sending campaign runs on the background queue, and resuming any a stopped worker left."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next

from .delivery import campaign_send, campaign_sends_due

logger = logging.getLogger("patron.coupons.delivery")


@db_task()
def send_campaign(run_id: int, outages: int = 0) -> None:
    report = campaign_send(run_id, outages=outages)
    logger.info("campaign run %s: %s sent, %s failed", run_id, report.sent, report.failed)
    schedule_next(send_campaign, run_id, report, outages)


@db_periodic_task(crontab(minute="*/5"))
def resume_campaign_sends() -> None:
    for run_id in campaign_sends_due():
        send_campaign(run_id, 0)


@db_periodic_task(crontab(minute="*/5"))
def start_scheduled_runs() -> None:
    from .delivery import scheduled_runs_start

    scheduled_runs_start()


@db_periodic_task(crontab(minute="15"))
def issue_automatic_coupons() -> None:
    """Every hour (the first of the day issues; the others find today's run made): birthdays, first orders,
    loyalty reached. Their messages wait out the quiet hours."""
    from .automatic import auto_issue

    auto_issue()
