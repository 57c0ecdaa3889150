"""Checks and runs in the background, so a large file does not hold a web request open."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from patron.staff.models import User

from .models import ImportJob
from .services import job_perform


@db_task()
def execute_import(job_id: int, user_id: int, dry_run: bool) -> None:
    job = ImportJob.objects.get(pk=job_id)
    job_perform(actor=User.objects.get(pk=user_id), job=job, dry_run=dry_run)
