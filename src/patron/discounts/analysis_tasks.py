"""What-if replays on the background queue: the run's record holds its progress and its result."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from .analysis import whatif_perform


@db_task()
def what_if_run(run_id: int) -> None:
    whatif_perform(run_id)
