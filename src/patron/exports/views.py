"""Export pages: the offer to write a long list in the background, an export's progress and file, the user's exports.

``list_export`` is what every list's export link answers: a short list downloads at once,
as it always has; a list longer than ``PATRON_EXPORT_DIRECT_ROWS`` (5,000) rows gets a page
that offers to write it in the background, then shows its progress and its file. Someone
else's export is a 404, for an admin too: the file holds what its owner may see.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import parse_qsl

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from patron.audit.services import audit_record
from patron.core.errors import Conflict, error_dict
from patron.core.exports import XLSX_TYPE, ExportSource, export_response
from patron.core.pagination import BadCursor, keyset_page
from patron.staff.models import User

from . import services
from .lists import LISTS, filter_query, replaying
from .models import ExportJob

PAGE_SIZE = 50
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}


def list_export(
    request: HttpRequest, source: ExportSource, kind: str, *, changes: dict[str, Any] | None = None
) -> HttpResponseBase | ExportSource:
    """A list's export: its rows for a background export, the file of a short list, or the offer for a long one."""
    if replaying(request):
        return source
    if source.more_than(services.direct_limit()):
        return _offer(request, source.name, kind, filter_query(request.GET))
    user = cast(User, request.user)
    audit_record(
        actor=user,
        action=services.audit_action(source.name),
        instance=user,
        changes={"format": [None, kind], **(changes or {})},
    )
    return export_response(kind, source.name, source.headings, source.rows())


def _offer(
    request: HttpRequest, list_name: str, kind: str, query: str, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "list": LISTS[list_name],
        "kind": kind,
        "query": query,
        "query_pairs": parse_qsl(query),
        "limit": services.direct_limit(),
        "days": services.keep_days(),
        "errors": errors or [],
    }
    return render(request, "exports/offer.html", context, status=status)


def _job_or_404(request: HttpRequest, pk: int) -> ExportJob:
    job = get_object_or_404(ExportJob, pk=pk)
    if not services.may_see(request.user, job):
        raise Http404("export")
    return job


@login_required
@require_POST
def export_start(request: HttpRequest) -> HttpResponse:
    """Queue the export the offer page describes, then follow it on its page."""
    list_name, kind = request.POST.get("list", ""), request.POST.get("format", "")
    query = request.POST.get("query", "")[:4000]
    if list_name not in LISTS or kind not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Choose a list, and csv or xlsx."))
    try:
        job = services.export_job_start(actor=request.user, list_name=list_name, kind=kind, query=query)
    except ValidationError as exc:
        problems = [message for messages_ in error_dict(exc).values() for message in messages_]
        return _offer(request, list_name, kind, query, errors=problems, status=400)
    return redirect("exports:detail", job.pk)


@login_required
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    jobs = ExportJob.objects.filter(created_by=cast(User, request.user))
    try:
        page = keyset_page(jobs, sort="-created_at", cursor=request.GET.get("after") or None, limit=PAGE_SIZE)
    except BadCursor:
        page = keyset_page(jobs, sort="-created_at", cursor=None, limit=PAGE_SIZE)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    rows = [(job, LISTS[job.list_name].label if job.list_name in LISTS else job.list_name) for job in page.items]
    return render(request, "exports/list.html", {"rows": rows, "next_url": next_url, "days": services.keep_days()})


def _context(job: ExportJob) -> dict[str, Any]:
    listed = LISTS.get(job.list_name)
    return {
        "job": job,
        "list": listed,
        "filters": services.describe_filters(job),
        "stalled": services.stalled(job),
        "days": services.keep_days(),
    }


@login_required
@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "exports/detail.html", _context(_job_or_404(request, pk)))


@login_required
@require_GET
def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar while the file is written; a refresh of the whole page once it is over."""
    job = _job_or_404(request, pk)
    if job.is_busy:
        return render(request, "exports/_progress_update.html", _context(job))
    if getattr(request, "htmx", False):
        return HttpResponseClientRefresh()
    return redirect("exports:detail", job.pk)


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = _job_or_404(request, pk)
    try:
        path, filename = services.export_file(job)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("exports:detail", job.pk)
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename, content_type=CONTENT_TYPES[job.format])
