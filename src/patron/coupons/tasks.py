"""Sending campaign runs on the background queue, and resuming any a stopped worker left."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next
from patron.service.jobs import recorded

from .delivery import campaign_send, campaign_sends_due

logger = logging.getLogger("patron.coupons.delivery")


@db_task()
def send_campaign(run_id: int, outages: int = 0) -> None:
    report = campaign_send(run_id, outages=outages)
    logger.info("campaign run %s: %s sent, %s failed", run_id, report.sent, report.failed)
    schedule_next(send_campaign, run_id, report, outages)


@db_periodic_task(crontab(minute="*/5"))
@recorded("coupon_sends", dt.timedelta(minutes=5), gettext_lazy("Coupon campaign messages"))
def resume_campaign_sends() -> None:
    for run_id in campaign_sends_due():
        send_campaign(run_id, 0)


@db_periodic_task(crontab(minute="*/5"))
@recorded("coupon_schedules", dt.timedelta(minutes=5), gettext_lazy("Scheduled coupon runs"))
def start_scheduled_runs() -> None:
    from .delivery import scheduled_runs_start

    scheduled_runs_start()


@db_periodic_task(crontab(minute="15"))
@recorded(
    "coupon_auto_issue", dt.timedelta(hours=1), gettext_lazy("Automatic coupons: birthdays, first orders, loyalty")
)
def issue_automatic_coupons() -> None:
    """Every hour (the first of the day issues; the others find today's run made): birthdays, first orders,
    loyalty reached. Their messages wait out the quiet hours."""
    from .automatic import auto_issue

    auto_issue()
