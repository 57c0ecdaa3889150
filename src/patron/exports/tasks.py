"""Background work for exports: writing a file, and clearing old ones away."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import services


@db_task()
def export_run(job_id: int) -> None:
    services.export_job_perform(job_id)


@db_periodic_task(crontab(minute="*/10"))
def exports_clean() -> None:
    services.exports_clean()
