"""Approval emails on the background queue (retried if the mail server is away)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from . import notify


@db_task(retries=3, retry_delay=60)
def send_approval_email(request_id: int, kind: str, recipient_id: int) -> None:
    notify.send(request_id, kind, recipient_id)
