"""The follow-up jobs on the background queue: cadences plan tasks each hour."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="5"))
def run_cadences() -> None:
    from .cadences import cadences_run

    cadences_run()
