"""What every page shows of follow-ups: the count of today's and overdue tasks on "My day", and, to admins,
a warning when a scheduled job missed its time or fails."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag(takes_context=True)
def tasks_due(context: dict[str, Any]) -> int:
    from ..models import Task

    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    tomorrow = timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time.min))
    return Task.objects.filter(owner=user, status=Task.OPEN, due_at__lt=tomorrow).count()


@register.simple_tag(takes_context=True)
def jobs_in_trouble(context: dict[str, Any]) -> list[Any]:
    from ..jobs import jobs_troubled

    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated or getattr(user, "role", "") != "admin":
        return []
    return jobs_troubled()
