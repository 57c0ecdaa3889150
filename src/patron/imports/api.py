"""REST endpoints for imports: upload, map, check, run, follow progress, undo.

A check or a run answers 202 at once and goes on in the background; poll
``GET /imports/{id}`` until ``status`` is no longer ``checking`` or ``running``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile

from patron.accounts.access import role_of
from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import responses
from patron.domain.access import Role
from patron.domain.importing import ENCODINGS, FileError

from . import services
from .kinds import columns_for, field_label
from .messages import file_error_text
from .models import ImportJob
from .tasks import execute_import

router = Router(tags=["imports"])

JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
KINDS = Literal["accounts", "contacts", "products", "orders", "returns", "payments"]


class ProblemOut(Schema):
    row: int | None = Field(description="Row number as the spreadsheet shows it (the header is row 1).")
    field: str | None
    column: str = Field(description='Column letter and header, e.g. "C (数量)".')
    message: str
    level: Literal["error", "warning"]


class ProgressOut(Schema):
    done: int
    total: int
    percent: int
    phase: Literal["reading", "rows"] = Field(
        description="`reading` while the whole file is read (a large workbook can take a while), then `rows`."
    )


class ImportOut(Schema):
    id: int
    kind: str
    status: str
    file_name: str
    file_size: int
    encoding: str
    headers: list[str]
    mapping: dict[str, str] = Field(description="Column index (0-based, as text) to field key.")
    total_rows: int = Field(
        description="Rows in the file. For a large workbook, until a check reads it whole, the count its sheet "
        "states (0 if none): see `total_rows_exact`."
    )
    total_rows_exact: bool = Field(description="False while `total_rows` is the workbook's own statement.")
    error_count: int
    warning_count: int
    created: int
    updated: int
    unchanged: int
    message: str
    created_by: str
    created_at: dt.datetime
    checked_at: dt.datetime | None
    finished_at: dt.datetime | None
    undone_at: dt.datetime | None
    progress: ProgressOut
    report: list[ProblemOut]

    @staticmethod
    def resolve_created_by(obj: ImportJob) -> str:
        return obj.created_by.username

    @staticmethod
    def resolve_progress(obj: ImportJob) -> dict[str, Any]:
        return services.progress(obj)

    @staticmethod
    def resolve_total_rows_exact(obj: ImportJob) -> bool:
        return services.rows_exact(obj)


class ImportSummary(Schema):
    id: int
    kind: str
    status: str
    file_name: str
    total_rows: int
    total_rows_exact: bool
    error_count: int
    created: int
    updated: int
    unchanged: int
    created_by: str
    created_at: dt.datetime

    @staticmethod
    def resolve_created_by(obj: ImportJob) -> str:
        return obj.created_by.username

    @staticmethod
    def resolve_total_rows_exact(obj: ImportJob) -> bool:
        return services.rows_exact(obj)


class ImportPage(Schema):
    items: list[ImportSummary]
    next_cursor: str | None


class FieldOut(Schema):
    key: str
    label: str
    required: bool
    kind: str
    headers: list[str] = Field(description="Column headers recognised for this field.")


class MappingIn(Schema):
    mapping: dict[str, Annotated[str, Field(max_length=60)]] = Field(
        description='Column index (0-based, as text) to field key; "" leaves a column out.'
    )


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _job(request: HttpRequest, job_id: JobId) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)
    if not services.may_see(_user(request), job):
        raise ImportJob.DoesNotExist
    return job


@router.get(
    "/imports/fields/{kind}", response=responses({200: list[FieldOut]}, 404, 422), summary="Fields an import reads"
)
def import_fields(request: HttpRequest, kind: KINDS) -> Any:
    return [
        {"key": c.key, "label": field_label(kind, c.key), "required": c.required, "kind": c.kind, "headers": c.names}
        for c in columns_for(kind)
    ]


@router.get("/imports", response=responses({200: ImportPage}, 422), summary="Your imports, newest first")
def import_list(request: HttpRequest, query: Query[PageQuery]) -> Any:
    user = _user(request)
    jobs = ImportJob.objects.select_related("created_by")
    if role_of(user) != Role.ADMIN:
        jobs = jobs.filter(created_by=user)
    return page_of(jobs, sort="-created_at", query=query)


@router.post(
    "/imports",
    response=responses({201: ImportOut}, 403, 409, 422),
    summary="Upload a CSV or XLSX file",
    description=f"Multipart form: `kind`, `file`, optionally `encoding` ({', '.join(ENCODINGS)}) and `mapping` "
    "(JSON object of column index to field key). The file's columns are mapped automatically from their "
    "headers; nothing is checked or written until a check or a run.",
)
def import_upload(
    request: HttpRequest,
    kind: Form[KINDS],
    file: File[UploadedFile],
    encoding: Form[str] = "",
    mapping: Form[str] = "",
) -> Any:
    limit = settings.PATRON_IMPORT_MAX_MB * 1024 * 1024
    if file.size is not None and file.size > limit:
        raise ValidationError({"file": [file_error_text(FileError("too_large"))]})
    if encoding and encoding not in ENCODINGS:
        raise ValidationError({"encoding": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ENCODINGS)}]})
    parsed: dict[str, Any] | None = None
    if mapping:
        try:
            parsed = json.loads(mapping)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValidationError({"mapping": [_("Give the mapping as a JSON object of column index to field.")]})
    job = services.job_create(
        actor=_user(request), kind=kind, file_name=file.name or "upload", data=file.read(), encoding=encoding or None
    )
    if parsed is not None:
        job = services.job_set_mapping(actor=_user(request), job=job, mapping=parsed)
    return Status(201, job)


@router.get(
    "/imports/{job_id}", response=responses({200: ImportOut}, 404, 422), summary="An import, its progress and report"
)
def import_detail(request: HttpRequest, job_id: JobId) -> Any:
    return _job(request, job_id)


@router.put(
    "/imports/{job_id}/mapping", response=responses({200: ImportOut}, 404, 409, 422), summary="Map columns to fields"
)
def import_mapping(request: HttpRequest, job_id: JobId, payload: MappingIn) -> Any:
    return services.job_set_mapping(actor=_user(request), job=_job(request, job_id), mapping=payload.mapping)


def _start(request: HttpRequest, job_id: JobId, dry_run: bool) -> Any:
    job = _job(request, job_id)
    if job.status == ImportJob.DONE and not dry_run:
        return Status(200, job)  # a repeated run request: the import ran once
    job = services.job_start(actor=_user(request), job=job, dry_run=dry_run)
    if job.status != ImportJob.DONE:
        execute_import(job.pk, _user(request).pk, dry_run)
    job.refresh_from_db()
    return Status(202, job)


@router.post(
    "/imports/{job_id}/check",
    response=responses({202: ImportOut}, 404, 409, 422),
    summary="Dry run: report every problem by row and column, write nothing",
)
def import_check(request: HttpRequest, job_id: JobId) -> Any:
    return _start(request, job_id, dry_run=True)


@router.post(
    "/imports/{job_id}/run",
    response=responses({200: ImportOut, 202: ImportOut}, 404, 409, 422),
    summary="Import: all rows or, if any has an error, none",
)
def import_run(request: HttpRequest, job_id: JobId) -> Any:
    return _start(request, job_id, dry_run=False)


@router.post(
    "/imports/{job_id}/undo", response=responses({200: ImportOut}, 404, 409, 422), summary="Undo an import as a whole"
)
def import_undo(request: HttpRequest, job_id: JobId) -> Any:
    return services.job_undo(actor=_user(request), job=_job(request, job_id))
