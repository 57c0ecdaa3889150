"""Background work for accounts, on the huey queue."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.service.jobs import recorded

from .models import Activity


@db_task(retries=3, retry_delay=60)
def send_account_email(activity_id: int, to_address: str) -> None:
    activity = Activity.objects.get(pk=activity_id)
    send_mail(activity.subject, activity.body, settings.DEFAULT_FROM_EMAIL, [to_address], fail_silently=False)


@db_periodic_task(crontab(minute="*/15"))
@recorded("duplicates", dt.timedelta(minutes=15), gettext_lazy("Possible duplicates refreshed"))
def refresh_possible_duplicates() -> None:
    """Keep the possible-duplicates list current after imports and bulk changes, not only on page loads."""
    from .duplicates import refresh

    refresh(limit=None)
