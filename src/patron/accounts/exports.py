"""Export the account list, as filtered, to CSV or XLSX: the same rows and rules as the list page.

Only accounts the user may export are written (``EXPORT_ACCOUNTS``, scoped like the
list), private notes only for those who may read them, and every custom field as a
column. Rows stream in chunks, so a large export holds one chunk in memory.

A background export (``patron.exports``) keeps the filters as plain data
(``filters_to_data``) and builds the same source again when it runs, as its owner then is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _

from patron.core.exports import ExportSource
from patron.domain.access import Action
from patron.domain.spreadsheet import safe_cell

from .access import can, require, scoped
from .forms import AccountFilterForm
from .models import Account, CustomField, Region
from .selectors import SORTS, AccountFilters, account_list


def _columns(user: Any) -> list[tuple[str, str]]:
    """(key, heading) of every column the user may see, built-in ones first."""
    columns = [
        ("code", _("Code")),
        ("name", _("Name")),
        ("kind", _("Kind")),
        ("owner", _("Owner")),
        ("region", _("Region")),
        ("industry", _("Industry")),
        ("is_key_account", _("Key account")),
        ("tags", _("Tags")),
        ("payment_terms_days", _("Payment terms (days)")),
        ("credit_limit", _("Credit limit")),
        ("preferred_channel", _("Preferred channel")),
        ("birthday", _("Birthday")),
        ("tax_id", _("Tax id")),
        ("phone", _("Phone")),
        ("email", _("Email")),
        ("address", _("Address")),
        ("created_at", _("Created")),
        ("first_order_date", _("First order")),
        ("last_order_date", _("Last order")),
    ]
    if can(user, Action.VIEW_PRIVATE_NOTES):
        columns.append(("notes", _("Private notes")))
    columns += [(f"custom.{f.key}", f.label) for f in CustomField.objects.filter(active=True)]
    return columns


def export_queryset(user: Any, filters: AccountFilters) -> QuerySet[Account]:
    """The filtered list, narrowed to what the user may export."""
    return scoped(account_list(user=user, filters=filters), user, Action.EXPORT_ACCOUNTS)


def export_source(user: Any, filters: AccountFilters) -> ExportSource:
    """The accounts ``user`` may export under ``filters``, with the columns ``user`` may read."""
    require(user, Action.EXPORT_ACCOUNTS)
    columns = _columns(user)
    regions = {r.pk: r for r in Region.objects.select_related("parent__parent")}

    def value(account: Account, key: str) -> Any:
        if key.startswith("custom."):
            return (account.custom or {}).get(key[7:], "")
        if key == "owner":
            return account.owner.display_name() if account.owner else ""
        if key == "region":
            return regions[account.region_id].full_name() if account.region_id in regions else ""
        if key == "industry":
            return account.industry.name if account.industry else ""
        if key == "tags":
            return ", ".join(t.name for t in account.tags.all())
        if key in ("kind", "preferred_channel"):
            return getattr(account, f"get_{key}_display")()
        if key == "is_key_account":
            return _("Yes") if account.is_key_account else _("No")
        if key == "created_at":
            return account.created_at.date()
        result = getattr(account, key)
        return "" if result is None else result

    def cells(account: Account) -> list[Any]:
        return [safe_cell(value(account, key)) for key, _h in columns]

    return ExportSource(
        name="accounts",
        headings=[heading for _k, heading in columns],
        records=export_queryset(user, filters).prefetch_related("tags"),
        cells=cells,
    )


def export_rows(user: Any, filters: AccountFilters) -> tuple[list[str], Iterator[list[Any]]]:
    source = export_source(user, filters)
    return source.headings, source.rows()


# --- filters kept by a background export ------------------------------------------------


def filters_to_data(filters: AccountFilters) -> dict[str, Any]:
    """The filters as JSON-ready data: dates in ISO form, amounts as text."""
    data = dataclasses.asdict(filters)
    for key, value in data.items():
        if isinstance(value, dt.date):
            data[key] = value.isoformat()
        elif isinstance(value, Decimal):
            data[key] = format(value, "f")
    return data


def filters_from_data(data: dict[str, Any]) -> AccountFilters:
    """The filters ``filters_to_data`` kept; fields unknown to this version are left out."""
    known = {f.name: f for f in dataclasses.fields(AccountFilters)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known or value is None:
            continue
        if key in ("created_from", "created_to", "last_order_from", "last_order_to"):
            value = dt.date.fromisoformat(value)
        elif key in ("credit_limit_min", "credit_limit_max"):
            value = Decimal(value)
        values[key] = value
    return AccountFilters(**values)


def filters_from_query(user: Any, query: str) -> AccountFilters:
    """The account list's filters from its page's query string, as the list reads them; invalid ones refused."""
    params = QueryDict(query)
    form = AccountFilterForm(params or None, user=user)
    if form.is_bound and not form.is_valid():
        problems = [
            f"{name}: {message}" if name != "__all__" else str(message)
            for name, messages in form.errors.items()
            for message in messages
        ]
        raise ValidationError({"query": problems})
    filters = form.filters() if form.is_bound else AccountFilters()
    if filters.sort not in SORTS:
        filters.sort = "code"
    return filters
