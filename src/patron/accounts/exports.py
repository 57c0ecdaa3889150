"""Export the account list, as filtered, to CSV or XLSX: the same rows and rules as the list page.

Only accounts the user may export are written (``EXPORT_ACCOUNTS``, scoped like the
list), private notes only for those who may read them, and every custom field as a
column. Rows stream in chunks, so a large export holds one chunk in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from patron.domain.access import Action
from patron.domain.spreadsheet import safe_cell

from .access import can, scoped
from .models import Account, CustomField, Region
from .selectors import AccountFilters, account_list

CHUNK = 2000


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


def export_rows(user: Any, filters: AccountFilters) -> tuple[list[str], Iterator[list[Any]]]:
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

    def rows() -> Iterator[list[Any]]:
        qs = export_queryset(user, filters).prefetch_related("tags")
        for account in qs.iterator(chunk_size=CHUNK):
            yield [safe_cell(value(account, key)) for key, _h in columns]

    return [heading for _k, heading in columns], rows()
