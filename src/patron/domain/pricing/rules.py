"""Discount rules: scope (who, what) + conditions (when) + benefit + stacking, as data.

A rule is written as a JSON-able dict and parsed by ``parse_rule`` into a frozen
``Rule``; ``rule_to_dict`` writes the canonical dict back. Every problem found is
reported together, each naming its field (``benefit.tiers[1].from``), with these
codes (params in brackets):

=================  ==============================================================
required           the field is missing
wrong_type         not the expected type (``expected``)
unknown_field      a field this part does not have
unknown_kind       ``benefit.kind`` is none of ``allowed``
invalid_choice     a value outside ``allowed`` (channel, tier basis, weekday)
out_of_range       a number outside its range (``min``, ``max``)
not_positive       zero or below where a positive number is needed
empty_range        a window that ends before it starts, or hours with from = to
not_increasing     a tier threshold not above the previous one (``previous``)
not_better         a tier that gives no more than the previous one (``previous``)
duplicate          the same id twice in a list
excluded_included  an exclusion that removes everything the scope includes
scope_mismatch     a benefit that cannot apply to the rule's scope (``reason``)
=================  ==============================================================

Whether a product, category, region, industry, tag, account or class named in a
rule exists is the application's question (it holds the catalogue); the core only
checks the shape. The dict::

    {"name": "Key accounts 5% on cables", "priority": 100,
     "who": {"accounts": [12], "regions": [3], "industries": [2], "classes": ["value_tier:high"],
             "stages": ["new"], "tags": [5], "new_customers": true},          # all optional; {} = everyone
     "what": {"products": [7], "categories": [4], "exclude_products": [9],
              "exclude_categories": []},                                    # {} = every product
     "when": {"min_quantity": "10", "min_line_amount": "100", "min_cart_amount": "500",
              "category_min": {"category": 4, "quantity": "20", "amount": "1000"},
              "channels": ["web_shop"], "weekdays": [6, 7], "hours": ["09:00", "12:00"],
              "starts": "2026-12-01T00:00:00+08:00", "ends": "2026-12-31T23:59:59+08:00",
              "first_order": true},
     "benefit": {"kind": "percent_off", "percent": "5"},
     "stacking": {"exclusive": false, "group": "volume", "combines_with": null},
     "caps": {"per_line": "100", "per_order": "500"}}

Benefit kinds: ``percent_off`` {percent}; ``amount_off_unit`` {amount} off each unit;
``fixed_price`` {price} per unit; ``cart_amount_off`` {amount} off the lines in
scope; ``spend_save`` {spend, save, repeat} (满减: every ``spend`` saves ``save``
when ``repeat``); ``buy_get`` {buy, free} (buy 2 get 1: of every 3 units 1 is free);
``tiers`` {basis: quantity | amount, tiers: [{from, percent}, ...]} measured over
the lines in scope; ``gift`` {free} (that many units of the products in scope free, at most, over
the whole order: a free gift product).

Stacking: rules are applied in order of ``priority`` (higher first). An
``exclusive`` rule, once applied to a line, stops every later rule on it. Rules
that share a ``group`` compete: only the best for the customer applies.
``combines_with`` (a list of group names) limits which other rules may apply to the
same line: none but those groups (``[]``: none at all). ``caps`` bound what the
rule gives per line and per order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from patron.domain.problems import Reader, join_path

BENEFIT_KINDS = (
    "percent_off",
    "amount_off_unit",
    "fixed_price",
    "cart_amount_off",
    "spend_save",
    "buy_get",
    "tiers",
    "gift",
)
# Kinds computed on each line on its own; the others on the lines in scope together.
LINE_KINDS = frozenset({"percent_off", "amount_off_unit", "fixed_price", "buy_get", "tiers", "gift"})
CART_KINDS = frozenset({"cart_amount_off", "spend_save"})
CHANNELS = ("sales_rep", "web_shop", "store", "phone")
TIER_BASES = ("quantity", "amount")
GROUP_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
MAX_NAME = 200
MAX_PRIORITY = 1_000_000
MONEY_PLACES = 4  # amounts in rules may be unit prices, which carry up to 4 decimals


@dataclass(frozen=True, slots=True)
class Who:
    """Which accounts; an empty part places no limit. All given parts must hold (AND),
    any value within a part (OR)."""

    accounts: frozenset[int] = frozenset()
    regions: frozenset[int] = frozenset()
    industries: frozenset[int] = frozenset()
    classes: frozenset[str] = frozenset()  # "classification_key:class_key"
    stages: frozenset[str] = frozenset()  # lifecycle stage keys
    tags: frozenset[int] = frozenset()
    new_customers: bool = False  # accounts without a confirmed order yet

    @property
    def everyone(self) -> bool:
        return not (
            self.accounts
            or self.regions
            or self.industries
            or self.classes
            or self.stages
            or self.tags
            or self.new_customers
        )


@dataclass(frozen=True, slots=True)
class What:
    """Which products; categories include their sub-categories; exclusions win."""

    products: frozenset[int] = frozenset()
    categories: frozenset[int] = frozenset()
    exclude_products: frozenset[int] = frozenset()
    exclude_categories: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return not (self.products or self.categories)

    def covers(self, product: int, category_path: tuple[int, ...] | frozenset[int]) -> bool:
        """``category_path``: the product's category and every category above it."""
        if product in self.exclude_products or not self.exclude_categories.isdisjoint(category_path):
            return False
        return self.everything or product in self.products or not self.categories.isdisjoint(category_path)


@dataclass(frozen=True, slots=True)
class CategoryMinimum:
    category: int
    quantity: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class When:
    min_quantity: Decimal | None = None  # per line
    min_line_amount: Decimal | None = None  # per line, at list price
    min_cart_amount: Decimal | None = None  # the lines in scope, after earlier discounts
    category_min: CategoryMinimum | None = None
    channels: frozenset[str] = frozenset()
    weekdays: frozenset[int] = frozenset()  # ISO: 1 Monday .. 7 Sunday
    hours: tuple[dt.time, dt.time] | None = None  # from (inclusive) to (exclusive); may wrap midnight
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None  # exclusive
    first_order: bool = False


@dataclass(frozen=True, slots=True)
class Tier:
    start: Decimal  # the least basis that reaches it
    percent: Decimal


@dataclass(frozen=True, slots=True)
class Benefit:
    kind: str
    percent: Decimal | None = None
    amount: Decimal | None = None  # amount_off_unit, cart_amount_off
    price: Decimal | None = None  # fixed_price
    spend: Decimal | None = None  # spend_save
    save: Decimal | None = None
    repeat: bool = False
    buy: int = 0  # buy_get
    free: int = 0
    basis: str = "quantity"  # tiers
    tiers: tuple[Tier, ...] = ()

    @property
    def on_lines(self) -> bool:
        return self.kind in LINE_KINDS


@dataclass(frozen=True, slots=True)
class Stacking:
    exclusive: bool = False
    group: str = ""
    combines_with: frozenset[str] | None = None  # None: with any rule


@dataclass(frozen=True, slots=True)
class Caps:
    per_line: Decimal | None = None
    per_order: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One written rule. ``key`` is unique and stable (the application's id); it breaks
    ties between equal priorities, so a quote never depends on storage order."""

    key: str
    name: str
    benefit: Benefit
    priority: int = 0
    who: Who = Who()
    what: What = What()
    when: When = When()
    stacking: Stacking = Stacking()
    caps: Caps = Caps()
    policy: str = ""  # the policy's name, for explanations
    policy_key: str = ""
    source: str = "policy"  # policy | coupon | sandbox
    code: str = ""  # the coupon code a coupon rule came from


# --- parsing ----------------------------------------------------------------------------------------------------

_TOP = {
    "key",
    "name",
    "priority",
    "who",
    "what",
    "when",
    "benefit",
    "stacking",
    "caps",
    "policy",
    "policy_key",
    "version",
}
_WHO = {"accounts", "regions", "industries", "classes", "stages", "tags", "new_customers"}
_WHAT = {"products", "categories", "exclude_products", "exclude_categories"}
_WHEN = {
    "min_quantity",
    "min_line_amount",
    "min_cart_amount",
    "category_min",
    "channels",
    "weekdays",
    "hours",
    "starts",
    "ends",
    "first_order",
}
_BENEFIT_FIELDS: dict[str, set[str]] = {
    "percent_off": {"percent"},
    "amount_off_unit": {"amount"},
    "fixed_price": {"price"},
    "cart_amount_off": {"amount"},
    "spend_save": {"spend", "save", "repeat"},
    "buy_get": {"buy", "free"},
    "tiers": {"basis", "tiers"},
    "gift": {"free"},
}
_STACKING = {"exclusive", "group", "combines_with"}
_CAPS = {"per_line", "per_order"}


def parse_who(p: Reader, data: Any, path: str = "who") -> Who:
    """Which accounts, as discount rules and rebate programs' eligibility both write it."""
    d = p.obj(data, path, _WHO)
    classes = p.texts(d, "classes", path)
    for i, item in enumerate(sorted(classes)):
        if item.count(":") != 1 or not all(item.split(":")):
            p.add(join_path(join_path(path, "classes"), i), "wrong_type", expected="classification:class")
    return Who(
        accounts=p.ids(d, "accounts", path),
        regions=p.ids(d, "regions", path),
        industries=p.ids(d, "industries", path),
        classes=classes,
        stages=p.texts(d, "stages", path),
        tags=p.ids(d, "tags", path),
        new_customers=p.flag(d, "new_customers", path),
    )


def what_to_dict(what: What) -> dict[str, list[int]]:
    return {name: sorted(v) for name in _WHAT if (v := getattr(what, name))}


def parse_what(p: Reader, data: Any, path: str = "what") -> What:
    """Which products, as discount rules and rebate programs both write it."""
    d = p.obj(data, path, _WHAT)
    what = What(
        products=p.ids(d, "products", path),
        categories=p.ids(d, "categories", path),
        exclude_products=p.ids(d, "exclude_products", path),
        exclude_categories=p.ids(d, "exclude_categories", path),
    )
    if what.products and not what.categories and what.products <= what.exclude_products:
        p.add(join_path(path, "exclude_products"), "excluded_included")
    if what.categories and not what.products and what.categories <= what.exclude_categories:
        p.add(join_path(path, "exclude_categories"), "excluded_included")
    return what


def _parse_when(p: Reader, data: Any) -> When:
    d = p.obj(data, "when", _WHEN)
    category_min = None
    if d.get("category_min") is not None:
        c = p.obj(d["category_min"], "when.category_min", {"category", "quantity", "amount"})
        category = c.get("category")
        if isinstance(category, bool) or not isinstance(category, int) or category <= 0:
            p.add("when.category_min.category", "required" if category is None else "wrong_type", expected="id")
            category = 0
        quantity = p.number(c, "quantity", "when.category_min", positive=True, places=3)
        amount = p.number(c, "amount", "when.category_min", positive=True)
        if c and quantity is None and amount is None and "quantity" not in c and "amount" not in c:
            p.add("when.category_min.quantity", "required")
        category_min = CategoryMinimum(category, quantity, amount) if category else None
    hours = None
    if d.get("hours") is not None:
        raw = d["hours"]
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            p.add("when.hours", "wrong_type", expected="[from, to]")
        else:
            start, end = p.clock(raw[0], "when.hours[0]"), p.clock(raw[1], "when.hours[1]")
            if start is not None and end is not None:
                if start == end:
                    p.add("when.hours", "empty_range")
                else:
                    hours = (start, end)
    weekdays: set[int] = set()
    raw_days = d.get("weekdays")
    if raw_days is not None:
        if not isinstance(raw_days, list | tuple):
            p.add("when.weekdays", "wrong_type", expected="list")
        else:
            for i, day in enumerate(raw_days):
                if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
                    p.add(join_path("when.weekdays", i), "invalid_choice", allowed=list(range(1, 8)))
                else:
                    weekdays.add(day)
    starts, ends = p.moment(d, "starts", "when"), p.moment(d, "ends", "when")
    if starts is not None and ends is not None and ends <= starts:
        p.add("when.ends", "empty_range")
    return When(
        min_quantity=p.number(d, "min_quantity", "when", positive=True, places=3),
        min_line_amount=p.number(d, "min_line_amount", "when", positive=True),
        min_cart_amount=p.number(d, "min_cart_amount", "when", positive=True),
        category_min=category_min,
        channels=p.texts(d, "channels", "when", allowed=CHANNELS),
        weekdays=frozenset(weekdays),
        hours=hours,
        starts=starts,
        ends=ends,
        first_order=p.flag(d, "first_order", "when"),
    )


def parse_benefit(p: Reader, data: Any) -> Benefit:
    """A rule's benefit, or a coupon's (the same kinds, the same words)."""
    if data is None:
        p.add("benefit", "required")
        return Benefit("percent_off", percent=Decimal(0))
    if not isinstance(data, Mapping):
        p.add("benefit", "wrong_type", expected="object")
        return Benefit("percent_off", percent=Decimal(0))
    kind = data.get("kind")
    if kind not in BENEFIT_KINDS:
        p.add("benefit.kind", "required" if kind is None else "unknown_kind", allowed=list(BENEFIT_KINDS))
        return Benefit("percent_off", percent=Decimal(0))
    d = p.obj(data, "benefit", _BENEFIT_FIELDS[kind] | {"kind"})
    hundred = Decimal(100)
    if kind == "percent_off":
        return Benefit(kind, percent=p.number(d, "percent", "benefit", required=True, positive=True, high=hundred))
    if kind == "amount_off_unit":
        return Benefit(kind, amount=p.number(d, "amount", "benefit", required=True, positive=True))
    if kind == "fixed_price":
        # A fixed price of 0 is a giveaway, which buy_get says better; refuse it here.
        return Benefit(kind, price=p.number(d, "price", "benefit", required=True, positive=True))
    if kind == "cart_amount_off":
        return Benefit(kind, amount=p.number(d, "amount", "benefit", required=True, positive=True))
    if kind == "spend_save":
        spend = p.number(d, "spend", "benefit", required=True, positive=True)
        save = p.number(d, "save", "benefit", required=True, positive=True)
        if spend is not None and save is not None and save > spend:
            p.add("benefit.save", "out_of_range", min="0", max=str(spend))
        return Benefit(kind, spend=spend, save=save, repeat=p.flag(d, "repeat", "benefit"))
    if kind == "buy_get":
        counts = {}
        for name in ("buy", "free"):
            if d.get(name) is None:
                p.add(join_path("benefit", name), "required")
            counts[name] = p.integer(d, name, "benefit", low=1, high=10_000, default=1)
        return Benefit(kind, buy=counts["buy"], free=counts["free"])
    if kind == "gift":
        if d.get("free") is None:
            p.add("benefit.free", "required")
        return Benefit(kind, free=p.integer(d, "free", "benefit", low=1, high=10_000, default=1))
    # tiers
    basis = d.get("basis", "quantity")
    if basis not in TIER_BASES:
        p.add("benefit.basis", "invalid_choice", allowed=list(TIER_BASES))
        basis = "quantity"
    raw = d.get("tiers")
    tiers: list[Tier] = []
    if not isinstance(raw, list | tuple) or not raw:
        p.add("benefit.tiers", "required" if raw is None else ("empty" if isinstance(raw, list) else "wrong_type"))
    else:
        for i, item in enumerate(raw):
            where = join_path("benefit.tiers", i)
            t = p.obj(item, where, {"from", "percent"})
            if not isinstance(item, Mapping):
                continue
            start = p.number(t, "from", where, required=True, positive=True, places=3 if basis == "quantity" else 4)
            percent = p.number(t, "percent", where, required=True, positive=True, high=hundred)
            if start is None or percent is None:
                continue
            if tiers and start <= tiers[-1].start:
                p.add(join_path(where, "from"), "not_increasing", previous=str(tiers[-1].start))
            elif tiers and percent <= tiers[-1].percent:
                p.add(join_path(where, "percent"), "not_better", previous=str(tiers[-1].percent))
            tiers.append(Tier(start, percent))
    return Benefit(kind, basis=basis, tiers=tuple(tiers))


def _parse_stacking(p: Reader, data: Any) -> Stacking:
    d = p.obj(data, "stacking", _STACKING)
    group = d.get("group") or ""
    if not isinstance(group, str) or (group and not GROUP_PATTERN.match(group)):
        p.add("stacking.group", "wrong_type", expected="group")
        group = ""
    combines: frozenset[str] | None = None
    if d.get("combines_with") is not None:
        combines = p.texts(d, "combines_with", "stacking")
        for i, name in enumerate(sorted(combines)):
            if not GROUP_PATTERN.match(name):
                p.add(join_path("stacking.combines_with", i), "wrong_type", expected="group")
    return Stacking(exclusive=p.flag(d, "exclusive", "stacking"), group=group, combines_with=combines)


def parse_rule(data: Any, *, key: str | None = None) -> Rule:
    """A ``Rule`` from its dict, or ``DefinitionError`` with every problem found."""
    p = Reader(places=MONEY_PLACES)
    d = p.obj(data, "", _TOP)
    if not isinstance(data, Mapping):
        p.problems.raise_if_any()
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        p.add("name", "required" if not name else "wrong_type", expected="text")
        name = ""
    elif len(name) > MAX_NAME:
        p.add("name", "out_of_range", max=MAX_NAME)
    priority = p.integer(d, "priority", "", low=-MAX_PRIORITY, high=MAX_PRIORITY, default=0)
    who = parse_who(p, d.get("who"))
    what = parse_what(p, d.get("what"))
    when = _parse_when(p, d.get("when"))
    benefit = parse_benefit(p, d.get("benefit"))
    stacking = _parse_stacking(p, d.get("stacking"))
    caps_data = p.obj(d.get("caps"), "caps", _CAPS)
    caps = Caps(
        per_line=p.number(caps_data, "per_line", "caps", positive=True),
        per_order=p.number(caps_data, "per_order", "caps", positive=True),
    )
    if not benefit.on_lines and caps.per_line is not None and caps.per_order is None:
        p.add("caps.per_line", "scope_mismatch", reason="cart_benefit")
    if benefit.kind == "fixed_price" and what.everything:
        p.add("benefit.kind", "scope_mismatch", reason="fixed_price_needs_products")
    p.problems.raise_if_any()
    rule_key = key if key is not None else str(d.get("key") or "")
    if not rule_key:
        rule_key = name
    return Rule(
        key=rule_key,
        name=name,
        benefit=benefit,
        priority=priority,
        who=who,
        what=what,
        when=when,
        stacking=stacking,
        caps=caps,
        policy=str(d.get("policy") or ""),
        policy_key=str(d.get("policy_key") or ""),
    )


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def benefit_to_dict(b: Benefit) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": b.kind}
    if b.kind == "percent_off":
        out["percent"] = _num(b.percent)
    elif b.kind in ("amount_off_unit", "cart_amount_off"):
        out["amount"] = _num(b.amount)
    elif b.kind == "fixed_price":
        out["price"] = _num(b.price)
    elif b.kind == "spend_save":
        out.update(spend=_num(b.spend), save=_num(b.save), repeat=b.repeat)
    elif b.kind == "buy_get":
        out.update(buy=b.buy, free=b.free)
    elif b.kind == "gift":
        out["free"] = b.free
    else:
        out.update(basis=b.basis, tiers=[{"from": str(t.start), "percent": str(t.percent)} for t in b.tiers])
    return out


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """The canonical dict: ``parse_rule(rule_to_dict(r)) == r`` for parsed rules."""
    who = rule.who
    out_who: dict[str, Any] = {}
    for name in ("accounts", "regions", "industries", "tags"):
        if values := getattr(who, name):
            out_who[name] = sorted(values)
    for name in ("classes", "stages"):
        if values := getattr(who, name):
            out_who[name] = sorted(values)
    if who.new_customers:
        out_who["new_customers"] = True
    out_what = what_to_dict(rule.what)
    w = rule.when
    out_when: dict[str, Any] = {}
    for name in ("min_quantity", "min_line_amount", "min_cart_amount"):
        if (value := getattr(w, name)) is not None:
            out_when[name] = str(value)
    if w.category_min is not None:
        c = {"category": w.category_min.category}
        if w.category_min.quantity is not None:
            c["quantity"] = str(w.category_min.quantity)  # type: ignore[assignment]
        if w.category_min.amount is not None:
            c["amount"] = str(w.category_min.amount)  # type: ignore[assignment]
        out_when["category_min"] = c
    if w.channels:
        out_when["channels"] = sorted(w.channels)
    if w.weekdays:
        out_when["weekdays"] = sorted(w.weekdays)
    if w.hours is not None:
        out_when["hours"] = [w.hours[0].isoformat("minutes"), w.hours[1].isoformat("minutes")]
    if w.starts is not None:
        out_when["starts"] = w.starts.isoformat()
    if w.ends is not None:
        out_when["ends"] = w.ends.isoformat()
    if w.first_order:
        out_when["first_order"] = True
    out_benefit = benefit_to_dict(rule.benefit)
    s = rule.stacking
    out_stacking: dict[str, Any] = {"exclusive": s.exclusive, "group": s.group}
    out_stacking["combines_with"] = None if s.combines_with is None else sorted(s.combines_with)
    out: dict[str, Any] = {
        "key": rule.key,
        "name": rule.name,
        "priority": rule.priority,
        "who": out_who,
        "what": out_what,
        "when": out_when,
        "benefit": out_benefit,
        "stacking": out_stacking,
        "caps": {n: str(v) for n in _CAPS if (v := getattr(rule.caps, n)) is not None},
    }
    if rule.policy:
        out["policy"] = rule.policy
    if rule.policy_key:
        out["policy_key"] = rule.policy_key
    return out
