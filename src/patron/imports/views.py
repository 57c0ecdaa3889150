"""Import pages: the history, the upload, one import's mapping, check, report, run and undo.

Views read and write through the services. Someone else's import is a 404 (an admin
sees every import); a check or a run is claimed here, in the request, and done by the
background task, so the page can show a progress bar at once. A refusal of the current
state (``Conflict``, such as an undo that something recorded since depends on) is an
error message on the import's page.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from patron.accounts.access import role_of
from patron.core.errors import Conflict, error_dict
from patron.core.exports import csv_chunks, export_response
from patron.core.pagination import BadCursor, keyset_page
from patron.domain.access import Role
from patron.domain.importing import Column
from patron.domain.spreadsheet import safe_cell
from patron.staff.models import User

from . import services, tasks
from .forms import MappingForm, UploadForm
from .kinds import columns_for, field_label
from .models import ImportJob
from .preview import preview_rows

PAGE_SIZE = 50
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# A line on what each kind of file is, beside the columns it needs.
KIND_NOTES = {
    ImportJob.ACCOUNTS: gettext_lazy(
        "A row updates the account with the same code (or tax id, phone or email); otherwise it creates one, "
        "which needs a name."
    ),
    ImportJob.CONTACTS: gettext_lazy(
        "Each contact joins the account with that code; the same person (by email, phone or name) is updated."
    ),
    ImportJob.PRODUCTS: gettext_lazy("A product is found by its SKU; a new product needs a list price."),
    ImportJob.ORDERS: gettext_lazy("One row per order line; the lines with the same order number make one order."),
    ImportJob.RETURNS: gettext_lazy("One row per returned line, naming the order and the product."),
    ImportJob.PAYMENTS: gettext_lazy(
        "One row per payment, or one row per invoice it settles under the same payment number."
    ),
}


def _job_or_404(request: HttpRequest, pk: int) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("created_by", "undone_by"), pk=pk)
    if not services.may_see(request.user, job):
        raise Http404("import")
    return job


def _mapping_editable(job: ImportJob) -> bool:
    return job.status in (ImportJob.UPLOADED, ImportJob.CHECKED)


# --- history ------------------------------------------------------------------


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    jobs = ImportJob.objects.select_related("created_by")
    if role_of(user) != Role.ADMIN:
        jobs = jobs.filter(created_by=user)
    try:
        page = keyset_page(jobs, sort="-created_at", cursor=request.GET.get("after") or None, limit=PAGE_SIZE)
    except BadCursor:
        page = keyset_page(jobs, sort="-created_at", cursor=None, limit=PAGE_SIZE)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    return render(
        request,
        "imports/list.html",
        {
            "page": page,
            "rows": [(job, services.rows_exact(job)) for job in page.items],
            "next_url": next_url,
            "can_import": bool(services.kinds_for(user)),
            "show_owner": role_of(user) == Role.ADMIN,
        },
    )


# --- upload -------------------------------------------------------------------


def _kind_help(kinds: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """What each kind the user may import needs: its required and optional columns, and its template."""
    out = []
    for kind, label in kinds:
        columns = columns_for(kind)
        out.append(
            {
                "kind": kind,
                "label": label,
                "note": KIND_NOTES.get(kind, ""),
                "required": [field_label(kind, c.key) for c in columns if c.required],
                "optional": [field_label(kind, c.key) for c in columns if not c.required],
            }
        )
    return out


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    kinds = services.kinds_for(user)
    if not kinds:
        raise PermissionDenied("import")
    initial = {"kind": request.GET["kind"]} if request.GET.get("kind") in dict(kinds) else {}
    form = UploadForm(request.POST or None, request.FILES or None, kinds=kinds, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.job_create(
                    actor=user,
                    kind=form.cleaned_data["kind"],
                    file_name=upload.name or "upload",
                    data=upload.read(),
                    encoding=form.cleaned_data["encoding"] or None,
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                if services.rows_exact(job):
                    text = _("%(file)s uploaded: %(rows)s rows. Check how its columns map, then check the file.")
                elif job.total_rows:
                    text = _(
                        "%(file)s uploaded: about %(rows)s rows, counted when the file is checked. "
                        "Check how its columns map, then check the file."
                    )
                else:
                    text = _(
                        "%(file)s uploaded; its rows are counted when the file is checked. "
                        "Check how its columns map, then check the file."
                    )
                messages.success(request, text % {"file": job.file_name, "rows": job.total_rows})
                return redirect("imports:detail", job.pk)
        status = 400
    return render(request, "imports/new.html", {"form": form, "kinds": _kind_help(kinds)}, status=status)


def template_headers(kind: str, columns: tuple[Column, ...]) -> list[str]:
    """One header per field, "Chinese (English)", that the upload maps back to the field by itself.

    Each part is taken from the column's own header names (the first Chinese one and the
    first English one); the English part is in brackets, which the mapping ignores.
    """
    headers = []
    for column in columns:
        chinese = next((n for n in column.names if CJK.search(n)), "")
        english = next((n for n in column.names if not CJK.search(n)), "")
        if not english:
            with translation.override("en"):
                english = field_label(kind, column.key)
        english = re.sub(r"\s*[（(].*?[)）]", "", english)
        headers.append(f"{chinese} ({english})" if chinese else english)
    return headers


@login_required
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """An empty CSV (UTF-8 with a byte order mark, for Excel) with the headers of ``kind``."""
    if kind not in dict(ImportJob.KINDS):
        raise Http404(kind)
    body = b"".join(csv_chunks(template_headers(kind, columns_for(kind)), iter([])))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="patron-{kind}.csv"'
    return response


# --- one import ---------------------------------------------------------------


def _report_rows(job: ImportJob) -> list[dict[str, Any]]:
    """The problems found, errors first, each with the column as the user knows it."""
    rows = []
    for problem in job.report:
        column = problem.get("column") or ""
        if not column and problem.get("field"):
            column = field_label(job.kind, problem["field"])
        rows.append({**problem, "column_text": column})
    return sorted(rows, key=lambda p: (p.get("level") != "error", p.get("row") or 0))


def _detail(request: HttpRequest, job: ImportJob, form: MappingForm | None = None, status: int = 200) -> HttpResponse:
    columns = columns_for(job.kind)
    editable = _mapping_editable(job)
    if form is None:
        form = MappingForm(job=job, columns=columns, disabled=not editable)
    mapped = set(job.mapping.values())
    checked = job.status == ImportJob.CHECKED
    report = _report_rows(job) if job.status in (ImportJob.CHECKED, ImportJob.DONE, ImportJob.UNDONE) else []
    context = {
        "job": job,
        "form": form,
        "columns": form.columns(),
        "preview": preview_rows(job),
        "editable": editable,
        "required": [{"label": field_label(job.kind, c.key), "mapped": c.key in mapped} for c in columns if c.required],
        "progress": services.progress(job) if job.is_busy else None,
        "rows_exact": services.rows_exact(job),
        "report": report,
        "report_shown": checked or bool(report),
        "report_cut": len(job.report) < job.error_count + job.warning_count,
        "can_run": job.status in (ImportJob.UPLOADED, ImportJob.CHECKED, ImportJob.FAILED),
        "run_primary": checked and job.error_count == 0 and job.checked_mapping == job.mapping,
        "can_undo": job.status == ImportJob.DONE,
    }
    return render(request, "imports/detail.html", context, status=status)


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _job_or_404(request, pk))


@login_required
@require_POST
def import_execute(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the mapping as posted, then check (``action=check``) or import (``action=run``) the file."""
    user = request.user
    job = _job_or_404(request, pk)
    action = request.POST.get("action")
    if action not in ("check", "run"):
        return HttpResponseBadRequest(_("Choose to check the file or to import it."))
    dry_run = action == "check"
    if _mapping_editable(job):
        form = MappingForm(request.POST, job=job, columns=columns_for(job.kind))
        if not form.is_valid():
            return _detail(request, job, form, status=400)
        try:
            cleaned = services.clean_mapping(job, form.mapping())
            if {str(index): key for index, key in cleaned.items()} != job.mapping:
                job = services.job_set_mapping(actor=user, job=job, mapping=cleaned)
        except ValidationError as exc:
            form.add_service_errors(exc)
            return _detail(request, job, form, status=400)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("imports:detail", job.pk)
    try:
        job = services.job_start(actor=user, job=job, dry_run=dry_run)
    except ValidationError as exc:
        for problems in error_dict(exc).values():
            for message in problems:
                messages.error(request, message)
        return redirect("imports:detail", job.pk)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("imports:detail", job.pk)
    if job.is_busy:
        tasks.execute_import(job.pk, user.pk, dry_run)
    return redirect("imports:detail", job.pk)


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar while a check or run is under way; a refresh of the whole page once it is over."""
    job = _job_or_404(request, pk)
    if job.is_busy:
        context = {"job": job, "progress": services.progress(job), "rows_exact": services.rows_exact(job)}
        return render(request, "imports/_progress.html", context)
    if getattr(request, "htmx", False):
        return HttpResponseClientRefresh()
    return redirect("imports:detail", job.pk)


@login_required
@require_GET
def import_report(request: HttpRequest, pk: int) -> Any:
    """The problems of the last check as a CSV, to work through beside the file."""
    job = _job_or_404(request, pk)
    headings = [_("Row"), _("Column"), _("Problem"), _("Level")]
    levels = {"error": _("Error"), "warning": _("Warning")}
    rows = (
        [safe_cell(p.get("row")), safe_cell(p["column_text"]), safe_cell(p.get("message")), levels.get(p["level"])]
        for p in _report_rows(job)
    )
    return export_response("csv", f"import-{job.pk}-report", headings, rows)


@login_required
@require_http_methods(["GET", "POST"])
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST takes back everything the import wrote, or nothing."""
    user = request.user
    job = _job_or_404(request, pk)
    if request.method == "GET":
        if job.status != ImportJob.DONE:
            return redirect("imports:detail", job.pk)
        return render(request, "imports/undo.html", {"job": job})
    try:
        job = services.job_undo(actor=user, job=job)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import of %(file)s is undone.") % {"file": job.file_name})
    return redirect("imports:detail", job.pk)
