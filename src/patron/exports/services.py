"""Asking for a background export, writing its file, and clearing old files away.

Files are kept under the var directory (``exports/``) for ``PATRON_EXPORT_KEEP_DAYS``
days (7 by default), then removed by a periodic task; the record of the export stays, as
does the audit row written when it was asked for. Progress (rows written) is saved on
the export's row as the worker goes: an export writes nothing else to the database, so
it needs no transaction that would hide its progress.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.accounts.selectors import FilterError
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.core.exports import FORMATS, export_filename, write_export

from .lists import LISTS, Refused, source_for
from .models import ExportJob

logger = logging.getLogger(__name__)

# Lists up to this many rows download at once; longer ones are written in the background.
DIRECT_ROWS = 5000
KEEP_DAYS = 7
# Rows between two progress saves.
PROGRESS_EVERY = 1000
# A running export with no progress for this long has lost its worker.
STALL_SECONDS = 600
# An export no worker has picked up in this long is given up (is the worker running?).
QUEUE_SECONDS = 24 * 3600
PART = ".part"


def export_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def direct_limit() -> int:
    return int(getattr(settings, "PATRON_EXPORT_DIRECT_ROWS", DIRECT_ROWS))


def keep_days() -> int:
    return int(getattr(settings, "PATRON_EXPORT_KEEP_DAYS", KEEP_DAYS))


def may_see(user: Any, job: ExportJob) -> bool:
    """Only the user who asked for an export sees it and downloads it (an admin included)."""
    return bool(getattr(user, "pk", None)) and job.created_by_id == user.pk


def audit_action(list_name: str) -> str:
    return f"{list_name.upper()}_EXPORTED"


# --- asking -----------------------------------------------------------------------------


def _refusal_text(exc: Exception) -> str:
    if isinstance(exc, FilterError):
        return f"{exc.field}: {exc}"
    return str(exc)


def export_job_start(
    *, actor: Any, list_name: str, kind: str, query: str = "", filters: dict[str, Any] | None = None
) -> ExportJob:
    """Ask for ``list_name`` as filtered by ``query`` to be written to a file in the background.

    The filters and the permission are checked now (a bad filter is refused before anything
    is queued) and again when the file is written. Asking again for the same file while it is
    still being written gives the export under way rather than a second one.
    """
    errors: dict[str, list[str]] = {}
    if list_name not in LISTS:
        errors["list"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(LISTS)}]
    if kind not in FORMATS:
        errors["format"] = [_("Export as csv or xlsx.")]
    if errors:
        raise ValidationError(errors)
    if list_name == "accounts" and filters is None:
        from patron.accounts.exports import filters_from_query, filters_to_data

        filters = filters_to_data(filters_from_query(actor, query))
    probe = ExportJob(created_by=actor, list_name=list_name, format=kind, query=query, filters=filters or {})
    try:
        with translation.override(_language(actor)):
            source_for(actor, probe).more_than(0)  # builds and runs the list's query once
    except (FilterError, Refused) as exc:
        raise ValidationError({"query": [_refusal_text(exc)]}) from None
    for busy in ExportJob.objects.filter(created_by=actor, status__in=(ExportJob.QUEUED, ExportJob.RUNNING)):
        if (busy.list_name, busy.format, busy.query, busy.filters) == (list_name, kind, query, probe.filters):
            return busy
    with transaction.atomic():
        job = ExportJob.objects.create(
            created_by=actor, list_name=list_name, format=kind, query=query, filters=probe.filters
        )
        audit_record(
            actor=actor,
            action=audit_action(list_name),
            instance=actor,
            changes={
                "format": [None, kind],
                "filters": [None, query or _given(probe.filters)],
                "export": [None, job.pk],
            },
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _given(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters actually set (not left at "any")."""
    return {k: v for k, v in filters.items() if v not in (None, "", [], {}) and not (k == "sort" and v == "code")}


def describe_filters(job: ExportJob) -> list[tuple[str, str]]:
    """(name, value) of each filter the export was asked with, for its page."""
    if job.query:
        return parse_qsl(job.query)
    return [(k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in _given(job.filters).items()]


def _enqueue(job_id: int) -> None:
    from .tasks import export_run

    export_run(job_id)


def _language(user: Any) -> str:
    return getattr(user, "language", None) or settings.LANGUAGE_CODE


# --- writing ----------------------------------------------------------------------------


def export_job_claim(job_id: int) -> ExportJob | None:
    """Mark a waiting export as being written, so a repeated task does not write it twice."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("created_by").filter(pk=job_id).first()
        if job is None or job.status != ExportJob.QUEUED:
            return None
        now = timezone.now()
        job.status = ExportJob.RUNNING
        job.started_at = job.progress_at = now
        job.stored_as = f"{uuid.uuid4().hex}.{job.format}"
        job.save(update_fields=["status", "started_at", "progress_at", "stored_as"])
    return job


def _save_progress(job: ExportJob, done: int) -> None:
    job.rows_done = done
    ExportJob.objects.filter(pk=job.pk).update(rows_done=done, progress_at=timezone.now())


def _fail(job: ExportJob, message: str) -> None:
    if job.stored_as:
        _remove(export_dir() / f"{job.stored_as}{PART}")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.FAILED, message=message, finished_at=timezone.now(), stored_as=""
    )


def export_job_perform(job_id: int) -> ExportJob:
    """Claim a waiting export and write its file (what the background task does)."""
    job = export_job_claim(job_id)
    if job is None:
        return ExportJob.objects.get(pk=job_id)
    return export_job_write(job)


def export_job_write(job: ExportJob) -> ExportJob:
    """Write a claimed export's file, as its owner may now see the list; a failure is kept as its message."""
    owner = job.created_by
    with translation.override(_language(owner)):
        try:
            _write(job, owner)
        except (PermissionDenied, Http404):
            _fail(job, _("You may no longer export this list."))
        except (ValidationError, FilterError, Refused) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else _refusal_text(exc)
            _fail(job, _("The list could not be exported: %(reason)s") % {"reason": text})
        except Exception as exc:
            _fail(job, _("The export stopped: %(error)s.") % {"error": exc.__class__.__name__})
            raise
    job.refresh_from_db()
    return job


def _write(job: ExportJob, owner: Any) -> None:
    if not owner.is_active:
        raise PermissionDenied("inactive")
    source = source_for(owner, job)
    job.rows_total = source.count()
    ExportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total, progress_at=timezone.now())
    final = export_dir() / job.stored_as
    part = final.with_name(final.name + PART)
    with part.open("wb") as out:
        write_export(
            job.format,
            job.list_name,
            source.headings,
            source.rows(),
            out,
            progress=lambda done: _save_progress(job, done),
            every=PROGRESS_EVERY,
        )
    os.replace(part, final)
    finished = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.DONE,
        rows_total=job.rows_done,  # rows added or removed while the file was written are as written
        file_size=final.stat().st_size,
        finished_at=finished,
        progress_at=finished,
        expires_at=finished + dt.timedelta(days=keep_days()),
        message="",
    )


# --- reading ----------------------------------------------------------------------------


def export_file(job: ExportJob) -> tuple[Path, str]:
    """The written file and the name to download it as; Conflict while it is not there."""
    if job.status == ExportJob.FAILED:
        raise Conflict(_("This export failed; start it again from the list."), "status")
    if job.is_busy:
        raise Conflict(_("The file is not ready yet."), "status")
    path = export_dir() / job.stored_as if job.stored_as else None
    if job.is_expired or path is None or not path.is_file():
        raise Conflict(
            _("This file has been removed after %(days)s days; export the list again.") % {"days": keep_days()},
            "status",
        )
    return path, export_filename(job.list_name, job.format, job.created_at)


def stalled(job: ExportJob, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    if job.status == ExportJob.RUNNING:
        return (now - (job.progress_at or job.created_at)).total_seconds() > STALL_SECONDS
    if job.status == ExportJob.QUEUED:
        return (now - job.created_at).total_seconds() > QUEUE_SECONDS
    return False


# --- clearing ---------------------------------------------------------------------------


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def exports_clean(now: dt.datetime | None = None) -> dict[str, int]:
    """Remove expired files, fail exports whose worker is gone, and remove files no export owns."""
    now = now or timezone.now()
    removed = 0
    for job in ExportJob.objects.filter(status=ExportJob.DONE, expires_at__lte=now).exclude(stored_as=""):
        _remove(export_dir() / job.stored_as)
        ExportJob.objects.filter(pk=job.pk).update(stored_as="")
        removed += 1
    failed = 0
    for job in ExportJob.objects.filter(status__in=(ExportJob.QUEUED, ExportJob.RUNNING)):
        if stalled(job, now):
            with translation.override(_language(job.created_by)):
                _fail(
                    job,
                    _("The export stopped without finishing (the background worker was not running); start it again."),
                )
            failed += 1
    owned = set(ExportJob.objects.exclude(stored_as="").values_list("stored_as", flat=True))
    strays = 0
    for path in export_dir().iterdir():
        name = path.name.removesuffix(PART)
        if name not in owned and now.timestamp() - path.stat().st_mtime > STALL_SECONDS:
            _remove(path)
            strays += 1
    if removed or failed or strays:
        logger.info(
            "exports: %s expired files removed, %s stalled exports failed, %s stray files removed",
            removed,
            failed,
            strays,
        )
    return {"expired": removed, "stalled": failed, "strays": strays}
