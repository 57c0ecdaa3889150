"""Background work for exports: writing a file, and clearing old ones away."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patron.service.jobs import recorded

from . import services


@db_task()
def export_run(job_id: int) -> None:
    services.export_job_perform(job_id)


@db_periodic_task(crontab(minute="*/10"))
@recorded("exports_clean", dt.timedelta(minutes=10), gettext_lazy("Old exports removed"))
def exports_clean() -> None:
    services.exports_clean()
