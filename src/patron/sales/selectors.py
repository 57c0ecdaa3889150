"""Reads of orders, invoices and balances, scoped by who is asking."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import DecimalField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from patron.accounts.access import scoped
from patron.accounts.models import Account
from patron.domain.access import Action
from patron.domain.money import Money, convert
from patron.domain.receivables import OpenItem, aging, overdue

from .models import ExchangeRate, Invoice, Order, OrderLine, Payment


def order_list(*, user: Any) -> QuerySet[Order]:
    return scoped(Order.objects.all(), user, Action.VIEW_ACCOUNT, "account__").select_related("account")


def invoice_list(*, user: Any) -> QuerySet[Invoice]:
    return scoped(Invoice.objects.all(), user, Action.VIEW_RECEIVABLES, "account__").select_related("account")


def payment_list(*, user: Any) -> QuerySet[Payment]:
    return scoped(Payment.objects.all(), user, Action.VIEW_RECEIVABLES, "account__").select_related("account")


def rate_on(currency: str, day: dt.date) -> Decimal | None:
    """Units of the company currency per unit of ``currency``, from the latest rate on or before ``day``."""
    if currency == settings.PATRON_COMPANY_CURRENCY:
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    return rate


def to_company_currency(money: Money, day: dt.date) -> Money | None:
    """None when no rate is known for that day: callers show the amount as entered."""
    rate = rate_on(money.currency, day)
    if rate is None:
        return None
    return convert(money, rate, settings.PATRON_COMPANY_CURRENCY)


def account_receivables(account: Account, today: dt.date) -> dict[str, dict[str, Any]]:
    """Per currency: owed, overdue and the aging buckets of the account's open invoices."""
    items: dict[str, list[OpenItem]] = defaultdict(list)
    for currency, due, amount, paid in Invoice.objects.filter(account=account, status=Invoice.OPEN).values_list(
        "currency", "due_date", "amount", "paid_amount"
    ):
        items[currency].append(OpenItem(due=due, outstanding=amount - paid))
    return {
        currency: {
            "owed": sum((i.outstanding for i in open_items), Decimal(0)),
            "overdue": overdue(open_items, today),
            "aging": aging(open_items, today),
        }
        for currency, open_items in items.items()
    }


def outstanding_by_account(account_ids: list[int]) -> dict[int, list[Money]]:
    """What each account owes on open invoices, one amount per currency (for list columns)."""
    rows = (
        Invoice.objects.filter(account_id__in=account_ids, status=Invoice.OPEN)
        .values("account_id", "currency")
        .annotate(owed=Sum(F("amount") - F("paid_amount")))
        .order_by("account_id", "currency")
    )
    result: dict[int, list[Money]] = defaultdict(list)
    for row in rows:
        if row["owed"]:
            result[row["account_id"]].append(Money(row["owed"], row["currency"]))
    return dict(result)


QUANTITY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=3)


def order_lines_with_returns(order: Order) -> list[OrderLine]:
    """The order's lines, each with ``returned``: the quantity already taken back."""
    return list(
        order.lines.select_related("product")
        .annotate(returned=Coalesce(Sum("return_lines__quantity"), Value(Decimal(0), output_field=QUANTITY)))
        .order_by("position")
    )


def open_invoices(account: Account) -> QuerySet[Invoice]:
    """What the account still owes, oldest due first (the order payments are applied in)."""
    return Invoice.objects.filter(account=account, status=Invoice.OPEN).order_by("due_date", "id")
