"""Sending one email per recipient row, each exactly once, paced, retried, and safe to restart.

A *batch* (a policy's publication, a rebate program's announcement) has rows, one per
address, each ``queued`` until it is ``sent`` or ``failed``. ``outbox_send`` is the worker's
loop over one batch: one sender per batch at a time (a lease renewed as it goes), at most
``PATRON_PUBLISH_PER_SECOND`` emails a second, each row marked sent in its own transaction
right after its email was handed to the SMTP server, so a worker stopped at any point and
started again sends nobody twice (the one email whose hand-off and mark a crash separates
may go twice; none is lost). An unreachable server stops the run and retries it with a
growing delay; a refused address fails at once; other errors retry that address with
back-off until ``MAX_ATTEMPTS``. ``outbox_due`` finds batches with rows due and no sender.

The models only need the fields named here: the batch's ``status`` (``sending``/``done``),
``lease_owner``, ``lease_until`` and ``finished_at``; the row's foreign key to the batch,
``status``, ``email``, ``attempts``, ``last_error``, ``next_attempt_at`` and ``sent_at``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from patron.domain.quiet_hours import quiet_until

from .channels import Refused, TextMessage, Unavailable, message_provider, quiet_hours

logger = logging.getLogger("patron.outbox")

BATCH = 200  # rows a sender reads at a time
LEASE = dt.timedelta(minutes=5)  # a sender that stops renewing its lease for this long is taken over
RENEW_EVERY = 20.0  # seconds between renewals: a fifteenth of the lease, not a write per email
RUN_BUDGET = 300.0  # seconds a sending task runs before it hands over to a fresh one
MAX_ATTEMPTS = 5
SMTP_TIMEOUT = 60  # seconds, when EMAIL_TIMEOUT is not set
SENDING, DONE = "sending", "done"
QUEUED, SENT, FAILED = "queued", "sent", "failed"


@dataclass(frozen=True)
class Outbox:
    """Where one kind of batch and its rows live."""

    name: str  # in the log
    batches: type[Model]
    rows: type[Model]
    batch_field: str  # the rows' foreign key to their batch
    related: tuple[str, ...] = ()  # read with each row (what its message needs), not one query per row

    def due(self, batch_id: Any, now: dt.datetime) -> QuerySet[Any]:
        rows = self.rows._default_manager.filter(**{f"{self.batch_field}_id": batch_id, "status": QUEUED}).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        return rows.select_related(*self.related) if self.related else rows


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    busy: bool = False  # another sender holds the batch
    outage: bool = False  # the mail server could not be reached
    finished: bool = False
    retry_in: float | None = None


def _take_lease(box: Outbox, batch_id: Any, owner: str, now: dt.datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now) | Q(lease_owner=owner)
    return (
        box.batches._default_manager.filter(free, pk=batch_id, status=SENDING).update(
            lease_owner=owner, lease_until=now + LEASE
        )
        == 1
    )


def _renew(box: Outbox, batch_id: Any, owner: str) -> bool:
    return (
        box.batches._default_manager.filter(pk=batch_id, lease_owner=owner).update(lease_until=timezone.now() + LEASE)
        == 1
    )


def _release(box: Outbox, batch_id: Any, owner: str, *, not_before: dt.datetime | None = None) -> None:
    box.batches._default_manager.filter(pk=batch_id, lease_owner=owner).update(lease_owner="", lease_until=not_before)


def local_now() -> dt.datetime:
    """The local time the quiet hours are read in."""
    return timezone.localtime()


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: 1, 2, 4, 8 ... minutes, at most an hour."""
    return float(min(60 * 2 ** max(attempt - 1, 0), 3600))


class Pace:
    """At most ``per_second`` hand-offs a second (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


class _Unreachable(Exception):
    """The connection to the mail server could not be opened (refused, timed out, TLS or sign-in failed)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def is_outage(exc: Exception) -> bool:
    """An error of the connection, not of this message: every other message would meet it too."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "service not available, closing the channel"
    # smtplib's errors are OSErrors too; the others (refused, reset, timed out) are the network's.
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def is_permanent(exc: Exception) -> bool:
    """A refusal that retrying will not change: the address, or the message, refused with a 5xx code."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _record_failure(box: Outbox, row: Any, exc: Exception, *, permanent: bool) -> str:
    attempts = row.attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:2000]
    rows = box.rows._default_manager.filter(pk=row.pk, status=QUEUED)
    if permanent or attempts >= MAX_ATTEMPTS:
        rows.update(status=FAILED, attempts=attempts, last_error=error, next_attempt_at=None)
        logger.warning("%s %s: %s failed after %s attempts: %s", box.name, row.pk, row.email, attempts, error)
        return FAILED
    retry_at = timezone.now() + dt.timedelta(seconds=backoff(attempts))
    rows.update(attempts=attempts, last_error=error, next_attempt_at=retry_at)
    logger.info("%s %s: %s deferred to %s: %s", box.name, row.pk, row.email, retry_at, error)
    return QUEUED


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):  # a connection that broke cannot be closed cleanly either
        connection.close()


def outbox_send(
    box: Outbox,
    batch_id: Any,
    messages: Callable[[Any], Callable[[Any], EmailMessage | TextMessage]],
    *,
    stop_after: int | None = None,
    budget: float = RUN_BUDGET,
    outages: int = 0,
    quiet: bool = False,
) -> SendReport:
    """Send what is due of one batch; see the module's docstring. ``messages(batch)`` gives the function
    that writes one row's email (or text message, sent through ``channels.message_provider``).
    ``stop_after`` ends the run after that many messages (a worker stopped halfway); ``outages`` counts
    the runs in a row the server was away; ``quiet``: nothing goes out in the quiet hours
    (``PATRON_QUIET_HOURS``), the run waits for their end."""
    report = SendReport()
    owner = uuid.uuid4().hex
    if not _take_lease(box, batch_id, owner, timezone.now()):
        report.busy = True
        return report
    build = messages(box.batches._default_manager.get(pk=batch_id))
    pace = Pace(float(getattr(settings, "PATRON_PUBLISH_PER_SECOND", 10) or 0))
    started = renewed = time.monotonic()
    connection: Any = None
    provider: Any = None
    not_before: dt.datetime | None = None
    hours = quiet_hours() if quiet else None
    try:
        while True:
            rows = list(box.due(batch_id, timezone.now()).order_by("id")[:BATCH])
            if not rows:
                break
            for row in rows:
                if stop_after is not None and report.sent >= stop_after:
                    return report
                if time.monotonic() - renewed > RENEW_EVERY:
                    if not _renew(box, batch_id, owner):
                        report.busy = True  # taken over by another sender after this one stalled
                        return report
                    renewed = time.monotonic()
                if time.monotonic() - started > budget:
                    report.retry_in = 0.0  # hand over to a fresh task
                    return report
                hush = quiet_until(local_now(), hours)
                if hush is not None:
                    logger.info("%s %s: quiet hours until %s", box.name, batch_id, hush)
                    not_before = hush
                    report.retry_in = max((hush - timezone.now()).total_seconds(), 0.0) + 1.0
                    return report
                message = build(row)
                pace.wait()
                try:
                    if isinstance(message, TextMessage):
                        if provider is None:
                            provider = message_provider()
                        provider.send(message)
                    elif connection is None:
                        # A server that hangs must not hold the lease past its term: wait at most a minute.
                        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT
                        connection = get_connection(fail_silently=False, timeout=timeout)
                        try:
                            connection.open()
                        except Exception as exc:
                            raise _Unreachable(exc) from exc
                    if not isinstance(message, TextMessage):
                        connection.send_messages([message])
                except Exception as exc:
                    if connection is not None:
                        _close(connection)
                        connection = None
                    cause = exc.cause if isinstance(exc, _Unreachable) else exc
                    if isinstance(exc, _Unreachable | Unavailable) or is_outage(exc):
                        # The server is away: nobody else can be sent to now either.
                        delay = backoff(outages + 1)
                        error = f"{type(cause).__name__}: {cause}"[:2000]
                        box.rows._default_manager.filter(pk=row.pk).update(last_error=error)
                        logger.warning("%s %s: server unreachable (%s); retry in %ss", box.name, batch_id, error, delay)
                        not_before = timezone.now() + dt.timedelta(seconds=delay)
                        report.outage, report.retry_in = True, delay
                        return report
                    permanent = isinstance(exc, Refused) or is_permanent(exc)
                    if _record_failure(box, row, exc, permanent=permanent) == FAILED:
                        report.failed += 1
                    else:
                        report.deferred += 1
                    continue
                # Handed to the server: marked at once, in its own transaction (autocommit).
                box.rows._default_manager.filter(pk=row.pk, status=QUEUED).update(
                    status=SENT, sent_at=timezone.now(), attempts=row.attempts + 1
                )
                report.sent += 1
        waiting = box.rows._default_manager.filter(**{f"{box.batch_field}_id": batch_id, "status": QUEUED})
        next_try = waiting.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        if next_try is None and not waiting.exists():
            box.batches._default_manager.filter(pk=batch_id).update(status=DONE, finished_at=timezone.now())
            report.finished = True
            logger.info("%s %s: done", box.name, batch_id)
        elif next_try is not None:
            report.retry_in = max((next_try - timezone.now()).total_seconds(), 0.0) + 1.0
        return report
    finally:
        if connection is not None:
            _close(connection)
        _release(box, batch_id, owner, not_before=not_before)


def outbox_due(box: Outbox, now: dt.datetime | None = None) -> list[int]:
    """Batches with rows due and no sender (a worker that died, a retry whose task was lost)."""
    now = now or timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    due = box.rows._default_manager.filter(**{box.batch_field: OuterRef("pk"), "status": QUEUED}).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return list(
        box.batches._default_manager.filter(free, status=SENDING).filter(Exists(due)).values_list("pk", flat=True)
    )


def schedule_next(task: Any, batch_id: Any, report: SendReport, outages: int) -> None:
    """What a sending task does after a run: nothing when done or busy; later after an outage or for deferred
    rows (``task.schedule``); at once when the run used its time."""
    if report.busy or report.finished or report.retry_in is None:
        return
    if report.outage:
        task.schedule((batch_id, outages + 1), delay=report.retry_in + 1)
    elif report.retry_in > 0:
        task.schedule((batch_id, 0), delay=report.retry_in)
    else:
        task(batch_id, 0)


def email_message(template: str, context: dict[str, Any], to: str, language: str) -> EmailMultiAlternatives:
    """One email from ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``, rendered in
    ``language`` (the subject on one line), text with an HTML alternative."""
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers={"Content-Language": language}
    )
    message.attach_alternative(html, "text/html")
    return message
