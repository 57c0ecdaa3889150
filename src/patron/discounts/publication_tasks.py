"""Sending published policies on the background queue.

``send_publication`` sends what is due of one publication (``publication.publication_send``)
and schedules its own continuation: after an outage of the mail server with a growing delay,
after deferred addresses when the first of them is due, at once when a run used its time.
``resume_publications`` restarts, every five minutes, any publication with recipients due
and no sender (a worker that died mid-run, a scheduled retry lost with its queue).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next
from patron.service.jobs import recorded

from .publication import publication_send, publications_due

logger = logging.getLogger("patron.discounts.publication")


@db_task()
def send_publication(publication_id: int, outages: int = 0) -> None:
    report = publication_send(publication_id, outages=outages)
    logger.info(
        "publication %s: %s sent, %s failed, %s deferred", publication_id, report.sent, report.failed, report.deferred
    )
    schedule_next(send_publication, publication_id, report, outages)


@db_periodic_task(crontab(minute="*/5"))
@recorded("discount_publications", dt.timedelta(minutes=5), gettext_lazy("Discount policy mailings"))
def resume_publications() -> None:
    for publication_id in publications_due():
        send_publication(publication_id, 0)
