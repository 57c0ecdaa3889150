"""Rebate work on the background queue: replays of many accounts, and sending announcements.

``send_announcement`` sends what is due and schedules its own continuation (after an outage,
after deferred addresses, at once when a run used its time); ``resume_announcements`` restarts,
every five minutes, any announcement with recipients due and no sender.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next
from patron.service.jobs import recorded

from .analysis import replay_perform
from .announce import announcement_send, announcements_due
from .notices import notice_send, notices_due

logger = logging.getLogger("patron.rebates.announce")


@db_task()
def rebate_replay(replay_id: int) -> None:
    replay_perform(replay_id)


@db_task()
def send_announcement(announcement_id: int, outages: int = 0) -> None:
    report = announcement_send(announcement_id, outages=outages)
    logger.info("announcement %s: %s sent, %s failed", announcement_id, report.sent, report.failed)
    schedule_next(send_announcement, announcement_id, report, outages)


@db_task()
def send_payout_notice(notice_id: int, outages: int = 0) -> None:
    report = notice_send(notice_id, outages=outages)
    logger.info("payout notice %s: %s sent, %s failed", notice_id, report.sent, report.failed)
    schedule_next(send_payout_notice, notice_id, report, outages)


@db_periodic_task(crontab(minute="*/5"))
@recorded("rebate_mailings", dt.timedelta(minutes=5), gettext_lazy("Rebate announcements and payout notices"))
def resume_announcements() -> None:
    """Announcements and payout notices with rows due and no sender."""
    for announcement_id in announcements_due():
        send_announcement(announcement_id, 0)
    for notice_id in notices_due():
        send_payout_notice(notice_id, 0)
