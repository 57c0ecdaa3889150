"""The follow-up jobs on the background queue: cadences plan tasks each hour, reminders go out every quarter
of an hour, and a watch tells the admins of a job that missed its time or fails. Each records its runs."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.core.outbox import schedule_next

from .jobs import recorded

logger = logging.getLogger("patron.service")


@db_periodic_task(crontab(minute="5"))
@recorded("cadences", dt.timedelta(hours=1), _("Cadences plan follow-ups"))
def run_cadences() -> None:
    from .cadences import cadences_run

    cadences_run()


@db_periodic_task(crontab(minute="*/15"))
@recorded("reminders", dt.timedelta(minutes=15), _("Follow-up reminders"))
def remind() -> None:
    from .reminders import reminder_runs_due, reminders_prepare

    reminders_prepare()
    for run_id in reminder_runs_due():
        send_reminders(run_id, 0)


@db_task()
def send_reminders(run_id: int, outages: int = 0) -> None:
    from .reminders import reminders_send

    report = reminders_send(run_id, outages=outages)
    logger.info("reminder run %s: %s sent, %s failed", run_id, report.sent, report.failed)
    schedule_next(send_reminders, run_id, report, outages)


@db_periodic_task(crontab(minute="*/10"))
@recorded("jobs_watch", dt.timedelta(minutes=10), _("Watch over the scheduled jobs"))
def watch_jobs() -> None:
    from .jobs import jobs_watch

    jobs_watch()


@db_task()
def send_survey(send_id: int, outages: int = 0) -> None:
    from .surveys import survey_mail

    report = survey_mail(send_id, outages=outages)
    logger.info("survey mailing %s: %s sent, %s failed", send_id, report.sent, report.failed)
    schedule_next(send_survey, send_id, report, outages)


@db_periodic_task(crontab(minute="*/5"))
@recorded("survey_mailings", dt.timedelta(minutes=5), _("Survey mailings"))
def resume_survey_mailings() -> None:
    from .surveys import survey_mails_due

    for send_id in survey_mails_due():
        send_survey(send_id, 0)


@db_periodic_task(crontab(minute="*/10"))
@recorded("complaints_escalate", dt.timedelta(minutes=10), _("Complaints past their deadlines escalated"))
def escalate_complaints() -> None:
    from .complaints import complaints_escalate

    complaints_escalate()
