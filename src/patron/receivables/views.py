"""Receivables pages: the aging report, an account's collections page, its statement, promises to pay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from patron.accounts.access import can, require, visible_accounts
from patron.accounts.models import Account, Region
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action
from patron.sales.credit import credit_position
from patron.sales.models import CURRENCY_CHOICES
from patron.staff.models import User
from patron.web.charts import hbar_chart
from patron.web.templatetags.patron_web import money

from . import collections, selectors, services
from .models import PromiseToPay

LATE_CHOICES = [(0, ""), (30, "30"), (60, "60"), (90, "90")]


def _bucket_label(name: str) -> str:
    return _("Not yet due") if name == "current" else _("%(bucket)s days") % {"bucket": name}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def aging(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, Action.VIEW_RECEIVABLES)
    today = timezone.localdate()
    late_over = _int(request.GET.get("late")) or 0
    if late_over not in {c for c, _label in LATE_CHOICES}:
        late_over = 0
    filters = selectors.Filters(
        owner=_int(request.GET.get("owner")),
        region=_int(request.GET.get("region")),
        late_over=late_over,
        q=(request.GET.get("q") or "").strip()[:100],
    )
    totals = selectors.aging_totals(user=user, today=today, filters=filters)
    page = selectors.aging_page(user=user, today=today, filters=filters, totals=totals, number=request.GET.get("page"))
    rows = selectors.decorate(list(page.object_list), today)
    company = settings.PATRON_COMPANY_CURRENCY
    chart = None
    if totals.company.get("owed"):
        chart = hbar_chart(
            [
                (_bucket_label(name), totals.company[name], money(totals.company[name], company))
                for name in selectors.BUCKETS
            ],
            title=_("What is owed, by days late"),
            value_room=150,  # "CNY 28,946,812.00" fits beside the longest bar
            desc=_("Open invoices by aging bucket, in %(currency)s.") % {"currency": company},
        )
    owners = User.objects.filter(is_active=True, role__in=["salesperson", "sales_manager"]).order_by("username")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "receivables/aging.html",
        {
            "today": today,
            "totals": totals,
            "company_currency": company,
            "buckets": [(name, _bucket_label(name)) for name in selectors.BUCKETS],
            "rows": rows,
            "page": page,
            "chart": chart,
            "filters": filters,
            "owners": owners,
            "regions": Region.objects.filter(level="province").order_by("code"),
            "late_choices": [
                (30, _("More than 30 days late")),
                (60, _("More than 60 days late")),
                (90, _("More than 90 days late")),
            ],
            "query": query.urlencode(),
        },
    )


def _account(request: HttpRequest, code: str) -> Account:
    account = visible_accounts(request.user).filter(code=code).first()
    if account is None:
        raise Http404(_("No such account."))
    if not can(request.user, Action.VIEW_RECEIVABLES, account):
        raise PermissionDenied(Action.VIEW_RECEIVABLES.value)
    return account


def _account_page(
    request: HttpRequest, account: Account, form: dict[str, Any] | None = None, errors: Any = None, status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    invoices = list(account.invoices.filter(status="open").order_by("due_date", "id")[:100])
    return render(
        request,
        "receivables/account.html",
        {
            "account": account,
            "today": today,
            "positions": selectors.account_position(account, today),
            "credit": credit_position(account, today),
            "company_currency": settings.PATRON_COMPANY_CURRENCY,
            "buckets": [(name, _bucket_label(name)) for name in selectors.BUCKETS],
            "invoices": invoices,
            "promises": selectors.promises(account),
            "reminders": selectors.reminders_sent(account),
            "may_record": can(request.user, Action.RECORD_PAYMENT, account),
            "currencies": selectors.statement_currencies(account),
            "currency_choices": [c for c, _label in CURRENCY_CHOICES],
            # A promise is most often for what is owed: in the currency of the oldest open invoice.
            "form": form or {"currency": next((i.currency for i in invoices), settings.PATRON_COMPANY_CURRENCY)},
            "errors": errors or {},
            "schedule": ", ".join(str(step) for step in collections.schedule()),
        },
        status=status,
    )


@login_required
@require_GET
def account_page(request: HttpRequest, code: str) -> HttpResponse:
    return _account_page(request, _account(request, code))


@login_required
@require_POST
def promise_new(request: HttpRequest, code: str) -> HttpResponse:
    account = _account(request, code)
    require(request.user, Action.RECORD_PAYMENT, account)
    data = {
        key: request.POST.get(key, "") for key in ("amount", "currency", "promised_on", "invoice", "contact", "note")
    }
    try:
        promise = services.promise_record(actor=request.user, account=account, data=data)
    except ValidationError as exc:
        return _account_page(request, account, data, error_dict(exc), status=400)
    messages.success(
        request,
        _("Promise to pay %(amount)s by %(date)s recorded.")
        % {"amount": money(promise.amount, promise.currency), "date": promise.promised_on.isoformat()},
    )
    return redirect("receivables:account", account.code)


@login_required
@require_POST
def promise_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    promise = get_object_or_404(PromiseToPay.objects.select_related("account"), pk=pk)
    account = _account(request, promise.account.code)
    try:
        services.promise_cancel(actor=request.user, promise=promise, reason=request.POST.get("reason", ""))
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Promise cancelled."))
    return redirect("receivables:account", account.code)


def _date(value: str | None, default: dt.date) -> tuple[dt.date, bool]:
    if not value:
        return default, True
    try:
        return dt.date.fromisoformat(value), True
    except ValueError:
        return default, False


@login_required
@require_GET
def statement(request: HttpRequest, code: str) -> HttpResponse:
    account = _account(request, code)
    today = timezone.localdate()
    start, ok_start = _date(request.GET.get("start"), today.replace(day=1) - dt.timedelta(days=90))
    end, ok_end = _date(request.GET.get("end"), today)
    currencies = selectors.statement_currencies(account)
    currency = request.GET.get("currency") or currencies[0]
    errors = []
    if not ok_start:
        errors.append(_("start: enter a date as YYYY-MM-DD."))
    if not ok_end:
        errors.append(_("end: enter a date as YYYY-MM-DD."))
    if end < start:
        errors.append(_("end: the end is before the start."))
    if currency not in currencies:
        errors.append(_("currency: the account has nothing in %(currency)s.") % {"currency": currency[:3]})
    if errors:
        return render(
            request,
            "receivables/statement.html",
            {"account": account, "errors": errors, "currencies": currencies, "start": start, "end": end},
            status=400,
        )
    found = selectors.statement(account, currency=currency, start=start, end=end)
    positions = {p.currency: p for p in selectors.account_position(account, today)}
    return render(
        request,
        "receivables/statement.html",
        {
            "account": account,
            "statement": found,
            "currencies": currencies,
            "currency": currency,
            "start": start,
            "end": end,
            "position": positions.get(currency),
            "buckets": [(name, _bucket_label(name)) for name in selectors.BUCKETS],
            "today": today,
            "zero": Decimal(0),
        },
    )
