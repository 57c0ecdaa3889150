"""Reminders: each person is emailed the tasks that come due within a day, and those that went overdue, once
each; the email lists them all and links to my day.

``reminders_prepare`` writes, in one transaction, a run with an email row per person and a
``TaskReminder`` per task and kind (unique: a task is never put in two reminders of one kind), then
the outbox sends the emails exactly once each, paced and retried (see ``patron.core.outbox``); a
worker stopped midway and started again sends nobody twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from patron.accounts.addresses import mail_language
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send

from .models import ReminderEmail, ReminderRun, Task, TaskReminder

AHEAD = dt.timedelta(hours=24)
BOX = Outbox("reminders", ReminderRun, ReminderEmail, "run")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def reminders_prepare(now: dt.datetime | None = None) -> ReminderRun | None:
    """Tasks coming due within a day, and tasks overdue (due before today), not yet reminded of: one run."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    live = Task.objects.filter(status=Task.OPEN, owner__is_active=True).exclude(owner__email="")

    def fresh(kind: str) -> Any:
        return ~Exists(TaskReminder.objects.filter(task=OuterRef("pk"), kind=kind))

    soon = live.filter(fresh(TaskReminder.DUE_SOON), due_at__gte=_day_start(today), due_at__lt=now + AHEAD)
    late = live.filter(fresh(TaskReminder.OVERDUE), due_at__lt=_day_start(today))
    wanted: dict[int, list[tuple[int, str]]] = defaultdict(list)
    owners: dict[int, tuple[str, str]] = {}
    for kind, tasks in ((TaskReminder.DUE_SOON, soon), (TaskReminder.OVERDUE, late)):
        for pk, owner, email, language in tasks.values_list("pk", "owner_id", "owner__email", "owner__language"):
            wanted[owner].append((pk, kind))
            owners[owner] = (email, language)
    if not wanted:
        return None
    try:
        with transaction.atomic():
            run = ReminderRun.objects.create()
            for owner, items in wanted.items():
                email, language = owners[owner]
                row = ReminderEmail.objects.create(
                    run=run, user_id=owner, email=email, language=mail_language(language)
                )
                TaskReminder.objects.bulk_create([TaskReminder(task_id=pk, kind=kind, email=row) for pk, kind in items])
    except IntegrityError:
        return None  # another run took these tasks a moment ago
    from .tasks import send_reminders

    transaction.on_commit(lambda: send_reminders(run.pk))
    return run


def _messages(run: ReminderRun) -> Any:
    from django.conf import settings
    from django.urls import reverse

    link = settings.PATRON_BASE_URL.rstrip("/") + reverse("service:my_day")

    def build(row: ReminderEmail) -> Any:
        items = TaskReminder.objects.filter(email=row).select_related("task__account").order_by("task__due_at")
        context = {
            "name": row.user.display_name(),
            "soon": [r.task for r in items if r.kind == TaskReminder.DUE_SOON],
            "overdue": [r.task for r in items if r.kind == TaskReminder.OVERDUE],
            "link": link,
        }
        return email_message("service/email/reminder", context, row.email, row.language)

    return build


def reminders_send(
    run_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(BOX, run_id, _messages, stop_after=stop_after, budget=budget, outages=outages)


def reminder_runs_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(BOX, now)
