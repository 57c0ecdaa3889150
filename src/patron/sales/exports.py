"""Columns of the order, invoice and payment lists when they are exported."""

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
