"""Reads of what customers owe: the aging report, days sales outstanding, statements of account.

The aging report is one GROUP BY over open invoices (account and currency), with a conditional sum per
bucket, computed in the database however many invoices there are; only the page's accounts are read
afterwards (names, owners, broken promises, recent sales for their DSO).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from patron.accounts.access import scoped
from patron.accounts.models import Account, Region
from patron.domain.access import Action
from patron.domain.money import Money, convert, quantize
from patron.domain.receivables import AGING_BUCKETS, Risk, bad_debt_risk, days_sales_outstanding
from patron.sales.models import CreditNote, ExchangeRate, Invoice, Payment
from patron.sales.selectors import rate_on

from .models import CollectionItem, PromiseToPay

_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=2)
# The aggregate's name for each bucket (SQL names cannot start with a digit or hold a dash).
FIELDS = {"current": "current", "1-30": "late_1_30", "31-60": "late_31_60", "61-90": "late_61_90", "90+": "late_90"}
BUCKETS = [name for name, _low, _high in AGING_BUCKETS]
DSO_DAYS = 90


def _outstanding() -> Any:
    return F("amount") - F("paid_amount")


def _sum_when(condition: Q) -> Any:
    return Coalesce(
        Sum(Case(When(condition, then=_outstanding()), default=Value(0), output_field=_AMOUNT)),
        Value(0),
        output_field=_AMOUNT,
    )


def bucket_sums(today: dt.date) -> dict[str, Any]:
    """One conditional sum per aging bucket: days late = today - due date."""
    sums: dict[str, Any] = {}
    for name, low, high in AGING_BUCKETS:
        condition = Q()
        if low is not None:
            condition &= Q(due_date__lte=today - dt.timedelta(days=low))
        if high is not None:
            condition &= Q(due_date__gte=today - dt.timedelta(days=high))
        sums[FIELDS[name]] = _sum_when(condition)
    return sums


@dataclass(frozen=True)
class Filters:
    owner: int | None = None
    region: int | None = None
    late_over: int = 0  # only accounts with money more than this many days late (0: all that owe)
    q: str = ""


def open_invoices(*, user: Any, filters: Filters = Filters()) -> QuerySet[Invoice]:
    return _filtered(Invoice.objects.filter(status=Invoice.OPEN), user, filters)


def _filtered(invoices: QuerySet[Invoice], user: Any, filters: Filters) -> QuerySet[Invoice]:
    """Invoices of the accounts the reader may see and the filters keep (the report's and its DSO's)."""
    invoices = scoped(invoices, user, Action.VIEW_RECEIVABLES, "account__")
    if filters.owner:
        invoices = invoices.filter(account__owner=filters.owner)
    if filters.region:
        # A province holds its cities: the region and every region below it.
        region = Region.objects.filter(pk=filters.region).first()
        below = Region.objects.filter(path__startswith=region.path).values("pk") if region else []
        invoices = invoices.filter(account__region__in=below)
    if filters.q:
        invoices = invoices.filter(Q(account__code__icontains=filters.q) | Q(account__name__icontains=filters.q))
    return invoices


def aging_by_account(*, user: Any, today: dt.date, filters: Filters = Filters()) -> QuerySet[Any]:
    """Per account and currency: owed, each bucket, overdue; the most overdue first. A queryset of dicts,
    to page through: each page costs the database one grouped scan."""
    late = Q(due_date__lt=today)
    rows = (
        open_invoices(user=user, filters=filters)
        .values("account_id", "currency")
        .annotate(owed=Sum(_outstanding()), overdue=_sum_when(late), **bucket_sums(today))
        .annotate(rank=_in_company_currency(F("overdue"), today))
    )
    if filters.late_over:
        beyond = Q(due_date__lt=today - dt.timedelta(days=filters.late_over))
        rows = rows.annotate(late_beyond=_sum_when(beyond)).filter(late_beyond__gt=0)
    return rows.filter(owed__gt=0).order_by(  # type: ignore[misc]  # owed is the annotation above
        "-rank", "-owed", "account_id", "currency"
    )


def _in_company_currency(amount: Any, today: dt.date) -> Any:
    """``amount`` of each row at today's rate of its currency, so that "most overdue" compares like with like
    (a currency without a rate counts at 1: its rows still sort, only less exactly)."""
    rates = [
        When(currency=currency, then=Value(rate))
        for currency in ExchangeRate.objects.values_list("currency", flat=True).distinct()
        if currency != settings.PATRON_COMPANY_CURRENCY and (rate := rate_on(currency, today)) is not None
    ]
    if not rates:
        return amount
    factor = Case(*rates, default=Value(Decimal(1)), output_field=DecimalField(max_digits=18, decimal_places=8))
    return ExpressionWrapper(amount * factor, output_field=_AMOUNT)


@dataclass
class Totals:
    """The report's totals per currency, and in the company currency where a rate converts them."""

    by_currency: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    company: dict[str, Decimal] = field(default_factory=dict)
    uncounted: list[str] = field(default_factory=list)
    accounts: int = 0
    balances: int = 0  # (account, currency) pairs owing: the report's rows without a lateness filter
    dso: Decimal | None = None


class _Counted(Paginator):
    """A paginator told its count: the report's rows are counted already by the totals' query."""

    def __init__(self, object_list: Any, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known = count

    @property
    def count(self) -> int:  # type: ignore[override]
        return self._known


def aging_page(*, user: Any, today: dt.date, filters: Filters, totals: Totals, number: Any, per_page: int = 50) -> Any:
    """One page of ``aging_by_account``; without a lateness filter its row count is the totals' (no second scan)."""
    rows = aging_by_account(user=user, today=today, filters=filters)
    paginator = Paginator(rows, per_page) if filters.late_over else _Counted(rows, per_page, totals.balances)
    return paginator.get_page(number)


def aging_totals(*, user: Any, today: dt.date, filters: Filters = Filters()) -> Totals:
    invoices = open_invoices(user=user, filters=filters)
    grouped = (
        invoices.values("currency")
        .annotate(owed=Sum(_outstanding()), accounts=Count("account_id", distinct=True), **bucket_sums(today))
        .order_by("currency")
    )
    totals = Totals(company={name: Decimal(0) for name in [*BUCKETS, "owed"]})
    company = settings.PATRON_COMPANY_CURRENCY
    owed_company = Decimal(0)
    for row in grouped:
        currency = row["currency"]
        amounts = {name: quantize(row[FIELDS[name]], currency) for name in BUCKETS}
        amounts["owed"] = quantize(row["owed"] or Decimal(0), currency)
        totals.by_currency[currency] = amounts
        totals.balances += row["accounts"]
        rate = rate_on(currency, today)
        if rate is None:
            totals.uncounted.append(currency)
            continue
        for name, value in amounts.items():
            totals.company[name] += convert(Money(value, currency), rate, company).amount
        owed_company += convert(Money(amounts["owed"], currency), rate, company).amount
    totals.company["overdue"] = totals.company["owed"] - totals.company["current"]
    if len(totals.by_currency) == 1:
        totals.accounts = totals.balances  # one currency: each account owes one balance
    elif totals.by_currency:
        totals.accounts = invoices.values("account_id").distinct().count()
    sales = _invoiced_since(_filtered(Invoice.objects.exclude(status=Invoice.VOID), user, filters), today)
    totals.dso = days_sales_outstanding(owed_company, sales, DSO_DAYS)
    return totals


def _invoiced_since(invoices: QuerySet[Invoice], today: dt.date) -> Decimal:
    """Invoiced in the last DSO_DAYS days, in the company currency (what a rate converts)."""
    company = settings.PATRON_COMPANY_CURRENCY
    total = Decimal(0)
    for row in (
        invoices.filter(issue_date__gt=today - dt.timedelta(days=DSO_DAYS), issue_date__lte=today)
        .values("currency")
        .annotate(t=Sum("amount"))
        .order_by()
    ):
        rate = rate_on(row["currency"], today)
        if rate is not None and row["t"]:
            total += convert(Money(row["t"], row["currency"]), rate, company).amount
    return total


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """Sums as the currency writes them (SQLite's sums come back as 700, not 700.00)."""
    keys = ("owed", "overdue", *FIELDS.values())
    return {k: quantize(v, row["currency"]) if k in keys and v is not None else v for k, v in row.items()}


def broken_promises(account_ids: list[int], since: dt.date) -> dict[int, int]:
    rows = (
        PromiseToPay.objects.filter(account_id__in=account_ids, status=PromiseToPay.BROKEN, promised_on__gte=since)
        .values("account_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["account_id"]: row["n"] for row in rows}


def decorate(rows: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """A page of the report with each account, its risk and DSO, in a fixed number of queries."""
    ids = sorted({row["account_id"] for row in rows})
    accounts = Account.objects.select_related("owner").in_bulk(ids)
    broken = broken_promises(ids, today - dt.timedelta(days=365))
    recent: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for row in (
        Invoice.objects.filter(
            account_id__in=ids, issue_date__gt=today - dt.timedelta(days=DSO_DAYS), issue_date__lte=today
        )
        .exclude(status=Invoice.VOID)
        .values("account_id", "currency")
        .annotate(t=Sum("amount"))
        .order_by()
    ):
        recent[(row["account_id"], row["currency"])] += row["t"]
    out = []
    for row in rows:
        row = _rounded(row)
        buckets = {name: row[FIELDS[name]] for name in BUCKETS}
        risk: Risk = bad_debt_risk(buckets, broken.get(row["account_id"], 0))
        out.append(
            {
                **row,
                "account": accounts.get(row["account_id"]),
                "buckets": [buckets[name] for name in BUCKETS],
                "risk": risk,
                "broken": broken.get(row["account_id"], 0),
                "dso": days_sales_outstanding(
                    row["owed"], recent.get((row["account_id"], row["currency"]), Decimal(0)), DSO_DAYS
                ),
            }
        )
    return out


@dataclass
class AccountPosition:
    currency: str
    owed: Decimal
    buckets: dict[str, Decimal]
    overdue: Decimal
    dso: Decimal | None
    risk: Risk


def account_position(account: Account, today: dt.date) -> list[AccountPosition]:
    """The account's aging, DSO and risk, per currency it owes in."""
    rows = list(
        Invoice.objects.filter(account=account, status=Invoice.OPEN)
        .values("currency")
        .annotate(owed=Sum(_outstanding()), overdue=_sum_when(Q(due_date__lt=today)), **bucket_sums(today))
        .order_by("currency")
    )
    broken = broken_promises([account.pk], today - dt.timedelta(days=365)).get(account.pk, 0)
    recent = dict(
        Invoice.objects.filter(
            account=account, issue_date__gt=today - dt.timedelta(days=DSO_DAYS), issue_date__lte=today
        )
        .exclude(status=Invoice.VOID)
        .values("currency")
        .annotate(t=Sum("amount"))
        .order_by()
        .values_list("currency", "t")
    )
    out = []
    for row in rows:
        row = _rounded(row)
        buckets = {name: row[FIELDS[name]] for name in BUCKETS}
        sales = recent.get(row["currency"]) or Decimal(0)
        out.append(
            AccountPosition(
                row["currency"],
                row["owed"],
                buckets,
                row["overdue"],
                days_sales_outstanding(row["owed"], sales, DSO_DAYS),
                bad_debt_risk(buckets, broken),
            )
        )
    return out


@dataclass
class StatementLine:
    day: dt.date
    kind: str  # invoice | payment | credit_note
    number: str
    debit: Decimal
    credit: Decimal
    balance: Decimal = Decimal(0)
    due: dt.date | None = None


@dataclass
class Statement:
    account: Account
    currency: str
    start: dt.date
    end: dt.date
    opening: Decimal
    lines: list[StatementLine]
    closing: Decimal
    invoiced: Decimal
    received: Decimal


def statement(account: Account, *, currency: str, start: dt.date, end: dt.date) -> Statement:
    """Invoices (debits), payments and credit notes (credits) between two days, with the running balance."""
    invoices = Invoice.objects.filter(account=account, currency=currency).exclude(status=Invoice.VOID)
    payments = Payment.objects.filter(account=account, currency=currency)
    credits = CreditNote.objects.filter(account=account, currency=currency)
    before = (
        (invoices.filter(issue_date__lt=start).aggregate(t=Sum("amount"))["t"] or Decimal(0))
        - (payments.filter(received_on__lt=start).aggregate(t=Sum("amount"))["t"] or Decimal(0))
        - (credits.filter(issue_date__lt=start).aggregate(t=Sum("amount"))["t"] or Decimal(0))
    )
    lines = [
        StatementLine(day, "invoice", number, amount, Decimal(0), due=due)
        for day, number, amount, due in invoices.filter(issue_date__gte=start, issue_date__lte=end).values_list(
            "issue_date", "number", "amount", "due_date"
        )
    ]
    lines += [
        StatementLine(day, "payment", number, Decimal(0), amount)
        for day, number, amount in payments.filter(received_on__gte=start, received_on__lte=end).values_list(
            "received_on", "number", "amount"
        )
    ]
    lines += [
        StatementLine(day, "credit_note", number, Decimal(0), amount)
        for day, number, amount in credits.filter(issue_date__gte=start, issue_date__lte=end).values_list(
            "issue_date", "number", "amount"
        )
    ]
    order = {"invoice": 0, "credit_note": 1, "payment": 2}
    lines.sort(key=lambda line: (line.day, order[line.kind], line.number))
    balance = before
    for line in lines:
        balance += line.debit - line.credit
        line.balance = balance
    return Statement(
        account=account,
        currency=currency,
        start=start,
        end=end,
        opening=before,
        lines=lines,
        closing=balance,
        invoiced=sum((line.debit for line in lines), Decimal(0)),
        received=sum((line.credit for line in lines), Decimal(0)),
    )


def statement_currencies(account: Account) -> list[str]:
    found = set(Invoice.objects.filter(account=account).values_list("currency", flat=True).distinct())
    found |= set(Payment.objects.filter(account=account).values_list("currency", flat=True).distinct())
    return sorted(found) or [settings.PATRON_COMPANY_CURRENCY]


def reminders_sent(account: Account, limit: int = 20) -> list[CollectionItem]:
    return list(
        CollectionItem.objects.filter(email__account=account)
        .select_related("invoice", "email")
        .order_by("-email__queued_at", "-id")[:limit]
    )


def promises(account: Account) -> list[PromiseToPay]:
    return list(
        PromiseToPay.objects.filter(account=account)
        .select_related("invoice", "recorded_by")
        .order_by("-promised_on", "-id")[:50]
    )
