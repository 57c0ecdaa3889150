"""Rebate work on the background queue: replays of many accounts."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from .analysis import replay_perform


@db_task()
def rebate_replay(replay_id: int) -> None:
    replay_perform(replay_id)
