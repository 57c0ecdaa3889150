"""Receivables over the API: the aging report, an account's position and statement, promises to pay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from patron.accounts.access import can, require, visible_accounts
from patron.accounts.models import Account
from patron.api.schemas import Amount, AmountIn, Day, responses
from patron.domain.access import Action

from . import selectors, services

router = Router(tags=["receivables"])


class RiskOut(Schema):
    level: Literal["high", "medium", "low", "none"]
    code: str = Field(
        description="LONG_OVERDUE, PROMISES_BROKEN, OVERDUE_61_90, PROMISE_BROKEN, MOSTLY_OVERDUE, OVERDUE or NONE."
    )


class Buckets(Schema):
    current: Amount = Field(description="Not yet due, or due today.")
    late_1_30: Amount
    late_31_60: Amount
    late_61_90: Amount
    late_90: Amount = Field(description="More than 90 days late.")


class AgingRow(Schema):
    account: str
    name: str
    owner: str | None
    currency: str
    owed: Amount
    overdue: Amount
    buckets: Buckets
    dso: Amount | None = Field(description="Days sales outstanding over the last 90 days; null without sales.")
    risk: RiskOut


class CurrencyTotals(Schema):
    currency: str
    owed: Amount
    buckets: Buckets


class AgingOut(Schema):
    day: dt.date
    company_currency: str
    owed: Amount = Field(description="In the company currency, other currencies at today's rate.")
    overdue: Amount
    buckets: Buckets
    dso: Amount | None
    accounts_owing: int
    uncounted_currencies: list[str] = Field(description="Currencies without a rate today, left out of the totals.")
    by_currency: list[CurrencyTotals]
    rows: list[AgingRow]
    page: int
    pages: int


class AgingQuery(Schema):
    owner: int | None = Field(None, description="A salesperson's user id.")
    region: int | None = None
    late_over: int = Field(0, description="0, 30, 60 or 90: only accounts with money more than this many days late.")
    q: str = Field("", max_length=100, description="Part of an account's code or name.")
    page: int = Field(1, ge=1, le=100_000)


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _buckets(values: dict[str, Any]) -> dict[str, Any]:
    return {selectors.FIELDS[name]: values[name] for name in selectors.BUCKETS}


@router.get("/receivables/aging", response=responses({200: AgingOut}, 422), summary="The aging report")
def aging(request: HttpRequest, query: Query[AgingQuery]) -> Any:
    user = _user(request)
    require(user, Action.VIEW_RECEIVABLES)
    if query.late_over not in (0, 30, 60, 90):
        raise ValidationError({"late_over": [_("Choose 0, 30, 60 or 90.")]})
    today = timezone.localdate()
    filters = selectors.Filters(owner=query.owner, region=query.region, late_over=query.late_over, q=query.q.strip())
    totals = selectors.aging_totals(user=user, today=today, filters=filters)
    page = selectors.aging_page(user=user, today=today, filters=filters, totals=totals, number=query.page)
    rows = selectors.decorate(list(page.object_list), today)
    return {
        "day": today,
        "company_currency": settings.PATRON_COMPANY_CURRENCY,
        "owed": totals.company["owed"],
        "overdue": totals.company["overdue"],
        "buckets": _buckets(totals.company),
        "dso": totals.dso,
        "accounts_owing": totals.accounts,
        "uncounted_currencies": totals.uncounted,
        "by_currency": [
            {"currency": c, "owed": values["owed"], "buckets": _buckets(values)}
            for c, values in totals.by_currency.items()
        ],
        "rows": [
            {
                "account": row["account"].code,
                "name": row["account"].name,
                "owner": row["account"].owner.username if row["account"].owner else None,
                "currency": row["currency"],
                "owed": row["owed"],
                "overdue": row["overdue"],
                "buckets": {selectors.FIELDS[name]: row[selectors.FIELDS[name]] for name in selectors.BUCKETS},
                "dso": row["dso"],
                "risk": {"level": row["risk"].level, "code": row["risk"].code},
            }
            for row in rows
        ],
        "page": page.number,
        "pages": page.paginator.num_pages,
    }


def _account(user: Any, code: str) -> Account:
    account = visible_accounts(user).filter(code=code).first()
    if account is None:
        raise Http404(_("No such account."))
    if not can(user, Action.VIEW_RECEIVABLES, account):
        raise PermissionDenied(Action.VIEW_RECEIVABLES.value)
    return account


class PositionOut(Schema):
    currency: str
    owed: Amount
    overdue: Amount
    buckets: Buckets
    dso: Amount | None
    risk: RiskOut


class PromiseOut(Schema):
    id: int
    amount: Amount
    currency: str
    promised_on: dt.date
    invoice: str | None
    contact: str
    note: str
    status: Literal["open", "kept", "broken", "cancelled"]
    paid: Amount = Field(description="Received since the promise, once it is decided.")
    recorded_by: str
    recorded_on: dt.date


class AccountReceivablesOut(Schema):
    account: str
    credit_limit: Amount
    positions: list[PositionOut]
    promises: list[PromiseOut]


def _promise(p: Any) -> dict[str, Any]:
    return {
        "id": p.pk,
        "amount": p.amount,
        "currency": p.currency,
        "promised_on": p.promised_on,
        "invoice": p.invoice.number if p.invoice else None,
        "contact": p.contact,
        "note": p.note,
        "status": p.status,
        "paid": Decimal(p.paid),
        "recorded_by": p.recorded_by.username,
        "recorded_on": p.recorded_on,
    }


@router.get(
    "/accounts/{code}/collections",
    response=responses({200: AccountReceivablesOut}, 404),
    summary="An account's aging, DSO, bad-debt risk and promises to pay",
)
def account_receivables(request: HttpRequest, code: str) -> Any:
    account = _account(_user(request), code)
    today = timezone.localdate()
    return {
        "account": account.code,
        "credit_limit": account.credit_limit,
        "positions": [
            {
                "currency": p.currency,
                "owed": p.owed,
                "overdue": p.overdue,
                "buckets": _buckets(p.buckets),
                "dso": p.dso,
                "risk": {"level": p.risk.level, "code": p.risk.code},
            }
            for p in selectors.account_position(account, today)
        ],
        "promises": [_promise(p) for p in selectors.promises(account)],
    }


class PromiseIn(Schema):
    amount: AmountIn
    currency: str = Field("CNY", max_length=3)
    promised_on: Day
    invoice: str = Field("", max_length=40, description="An open invoice's number, if the promise is for one.")
    contact: str = Field("", max_length=100, description="Who promised.")
    note: str = Field("", max_length=2000)


@router.post(
    "/accounts/{code}/promises",
    response=responses({201: PromiseOut}, 404, 422),
    summary="Record a customer's promise to pay",
)
def promise_create(request: HttpRequest, code: str, payload: PromiseIn) -> Any:
    user = _user(request)
    account = _account(user, code)
    promise = services.promise_record(actor=user, account=account, data=payload.dict())
    return Status(201, _promise(promise))


class StatementLineOut(Schema):
    day: dt.date
    kind: Literal["invoice", "payment", "credit_note"]
    number: str
    due: dt.date | None
    debit: Amount
    credit: Amount
    balance: Amount


class StatementOut(Schema):
    account: str
    currency: str
    start: dt.date
    end: dt.date
    opening: Amount
    lines: list[StatementLineOut]
    closing: Amount


class StatementQuery(Schema):
    currency: str = Field("CNY", max_length=3)
    start: Day
    end: Day


@router.get(
    "/accounts/{code}/statement",
    response=responses({200: StatementOut}, 404, 422),
    summary="A statement of account: opening balance, documents, closing balance",
)
def statement(request: HttpRequest, code: str, query: Query[StatementQuery]) -> Any:
    account = _account(_user(request), code)
    if query.end < query.start:
        raise ValidationError({"end": [_("The end is before the start.")]})
    found = selectors.statement(account, currency=query.currency.upper(), start=query.start, end=query.end)
    return {
        "account": account.code,
        "currency": found.currency,
        "start": found.start,
        "end": found.end,
        "opening": found.opening,
        "lines": [line.__dict__ for line in found.lines],
        "closing": found.closing,
    }
