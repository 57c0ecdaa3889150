"""Forms of the discount pages: a policy, a rule (every part of it, no JSON), a product set, a limit, and
the simulator's account and cart.

The rule form only shapes what the user typed into the rule dict of ``patron.domain.pricing.rules``;
``services.checked_rule`` judges it and answers with errors keyed by the rule's field paths
(``benefit.tiers[1].from``, ``who.regions[0]``, ``when.category_min.amount``), which
``RuleForm.add_service_errors`` puts beside the field the user typed into. A path the form does not
know goes to the top of the form, with the path in front.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from patron.accounts.models import Account, Industry, Region, Tag
from patron.core.errors import error_dict
from patron.domain.access import Role
from patron.domain.pricing.rules import BENEFIT_KINDS, MAX_PRIORITY
from patron.domain.segmentation.definitions import LIFECYCLE_STAGES
from patron.sales.models import CURRENCY_CHOICES, Category, Order, Product
from patron.staff.models import User

from .describe import WEEKDAYS
from .models import ProductSet

# Above this many products or accounts a select is too long to use: the user types codes instead.
CHOICE_LIMIT = 300
MAX_CODES = 2000
MIN_TIERS = 3
MAX_TIERS = 30
NUMBER_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "size": "10"}
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"

BENEFIT_LABELS: dict[str, Any] = {
    "percent_off": gettext_lazy("Percent off"),
    "amount_off_unit": gettext_lazy("Amount off each unit"),
    "fixed_price": gettext_lazy("Fixed unit price"),
    "cart_amount_off": gettext_lazy("Amount off the order"),
    "spend_save": gettext_lazy("Spend X, save Y"),
    "buy_get": gettext_lazy("Buy X, get Y free"),
    "tiers": gettext_lazy("Tiers (more bought, more off)"),
}
BASIS_LABELS: dict[str, Any] = {
    "quantity": gettext_lazy("Units bought"),
    "amount": gettext_lazy("Amount bought"),
}
COMBINES = [
    ("any", gettext_lazy("With any other discount")),
    ("only", gettext_lazy("Only with the groups listed")),
    ("none", gettext_lazy("With no other discount")),
]
MANUAL_CHOICES = [
    ("", gettext_lazy("None")),
    ("percent", gettext_lazy("Percent off")),
    ("amount", gettext_lazy("Amount off each unit")),
    ("price", gettext_lazy("Net unit price")),
]


def stage_label(key: str) -> str:
    from patron.segments.messages import class_label

    return class_label(None, key)


# --- choices ---------------------------------------------------------------------------------------------------


def _tree_choices(nodes: Iterable[Any]) -> list[tuple[str, str]]:
    """Nodes of a tree by path, indented by depth."""
    return [(str(n.pk), "\u2003" * max(n.path.count("/") - 1, 0) + n.name) for n in nodes]


def region_choices() -> list[tuple[str, str]]:
    return _tree_choices(Region.objects.order_by("path"))


def category_choices() -> list[tuple[str, str]]:
    return _tree_choices(Category.objects.order_by("path"))


def industry_choices() -> list[tuple[str, str]]:
    return sorted(((str(i.pk), i.name) for i in Industry.objects.all()), key=lambda c: c[1])


def class_choices() -> list[tuple[str, str]]:
    """Every class of every classification, as "classification:class"."""
    from patron.segments.messages import class_labels
    from patron.segments.models import Classification

    out = []
    for classification in Classification.objects.all():
        for key, label in class_labels(classification).items():
            out.append((f"{classification.key}:{key}", f"{classification.name}: {label}"))
    return out


def stage_choices() -> list[tuple[str, str]]:
    return [(key, stage_label(key)) for key in LIFECYCLE_STAGES]


def channel_choices() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in Order.CHANNELS]


def weekday_choices() -> list[tuple[str, str]]:
    return [(str(day), str(label)) for day, label in WEEKDAYS.items()]


# --- small fields ----------------------------------------------------------------------------------------------


class NumberField(forms.CharField):
    """A number typed as text and passed on as text: the rule's checks say what range it must be in."""

    def __init__(self, label: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("widget", forms.TextInput(attrs=NUMBER_ATTRS))
        super().__init__(label=label, **kwargs)

    def clean(self, value: Any) -> Any:
        text = (super().clean(value) or "").strip().replace(",", "")
        if text:
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ValidationError(_("Enter a number, such as 12.5.")) from None
            if not number.is_finite():
                raise ValidationError(_("Enter a number, such as 12.5."))
        return text


class DateTimeLocalField(forms.DateTimeField):
    """A ``datetime-local`` input, read in the site's time zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)

    def __init__(self, label: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("input_formats", [DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
        super().__init__(label=label, **kwargs)

    def clean(self, value: Any) -> Any:
        moment = super().clean(value)
        if moment is not None and not 1900 <= moment.year <= 2999:
            raise ValidationError(_("Enter a date between 1900 and 2999."))
        return moment


def local_input(value: Any) -> str:
    """A stored moment (aware datetime or ISO text) as a ``datetime-local`` value in the site's time zone."""
    if not value:
        return ""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime(DATETIME_LOCAL)


class CodesInput(forms.Textarea):
    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return super().format_value(value)


class CodeListField(forms.Field):
    """Codes (SKUs, account codes) from a select of many, or typed and separated by commas or spaces."""

    def to_python(self, value: Any) -> list[str]:
        if value in (None, ""):
            return []
        texts = value if isinstance(value, list | tuple) else [value]
        items = [part for text in texts for part in re.split(r"[\s,;，、；]+", str(text))]
        codes = list(dict.fromkeys(i.strip() for i in items if i.strip()))
        if len(codes) > MAX_CODES:
            raise ValidationError(_("At most %(n)s codes.") % {"n": MAX_CODES})
        return codes


def codes_field(label: Any, help_text: Any = "") -> CodeListField:
    return CodeListField(label=label, required=False, help_text=help_text)


def use_codes(field: forms.Field, options: Sequence[tuple[str, str]] | None, help_text: Any) -> None:
    """A select of ``options`` when there are few, else a box to type codes into."""
    if options is not None:
        field.widget = forms.SelectMultiple(choices=options, attrs={"size": min(max(len(options), 4), 10)})
    else:
        field.widget = CodesInput(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"})
        field.help_text = help_text


def product_options() -> list[tuple[str, str]] | None:
    products = Product.objects.order_by("sku")
    if products.count() > CHOICE_LIMIT:
        return None
    return [(p.sku, f"{p.sku} · {p.name}") for p in products]


def account_options(accounts: QuerySet[Account]) -> list[tuple[str, str]] | None:
    accounts = accounts.order_by("code")
    if accounts.count() > CHOICE_LIMIT:
        return None
    return [(a.code, f"{a.code} · {a.name}") for a in accounts]


def resolve_codes(
    codes: list[str], qs: QuerySet[Any], field: str, message: str, hidden: Iterable[int] = ()
) -> list[int]:
    """Ids of the codes in the order typed; every unknown code named. ``#<id>`` stands for an id of
    ``hidden`` (an account a rule names that the reader may not see: kept as it was)."""
    if not codes:
        return []
    found = dict(qs.filter(**{f"{field}__in": codes}).values_list(field, "pk"))
    found.update({f"#{i}": i for i in hidden})
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise ValidationError(message % {"codes": ", ".join(unknown[:20])})
    return [found[c] for c in codes]


def _ids(values: Iterable[str]) -> list[int]:
    return [int(v) for v in values]


# --- a policy --------------------------------------------------------------------------------------------------


class PolicyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("For colleagues: why the policy exists and who asked for it."),
    )
    customer_text = forms.CharField(
        label=gettext_lazy("Text for customers"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Shown to the customers it targets, above its rules in plain words."),
    )
    effective_from = DateTimeLocalField(gettext_lazy("Effective from"))
    effective_to = DateTimeLocalField(
        gettext_lazy("Effective to"), help_text=gettext_lazy("Empty: until the policy is archived.")
    )

    @staticmethod
    def initial_for(policy: Any) -> dict[str, Any]:
        return {
            "name": policy.name,
            "description": policy.description,
            "customer_text": policy.customer_text,
            "effective_from": local_input(policy.effective_from),
            "effective_to": local_input(policy.effective_to),
        }

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.fields}

    def add_service_errors(self, exc: ValidationError) -> None:
        for key, messages in error_dict(exc).items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


# --- a rule ----------------------------------------------------------------------------------------------------

# A rule path (without list indexes) -> the form field typed into.
RULE_FIELDS: dict[str, str] = {
    "name": "name",
    "priority": "priority",
    "benefit": "benefit_kind",
    "benefit.kind": "benefit_kind",
    "benefit.percent": "percent",
    "benefit.price": "price",
    "benefit.spend": "spend",
    "benefit.save": "save",
    "benefit.repeat": "repeat",
    "benefit.buy": "buy",
    "benefit.free": "free",
    "benefit.basis": "tier_basis",
    "who.accounts": "accounts",
    "who.regions": "regions",
    "who.industries": "industries",
    "who.tags": "tags",
    "who.classes": "classes",
    "who.stages": "stages",
    "who.new_customers": "new_customers",
    "what.products": "products",
    "what.categories": "categories",
    "what.product_sets": "product_sets",
    "what.exclude_products": "exclude_products",
    "what.exclude_categories": "exclude_categories",
    "when.min_quantity": "min_quantity",
    "when.min_line_amount": "min_line_amount",
    "when.min_cart_amount": "min_cart_amount",
    "when.category_min": "category_min_category",
    "when.category_min.category": "category_min_category",
    "when.category_min.quantity": "category_min_quantity",
    "when.category_min.amount": "category_min_amount",
    "when.channels": "channels",
    "when.weekdays": "weekdays",
    "when.hours": "hours_from",
    "when.hours[0]": "hours_from",
    "when.hours[1]": "hours_to",
    "when.starts": "starts",
    "when.ends": "ends",
    "when.first_order": "first_order",
    "stacking.exclusive": "exclusive",
    "stacking.group": "group",
    "stacking.combines_with": "combines_with",
    "caps.per_line": "cap_per_line",
    "caps.per_order": "cap_per_order",
}
_TIER_PATH = re.compile(r"^benefit\.tiers\[(\d+)\](?:\.(from|percent))?$")
_INDEX = re.compile(r"\[\d+\]$")
# The fields of each benefit kind, for the template (shown only for the chosen kind).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "percent_off": ("percent",),
    "amount_off_unit": ("unit_amount",),
    "fixed_price": ("price",),
    "cart_amount_off": ("cart_amount",),
    "spend_save": ("spend", "save", "repeat"),
    "buy_get": ("buy", "free"),
    "tiers": ("tier_basis",),
}


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    priority = forms.IntegerField(
        label=gettext_lazy("Priority"),
        required=False,
        min_value=-MAX_PRIORITY,
        max_value=MAX_PRIORITY,
        help_text=gettext_lazy("Higher priorities are applied first."),
    )
    # benefit
    benefit_kind = forms.ChoiceField(label=gettext_lazy("Benefit"), choices=list(BENEFIT_LABELS.items()))
    percent = NumberField(gettext_lazy("Percent off"))
    unit_amount = NumberField(gettext_lazy("Amount off each unit"))
    price = NumberField(gettext_lazy("Unit price"))
    cart_amount = NumberField(gettext_lazy("Amount off the order"))
    spend = NumberField(gettext_lazy("For every (spend)"))
    save = NumberField(pgettext_lazy("spend X, save Y: the amount saved", "Save"))
    repeat = forms.BooleanField(label=gettext_lazy("Repeat: save again for every further step"), required=False)
    buy = forms.IntegerField(label=gettext_lazy("Buy (units)"), required=False, min_value=1, max_value=10_000)
    free = forms.IntegerField(label=gettext_lazy("Get free (units)"), required=False, min_value=1, max_value=10_000)
    tier_basis = forms.ChoiceField(
        label=gettext_lazy("Tiers measured by"), choices=list(BASIS_LABELS.items()), required=False
    )
    # who
    regions = forms.MultipleChoiceField(
        label=gettext_lazy("Regions"), required=False, help_text=gettext_lazy("With everything below them.")
    )
    industries = forms.MultipleChoiceField(label=gettext_lazy("Industries"), required=False)
    tags = forms.MultipleChoiceField(label=gettext_lazy("Tags"), required=False)
    accounts = codes_field(gettext_lazy("Named accounts"))
    classes = forms.MultipleChoiceField(label=gettext_lazy("Segments"), required=False)
    stages = forms.MultipleChoiceField(label=gettext_lazy("Lifecycle stages"), required=False)
    new_customers = forms.BooleanField(label=gettext_lazy("New customers only (no order yet)"), required=False)
    # what
    categories = forms.MultipleChoiceField(
        label=gettext_lazy("Categories"), required=False, help_text=gettext_lazy("With their sub-categories.")
    )
    products = codes_field(gettext_lazy("Products"))
    product_sets = forms.MultipleChoiceField(label=gettext_lazy("Product sets"), required=False)
    exclude_products = codes_field(gettext_lazy("Except products"))
    exclude_categories = forms.MultipleChoiceField(label=gettext_lazy("Except categories"), required=False)
    # when
    min_quantity = NumberField(gettext_lazy("At least units on a line"))
    min_line_amount = NumberField(gettext_lazy("At least this amount on a line"))
    min_cart_amount = NumberField(
        gettext_lazy("Order of at least"), help_text=gettext_lazy("Counting the products the rule covers.")
    )
    category_min_category = forms.ChoiceField(label=gettext_lazy("Minimum in category"), required=False)
    category_min_quantity = NumberField(gettext_lazy("Units in that category"))
    category_min_amount = NumberField(gettext_lazy("Amount in that category"))
    channels = forms.MultipleChoiceField(
        label=gettext_lazy("Channels"), required=False, widget=forms.CheckboxSelectMultiple
    )
    weekdays = forms.MultipleChoiceField(
        label=gettext_lazy("Days of the week"), required=False, widget=forms.CheckboxSelectMultiple
    )
    hours_from = forms.CharField(
        label=gettext_lazy("From (time of day)"),
        required=False,
        max_length=8,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    hours_to = forms.CharField(
        label=gettext_lazy("To (time of day)"),
        required=False,
        max_length=8,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    starts = DateTimeLocalField(gettext_lazy("Starts"))
    ends = DateTimeLocalField(gettext_lazy("Ends"))
    first_order = forms.BooleanField(label=gettext_lazy("Only on a customer's first order"), required=False)
    # stacking and caps
    exclusive = forms.BooleanField(
        label=gettext_lazy("Exclusive: no lower-priority rule applies after it"), required=False
    )
    group = forms.CharField(
        label=gettext_lazy("Group"),
        required=False,
        max_length=40,
        help_text=gettext_lazy("Rules of one group compete: only the best for the customer applies."),
    )
    combines = forms.ChoiceField(
        label=gettext_lazy("Combines"), choices=COMBINES, required=False, widget=forms.RadioSelect
    )
    combines_with = forms.CharField(
        label=gettext_lazy("Groups it combines with"),
        required=False,
        max_length=400,
        help_text=gettext_lazy("Group names separated by commas."),
    )
    cap_per_line = NumberField(gettext_lazy("At most per line"))
    cap_per_order = NumberField(gettext_lazy("At most per order"))

    def __init__(
        self,
        data: Any = None,
        *,
        rule: Mapping[str, Any] | None = None,
        accounts: QuerySet[Account] | None = None,
        more_rows: int = 0,
        **kw: Any,
    ) -> None:
        """``rule``: the rule edited (its values when ``data`` is None); ``accounts``: those the user may name
        (every account unless given: a sandbox offers only the accounts its user sees)."""
        self.account_pool = accounts if accounts is not None else Account.objects.filter(merged_into__isnull=True)
        named = [i for i in ((rule or {}).get("who") or {}).get("accounts") or [] if isinstance(i, int)]
        seen = set(self.account_pool.filter(pk__in=named).values_list("pk", flat=True)) if named else set()
        self.hidden_accounts = [i for i in named if i not in seen]
        initial = self.initial_for(rule, self.account_pool) if data is None else {}
        super().__init__(data, initial=initial, **kw)
        fields = self.fields
        self._choices("regions", region_choices())
        self._choices("industries", industry_choices())
        self._choices("tags", [(str(t.pk), t.name) for t in Tag.objects.all()])
        self._choices("classes", class_choices())
        self._choices("stages", stage_choices())
        categories = category_choices()
        self._choices("categories", categories)
        self._choices("exclude_categories", categories)
        self._choices("product_sets", [(str(s.pk), s.name) for s in ProductSet.objects.all()])
        category_min = fields["category_min_category"]
        assert isinstance(category_min, forms.ChoiceField)
        category_min.choices = [("", "---------"), *categories]
        channels = fields["channels"]
        assert isinstance(channels, forms.MultipleChoiceField)
        channels.choices = channel_choices()
        weekdays = fields["weekdays"]
        assert isinstance(weekdays, forms.MultipleChoiceField)
        weekdays.choices = weekday_choices()
        products = product_options()
        type_skus = gettext_lazy("SKUs separated by commas or spaces.")
        use_codes(fields["products"], products, type_skus)
        use_codes(fields["exclude_products"], products, type_skus)
        accounts_help = gettext_lazy("Account codes separated by commas or spaces.")
        use_codes(fields["accounts"], account_options(self.account_pool), accounts_help)
        if self.hidden_accounts and isinstance(fields["accounts"].widget, forms.SelectMultiple):
            # Accounts the reader may not see stay in the rule, under their id.
            widget = fields["accounts"].widget
            widget.choices = [*widget.choices, *((f"#{i}", f"#{i}") for i in self.hidden_accounts)]
        self.tier_rows = min(max(self._tier_count(data, initial) + more_rows, MIN_TIERS), MAX_TIERS)
        for i in range(self.tier_rows):
            fields[f"tier_from_{i}"] = NumberField(pgettext_lazy("tier", "From"))
            fields[f"tier_percent_{i}"] = NumberField(gettext_lazy("Percent off"))
        self.group_errors: dict[str, list[str]] = {}
        self._kept_tiers: list[int] = []

    def _choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = choices
        if not isinstance(field.widget, forms.CheckboxSelectMultiple):
            field.widget.attrs["size"] = str(min(max(len(choices), 3), 8))

    @staticmethod
    def _tier_count(data: Any, initial: Mapping[str, Any]) -> int:
        source = data if data is not None else initial
        used = [
            int(m.group(1))
            for name in source
            if (m := re.fullmatch(r"tier_(?:from|percent)_(\d+)", name)) and int(m.group(1)) < MAX_TIERS
        ]
        extra = 0 if data is not None else 1
        return max(used, default=-1) + 1 + extra

    # --- the rule as it was stored -> the form ------------------------------------------------------------------

    @staticmethod
    def initial_for(rule: Mapping[str, Any] | None, accounts: QuerySet[Account] | None = None) -> dict[str, Any]:
        """The form's values for a rule (``name``, ``priority`` and the rule dict's parts)."""
        if not rule:
            return {"benefit_kind": "percent_off", "tier_basis": "quantity", "combines": "any", "priority": 0}
        who, what, when = (rule.get(k) or {} for k in ("who", "what", "when"))
        benefit, stacking, caps = (rule.get(k) or {} for k in ("benefit", "stacking", "caps"))
        kind = benefit.get("kind", "percent_off")
        initial: dict[str, Any] = {
            "name": rule.get("name", ""),
            "priority": rule.get("priority", 0),
            "benefit_kind": kind,
            "percent": benefit.get("percent", ""),
            "unit_amount": benefit.get("amount", "") if kind == "amount_off_unit" else "",
            "cart_amount": benefit.get("amount", "") if kind == "cart_amount_off" else "",
            "price": benefit.get("price", ""),
            "spend": benefit.get("spend", ""),
            "save": benefit.get("save", ""),
            "repeat": bool(benefit.get("repeat")),
            "buy": benefit.get("buy"),
            "free": benefit.get("free"),
            "tier_basis": benefit.get("basis", "quantity"),
            "regions": [str(i) for i in who.get("regions") or []],
            "industries": [str(i) for i in who.get("industries") or []],
            "tags": [str(i) for i in who.get("tags") or []],
            "classes": list(who.get("classes") or []),
            "stages": list(who.get("stages") or []),
            "new_customers": bool(who.get("new_customers")),
            "categories": [str(i) for i in what.get("categories") or []],
            "product_sets": [str(i) for i in what.get("product_sets") or []],
            "exclude_categories": [str(i) for i in what.get("exclude_categories") or []],
            "min_quantity": when.get("min_quantity", ""),
            "min_line_amount": when.get("min_line_amount", ""),
            "min_cart_amount": when.get("min_cart_amount", ""),
            "channels": list(when.get("channels") or []),
            "weekdays": [str(d) for d in when.get("weekdays") or []],
            "starts": local_input(when.get("starts")),
            "ends": local_input(when.get("ends")),
            "first_order": bool(when.get("first_order")),
            "exclusive": bool(stacking.get("exclusive")),
            "group": stacking.get("group", ""),
            "cap_per_line": caps.get("per_line", ""),
            "cap_per_order": caps.get("per_order", ""),
        }
        pool = accounts if accounts is not None else Account.objects.all()
        named = who.get("accounts") or []
        by_id = dict(pool.filter(pk__in=named).values_list("pk", "code")) if named else {}
        initial["accounts"] = [by_id.get(i, f"#{i}") for i in named]
        product_ids = [*(what.get("products") or []), *(what.get("exclude_products") or [])]
        skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku")) if product_ids else {}
        initial["products"] = [skus.get(i, str(i)) for i in what.get("products") or []]
        initial["exclude_products"] = [skus.get(i, str(i)) for i in what.get("exclude_products") or []]
        category_min = when.get("category_min") or {}
        initial["category_min_category"] = str(category_min.get("category") or "")
        initial["category_min_quantity"] = category_min.get("quantity", "")
        initial["category_min_amount"] = category_min.get("amount", "")
        hours = when.get("hours") or ["", ""]
        initial["hours_from"], initial["hours_to"] = hours[0], hours[1]
        combines_with = stacking.get("combines_with")
        initial["combines"] = "any" if combines_with is None else ("only" if combines_with else "none")
        initial["combines_with"] = ", ".join(combines_with or [])
        for i, tier in enumerate(benefit.get("tiers") or []):
            initial[f"tier_from_{i}"] = tier.get("from", "")
            initial[f"tier_percent_{i}"] = tier.get("percent", "")
        return initial

    # --- cleaning codes ------------------------------------------------------------------------------------------

    def clean_accounts(self) -> list[int]:
        message = _("No account has the code %(codes)s.")
        return resolve_codes(self.cleaned_data["accounts"], self.account_pool, "code", message, self.hidden_accounts)

    def clean_products(self) -> list[int]:
        return resolve_codes(
            self.cleaned_data["products"], Product.objects.all(), "sku", _("No product has the SKU %(codes)s.")
        )

    def clean_exclude_products(self) -> list[int]:
        return resolve_codes(
            self.cleaned_data["exclude_products"], Product.objects.all(), "sku", _("No product has the SKU %(codes)s.")
        )

    def clean_hours_from(self) -> str:
        return self._clock("hours_from")

    def clean_hours_to(self) -> str:
        return self._clock("hours_to")

    def _clock(self, name: str) -> str:
        text = (self.cleaned_data.get(name) or "").strip()
        if text:
            try:
                return dt.time.fromisoformat(text).isoformat("minutes")
            except ValueError:
                raise ValidationError(_("Enter a time of day, such as 09:30.")) from None
        return text

    # --- what the sections hold (for the template) ---------------------------------------------------------------

    def section(self, *names: str) -> list[Any]:
        return [self[name] for name in names]

    def tier_table(self) -> list[dict[str, Any]]:
        return [
            {"index": i, "start": self[f"tier_from_{i}"], "percent": self[f"tier_percent_{i}"]}
            for i in range(self.tier_rows)
        ]

    def current_kind(self) -> str:
        value = self["benefit_kind"].value()
        return str(value) if value in BENEFIT_KINDS else "percent_off"

    def current_combines(self) -> str:
        value = self["combines"].value()
        return str(value) if value else "any"

    # --- the form -> the rule dict -------------------------------------------------------------------------------

    def rule_data(self) -> dict[str, Any] | None:
        """The rule as ``services.checked_rule`` takes it, or None when the form already has errors."""
        if not self.is_valid():
            return None
        d = self.cleaned_data
        data: dict[str, Any] = {"name": d["name"].strip(), "priority": d.get("priority") or 0}
        data["benefit"] = self._benefit(d)
        who: dict[str, Any] = {}
        for name in ("regions", "industries", "tags"):
            if d.get(name):
                who[name] = _ids(d[name])
        if d.get("accounts"):
            who["accounts"] = d["accounts"]
        for name in ("classes", "stages"):
            if d.get(name):
                who[name] = list(d[name])
        if d.get("new_customers"):
            who["new_customers"] = True
        data["who"] = who
        what: dict[str, Any] = {}
        for name in ("categories", "product_sets", "exclude_categories"):
            if d.get(name):
                what[name] = _ids(d[name])
        for name in ("products", "exclude_products"):
            if d.get(name):
                what[name] = d[name]
        data["what"] = what
        data["when"] = self._when(d)
        stacking: dict[str, Any] = {"exclusive": bool(d.get("exclusive")), "group": (d.get("group") or "").strip()}
        combines = d.get("combines") or "any"
        if combines == "none":
            stacking["combines_with"] = []
        elif combines == "only":
            names = [g.strip() for g in re.split(r"[,，\s]+", d.get("combines_with") or "") if g.strip()]
            if not names:
                self.add_error("combines_with", _("Name the groups it combines with, or choose another option."))
                return None
            stacking["combines_with"] = list(dict.fromkeys(names))
        data["stacking"] = stacking
        data["caps"] = {k: d[f] for k, f in (("per_line", "cap_per_line"), ("per_order", "cap_per_order")) if d.get(f)}
        return data

    def _benefit(self, d: Mapping[str, Any]) -> dict[str, Any]:
        kind = d.get("benefit_kind") or "percent_off"
        benefit: dict[str, Any] = {"kind": kind}
        if kind == "percent_off":
            benefit["percent"] = d.get("percent") or None
        elif kind == "amount_off_unit":
            benefit["amount"] = d.get("unit_amount") or None
        elif kind == "fixed_price":
            benefit["price"] = d.get("price") or None
        elif kind == "cart_amount_off":
            benefit["amount"] = d.get("cart_amount") or None
        elif kind == "spend_save":
            benefit.update(spend=d.get("spend") or None, save=d.get("save") or None, repeat=bool(d.get("repeat")))
        elif kind == "buy_get":
            benefit.update(buy=d.get("buy"), free=d.get("free"))
        else:
            benefit["basis"] = d.get("tier_basis") or "quantity"
            self._kept_tiers = [
                i for i in range(self.tier_rows) if d.get(f"tier_from_{i}") or d.get(f"tier_percent_{i}")
            ]
            benefit["tiers"] = [
                {"from": d.get(f"tier_from_{i}") or None, "percent": d.get(f"tier_percent_{i}") or None}
                for i in self._kept_tiers
            ]
        return {k: v for k, v in benefit.items() if v is not None}

    def _when(self, d: Mapping[str, Any]) -> dict[str, Any]:
        when: dict[str, Any] = {}
        for name in ("min_quantity", "min_line_amount", "min_cart_amount"):
            if d.get(name):
                when[name] = d[name]
        category = d.get("category_min_category")
        quantity, amount = d.get("category_min_quantity"), d.get("category_min_amount")
        if category or quantity or amount:
            category_min: dict[str, Any] = {"category": int(category) if category else None}
            if quantity:
                category_min["quantity"] = quantity
            if amount:
                category_min["amount"] = amount
            when["category_min"] = category_min
        if d.get("channels"):
            when["channels"] = list(d["channels"])
        if d.get("weekdays"):
            when["weekdays"] = _ids(d["weekdays"])
        if d.get("hours_from") or d.get("hours_to"):
            when["hours"] = [d.get("hours_from") or "", d.get("hours_to") or ""]
        for name in ("starts", "ends"):
            if d.get(name) is not None:
                when[name] = d[name].isoformat()
        if d.get("first_order"):
            when["first_order"] = True
        return when

    # --- errors from the service ---------------------------------------------------------------------------------

    def field_for(self, path: str) -> str | None:
        """The form field a rule path's error belongs beside; "tiers" for the tier table as a whole."""
        if path in RULE_FIELDS:
            return RULE_FIELDS[path]
        if path == "benefit.amount":
            return "cart_amount" if self.current_kind() == "cart_amount_off" else "unit_amount"
        if path == "benefit.tiers":
            return "tiers"
        match = _TIER_PATH.match(path)
        if match:
            index = int(match.group(1))
            if index >= len(self._kept_tiers):
                return "tiers"
            return f"tier_{'percent' if match.group(2) == 'percent' else 'from'}_{self._kept_tiers[index]}"
        stripped = _INDEX.sub("", path)
        if stripped != path:
            return self.field_for(stripped)
        return None

    def add_service_errors(self, exc: ValidationError) -> None:
        for path, messages in error_dict(exc).items():
            field = self.field_for(path)
            for message in messages:
                if field == "tiers":
                    self.group_errors.setdefault("tiers", []).append(message)
                elif field is not None and field in self.fields:
                    self.add_error(field, message)
                else:
                    prefix = "" if path in ("__all__", "rule") else f"{path}: "
                    self.add_error(None, prefix + message)

    def has_errors(self) -> bool:
        return bool(self.errors) or bool(self.group_errors)


# --- a product set ---------------------------------------------------------------------------------------------


class ProductSetForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    products = codes_field(gettext_lazy("Products"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_codes(self.fields["products"], product_options(), gettext_lazy("SKUs separated by commas or spaces."))
        widget = self.fields["products"].widget
        if isinstance(widget, forms.SelectMultiple):
            widget.attrs["size"] = "14"

    @staticmethod
    def initial_for(product_set: ProductSet) -> dict[str, Any]:
        return {
            "name": product_set.name,
            "description": product_set.description,
            "products": list(product_set.products.order_by("sku").values_list("sku", flat=True)),
        }

    def clean_products(self) -> list[int]:
        return resolve_codes(
            self.cleaned_data["products"], Product.objects.all(), "sku", _("No product has the SKU %(codes)s.")
        )

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in ("name", "description", "products")}

    def add_service_errors(self, exc: ValidationError) -> None:
        for key, messages in error_dict(exc).items():
            field = _INDEX.sub("", key)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


# --- a manual discount limit -----------------------------------------------------------------------------------


def role_choices() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in User.ROLE_CHOICES if value != Role.ADMIN.value]


class LimitForm(forms.Form):
    WHO = [("role", gettext_lazy("Everyone with a role")), ("user", gettext_lazy("One person"))]

    who = forms.ChoiceField(label=gettext_lazy("For"), choices=WHO, initial="role", widget=forms.RadioSelect)
    role = forms.ChoiceField(label=gettext_lazy("Role"), required=False)
    user = forms.ChoiceField(label=pgettext_lazy("a user of Patron", "Person"), required=False)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        required=False,
        help_text=gettext_lazy("Empty: every category. A category's limit wins over the general one."),
    )
    segment = forms.ChoiceField(
        label=gettext_lazy("Segment"),
        required=False,
        help_text=gettext_lazy("Empty: every account. A segment's limit wins for the accounts in it."),
    )
    percent = NumberField(
        gettext_lazy("Percent per line"),
        help_text=gettext_lazy("Empty: no limit. 0: every manual discount is asked for."),
    )
    amount = NumberField(gettext_lazy("Amount per order"), help_text=gettext_lazy("Empty: no limit."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = [("", "---------"), *role_choices()]
        user = self.fields["user"]
        assert isinstance(user, forms.ChoiceField)
        users = User.objects.filter(is_active=True).order_by("username")
        user.choices = [("", "---------"), *((str(u.pk), f"{u.display_name} ({u.username})") for u in users)]
        category = self.fields["category"]
        assert isinstance(category, forms.ChoiceField)
        category.choices = [("", _("Every category")), *category_choices()]
        segment = self.fields["segment"]
        assert isinstance(segment, forms.ChoiceField)
        segment.choices = [("", _("Every account")), *class_choices()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("who") == "user" and not data.get("user"):
            self.add_error("user", _("Choose the person."))
        if data.get("who", "role") == "role" and not data.get("role"):
            self.add_error("role", _("Choose the role."))
        return data

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        by_user = d.get("who") == "user"
        return {
            "role": "" if by_user else d.get("role") or "",
            "user": int(d["user"]) if by_user and d.get("user") else None,
            "category": int(d["category"]) if d.get("category") else None,
            "segment": d.get("segment") or "",
            "percent": d.get("percent") or None,
            "amount": d.get("amount") or None,
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        for key, messages in error_dict(exc).items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


# --- the simulator ---------------------------------------------------------------------------------------------


class SimulatorForm(forms.Form):
    MODES = [("account", gettext_lazy("An account")), ("describe", gettext_lazy("Describe an account"))]

    mode = forms.ChoiceField(
        label=gettext_lazy("Price for"), choices=MODES, initial="account", widget=forms.RadioSelect
    )
    account = forms.CharField(
        label=gettext_lazy("Account"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Type a code or part of a name."),
    )
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    industry = forms.ChoiceField(label=gettext_lazy("Industry"), required=False)
    classes = forms.MultipleChoiceField(label=gettext_lazy("Segments"), required=False)
    stage = forms.ChoiceField(label=gettext_lazy("Lifecycle stage"), required=False)
    new_customer = forms.BooleanField(label=gettext_lazy("New customer (no order yet)"), required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), initial="sales_rep")
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), choices=CURRENCY_CHOICES)
    at = DateTimeLocalField(gettext_lazy("Moment"), help_text=gettext_lazy("Empty: now."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.PATRON_COMPANY_CURRENCY
        for name, choices in (
            ("region", [("", "---------"), *region_choices()]),
            ("industry", [("", "---------"), *industry_choices()]),
            ("stage", [("", "---------"), *stage_choices()]),
            ("channel", channel_choices()),
            ("classes", class_choices()),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices
        self.fields["classes"].widget.attrs["size"] = "6"
        self.fields["account"].widget.attrs.update(
            {
                "list": "account-options",
                "autocomplete": "off",
                "hx-get": reverse("discounts:simulator_accounts"),
                "hx-trigger": "keyup changed delay:300ms, focus once",
                "hx-target": "#account-options",
                "hx-swap": "outerHTML",
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == "account" and not (data.get("account") or "").strip():
            self.add_error("account", _("Choose the account to price for, or describe one."))
        return data


class LineForm(forms.Form):
    product = forms.CharField(label=gettext_lazy("Product (SKU)"), required=False, max_length=40)
    quantity = NumberField(gettext_lazy("Quantity"))
    manual_kind = forms.ChoiceField(label=gettext_lazy("Manual discount"), choices=MANUAL_CHOICES, required=False)
    manual_value = NumberField(gettext_lazy("Value"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].widget.attrs.update(
            {
                "list": "product-options",
                "autocomplete": "off",
                "hx-get": reverse("discounts:simulator_products"),
                "hx-trigger": "keyup changed delay:300ms",
                "hx-target": "#product-options",
                "hx-swap": "outerHTML",
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("manual_value") and not data.get("manual_kind"):
            self.add_error("manual_kind", _("Choose percent off, amount off or a net price."))
        return data

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any((data.get(name) or "").strip() for name in ("product", "quantity", "manual_value"))

    def line(self) -> dict[str, Any]:
        d = self.cleaned_data
        line: dict[str, Any] = {"product": (d.get("product") or "").strip(), "quantity": d.get("quantity") or ""}
        if d.get("manual_kind"):
            line["manual"] = {"kind": d["manual_kind"], "value": d.get("manual_value") or ""}
        return line


MIN_LINES = 3
MAX_LINES = 50


def line_forms(data: Mapping[str, Any] | None, rows: int) -> list[LineForm]:
    rows = min(max(rows, MIN_LINES), MAX_LINES)
    return [LineForm(data, prefix=f"line{i}") for i in range(rows)]
