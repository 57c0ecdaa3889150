"""A rule in plain words, in the reader's language: for the policy pages, the customer's
page and the emails that announce a policy ("10% off green tea for orders of 10 units or more,
1-31 December").

Names of regions, categories, products and classes are looked up in one query per kind
for any number of rules (``Names.for_rules``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from patron.accounts.models import Account, Industry, Region, Tag
from patron.sales.models import Category, Order, Product

from .models import ProductSet

WEEKDAYS = {
    1: gettext_lazy("Mon"),
    2: gettext_lazy("Tue"),
    3: gettext_lazy("Wed"),
    4: gettext_lazy("Thu"),
    5: gettext_lazy("Fri"),
    6: gettext_lazy("Sat"),
    7: gettext_lazy("Sun"),
}


@dataclass
class Names:
    """Display names by id, fetched once for every rule shown on a page."""

    regions: dict[int, str] = field(default_factory=dict)
    industries: dict[int, str] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    accounts: dict[int, str] = field(default_factory=dict)
    products: dict[int, str] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)
    product_sets: dict[int, str] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)  # lifecycle stage key -> its label

    @classmethod
    def for_rules(cls, definitions: Iterable[Mapping[str, Any]]) -> Names:
        wanted: dict[str, set[Any]] = {}
        for d in definitions:
            who, what, when = (d.get(k) or {} for k in ("who", "what", "when"))
            for kind in ("regions", "industries", "tags", "accounts", "classes", "stages"):
                wanted.setdefault(kind, set()).update(who.get(kind) or [])
            for kind in ("products", "exclude_products"):
                wanted.setdefault("products", set()).update(what.get(kind) or [])
            for kind in ("categories", "exclude_categories"):
                wanted.setdefault("categories", set()).update(what.get(kind) or [])
            wanted.setdefault("product_sets", set()).update(what.get("product_sets") or [])
            if isinstance(when.get("category_min"), Mapping):
                wanted["categories"].add(when["category_min"].get("category"))
        names = cls()

        def fetch(model: Any, ids: set[Any]) -> dict[int, str]:
            ids = {i for i in ids if isinstance(i, int)}
            return {obj.pk: str(obj) for obj in model.objects.filter(pk__in=ids)} if ids else {}

        names.regions = {r.pk: r.name for r in Region.objects.filter(pk__in=wanted.get("regions", set()))}
        names.industries = fetch(Industry, wanted.get("industries", set()))
        names.tags = {t.pk: t.name for t in Tag.objects.filter(pk__in=wanted.get("tags", set()))}
        names.accounts = {a.pk: a.name for a in Account.objects.filter(pk__in=wanted.get("accounts", set()))}
        names.products = {p.pk: p.name for p in Product.objects.filter(pk__in=wanted.get("products", set()))}
        names.categories = {c.pk: c.name for c in Category.objects.filter(pk__in=wanted.get("categories", set()))}
        names.product_sets = fetch(ProductSet, wanted.get("product_sets", set()))
        classes = {c for c in wanted.get("classes", set()) if isinstance(c, str) and ":" in c}
        stages = {s for s in wanted.get("stages", set()) if isinstance(s, str)}
        if stages:
            from patron.segments.messages import class_label
            from patron.segments.models import Classification

            lifecycle = Classification.objects.filter(key="lifecycle").first()
            names.stages = {s: class_label(lifecycle, s) if lifecycle else s for s in stages}
        if classes:
            from patron.segments.messages import class_label
            from patron.segments.models import Classification

            by_key = {c.key: c for c in Classification.objects.filter(key__in={c.split(":")[0] for c in classes})}
            for item in classes:
                key, cls_key = item.split(":", 1)
                classification = by_key.get(key)
                if classification is not None:
                    names.classes[item] = f"{classification.name}: {class_label(classification, cls_key)}"
        return names


def _list(ids: Sequence[Any], names: Mapping[Any, str]) -> str:
    return _(", ").join(names.get(i, f"#{i}") for i in ids)


def _money(value: Any, currency: str = "CNY") -> str:
    amount = Decimal(str(value))
    return f"{currency} {formats.number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)}"


def _num(value: Any) -> str:
    amount = Decimal(str(value))
    return formats.number_format(amount.normalize() if amount == amount.to_integral() else amount, use_l10n=True)


def _moment(value: str) -> str:
    return formats.date_format(timezone.localtime(dt.datetime.fromisoformat(value)), "SHORT_DATETIME_FORMAT")


def benefit_text(benefit: Mapping[str, Any], currency: str = "CNY") -> str:
    kind = benefit.get("kind")
    if kind == "percent_off":
        return _("%(percent)s%% off") % {"percent": _num(benefit["percent"])}
    if kind == "amount_off_unit":
        return _("%(amount)s off each unit") % {"amount": _money(benefit["amount"], currency)}
    if kind == "fixed_price":
        return _("a fixed price of %(price)s per unit") % {"price": _money(benefit["price"], currency)}
    if kind == "cart_amount_off":
        return _("%(amount)s off the order") % {"amount": _money(benefit["amount"], currency)}
    if kind == "spend_save":
        values = {"spend": _money(benefit["spend"], currency), "save": _money(benefit["save"], currency)}
        if benefit.get("repeat"):
            return _("save %(save)s for every %(spend)s spent") % values
        return _("spend %(spend)s, save %(save)s") % values
    if kind == "buy_get":
        return _("buy %(buy)s, get %(free)s free") % {"buy": benefit["buy"], "free": benefit["free"]}
    if kind == "gift":
        return ngettext("%(n)s unit free", "%(n)s units free", int(benefit["free"])) % {"n": benefit["free"]}
    if kind == "tiers":
        quantity = benefit.get("basis", "quantity") == "quantity"
        steps = []
        for tier in benefit.get("tiers") or []:
            start = (
                ngettext("%(n)s unit", "%(n)s units", int(Decimal(str(tier["from"])))) % {"n": _num(tier["from"])}
                if quantity
                else _money(tier["from"], currency)
            )
            steps.append(_("%(percent)s%% off from %(start)s") % {"percent": _num(tier["percent"]), "start": start})
        return _("; ").join(steps)
    return str(kind)


def rule_sentences(definition: Mapping[str, Any], names: Names, currency: str = "CNY") -> dict[str, str]:
    """The parts of a rule as short phrases: benefit, who, what, when, stacking."""
    who, what, when = (definition.get(k) or {} for k in ("who", "what", "when"))
    parts_who = []
    if who.get("accounts"):
        parts_who.append(_("accounts %(names)s") % {"names": _list(who["accounts"], names.accounts)})
    if who.get("classes"):
        parts_who.append(_("segments %(names)s") % {"names": _list(who["classes"], names.classes)})
    if who.get("regions"):
        parts_who.append(_("in %(names)s") % {"names": _list(who["regions"], names.regions)})
    if who.get("industries"):
        parts_who.append(_("industry %(names)s") % {"names": _list(who["industries"], names.industries)})
    if who.get("tags"):
        parts_who.append(_("tagged %(names)s") % {"names": _list(who["tags"], names.tags)})
    if who.get("stages"):
        parts_who.append(_("lifecycle stage %(names)s") % {"names": _list(who["stages"], names.stages)})
    if who.get("new_customers"):
        parts_who.append(_("new customers"))
    parts_what = []
    if what.get("products"):
        parts_what.append(_list(what["products"], names.products))
    if what.get("categories"):
        parts_what.append(_("everything in %(names)s") % {"names": _list(what["categories"], names.categories)})
    if what.get("product_sets"):
        parts_what.append(_list(what["product_sets"], names.product_sets))
    excluded = [
        *(names.products.get(i, f"#{i}") for i in what.get("exclude_products") or []),
        *(names.categories.get(i, f"#{i}") for i in what.get("exclude_categories") or []),
    ]
    parts_when = []
    if when.get("min_quantity"):
        parts_when.append(_("at least %(n)s units a line") % {"n": _num(when["min_quantity"])})
    if when.get("min_line_amount"):
        parts_when.append(_("at least %(amount)s a line") % {"amount": _money(when["min_line_amount"], currency)})
    if when.get("min_cart_amount"):
        parts_when.append(_("orders of %(amount)s or more") % {"amount": _money(when["min_cart_amount"], currency)})
    if isinstance(when.get("category_min"), Mapping):
        cm = when["category_min"]
        category = names.categories.get(cm.get("category"), "")
        if cm.get("quantity"):
            parts_when.append(
                _("%(n)s units or more of %(category)s") % {"n": _num(cm["quantity"]), "category": category}
            )
        if cm.get("amount"):
            values = {"amount": _money(cm["amount"], currency), "category": category}
            parts_when.append(_("%(amount)s or more of %(category)s") % values)
    if when.get("channels"):
        channels = dict(Order.CHANNELS)
        listed = _(", ").join(str(channels.get(c, c)) for c in when["channels"])
        parts_when.append(_("ordered through %(channels)s") % {"channels": listed})
    if when.get("weekdays"):
        parts_when.append(_("on %(days)s") % {"days": _(", ").join(str(WEEKDAYS.get(d, d)) for d in when["weekdays"])})
    if when.get("hours"):
        parts_when.append(_("from %(start)s to %(end)s") % {"start": when["hours"][0], "end": when["hours"][1]})
    if when.get("starts"):
        parts_when.append(_("from %(moment)s") % {"moment": _moment(when["starts"])})
    if when.get("ends"):
        parts_when.append(_("until %(moment)s") % {"moment": _moment(when["ends"])})
    if when.get("first_order"):
        parts_when.append(_("on the first order"))
    stacking = definition.get("stacking") or {}
    parts_stack = []
    if stacking.get("exclusive"):
        parts_stack.append(_("not combined with other discounts"))
    if stacking.get("group"):
        parts_stack.append(_("the best of group “%(group)s” applies") % {"group": stacking["group"]})
    if stacking.get("combines_with") is not None and not stacking.get("exclusive"):
        groups = _(", ").join(stacking["combines_with"]) or _("nothing")
        parts_stack.append(_("combines only with %(groups)s") % {"groups": groups})
    caps = definition.get("caps") or {}
    if caps.get("per_line"):
        parts_stack.append(_("at most %(amount)s a line") % {"amount": _money(caps["per_line"], currency)})
    if caps.get("per_order"):
        parts_stack.append(_("at most %(amount)s an order") % {"amount": _money(caps["per_order"], currency)})
    return {
        "benefit": benefit_text(definition.get("benefit") or {}, currency),
        "who": _("; ").join(parts_who) or _("every customer"),
        "what": _("; ").join(parts_what) or _("every product"),
        "except": _(", ").join(excluded),
        "when": _("; ").join(parts_when),
        "stacking": _("; ").join(parts_stack),
    }


def rule_text(definition: Mapping[str, Any], names: Names, currency: str = "CNY") -> str:
    """One sentence: "10% off everything in Green tea, for segments Value tier: High; at least 10 units a line"."""
    s = rule_sentences(definition, names, currency)
    text = _("%(benefit)s on %(what)s, for %(who)s") % s
    if s["except"]:
        text += _(" (except %(except)s)") % s
    if s["when"]:
        text += _("; %(when)s") % s
    if s["stacking"]:
        text += _("; %(stacking)s") % s
    return text + _(".")
