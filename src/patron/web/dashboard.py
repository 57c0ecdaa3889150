"""Reads for the dashboard: what the signed-in user's visible accounts add up to.

Everything is scoped by the access table and converted to the company currency
with the exchange rate dated on or before each document date (receivables at
today's rate). Amounts with no known rate are listed apart, as entered, rather
than silently dropped. The whole page costs a fixed number of queries.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, Sum

from patron.accounts.access import can, scoped, visible_accounts
from patron.accounts.models import Account
from patron.domain.access import Action
from patron.domain.money import Money, convert
from patron.sales.models import ExchangeRate, Invoice, Order, Return

RECENT_ORDERS = 10
OVERDUE_ACCOUNTS = 10
ACTIVE_DAYS = 90


def month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + (day.month - 1) - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


class Converter:
    """Converts amounts to the company currency with rates loaded once."""

    def __init__(self, currencies: set[str]) -> None:
        self.company = settings.PATRON_COMPANY_CURRENCY
        self.rates: dict[str, tuple[list[dt.date], list[Decimal]]] = {}
        wanted = currencies - {self.company}
        rows: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        if wanted:
            for currency, valid_from, rate in (
                ExchangeRate.objects.filter(currency__in=wanted)
                .order_by("currency", "valid_from")
                .values_list("currency", "valid_from", "rate")
            ):
                rows[currency].append((valid_from, rate))
        for currency, pairs in rows.items():
            self.rates[currency] = ([d for d, _ in pairs], [r for _, r in pairs])

    def __call__(self, amount: Decimal, currency: str, day: dt.date) -> Decimal | None:
        if currency == self.company:
            return amount
        dates, rates = self.rates.get(currency, ([], []))
        i = bisect.bisect_right(dates, day)
        if i == 0:
            return None
        return convert(Money(amount, currency), rates[i - 1], self.company).amount


@dataclass
class Unconverted:
    """Amounts for which no exchange rate was known, per currency, as entered."""

    amounts: dict[str, Decimal] = field(default_factory=dict)

    def add(self, currency: str, amount: Decimal) -> None:
        self.amounts[currency] = self.amounts.get(currency, Decimal(0)) + amount

    def items(self) -> list[tuple[str, Decimal]]:
        return sorted((c, a) for c, a in self.amounts.items() if a)


@dataclass
class MonthSales:
    start: dt.date
    amount: Decimal

    @property
    def label(self) -> str:
        return f"{self.start.year}-{self.start.month:02d}"


@dataclass
class OverdueAccount:
    account: Account
    overdue: Decimal


@dataclass
class Dashboard:
    currency: str
    today: dt.date
    accounts: int
    key_accounts: int
    active_accounts: int
    sales_month: Decimal
    sales_year: Decimal
    months: list[MonthSales]
    sales_unconverted: Unconverted
    recent_orders: list[Order]
    show_receivables: bool = False
    owed: Decimal = Decimal(0)
    overdue: Decimal = Decimal(0)
    receivables_unconverted: Unconverted = field(default_factory=Unconverted)
    overdue_accounts: list[OverdueAccount] = field(default_factory=list)
    overdue_account_count: int = 0


def _sales(user: Any, today: dt.date) -> tuple[Decimal, Decimal, list[MonthSales], Unconverted]:
    """Confirmed orders net of returns, by month for the last 12 months and for this month and year."""
    first_month = month_start(today, 11)
    year_start = dt.date(today.year, 1, 1)
    start = min(first_month, year_start)
    end = month_start(today, -1)  # first day of next month
    orders = (
        scoped(Order.objects.all(), user, Action.VIEW_ACCOUNT, "account__")
        .filter(status=Order.CONFIRMED, order_date__gte=start, order_date__lt=end)
        .values_list("currency", "order_date")
        .annotate(total=Sum("net_total"))
        .order_by()
    )
    returns = (
        scoped(Return.objects.all(), user, Action.VIEW_ACCOUNT, "account__")
        .filter(return_date__gte=start, return_date__lt=end)
        .values_list("currency", "return_date")
        .annotate(total=Sum("total"))
        .order_by()
    )
    rows = [(c, d, t) for c, d, t in orders] + [(c, d, -t) for c, d, t in returns]
    to_company = Converter({c for c, _, _ in rows})
    by_month: dict[dt.date, Decimal] = defaultdict(Decimal)
    unconverted = Unconverted()
    year_total = Decimal(0)
    this_month = month_start(today)
    for currency, day, amount in rows:
        value = to_company(amount, currency, day)
        if value is None:
            if day >= year_start:
                unconverted.add(currency, amount)
            continue
        by_month[month_start(day)] += value
        if day >= year_start:
            year_total += value
    months = [MonthSales(m, by_month.get(m, Decimal(0))) for m in (month_start(today, k) for k in range(11, -1, -1))]
    return by_month.get(this_month, Decimal(0)), year_total, months, unconverted


def _receivables(user: Any, today: dt.date, dash: Dashboard) -> None:
    open_invoices = scoped(Invoice.objects.all(), user, Action.VIEW_RECEIVABLES, "account__").filter(
        status=Invoice.OPEN
    )
    outstanding = F("amount") - F("paid_amount")
    totals = list(
        open_invoices.values_list("currency")
        .annotate(owed=Sum(outstanding), overdue=Sum(outstanding, filter=Q(due_date__lt=today)))
        .order_by()
    )
    per_account = list(
        open_invoices.filter(due_date__lt=today)
        .values_list("account_id", "currency")
        .annotate(overdue=Sum(outstanding))
        .order_by()
    )
    to_company = Converter({row[0] for row in totals})
    for currency, owed, overdue in totals:
        owed_c = to_company(owed or Decimal(0), currency, today)
        overdue_c = to_company(overdue or Decimal(0), currency, today)
        if owed_c is None or overdue_c is None:
            dash.receivables_unconverted.add(currency, owed or Decimal(0))
            continue
        dash.owed += owed_c
        dash.overdue += overdue_c
    overdue_by_account: dict[int, Decimal] = defaultdict(Decimal)
    late_accounts: set[int] = set()
    for account_id, currency, amount in per_account:
        if not amount or amount <= 0:
            continue
        late_accounts.add(account_id)
        value = to_company(amount, currency, today)
        # Ranked in the company currency only; amounts with no rate are in the unconverted notice.
        if value is not None:
            overdue_by_account[account_id] += value
    dash.overdue_account_count = len(late_accounts)
    top = sorted(overdue_by_account.items(), key=lambda kv: (-kv[1], kv[0]))[:OVERDUE_ACCOUNTS]
    accounts = Account.objects.in_bulk([pk for pk, _ in top])
    dash.overdue_accounts = [OverdueAccount(accounts[pk], amount) for pk, amount in top if pk in accounts]


def dashboard(*, user: Any, today: dt.date) -> Dashboard:
    counts = visible_accounts(user).aggregate(
        total=Count("id"),
        key=Count("id", filter=Q(is_key_account=True)),
        active=Count("id", filter=Q(last_order_date__gte=today - dt.timedelta(days=ACTIVE_DAYS))),
    )
    sales_month, sales_year, months, unconverted = _sales(user, today)
    recent = list(
        scoped(Order.objects.all(), user, Action.VIEW_ACCOUNT, "account__")
        .select_related("account")
        .order_by("-order_date", "-id")[:RECENT_ORDERS]
    )
    dash = Dashboard(
        currency=settings.PATRON_COMPANY_CURRENCY,
        today=today,
        accounts=counts["total"] or 0,
        key_accounts=counts["key"] or 0,
        active_accounts=counts["active"] or 0,
        sales_month=sales_month,
        sales_year=sales_year,
        months=months,
        sales_unconverted=unconverted,
        recent_orders=recent,
        show_receivables=can(user, Action.VIEW_RECEIVABLES),
    )
    if dash.show_receivables:
        _receivables(user, today, dash)
    return dash
