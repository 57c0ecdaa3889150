"""Reminders of follow-ups reach a real SMTP server once each (before a task falls due, and when it is
overdue), and nobody twice when the sender stops halfway; every scheduled job records its runs, a job that
missed its time or fails shows on the scheduler's page and the admins are emailed once per incident."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from patron.service import jobs, reminders, services
from patron.service.models import JobAlert, JobRun, ReminderEmail
from patron.staff.models import User
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    with serving_smtp(settings) as server:
        yield server


def local(days: int, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=days), dt.time(hour)))


def test_reminders_go_once_per_task_and_kind_and_a_restart_sends_nobody_twice(staff, smtp):
    User.objects.filter(pk__in=[staff.sales.pk, staff.manager.pk]).update(language="en")
    User.objects.filter(pk=staff.sales.pk).update(email="sales@patron.example")
    User.objects.filter(pk=staff.manager.pk).update(email="manager@patron.example")
    shop = make_account(staff.sales, code="SHOP", name="Tea House")
    services.task_create(actor=staff.sales, account=shop, data={"subject": "Late call", "due_at": local(-2)})
    services.task_create(actor=staff.sales, account=shop, data={"subject": "Call today", "due_at": local(0, 23)})
    services.task_create(actor=staff.sales, account=shop, data={"subject": "Next week", "due_at": local(7)})
    services.task_create(actor=staff.manager, account=shop, data={"subject": "Manager's visit", "due_at": local(-1)})
    run = reminders.reminders_prepare()
    assert run is not None
    assert ReminderEmail.objects.filter(run=run).count() == 2
    first = reminders.reminders_send(run.pk, stop_after=1)  # the worker stops after one email
    assert first.sent == 1
    rest = reminders.reminders_send(run.pk)  # and starts again
    assert (rest.sent, rest.finished) == (1, True)
    by_address = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert set(by_address) == {"sales@patron.example", "manager@patron.example"}
    sales_mail = by_address["sales@patron.example"]
    assert sales_mail.subject == "1 follow-up overdue, 1 coming due"
    assert "Late call" in sales_mail.body
    assert "Call today" in sales_mail.body
    assert "Next week" not in sales_mail.body
    assert reminders.reminders_prepare() is None  # each task reminded of once per kind
    # Tomorrow "Call today" is overdue: one more reminder, of it alone.
    tomorrow = reminders.reminders_prepare(now=local(1, 9))
    assert tomorrow is not None
    reminders.reminders_send(tomorrow.pk)
    assert len(smtp.messages) == 3
    assert "Call today" in smtp.messages[-1].body
    assert "Late call" not in smtp.messages[-1].body


def test_jobs_record_their_runs_and_a_missed_or_failing_job_is_shown_and_told_once(staff, settings):
    User.objects.filter(pk=staff.admin.pk).update(email="admin@patron.example", language="en")
    now = timezone.now()
    ok = jobs.JOBS["cadences"]  # registered by the service's tasks
    assert ok.every == dt.timedelta(hours=1)

    @jobs.recorded("test_job", dt.timedelta(minutes=10), "A test job")
    def flaky(fail: bool) -> str:
        if fail:
            raise RuntimeError("the database went away")
        return "fine"

    try:
        assert flaky(False) == "fine"
        with pytest.raises(RuntimeError):
            flaky(True)
        runs = list(JobRun.objects.filter(name="test_job").order_by("started_at"))
        assert [r.ok for r in runs] == [True, False]
        assert runs[1].error == "RuntimeError: the database went away"
        health = {h.job.name: h for h in jobs.job_health()}
        assert health["test_job"].state == jobs.FAILING
        assert health["test_job"].failures_24h == 1
        assert health["cadences"].state == jobs.NEVER
        JobRun.objects.create(name="cadences", started_at=now - dt.timedelta(hours=3), finished_at=now, ok=True)
        assert {h.job.name: h.state for h in jobs.job_health()}["cadences"] == jobs.MISSED  # 3 h > twice an hour
        mail.outbox.clear()
        assert jobs.jobs_watch() == 2  # the failing test job and the late cadences
        assert {m.subject for m in mail.outbox} == {
            "Patron: the job “A test job” is failing",
            "Patron: the job “Cadences plan follow-ups” missed its time",
        }
        assert jobs.jobs_watch() == 0  # once per incident
        assert JobAlert.objects.count() == 2
        JobRun.objects.create(name="cadences", started_at=now, finished_at=now, ok=True)
        assert {h.job.name: h.state for h in jobs.job_health()}["cadences"] == jobs.OK
    finally:
        del jobs.JOBS["test_job"]


def test_a_job_that_never_ran_counts_as_missed_once_the_worker_has_been_up_long_enough(db):
    from django.db.migrations.recorder import MigrationRecorder

    from patron.service.models import JobRun

    now = timezone.now()
    states = {h.job.name: h.state for h in jobs.job_health(now)}
    assert states["reminders"] == jobs.NEVER  # a fresh install: nothing is late yet
    # The tables were made two days ago and no job ever ran: the worker never started.
    MigrationRecorder.Migration.objects.filter(app="service").update(applied=now - dt.timedelta(days=2))
    assert {h.job.name: h.state for h in jobs.job_health(now)}["reminders"] == jobs.MISSED
    # The watch has run for an hour (the worker is up), the 15-minute reminders never: missed; an hourly job not yet.
    MigrationRecorder.Migration.objects.filter(app="service").update(applied=now)
    JobRun.objects.create(name="jobs_watch", started_at=now - dt.timedelta(hours=1), finished_at=now, ok=True)
    JobRun.objects.create(name="jobs_watch", started_at=now - dt.timedelta(minutes=5), finished_at=now, ok=True)
    states = {h.job.name: h.state for h in jobs.job_health(now)}
    assert states["reminders"] == jobs.MISSED
    assert states["cadences"] == jobs.NEVER
