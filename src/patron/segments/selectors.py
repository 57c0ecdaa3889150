"""Reads of the segments app: who is in a segment on a day, who moved, and why an account is where it is.

Other capabilities (discounts, rebates, coupons, follow-up) target segments through
``accounts_in_segment``: one call, one query, any day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from patron.accounts.access import role_of, scope_owners, scoped
from patron.accounts.models import Account, Region
from patron.domain.access import Action, Relation, reach
from patron.domain.explain import Reason
from patron.domain.money import Money
from patron.domain.segmentation.classify import Fitted, explain_account
from patron.domain.segmentation.definitions import class_keys as definition_class_keys
from patron.domain.segmentation.definitions import parse_definition
from patron.sales.models import Category, OrderLine, ReturnLine
from patron.sales.selectors import to_company_currency

from .indicators import query_frame
from .models import Classification, Membership, SegmentRun, Snapshot


class UnknownSegment(LookupError):
    """A classification key or class key that does not exist."""


def _on(day: dt.date) -> Q:
    return Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gt=day))


def classification_list() -> QuerySet[Classification]:
    return Classification.objects.all()


def classification_get(key: str) -> Classification:
    try:
        return Classification.objects.get(key=key)
    except Classification.DoesNotExist:
        raise UnknownSegment(key) from None


def class_keys(classification: Classification) -> list[str]:

    return list(definition_class_keys(parse_definition(classification.definition)))


def memberships_on(classification: Classification, day: dt.date | None = None) -> QuerySet[Membership]:
    return Membership.objects.filter(_on(day or timezone.localdate()), classification=classification)


def accounts_in_segment(
    classification_key: str, class_keys_: Sequence[str], *, as_of: dt.date | None = None, user: Any = None
) -> QuerySet[Account]:
    """Accounts in any of ``class_keys_`` of a classification on ``as_of`` (today), seen by ``user`` if given."""
    classification = classification_get(classification_key)
    known = set(class_keys(classification))
    unknown = [k for k in class_keys_ if k not in known]
    if unknown:
        raise UnknownSegment(", ".join(unknown))
    ids = memberships_on(classification, as_of).filter(class_key__in=list(class_keys_)).values("account_id")
    qs = Account.objects.filter(id__in=ids)
    return scoped(qs, user, Action.VIEW_ACCOUNT) if user is not None else qs


def counts_on(classification: Classification, day: dt.date | None = None) -> dict[str, int]:
    rows = memberships_on(classification, day).values("class_key").annotate(n=Count("id")).order_by()
    found = {row["class_key"]: row["n"] for row in rows}
    return {key: found.get(key, 0) for key in class_keys(classification)}


def counts_over_time(classification: Classification, limit: int = 60) -> list[Snapshot]:
    """The snapshots of full runs, oldest first: their counts are the series of a chart."""
    rows = (
        Snapshot.objects.filter(classification=classification, run__scope=SegmentRun.FULL)
        .order_by("-as_of", "-id")
        .only("as_of", "counts")[:limit]
    )
    latest_per_day: dict[dt.date, Snapshot] = {}
    for snapshot in rows:
        latest_per_day.setdefault(snapshot.as_of, snapshot)
    return sorted(latest_per_day.values(), key=lambda s: s.as_of)


@dataclass
class Movement:
    before: dt.date
    after: dt.date
    keys: list[str]
    matrix: dict[tuple[str, str], int]  # (class before, class after) -> accounts; "" for none

    def moved(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if a != b)


def sees_all(user: Any, action: Action = Action.VIEW_ACCOUNT) -> bool:
    """Whether ``user`` may see every account (then the stored counts are theirs too)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return Relation.OTHER in reach(role_of(user), action)


def seen_by(memberships: QuerySet[Membership], user: Any) -> QuerySet[Membership]:
    """The memberships of accounts ``user`` may see, found by their owners: as "account in (the visible
    ones)" a manager's 700,000 accounts planned as one index probe each."""
    owners = scope_owners(user, Action.VIEW_ACCOUNT)
    if owners is None:
        return memberships
    return memberships.filter(account__owner_id__in=owners, account__merged_into__isnull=True)


def movement(classification: Classification, before: dt.date, after: dt.date, *, user: Any) -> Movement:
    """How many accounts ``user`` may see went from each class on ``before`` to each on ``after`` ("" for none).

    Memberships are intervals: a row that covers both days is an account that stayed, counted per
    class in one grouped query. Only the rows that end or begin between the two days (the movers)
    are read, and paired by account.
    """
    rows = seen_by(Membership.objects.filter(classification=classification), user).order_by()
    matrix: dict[tuple[str, str], int] = {}
    stayed = rows.filter(_on(before)).filter(_on(after)).values("class_key").annotate(n=Count("id"))
    for key, n in stayed.values_list("class_key", "n"):
        matrix[(key, key)] = n
    schema = {"account_id": pl.Int64, "class_key": pl.String}

    def side(on: dt.date, off: dt.date, name: str) -> pl.DataFrame:
        sql, params = (
            rows.filter(_on(on)).exclude(_on(off)).values_list("account_id", "class_key").query.sql_with_params()
        )
        return query_frame(sql, params, schema).rename({"class_key": name})

    pairs = side(before, after, "was").join(side(after, before, "now"), on="account_id", how="full", coalesce=True)
    moved = pairs.select(pl.col("was").fill_null(""), pl.col("now").fill_null("")).group_by("was", "now").len()
    for old, new, n in moved.iter_rows():
        matrix[(old, new)] = matrix.get((old, new), 0) + n
    return Movement(before, after, class_keys(classification), matrix)


@dataclass
class Placement:
    """An account's class in one classification, with the reasons that put it there."""

    classification: Classification
    membership: Membership
    reasons: tuple[Reason, ...]
    previous: Membership | None


def account_placements(account: Account, day: dt.date | None = None) -> list[Placement]:
    """Every classification's class for ``account`` on ``day``, explained with the values measured then."""
    day = day or timezone.localdate()
    current = list(
        Membership.objects.filter(_on(day), account=account)
        .select_related("classification", "snapshot")
        .order_by("classification__builtin", "classification__key")
    )
    if not current:
        return []
    # Every earlier (closed) membership of the account in one query, newest first.
    closed = Membership.objects.filter(account=account, valid_to__isnull=False, valid_to__lte=day).order_by(
        "-valid_from", "-id"
    )
    earlier: dict[int, list[Membership]] = {}
    for row in closed:
        earlier.setdefault(row.classification_id, []).append(row)
    placements = []
    for membership in current:
        previous = next(
            (
                m
                for m in earlier.get(membership.classification_id, [])
                if m.valid_to is not None and m.valid_to <= membership.valid_from
            ),
            None,
        )
        placements.append(Placement(membership.classification, membership, explain(membership), previous))
    return placements


def explain(membership: Membership) -> tuple[Reason, ...]:
    """Why ``membership`` placed its account: the stored values read through the snapshot's definition and fit."""
    snapshot = membership.snapshot
    try:
        definition = parse_definition(snapshot.definition)
        fitted = Fitted.from_dict(snapshot.fitted)
    except (ValueError, KeyError, TypeError):
        return ()
    values: dict[str, Any] = decoded(membership.values)
    values["account_id"] = membership.account_id
    if "region" in values:
        values["region_path"] = region_path(values.get("region"))
    explained = explain_account(definition, fitted, values)
    return explained.reasons


def decoded(values: Any) -> dict[str, Any]:
    """A membership's stored values (JSON text on some backends)."""
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError:
            return {}
    return dict(values) if isinstance(values, dict) else {}


def region_path(region_id: Any) -> list[int]:

    if region_id is None:
        return []
    region = Region.objects.filter(pk=region_id).first()
    if region is None:
        return []
    codes = [c for c in region.path.split("/") if c]
    ids = dict(Region.objects.filter(code__in=codes).values_list("code", "id"))
    return [ids[c] for c in codes if c in ids]


def latest_run() -> SegmentRun | None:
    return SegmentRun.objects.order_by("-created_at", "-id").first()


@dataclass
class CategoryShare:
    code: str
    name: str
    amount: Decimal  # net of returns, in the company currency
    share: Decimal  # of the account's net sales in the period, 0..1


def category_mix(account: Account, start: dt.date, end: dt.date) -> list[CategoryShare]:
    """What the account bought from ``start`` up to ``end`` (excluded), by top-level category, largest first.

    Lines in another currency are converted at the rate of their order's day; lines without
    a rate are left out. Goods returned in the period come off their category.
    """

    categories = {c.pk: c for c in Category.objects.all()}
    by_code = {c.code: c for c in categories.values()}

    def root(category_id: int | None) -> Category | None:
        category = categories.get(category_id) if category_id is not None else None
        if category is None:
            return None
        return by_code.get(category.path.split("/")[0], category)

    totals: dict[str, Decimal] = {}
    names: dict[str, str] = {}

    def add(category_id: int | None, amount: Decimal, currency: str, day: dt.date, sign: int) -> None:
        converted = to_company_currency(Money(amount, currency), day)
        if converted is None:
            return
        top = root(category_id)
        code = top.code if top else ""
        names[code] = top.name if top else ""
        totals[code] = totals.get(code, Decimal(0)) + sign * converted.amount

    lines = OrderLine.objects.filter(
        order__account=account, order__status="confirmed", order__order_date__gte=start, order__order_date__lt=end
    ).values_list("product__category_id", "line_total", "order__currency", "order__order_date")
    for category_id, amount, currency, day in lines:
        add(category_id, amount, currency, day, 1)
    returned = ReturnLine.objects.filter(
        ret__account=account, ret__return_date__gte=start, ret__return_date__lt=end
    ).values_list("order_line__product__category_id", "amount", "ret__currency", "ret__return_date")
    for category_id, amount, currency, day in returned:
        add(category_id, amount, currency, day, -1)
    total = sum((v for v in totals.values() if v > 0), Decimal(0))
    shares = [
        CategoryShare(code, names[code], amount, (amount / total).quantize(Decimal("0.0001")) if total else Decimal(0))
        for code, amount in totals.items()
        if amount != 0
    ]
    return sorted(shares, key=lambda s: (-s.amount, s.code))
