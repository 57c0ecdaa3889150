"""From the database to the pricing core: the rule book, an account's profile, a cart.

The rule book is built from every active policy's rules once, kept in this process,
and rebuilt when ``RuleBookStamp`` moves (one small query per quote checks it). The
region and category trees are read with it: a quote then needs no query for them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from patron.accounts.models import Account, Region
from patron.core.db import fetch_prepared
from patron.core.trees import id_paths
from patron.domain.money import UNIT_PRICE_PLACES
from patron.domain.pricing import AccountProfile, Cart, CartLine, ManualDiscount, Rule, RuleBook, parse_rule
from patron.sales.models import Category, Product

from .models import DiscountRule, Policy, ProductSet, RuleBookStamp

LIFECYCLE = "lifecycle"


@dataclass(frozen=True)
class Catalogue:
    """What the rule book needs besides the rules: the trees, built with it."""

    regions: Mapping[int, tuple[int, ...]]
    categories: Mapping[int, tuple[int, ...]]


def _window(rule: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The rule's own window narrowed to its policy's."""
    when = dict(rule.get("when") or {})
    starts = [s for s in (when.get("starts"), policy.effective_from) if s]
    ends = [e for e in (when.get("ends"), policy.effective_to) if e]

    def moment(value: Any) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)

    if starts:
        when["starts"] = max(moment(s) for s in starts).isoformat()
    if ends:
        when["ends"] = min(moment(e) for e in ends).isoformat()
    return {**rule, "when": when}


def expand_product_sets(definition: Mapping[str, Any], sets: Mapping[int, Sequence[int]]) -> dict[str, Any]:
    """``what.product_sets`` (an application word) into the products the core knows."""
    what = dict(definition.get("what") or {})
    set_ids = what.pop("product_sets", None) or []
    if set_ids:
        products = set(what.get("products") or [])
        for set_id in set_ids:
            products.update(sets.get(set_id, ()))
        what["products"] = sorted(products)
    return {**definition, "what": what}


def product_set_members(ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    through = ProductSet.products.through.objects.all()
    if ids is not None:
        through = through.filter(productset_id__in=list(ids))
    members: dict[int, list[int]] = {}
    for set_id, product_id in through.values_list("productset_id", "product_id"):
        members.setdefault(set_id, []).append(product_id)
    return members


def targets_nothing(definition: Mapping[str, Any], sets: Mapping[int, Sequence[int]]) -> bool:
    """A rule on product sets that are all empty (and nothing else): it concerns no product. To the core an
    empty scope means every product, so such a rule is left out of the book rather than passed on."""
    what = definition.get("what") or {}
    set_ids = what.get("product_sets") or []
    if not set_ids or what.get("products") or what.get("categories"):
        return False
    return not any(sets.get(set_id) for set_id in set_ids)


def domain_rule(
    rule: DiscountRule, policy: Policy, sets: Mapping[int, Sequence[int]], *, source: str = "policy"
) -> Rule:
    data = _window(expand_product_sets(rule.definition, sets), policy)
    data.update(name=rule.name, priority=rule.priority, policy=policy.name, policy_key=f"P{policy.pk}")
    parsed = parse_rule(data, key=rule.key)
    return replace(parsed, source=source) if source != "policy" else parsed


def build_rules(policies: Iterable[Policy], *, source: str = "policy") -> list[Rule]:
    policies = list(policies)
    rules = list(DiscountRule.objects.filter(policy__in=policies).order_by("id"))
    by_id = {p.pk: p for p in policies}
    set_ids = {s for r in rules for s in ((r.definition.get("what") or {}).get("product_sets") or [])}
    sets = product_set_members(set_ids) if set_ids else {}
    return [
        domain_rule(r, by_id[r.policy_id], sets, source=source)
        for r in rules
        if not targets_nothing(r.definition, sets)
    ]


def active_policies() -> Any:
    return Policy.objects.filter(status=Policy.ACTIVE)


@dataclass(frozen=True)
class ProductInfo:
    """What pricing needs of a product, held with the rule book so a quote reads no product row."""

    pk: int
    sku: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    category_id: int | None
    currency: str
    active: bool
    unit: str = "pcs"


@dataclass(frozen=True)
class LimitRow:
    role: str
    user_id: int | None
    category_id: int | None
    percent: Decimal | None
    amount: Decimal | None
    segment: str = ""


@dataclass(frozen=True)
class Compiled:
    version: tuple[int, str | None]
    book: RuleBook
    catalogue: Catalogue
    products: Mapping[str, ProductInfo]  # by SKU, upper case
    product_ids: Mapping[int, ProductInfo]
    limits: tuple[LimitRow, ...]


_PRODUCT_FIELDS = ("pk", "sku", "name", "list_price", "unit_cost", "category_id", "currency", "active", "unit")


def _products() -> tuple[dict[str, ProductInfo], dict[int, ProductInfo]]:
    infos = [
        ProductInfo(pk, sku, name, Decimal(price), Decimal(cost or 0), category, currency, active, unit)
        for pk, sku, name, price, cost, category, currency, active, unit in Product.objects.values_list(
            *_PRODUCT_FIELDS
        )
    ]
    return {p.sku.upper(): p for p in infos}, {p.pk: p for p in infos}


def _limits() -> tuple[LimitRow, ...]:
    from .models import DiscountLimit

    return tuple(
        LimitRow(*row)
        for row in DiscountLimit.objects.values_list("role", "user_id", "category_id", "percent", "amount", "segment")
    )


_lock = threading.Lock()
_cache: dict[str, Compiled] = {}


def _stamp_sql() -> str:
    table = connection.ops.quote_name(RuleBookStamp._meta.db_table)
    # As text on both databases, so the same stamp read two ways compares equal.
    return f"SELECT version, CAST(changed_at AS VARCHAR(40)) FROM {table} WHERE id = 1"  # noqa: S608


def current_version() -> tuple[int, str | None]:
    """The stamp's number and time: a database rolled back and changed again (tests, restores) differs in time.

    Read once per quote, so plain SQL rather than a queryset (a tenth of the cost)."""
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql())
        row = cursor.fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def bump_version() -> None:
    """Call inside the transaction that changes a policy, a rule, a product set, a product or a limit."""
    updated = RuleBookStamp.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        RuleBookStamp.objects.get_or_create(pk=1, defaults={"version": 1, "changed_at": timezone.now()})


def compiled(version: tuple[int, str | None] | None = None) -> Compiled:
    """The active rule book, rebuilt only when the stamp moved since this process built it
    (``version``: the stamp, if the caller read it already)."""
    version = version or current_version()
    held = _cache.get("active")
    if held is not None and held.version == version:
        return held
    with _lock:
        held = _cache.get("active")
        if held is not None and held.version == version:
            return held
        book = RuleBook(build_rules(active_policies()), fingerprint=str(version[0]))
        by_sku, by_id = _products()
        fresh = Compiled(
            version=version,
            book=book,
            catalogue=Catalogue(regions=id_paths(Region), categories=id_paths(Category)),
            products=by_sku,
            product_ids=by_id,
            limits=_limits(),
        )
        _cache["active"] = fresh
        return fresh


def compiled_for(
    region_ids: Iterable[int | None], category_ids: Iterable[int | None], held: Compiled | None = None
) -> Compiled:
    """``compiled()``, with its trees read again if they miss a region or category made since they were read."""
    held = held or compiled()
    regions, categories = held.catalogue.regions, held.catalogue.categories
    if all(r is None or r in regions for r in region_ids) and all(c is None or c in categories for c in category_ids):
        return held
    with _lock:
        fresh = replace(held, catalogue=Catalogue(regions=id_paths(Region), categories=id_paths(Category)))
        _cache["active"] = fresh
        return fresh


def refresh_products() -> Compiled:
    """The book with its products read again (one made after the book was built)."""
    held = compiled()
    with _lock:
        by_sku, by_id = _products()
        fresh = replace(held, products=by_sku, product_ids=by_id)
        _cache["active"] = fresh
        return fresh


def forget() -> None:
    """Drop this process's cached book (tests that roll the database back use it)."""
    _cache.clear()


def account_profile(account: Any, catalogue: Catalogue, *, day: dt.date | None = None) -> AccountProfile:
    """Region path, industry, classes and lifecycle stage today, tags, whether it ever ordered: one query."""
    from patron.segments.models import Classification, Membership

    day = day or timezone.localdate()
    q = connection.ops.quote_name
    memberships, classifications = q(Membership._meta.db_table), q(Classification._meta.db_table)
    tags = q(Account.tags.through._meta.db_table)
    # Plain SQL: read once per quote, and the ORM would cost more than the pricing itself.
    sql = (
        f"SELECT c.key, m.class_key FROM {memberships} m JOIN {classifications} c ON c.id = m.classification_id "  # noqa: S608
        f"WHERE m.account_id = %s AND m.valid_from <= %s AND (m.valid_to IS NULL OR m.valid_to > %s) "
        f"UNION ALL SELECT '', CAST(t.tag_id AS VARCHAR(20)) FROM {tags} t WHERE t.account_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, day, day, account.pk])
        rows = cursor.fetchall()
    classes = frozenset(f"{key}:{cls}" for key, cls in rows if key)
    stage = next((c.split(":", 1)[1] for c in classes if c.startswith(LIFECYCLE + ":")), "")
    return AccountProfile(
        account=account.pk,
        region_path=catalogue.regions.get(account.region_id, ()) if account.region_id else (),
        industry=account.industry_id,
        classes=classes,
        stage=stage,
        tags=frozenset(int(tag) for key, tag in rows if not key),
        has_ordered=account.first_order_date is not None,
    )


@dataclass(frozen=True)
class PricedAccount:
    """What pricing reads of an account (a model instance costs more to make than a quote's rules)."""

    pk: int
    code: str
    region_id: int | None
    industry_id: int | None
    first_order_date: dt.date | None


@dataclass(frozen=True)
class QuoteContext:
    held: Compiled
    account: PricedAccount | None  # None: no such account, or not one the user may see
    profile: AccountProfile | None


def quote_context(user: Any, code: str, *, day: dt.date | None = None) -> QuoteContext:
    """Everything a quote reads from the database in one round trip: the rule book's stamp, the
    account if ``user`` may see it (the access table applied as ``patron.accounts.access.can`` does),
    its classes today and its tags. The HTTP quote is called hundreds of times a second."""
    from patron.accounts.access import relation_to, role_of
    from patron.domain.access import Action, allows
    from patron.segments.models import Classification, Membership
    from patron.staff.models import Team, User

    day = day or timezone.localdate()
    q = connection.ops.quote_name
    accounts, users, teams = q(Account._meta.db_table), q(User._meta.db_table), q(Team._meta.db_table)
    memberships, classifications = q(Membership._meta.db_table), q(Classification._meta.db_table)
    tags = q(Account.tags.through._meta.db_table)
    stamp = q(RuleBookStamp._meta.db_table)

    def text(column: str) -> str:
        return f"CAST({column} AS VARCHAR(40))"

    blank = "CAST(NULL AS VARCHAR(40))"
    sql = (
        f"SELECT 's', {text('version')}, {text('changed_at')}, {blank}, {blank}, {blank}, {blank} "  # noqa: S608
        f"FROM {stamp} WHERE id = 1 "
        f"UNION ALL SELECT 'a', {text('a.id')}, {text('a.region_id')}, {text('a.industry_id')}, "
        f"{text('a.first_order_date')}, {text('a.owner_id')}, {text('t.manager_id')} "
        f"FROM {accounts} a LEFT JOIN {users} o ON o.id = a.owner_id LEFT JOIN {teams} t ON t.id = o.team_id "
        f"WHERE a.code = %s AND a.merged_into_id IS NULL "
        f"UNION ALL SELECT 'c', c.key, m.class_key, {blank}, {blank}, {blank}, {blank} "
        f"FROM {memberships} m JOIN {classifications} c ON c.id = m.classification_id "
        f"JOIN {accounts} ma ON ma.id = m.account_id "
        f"WHERE ma.code = %s AND m.valid_from <= %s AND (m.valid_to IS NULL OR m.valid_to > %s) "
        f"UNION ALL SELECT 't', {text('g.tag_id')}, {blank}, {blank}, {blank}, {blank}, {blank} "
        f"FROM {tags} g JOIN {accounts} ga ON ga.id = g.account_id WHERE ga.code = %s"
    )
    rows = fetch_prepared(sql, [code, code, day, day, code])
    stamp_row = next((r for r in rows if r[0] == "s"), None)
    held = compiled((int(stamp_row[1]), stamp_row[2]) if stamp_row else (0, None))
    found = next((r for r in rows if r[0] == "a"), None)
    if found is None or user is None or not user.is_authenticated or not user.is_active:
        return QuoteContext(held, None, None)

    def number(value: str | None) -> int | None:
        return int(value) if value is not None else None

    owner_id, manager_id = number(found[5]), number(found[6])
    if not allows(role_of(user), Action.VIEW_ACCOUNT, relation_to(user, owner_id, manager_id)):
        return QuoteContext(held, None, None)
    first_order = dt.date.fromisoformat(found[4][:10]) if found[4] else None
    account = PricedAccount(
        pk=int(found[1]),
        code=code,
        region_id=number(found[2]),
        industry_id=number(found[3]),
        first_order_date=first_order,
    )
    if account.region_id is not None and account.region_id not in held.catalogue.regions:
        held = compiled_for([account.region_id], [], held)
    classes = frozenset(f"{r[1]}:{r[2]}" for r in rows if r[0] == "c")
    stage = next((c.split(":", 1)[1] for c in classes if c.startswith(LIFECYCLE + ":")), "")
    profile = AccountProfile(
        account=account.pk,
        region_path=held.catalogue.regions.get(account.region_id, ()) if account.region_id else (),
        industry=account.industry_id,
        classes=classes,
        stage=stage,
        tags=frozenset(int(r[1]) for r in rows if r[0] == "t"),
        has_ordered=first_order is not None,
    )
    return QuoteContext(held, account, profile)


def floor_price(product: Any) -> Decimal | None:
    """Unit cost plus the company's floor margin (``PATRON_FLOOR_MARGIN_PERCENT``); none without a cost."""
    cost = Decimal(product.unit_cost or 0)
    if cost <= 0:
        return None
    margin = Decimal(str(getattr(settings, "PATRON_FLOOR_MARGIN_PERCENT", "0")))
    return (cost * (1 + margin / 100)).quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES))


@dataclass(frozen=True)
class LineRequest:
    product: Any  # a Product or a ProductInfo: pk, sku, list_price, unit_cost, category_id
    quantity: Decimal
    manual: ManualDiscount | None = None


def cart_for(lines: Sequence[LineRequest], catalogue: Catalogue, *, currency: str, channel: str) -> Cart:
    return Cart(
        currency=currency,
        channel=channel,
        lines=tuple(
            CartLine(
                key=str(i + 1),
                product=r.product.pk,
                quantity=r.quantity,
                list_price=Decimal(r.product.list_price),
                category_path=catalogue.categories.get(r.product.category_id, ()) if r.product.category_id else (),
                floor_price=floor_price(r.product),
                unit_cost=Decimal(r.product.unit_cost or 0),
                manual=r.manual,
                sku=r.product.sku,
            )
            for i, r in enumerate(lines)
        ),
    )
