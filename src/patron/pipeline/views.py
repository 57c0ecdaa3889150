"""Thin pages over the pipeline services: the list, the board, an opportunity, its form, the forecast."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.accounts.access import can, visible_accounts
from patron.core.errors import Conflict, error_dict
from patron.domain import pipeline as rules
from patron.domain.access import Action
from patron.staff.models import User
from patron.web.charts import grouped_bars

from . import selectors, services
from .forms import DecisionMakerForm, DocumentForm, FilterForm, MoveForm, OpportunityForm
from .models import STAGES, Opportunity, OpportunityDocument


def _worker(user: Any) -> None:
    if not selectors.may_use_pipeline(user):
        raise PermissionDenied


def _add_errors(form: Any, exc: ValidationError) -> None:
    for field, texts in error_dict(exc).items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


def _owners(account: Any) -> list[tuple[str, str]]:
    people = User.objects.filter(is_active=True).select_related("team").order_by("username")
    return [(u.username, u.display_name()) for u in people if can(u, Action.EDIT_ACCOUNT, account)]


def _opportunity(request: HttpRequest, opportunity_id: int) -> Opportunity:
    _worker(request.user)
    return get_object_or_404(
        selectors.opportunities_visible(request.user).select_related("account", "account__owner__team", "owner"),
        pk=opportunity_id,
    )


@login_required
def opportunity_list(request: HttpRequest) -> HttpResponse:
    _worker(request.user)
    form = FilterForm(request.GET or None, owners=selectors.owners_to_filter(request.user))
    status = 200
    filters: dict[str, Any] = {}
    if request.GET:
        if form.is_valid():
            filters = form.cleaned_data
        else:
            status = 400
    rows = list(selectors.opportunity_list(request.user, filters)[:500])
    return render(
        request,
        "pipeline/list.html",
        {"form": form, "opportunities": rows, "today": timezone.localdate()},
        status=status,
    )


def _board_context(request: HttpRequest, *, owner: str = "", move_error: str = "") -> dict[str, Any]:
    columns = selectors.board(request.user, owner=owner)
    return {
        "columns": columns,
        "open_columns": [c for c in columns if c.stage in rules.OPEN_STAGES],
        "closed_columns": [c for c in columns if c.stage not in rules.OPEN_STAGES],
        "stages": STAGES,
        "owner": owner,
        "owners": selectors.owners_to_filter(request.user),
        "currency": selectors.Rates(timezone.localdate()).currency,
        "today": timezone.localdate(),
        "move_error": move_error,
    }


@login_required
def board(request: HttpRequest) -> HttpResponse:
    _worker(request.user)
    owner = str(request.GET.get("owner") or "")[:150]
    return render(request, "pipeline/board.html", _board_context(request, owner=owner))


@login_required
def opportunity_new(request: HttpRequest) -> HttpResponse:
    """Open an opportunity on the account named by ``?account=`` (its code), from the account's page."""
    _worker(request.user)
    code = (request.GET.get("account") or request.POST.get("account") or "").strip()
    account = visible_accounts(request.user).filter(code=code).first()
    if account is None:
        raise Http404
    if not can(request.user, Action.EDIT_ACCOUNT, account):
        raise PermissionDenied
    owner = account.owner if account.owner and can(account.owner, Action.EDIT_ACCOUNT, account) else request.user
    initial = {
        "owner": owner.get_username(),
        "currency": "CNY",
        "stage": rules.QUALIFICATION,
        "expected_close": timezone.localdate() + dt.timedelta(days=90),
    }
    form = OpportunityForm(request.POST or None, owners=_owners(account), initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                made = services.opportunity_create(actor=request.user, account=account, data=form.service_data())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Opportunity opened."))
                return redirect("pipeline:detail", made.pk)
        status = 400
    return render(request, "pipeline/form.html", {"form": form, "account": account}, status=status)


@login_required
def opportunity_edit(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    opportunity = _opportunity(request, opportunity_id)
    initial = {
        "name": opportunity.name,
        "amount": opportunity.amount,
        "currency": opportunity.currency,
        "probability": opportunity.probability,
        "expected_close": opportunity.expected_close,
        "owner": opportunity.owner.get_username(),
        "next_step": opportunity.next_step,
        "description": opportunity.description,
    }
    owners = _owners(opportunity.account)
    form = OpportunityForm(request.POST or None, owners=owners, editing=True, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.opportunity_update(actor=request.user, opportunity=opportunity, data=form.service_data())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("pipeline:detail", opportunity.pk)
        status = 400
    return render(
        request,
        "pipeline/form.html",
        {"form": form, "account": opportunity.account, "opportunity": opportunity},
        status=status,
    )


def _detail(
    request: HttpRequest,
    opportunity: Opportunity,
    *,
    move: MoveForm | None = None,
    person: DecisionMakerForm | None = None,
    document: DocumentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "pipeline/detail.html",
        {
            "opportunity": opportunity,
            "overdue": rules.is_overdue(opportunity.stage, opportunity.expected_close, timezone.localdate()),
            "decision_makers": list(
                opportunity.decision_makers.select_related("contact").order_by("role", "contact__name")
            ),
            "documents": list(opportunity.documents.select_related("uploaded_by")),
            "history": selectors.stage_history(opportunity, now=now),
            "time_in_stages": selectors.time_in_stages(opportunity, now=now),
            "move_form": move or MoveForm(initial={"stage": opportunity.stage}),
            "person_form": person or DecisionMakerForm(account=opportunity.account),
            "document_form": document or DocumentForm(),
            "max_mb": services.document_max_bytes() // (1024 * 1024),
            "extensions": ", ".join(services.DOCUMENT_EXTENSIONS),
        },
        status=status,
    )


@login_required
def opportunity_detail(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    return _detail(request, _opportunity(request, opportunity_id))


def _next_url(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@login_required
@require_POST
def opportunity_move(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    """Move from the detail page or a board card: a plain form post, or the same post through htmx."""
    opportunity = _opportunity(request, opportunity_id)
    form = MoveForm(request.POST)
    from_board = request.POST.get("from") == "board"
    error = ""
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.opportunity_move(
                actor=request.user,
                opportunity=opportunity,
                stage=d["stage"],
                probability=d.get("probability"),
                lost_reason=d.get("lost_reason") or "",
                note=d.get("note") or "",
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except Conflict as exc:
            form.add_error("stage", exc.message)
        else:
            label = services.stage_label(d["stage"])
            messages.success(request, _("%(name)s: %(stage)s.") % {"name": opportunity.name, "stage": label})
            fallback = reverse("pipeline:board") if from_board else reverse("pipeline:detail", args=[opportunity.pk])
            return redirect(_next_url(request, fallback))
    if from_board:
        error = "; ".join(
            f"{form.fields[f].label if f in form.fields else ''}: {' '.join(str(m) for m in e)}"
            for f, e in form.errors.items()
        )
        context = _board_context(request, move_error=f"{opportunity.name} — {error}")
        # htmx swaps only successful answers in: the board comes back whole with the error on it.
        htmx = getattr(request, "htmx", None)
        return render(request, "pipeline/board.html", context, status=200 if htmx else 400)
    return _detail(request, opportunity, move=form, status=400)


@login_required
@require_POST
def decision_maker_add(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    opportunity = _opportunity(request, opportunity_id)
    form = DecisionMakerForm(request.POST, account=opportunity.account)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.opportunity_contact_add(
                actor=request.user,
                opportunity=opportunity,
                contact=d["contact"],
                role=d["role"],
                attitude=d["attitude"],
                notes=d.get("notes") or "",
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Decision maker saved."))
            return redirect("pipeline:detail", opportunity.pk)
    return _detail(request, opportunity, person=form, status=400)


@login_required
@require_POST
def decision_maker_remove(request: HttpRequest, opportunity_id: int, contact_id: int) -> HttpResponse:
    opportunity = _opportunity(request, opportunity_id)
    if services.opportunity_contact_remove(actor=request.user, opportunity=opportunity, contact=contact_id):
        messages.success(request, _("Removed."))
    return redirect("pipeline:detail", opportunity.pk)


@login_required
@require_POST
def document_upload(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    opportunity = _opportunity(request, opportunity_id)
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.document_max_bytes():
            form.add_error(
                "file", _("The file is larger than %(mb)s MB.") % {"mb": services.document_max_bytes() // 2**20}
            )
        else:
            try:
                services.opportunity_document_attach(
                    actor=request.user,
                    opportunity=opportunity,
                    file_name=upload.name or "",
                    data=upload.read(),
                    kind=form.cleaned_data["kind"],
                    name=form.cleaned_data.get("name") or "",
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Document attached."))
                return redirect("pipeline:detail", opportunity.pk)
    return _detail(request, opportunity, document=form, status=400)


def _document(request: HttpRequest, opportunity_id: int, document_id: int) -> tuple[Opportunity, OpportunityDocument]:
    opportunity = _opportunity(request, opportunity_id)
    return opportunity, get_object_or_404(OpportunityDocument, pk=document_id, opportunity=opportunity)


@login_required
def document_download(request: HttpRequest, opportunity_id: int, document_id: int) -> FileResponse:
    _found, document = _document(request, opportunity_id, document_id)
    path = services.document_path(document)
    if not path.is_file():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=document.file_name)


@login_required
@require_POST
def document_remove(request: HttpRequest, opportunity_id: int, document_id: int) -> HttpResponse:
    opportunity, document = _document(request, opportunity_id, document_id)
    services.opportunity_document_remove(actor=request.user, opportunity=opportunity, document=document)
    messages.success(request, _("Removed."))
    return redirect("pipeline:detail", opportunity.pk)


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    _worker(request.user)
    try:
        months = min(max(int(request.GET.get("months") or selectors.FORECAST_MONTHS), 1), 24)
    except ValueError:
        months = selectors.FORECAST_MONTHS
    view = selectors.forecast(request.user, months=months)
    currency = view.currency
    labels = [m.strftime("%Y-%m") for m, _line in view.forecast.months]
    chart = grouped_bars(
        labels,
        [
            (_("Weighted forecast"), [line.weighted for _m, line in view.forecast.months]),
            (_("Won"), [line.won for _m, line in view.forecast.months]),
            (_("Open amount"), [line.open_amount for _m, line in view.forecast.months]),
        ],
        title=_("Forecast by expected close month"),
        desc=_("Weighted forecast, won and open amounts per month, in %(currency)s.") % {"currency": currency},
    )
    people = {u.username: u.display_name() for u in User.objects.filter(username__in=[o for o, _l in view.by_owner])}
    labels_of = dict(STAGES)
    return render(
        request,
        "pipeline/forecast.html",
        {
            "view": view,
            "chart": chart,
            "months": months,
            "month_choices": (3, 6, 12),
            "by_stage": [(str(labels_of.get(s, s)), line) for s, line in view.forecast.by_stage],
            "by_owner": [(people.get(o, o), line) for o, line in view.by_owner],
            "averages": selectors.average_time_in_stages(request.user),
            "currency": currency,
        },
    )
