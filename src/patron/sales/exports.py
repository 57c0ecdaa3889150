"""Columns of the order, invoice, payment and product lists when they are exported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

Column = tuple[str, Callable[[Any], Any]]


def order_columns() -> list[Column]:
    return [
        (_("Number"), lambda o: o.number),
        (_("Account code"), lambda o: o.account.code),
        (_("Account"), lambda o: o.account.name),
        (_("Order date"), lambda o: o.order_date),
        (_("Status"), lambda o: o.get_status_display()),
        (_("Channel"), lambda o: o.get_channel_display()),
        (_("Currency"), lambda o: o.currency),
        (_("List total"), lambda o: o.list_total),
        (_("Net total"), lambda o: o.net_total),
    ]


def invoice_columns() -> list[Column]:
    return [
        (_("Number"), lambda i: i.number),
        (_("Account code"), lambda i: i.account.code),
        (_("Account"), lambda i: i.account.name),
        (_("Order"), lambda i: i.order.number if i.order_id else ""),
        (_("Issue date"), lambda i: i.issue_date),
        (_("Due date"), lambda i: i.due_date),
        (_("Status"), lambda i: i.get_status_display()),
        (_("Currency"), lambda i: i.currency),
        (_("Amount"), lambda i: i.amount),
        (_("Paid"), lambda i: i.paid_amount),
        (_("Outstanding"), lambda i: i.outstanding),
    ]


def payment_columns() -> list[Column]:
    return [
        (_("Number"), lambda p: p.number),
        (_("Account code"), lambda p: p.account.code),
        (_("Account"), lambda p: p.account.name),
        (_("Received on"), lambda p: p.received_on),
        (_("Method"), lambda p: p.get_method_display()),
        (_("Reference"), lambda p: p.reference),
        (_("Currency"), lambda p: p.currency),
        (_("Amount"), lambda p: p.amount),
    ]


def product_columns(*, with_cost: bool) -> list[Column]:
    """Headed so that the file imports back as products (see imports/kinds.py)."""
    columns: list[Column] = [
        (_("SKU"), lambda p: p.sku),
        (_("Product name"), lambda p: p.name),
        (_("Category"), lambda p: p.category.code if p.category_id else ""),
        (_("Unit"), lambda p: p.unit),
        (_("List price"), lambda p: p.list_price),
        (_("Currency"), lambda p: p.currency),
        (_("Active"), lambda p: _("yes") if p.active else _("no")),
    ]
    if with_cost:
        columns.insert(5, (_("Unit cost"), lambda p: p.unit_cost))
    return columns
