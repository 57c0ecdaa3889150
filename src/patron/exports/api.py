"""REST endpoints for background exports: ask for one, follow its progress, download its file.

``POST /exports`` answers 201 at once and the file is written in the background; poll
``GET /exports/{id}`` until ``status`` is ``done`` (or ``failed``), then fetch
``GET /exports/{id}/file``. Only the user who asked for an export sees it: anyone else
gets a 404, an admin too.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Path, Query, Router, Schema, Status

from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import file_response, responses
from patron.core.exports import XLSX_TYPE

from . import services
from .models import ExportJob

router = Router(tags=["exports"])

ExportId = Annotated[int, Path(ge=1, le=2**63 - 1)]
LIST_NAMES = Literal["accounts", "orders", "invoices", "payments", "products"]
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}


class ExportIn(Schema):
    list: LIST_NAMES
    format: Literal["csv", "xlsx"] = "xlsx"
    query: str = Field(
        "",
        max_length=4000,
        description="The list's filters as its page's query string, e.g. `region=GD&key_account=yes` "
        "(accounts) or `status=confirmed&date_from=2026-01-01` (orders); empty for the whole list.",
    )


class ExportOut(Schema):
    id: int
    list: str
    format: str
    query: str = Field(description="The filters, as asked for.")
    status: Literal["queued", "running", "done", "failed"]
    rows_total: int | None = Field(description="Rows in the file; null until they are counted.")
    rows_done: int = Field(description="Rows written so far.")
    percent: int
    file_size: int
    file_url: str | None = Field(description="Where to download the file, once it is written and until it expires.")
    message: str = Field(description="Why the export failed, if it did.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None = Field(description="When the file is removed.")

    @staticmethod
    def resolve_list(obj: ExportJob) -> str:
        return obj.list_name

    @staticmethod
    def resolve_file_url(obj: ExportJob) -> str | None:
        return reverse("api:export_file", args=[obj.pk]) if obj.is_ready else None


class ExportPage(Schema):
    items: list[ExportOut]
    next_cursor: str | None


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _job(request: HttpRequest, export_id: int) -> ExportJob:
    job = get_object_or_404(ExportJob, pk=export_id)
    if not services.may_see(_user(request), job):
        raise ExportJob.DoesNotExist
    return job


@router.get("/exports", response=responses({200: ExportPage}, 422), summary="Your exports, newest first")
def export_list(request: HttpRequest, query: Query[PageQuery]) -> Any:
    return page_of(ExportJob.objects.filter(created_by=_user(request)), sort="-created_at", query=query)


@router.post(
    "/exports",
    response=responses({201: ExportOut}, 403, 422),
    summary="Export a list in the background",
    description="Any size of list; the file is written in the background with the rows the caller may see "
    "when it is written. Asking again for the same file while it is being written returns that export.",
)
def export_start(request: HttpRequest, payload: ExportIn) -> Any:
    job = services.export_job_start(
        actor=_user(request), list_name=payload.list, kind=payload.format, query=payload.query
    )
    job.refresh_from_db()
    return Status(201, job)


@router.get(
    "/exports/{export_id}",
    url_name="export_detail",
    response=responses({200: ExportOut}, 404, 422),
    summary="An export and its progress",
)
def export_detail(request: HttpRequest, export_id: ExportId) -> Any:
    return _job(request, export_id)


@router.get(
    "/exports/{export_id}/file",
    url_name="export_file",
    response=responses({}, 404, 409, 422),
    summary="Download an export's file",
    description="409 while the file is being written, after it failed, or once it has been removed.",
    openapi_extra=file_response(),
)
def export_file(request: HttpRequest, export_id: ExportId) -> Any:
    job = _job(request, export_id)
    path, filename = services.export_file(job)
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename, content_type=CONTENT_TYPES[job.format])
