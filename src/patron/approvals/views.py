"""Approval pages: the requests to decide, one's own requests and the decided ones; one request with its terms,
its account, the decision forms and the log.

Everyone signed in may open the list; each sees what is theirs to see (``selectors``). The approve and
reject forms show only to those who may decide the request, the withdraw button only to its submitter;
a POST from anyone else is refused by the services (403, 409).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from patron.accounts.access import can
from patron.core.errors import Conflict, error_dict
from patron.core.pagination import BadCursor, keyset_page
from patron.domain.access import Action
from patron.domain.approvals import Status, Verb, allowed_actions
from patron.sales.models import Order
from patron.sales.selectors import order_list

from . import registry, selectors, services
from .models import ApprovalRequest
from .terms_display import terms_view

PAGE_SIZE = 50
RECENT_DAYS = 365
TABS = ("decide", "mine", "decided")


def _tab_label(tab: str) -> str:
    return {"decide": _("To decide"), "mine": _("My requests"), "decided": _("Decided")}[tab]


def _rows(requests: list[ApprovalRequest]) -> list[dict[str, Any]]:
    subjects = registry.describe_all(requests)
    return [{"request": r, "subject": subjects[r.pk], "type": registry.type_label(r.subject_type)} for r in requests]


@login_required
@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    decides = selectors.decider_level(user) is not None
    tabs = [t for t in TABS if decides or t != "decide"]
    tab = request.GET.get("tab") or tabs[0]
    if tab not in tabs:
        tab = tabs[0]
    querysets: dict[str, QuerySet[ApprovalRequest]] = {
        "decide": selectors.approvals_to_decide(user=user),
        "mine": selectors.approvals_submitted(user=user),
        "decided": selectors.approvals_decided(user=user),
    }
    cursor = request.GET.get("after") or None
    try:
        page = keyset_page(querysets[tab], sort="-created_at", cursor=cursor, limit=PAGE_SIZE)
    except BadCursor:
        page = keyset_page(querysets[tab], sort="-created_at", cursor=None, limit=PAGE_SIZE)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["tab"] = tab
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    counts = {
        "decide": selectors.approval_pending_count(user=user) if decides else 0,
        "mine": querysets["mine"].filter(status=Status.PENDING.value).count(),
    }
    context = {
        "tab": tab,
        "tabs": [(t, _tab_label(t), counts.get(t, 0)) for t in tabs],
        "rows": _rows(page.items),
        "next_url": next_url,
        "decides": decides,
    }
    return render(request, "approvals/list.html", context)


def _account_figures(user: Any, request: ApprovalRequest) -> dict[str, Any] | None:
    """Orders and sales of the request's account over the last year, if the reader may see the account (one query)."""
    account = request.account
    if account is None or not can(user, Action.VIEW_ACCOUNT, account):
        return None
    since = timezone.localdate() - dt.timedelta(days=RECENT_DAYS)
    rows = (
        order_list(user=user)
        .filter(account=account, status=Order.CONFIRMED, order_date__gte=since)
        .order_by()
        .values("currency")
        .annotate(n=Count("id"), total=Sum("net_total"))
        .order_by("currency")
    )
    sales = [(row["currency"], row["total"] or Decimal(0)) for row in rows]
    return {"orders": sum(row["n"] for row in rows), "sales": sales, "since": since}


def _visible(request: HttpRequest, pk: int) -> ApprovalRequest:
    try:
        return selectors.approval_get(user=request.user, pk=pk)
    except ApprovalRequest.DoesNotExist:
        raise Http404("approval request") from None


def _detail_context(request: HttpRequest, approval: ApprovalRequest) -> dict[str, Any]:
    user: Any = request.user
    handler = registry.handler_for(approval.subject_type)
    allowed = allowed_actions(
        approval.status,
        actor_id=user.pk,
        submitter_id=approval.submitter_id,
        actor_level=selectors.decider_level(user),
        required_level=approval.required_level,
    )
    if {Verb.APPROVE, Verb.REJECT} & allowed and not selectors.in_reach(user, approval):
        allowed = allowed - {Verb.APPROVE, Verb.REJECT}
    return {
        "approval": approval,
        "subject": registry.describe(approval),
        "type_label": registry.type_label(approval.subject_type),
        "terms": terms_view(approval.terms, handler.term_labels if handler else None),
        "events": selectors.approval_events(approval),
        "figures": _account_figures(user, approval),
        "account_visible": approval.account is not None and can(user, Action.VIEW_ACCOUNT, approval.account),
        "can_decide": Verb.APPROVE in allowed,
        "can_withdraw": Verb.WITHDRAW in allowed,
        "own": approval.submitter_id == user.pk,
        "superseded_by": approval.superseded_by_id,
        "errors": {},
        "comment": "",
    }


@login_required
@require_GET
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "approvals/detail.html", _detail_context(request, _visible(request, pk)))


def _decide(request: HttpRequest, pk: int, verb: Verb) -> HttpResponse:
    approval = _visible(request, pk)
    comment = request.POST.get("comment", "")
    try:
        if verb is Verb.APPROVE:
            services.approval_approve(actor=request.user, request=approval, comment=comment)
            messages.success(request, _("Request approved."))
        elif verb is Verb.REJECT:
            services.approval_reject(actor=request.user, request=approval, comment=comment)
            messages.success(request, _("Request rejected."))
        else:
            services.approval_withdraw(actor=request.user, request=approval)
            messages.success(request, _("Request withdrawn."))
    except ValidationError as exc:
        context = _detail_context(request, approval)
        context["errors"] = error_dict(exc)
        context["comment"] = comment
        context["failed"] = verb.value
        return render(request, "approvals/detail.html", context, status=422)
    except services.ApprovalRefused as exc:
        context = _detail_context(request, approval)
        context["refusal"] = exc.message
        return render(request, "approvals/detail.html", context, status=403)
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("approvals:detail", pk=approval.pk)


@login_required
@require_POST
def approval_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, Verb.APPROVE)


@login_required
@require_POST
def approval_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, Verb.REJECT)


@login_required
@require_POST
def approval_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, Verb.WITHDRAW)
