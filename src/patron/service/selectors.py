"""Reading follow-ups: a salesperson's day, and a manager's view of the team's work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from patron.accounts.models import Account
from patron.domain.access import Role
from patron.staff.models import User

from .models import Task

CONTACT_KINDS = ("call", "email", "meeting", "note")
UPCOMING_DAYS = 7
SUGGESTIONS = 10


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class Day:
    overdue: list[Task]
    today: list[Task]
    upcoming: list[Task]
    suggested: list[Account]


def my_day(user: Any, *, today: dt.date | None = None) -> Day:
    """The user's open tasks overdue, due today and in the next week, and the accounts they own that have no
    open task and have heard from nobody longest (suggested next contacts)."""
    today = today or timezone.localdate()
    start, tomorrow = _day_start(today), _day_start(today + dt.timedelta(days=1))
    ahead = _day_start(today + dt.timedelta(days=UPCOMING_DAYS + 1))
    mine = Task.objects.filter(owner=user, status=Task.OPEN).select_related("account", "contact")
    suggested = (
        Account.objects.filter(owner=user, merged_into__isnull=True)
        .exclude(tasks__status=Task.OPEN)
        .annotate(last_contact=Max("activities__occurred_at", filter=Q(activities__kind__in=CONTACT_KINDS)))
        .order_by("-is_key_account", F("last_contact").asc(nulls_first=True), "name")[:SUGGESTIONS]
    )
    return Day(
        overdue=list(mine.filter(due_at__lt=start)),
        today=list(mine.filter(due_at__gte=start, due_at__lt=tomorrow)),
        upcoming=list(mine.filter(due_at__gte=tomorrow, due_at__lt=ahead)),
        suggested=list(suggested),
    )


def team_of(user: Any) -> QuerySet[User]:
    """The people whose work a manager sees: the members of the teams they manage (everyone for an admin)."""
    people = User.objects.filter(is_active=True)
    if getattr(user, "role", "") == Role.ADMIN.value:
        return people.order_by("username")
    return people.filter(Q(team__manager=user) | Q(pk=user.pk)).order_by("username")


@dataclass
class Workload:
    user: User
    open: int
    overdue: int
    due_this_week: int
    done_last_7_days: int


def team_workload(manager: Any, *, today: dt.date | None = None) -> list[Workload]:
    today = today or timezone.localdate()
    start = _day_start(today)
    week_end = _day_start(today + dt.timedelta(days=UPCOMING_DAYS + 1))
    week_ago = _day_start(today - dt.timedelta(days=UPCOMING_DAYS))
    people = list(team_of(manager))
    counts = {
        row["owner"]: row
        for row in Task.objects.filter(owner__in=people)
        .values("owner")
        .annotate(
            open=Count("id", filter=Q(status=Task.OPEN)),
            overdue=Count("id", filter=Q(status=Task.OPEN, due_at__lt=start)),
            week=Count("id", filter=Q(status=Task.OPEN, due_at__gte=start, due_at__lt=week_end)),
            done=Count("id", filter=Q(status=Task.DONE, done_at__gte=week_ago)),
        )
        .order_by()
    }
    out = []
    for person in people:
        row = counts.get(person.pk, {})
        out.append(Workload(person, row.get("open", 0), row.get("overdue", 0), row.get("week", 0), row.get("done", 0)))
    return out


def team_overdue(manager: Any, *, today: dt.date | None = None, limit: int = 50) -> list[Task]:
    today = today or timezone.localdate()
    return list(
        Task.objects.filter(owner__in=team_of(manager), status=Task.OPEN, due_at__lt=_day_start(today))
        .select_related("account", "owner")
        .order_by("due_at")[:limit]
    )


def account_tasks(account: Account) -> QuerySet[Task]:
    return Task.objects.filter(account=account).select_related("owner", "contact").order_by("status", "due_at")
