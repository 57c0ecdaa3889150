"""Build realistic records through the real services, so tests exercise the same paths users do."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from patron.accounts.models import Account, Industry, Region
from patron.sales import services as sales
from patron.sales.models import Category, Invoice, Order, Product
from patron.staff.models import Team, User

_seq = itertools.count(1)


def make_user(username: str, role: str, team: Team | None = None, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, role=role, team=team, **extra)
    return user


def make_region_tree() -> dict[str, Region]:
    cn = Region.objects.create(code="CN", name_zh="中国", name_en="China", level="country")
    gd = Region.objects.create(code="GD", name_zh="广东", name_en="Guangdong", level="province", parent=cn)
    sz = Region.objects.create(code="SZ", name_zh="深圳", name_en="Shenzhen", level="city", parent=gd)
    zj = Region.objects.create(code="ZJ", name_zh="浙江", name_en="Zhejiang", level="province", parent=cn)
    hz = Region.objects.create(code="HZ", name_zh="杭州", name_en="Hangzhou", level="city", parent=zj)
    return {"CN": cn, "GD": gd, "SZ": sz, "ZJ": zj, "HZ": hz}


def make_account(owner: User | None, **fields: Any) -> Account:
    n = next(_seq)
    data: dict[str, Any] = {"code": f"A{n:05d}", "name": f"Account {n}", "owner": owner}
    data.update(fields)
    return Account.objects.create(**data)


def make_industry(code: str = "RETAIL", zh: str = "零售", en: str = "Retail") -> Industry:
    return Industry.objects.get_or_create(code=code, defaults={"name_zh": zh, "name_en": en})[0]


def make_product(sku: str | None = None, price: str = "100.00", cost: str = "60.00", **fields: Any) -> Product:
    n = next(_seq)
    category = (
        fields.pop("category", None)
        or Category.objects.get_or_create(code="TEA", defaults={"name_zh": "茶", "name_en": "Tea"})[0]
    )
    return Product.objects.create(
        sku=sku or f"P{n:05d}",
        name=fields.pop("name", f"Product {n}"),
        list_price=Decimal(price),
        unit_cost=Decimal(cost),
        category=category,
        **fields,
    )


def make_order(
    actor: User,
    account: Account,
    lines: list[tuple[Product, str]] | None = None,
    *,
    confirm: bool = True,
    order_date: dt.date | None = None,
) -> Order:
    lines = lines or [(make_product(), "2")]
    return sales.order_create(
        actor=actor,
        account=account,
        lines=[sales.LineInput(product=p, quantity=q) for p, q in lines],
        confirm=confirm,
        order_date=order_date,
    )


def make_invoice(actor: User, order: Order, **kwargs: Any) -> Invoice:
    return sales.invoice_create(actor=actor, account=order.account, order=order, **kwargs)


# A classification by cumulative sales over fixed cut points: under 1,000 small, under 5,000 medium, else big.
SALES_BANDS: dict[str, Any] = {
    "kind": "single",
    "indicator": "sales",
    "classes": [{"key": "low", "label": "Small"}, {"key": "mid", "label": "Medium"}, {"key": "high", "label": "Big"}],
    "method": "thresholds",
    "thresholds": ["1000", "5000"],
    "missing": "low",
}
