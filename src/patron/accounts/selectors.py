"""Reads of accounts: the one filter every surface (API, list page, export) uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from patron.domain.access import Action
from patron.domain.money import MoneyError, check_places, to_decimal

from .access import scoped
from .models import Account, Activity, Contact, CustomField, Region

SORTS = ("code", "-code", "name", "-name", "created_at", "-created_at")


@dataclass
class AccountFilters:
    """What users filter the account list by. Empty values mean 'any'."""

    q: str = ""
    owner: int | None = None
    region: str = ""  # region code; includes every region below it
    industry: str = ""  # industry code
    key_account: bool | None = None
    tags: list[str] = field(default_factory=list)  # accounts having all of them
    kind: str = ""
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    last_order_from: dt.date | None = None
    last_order_to: dt.date | None = None
    credit_limit_min: Decimal | None = None
    credit_limit_max: Decimal | None = None
    # custom field key -> value; for number and date fields "min..max" (either side may be empty)
    custom: dict[str, str] = field(default_factory=dict)
    sort: str = "code"


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _range(raw: str) -> tuple[str, str]:
    low, sep, high = raw.partition("..")
    return (low.strip(), high.strip()) if sep else (raw.strip(), raw.strip())


def _custom_filter(qs: QuerySet[Account], key: str, raw: str) -> QuerySet[Account]:
    definition = CustomField.objects.filter(key=key).first()
    if definition is None:
        raise FilterError(f"custom.{key}", _("Unknown custom field."))
    if definition.kind == "number":
        low, high = _range(raw)
        annotated = f"_cf_{key}"
        qs = qs.annotate(
            **{annotated: Cast(KeyTextTransform(key, "custom"), DecimalField(max_digits=24, decimal_places=6))}
        )
        try:
            if low:
                qs = qs.filter(**{f"{annotated}__gte": check_places(to_decimal(low), 6)})
            if high:
                qs = qs.filter(**{f"{annotated}__lte": check_places(to_decimal(high), 6)})
        except MoneyError as exc:
            raise FilterError(f"custom.{key}", _("Enter a number or a range like 10..20.")) from exc
        return qs
    if definition.kind == "date":
        low, high = _range(raw)
        try:
            if low:
                qs = qs.filter(**{f"custom__{key}__gte": dt.date.fromisoformat(low).isoformat()})
            if high:
                qs = qs.filter(**{f"custom__{key}__lte": dt.date.fromisoformat(high).isoformat()})
        except ValueError as exc:
            raise FilterError(
                f"custom.{key}", _("Enter a date (YYYY-MM-DD) or a range like 2026-01-01..2026-03-31.")
            ) from exc
        return qs
    if definition.kind == "choice":
        return qs.filter(**{f"custom__{key}": raw})
    return qs.filter(**{f"custom__{key}__icontains": raw})


def account_list(*, user: Any, filters: AccountFilters | None = None) -> QuerySet[Account]:
    """The accounts ``user`` may see, filtered and ordered (ties broken by id)."""
    f = filters or AccountFilters()
    qs = scoped(Account.objects.all(), user, Action.VIEW_ACCOUNT).select_related("owner", "region", "industry")
    if f.q:
        term = f.q.strip()
        contact_match = Contact.objects.filter(account=OuterRef("pk")).filter(
            Q(name__icontains=term) | Q(phone__icontains=term) | Q(email__icontains=term)
        )
        qs = qs.filter(
            Q(code__icontains=term)
            | Q(name__icontains=term)
            | Q(phone__icontains=term)
            | Q(email__icontains=term)
            | Q(tax_id__icontains=term)
            | Exists(contact_match)
        )
    if f.owner is not None:
        qs = qs.filter(owner_id=f.owner)
    if f.region:
        region = Region.objects.filter(code=f.region).first()
        if region is None:
            raise FilterError("region", _("Unknown region."))
        qs = qs.filter(region__path__startswith=region.path)
    if f.industry:
        qs = qs.filter(industry__code=f.industry)
    if f.key_account is not None:
        qs = qs.filter(is_key_account=f.key_account)
    for tag in f.tags:
        qs = qs.filter(tags__name=tag)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.created_from:
        qs = qs.filter(created_at__date__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__date__lte=f.created_to)
    if f.last_order_from:
        qs = qs.filter(last_order_date__gte=f.last_order_from)
    if f.last_order_to:
        qs = qs.filter(last_order_date__lte=f.last_order_to)
    if f.credit_limit_min is not None:
        qs = qs.filter(credit_limit__gte=f.credit_limit_min)
    if f.credit_limit_max is not None:
        qs = qs.filter(credit_limit__lte=f.credit_limit_max)
    for key, raw in f.custom.items():
        if raw:
            qs = _custom_filter(qs, key, raw)
    if f.sort not in SORTS:
        raise FilterError("sort", _("Sort by one of: %(sorts)s.") % {"sorts": ", ".join(SORTS)})
    return qs.order_by(f.sort, ("-" if f.sort.startswith("-") else "") + "id")


def account_timeline(*, user: Any, account: Account) -> QuerySet[Activity]:
    """The account's timeline; private entries (notes, calls, meetings) only for those who may read them."""
    from .access import can

    qs = account.activities.select_related("actor")
    if not can(user, Action.VIEW_PRIVATE_NOTES, account):
        qs = qs.filter(private=False)
    if not can(user, Action.VIEW_RECEIVABLES, account):
        qs = qs.exclude(kind__in=["invoice", "payment"])
    return qs
