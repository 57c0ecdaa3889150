"""Reads of accounts: the one filter every surface (API, list page, export) uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    DecimalField,
    Exists,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import IsNull
from django.utils.translation import gettext as _

from patron.core.pagination import partition_by
from patron.domain.access import Action
from patron.domain.money import MoneyError, check_places, to_decimal

from .access import scoped
from .models import Account, Activity, Contact, CustomField, Industry, Region, Tag

SORTS = ("code", "-code", "name", "-name", "created_at", "-created_at")
AccountTag = Account.tags.through


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


# Shorter search terms look in names only: two digits or letters are in most phones and
# emails, and the trigram indexes that find codes, phones, emails and tax ids need three.
SHORTEST_NUMBER_TERM = 3
# A search that the indexes answer with at most this many accounts filters the list by their
# ids; a commoner term is matched row by row while the list is read in its order.
SEARCH_IDS = 2000


class _SharesBigrams(Func):
    """``patron_bigrams(UPPER(field)) @> patron_bigrams(UPPER(term))``, PostgreSQL only.

    The GIN index on a name's pairs of characters (migration 0007_scale_indexes) finds
    the rows holding every pair of the term; ``icontains`` then checks the term itself.
    """

    template = "patron_bigrams(%(expressions)s)"
    arg_joiner = ") @> patron_bigrams("
    output_field = BooleanField()

    def __init__(self, field_name: str, term: str) -> None:
        super().__init__(Upper(Cast(field_name, TextField())), Upper(Value(term)))


def _matches(term: str, *, indexed: bool) -> tuple[Q, Q]:
    """What an account's own fields and what a contact's fields must hold (case-insensitive)."""
    own = Q(name__icontains=term)
    people = Q(name__icontains=term)
    if indexed and len(term) >= 2 and connection.vendor == "postgresql":
        own &= Q(_SharesBigrams("name", term))
        people &= Q(_SharesBigrams("name", term))
    if len(term) >= SHORTEST_NUMBER_TERM:
        own |= Q(code__icontains=term) | Q(phone__icontains=term) | Q(email__icontains=term)
        own |= Q(tax_id__icontains=term)
        people |= Q(phone__icontains=term) | Q(email__icontains=term)
    return own, people


def _search(qs: QuerySet[Account], term: str) -> QuerySet[Account]:
    """The accounts whose name, code, phone, email or tax id holds ``term``, or one of whose contacts'
    name, phone or email does.

    At a million accounts neither way of asking is fast for every term. A specific term
    ("聚福电子", a phone number) is found in the search indexes: a few ids, while reading the
    list row by row would pass over every account and contact (1.6 s at 100,000 accounts). A
    common term ("华", "sales") matches a fifth of the accounts: sorting them all for one page
    takes seconds, while reading the list in its order finds a page of matches in the first few
    hundred rows. So the indexes are asked first, for at most SEARCH_IDS accounts and as many
    contacts, and only a part that finds more is matched row by row (benchmarks/RESULTS.md).
    """
    own, people = _matches(term, indexed=True)
    own_ids = list(Account.objects.filter(own).order_by().values_list("pk", flat=True)[: SEARCH_IDS + 1])
    contacts = Contact.objects.filter(people).order_by().values_list("account_id", flat=True)
    via_contacts = list(contacts[: SEARCH_IDS + 1])
    if len(own_ids) <= SEARCH_IDS and len(via_contacts) <= SEARCH_IDS:
        return qs.filter(pk__in=set(own_ids) | set(via_contacts))
    own, people = _matches(term, indexed=False)
    match = own if len(own_ids) > SEARCH_IDS else Q(pk__in=own_ids)
    if len(via_contacts) > SEARCH_IDS:
        # A subquery per account read (LIMIT 1 keeps PostgreSQL from hashing every contact first).
        first = Contact.objects.filter(people, account=OuterRef("pk")).order_by().values("pk")[:1]
        match |= Q(IsNull(Subquery(first), False))
    else:
        match |= Q(pk__in=via_contacts)
    return qs.filter(match)


def account_list(*, user: Any, filters: AccountFilters | None = None) -> QuerySet[Account]:
    """The accounts ``user`` may see, filtered and ordered (ties broken by id)."""
    f = filters or AccountFilters()
    qs = scoped(Account.objects.all(), user, Action.VIEW_ACCOUNT).select_related("owner", "region", "industry")
    if f.q:
        qs = _search(qs, f.q.strip())
    if f.owner is not None:
        qs = qs.filter(owner_id=f.owner)
    # Region, industry and tags are looked up first and filtered by id: a join on their code
    # or name hides from PostgreSQL's planner how many accounts match, and at a million
    # accounts it then sorts every account of an industry to show fifty (seconds instead of
    # milliseconds; benchmarks/RESULTS.md, "Account list on PostgreSQL").
    if f.region:
        region = Region.objects.filter(code=f.region).first()
        if region is None:
            raise FilterError("region", _("Unknown region."))
        below = Region.objects.filter(path__startswith=region.path).values_list("id", flat=True)
        # (region, name, id) is indexed on PostgreSQL (migrations 0007 and 0008)
        qs = partition_by(qs, "region_id", list(below), sorts=("name",))
    if f.industry:
        industry = Industry.objects.filter(code=f.industry).values_list("id", flat=True).first()
        qs = qs.filter(industry_id=industry) if industry is not None else qs.none()
    if f.key_account is not None:
        qs = qs.filter(is_key_account=f.key_account)
    for name in f.tags:
        tag = Tag.objects.filter(name=name).values_list("id", flat=True).first()
        if tag is None:
            qs = qs.none()
            break
        qs = qs.filter(Exists(AccountTag.objects.filter(account_id=OuterRef("pk"), tag_id=tag)))
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
