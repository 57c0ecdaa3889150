"""The campaign form: kind, benefit, rules, validity and limits as fields; the services judge them and
answer with errors keyed by field paths (``terms.benefit.percent``), put beside the field typed into."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.core.errors import error_dict
from patron.discounts.forms import (
    category_choices,
    class_choices,
    codes_field,
    product_options,
    region_choices,
    resolve_codes,
    stage_choices,
    use_codes,
)
from patron.sales.models import CURRENCY_CHOICES, Product

from .models import CHANNELS, Campaign


def _typed(value: str | None) -> str:
    return re.sub(r"[,，\s\u00a0]", "", value or "")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


BENEFITS = [
    ("percent_off", _("Percent off")),
    ("cart_amount_off", _("Amount off the order")),
    ("spend_save", _("Spend and save")),
    ("gift", _("A free gift product")),
]
KIND_BENEFIT = {"percent_off": "percent_off", "amount_off": "cart_amount_off", "spend_save": "spend_save"}


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    customer_text = forms.CharField(
        label=_("Text for customers"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=[(k, v) for k, v in Campaign.KINDS if k != "rebate"])
    benefit = forms.ChoiceField(label=_("Gives"), choices=BENEFITS)
    percent = forms.CharField(label=_("Percent off"), required=False)
    amount = forms.CharField(label=_("Amount off"), required=False)
    spend = forms.CharField(label=_("For every (spend)"), required=False)
    save = forms.CharField(label=pgettext_lazy("spend and save", "Save"), required=False)
    gift_product = forms.CharField(label=_("Gift product (SKU)"), required=False, max_length=64)
    gift_units = forms.IntegerField(label=_("Gift units"), required=False, min_value=1, initial=1)
    points = forms.CharField(
        label=_("Points a code costs"),
        required=False,
        help_text=_("For a points exchange: taken from the points ledger."),
    )
    min_spend = forms.CharField(label=_("Minimum spend"), required=False)
    products = codes_field(_("Only on products"))
    categories = forms.MultipleChoiceField(label=_("Only on categories"), required=False)
    exclude_products = codes_field(_("Except products"))
    exclude_categories = forms.MultipleChoiceField(label=_("Except categories"), required=False)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="CNY")
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DateTimeInput())
    ends_at = forms.DateTimeField(label=_("Ends"), required=False, widget=DateTimeInput())
    valid_days = forms.IntegerField(label=_("Each code valid for (days)"), required=False, min_value=1)
    uses_per_code = forms.IntegerField(label=_("Uses per code"), required=False, min_value=1, initial=1)
    uses_per_account = forms.IntegerField(label=_("Uses per account"), required=False, min_value=1)
    budget = forms.CharField(label=_("Budget (discount given at most)"), required=False)
    with_policies = forms.BooleanField(label=_("Combines with discount policies"), required=False, initial=True)
    with_coupons = forms.BooleanField(label=_("Combines with other coupons"), required=False)
    code_prefix = forms.CharField(label=_("Code prefix"), required=False, max_length=12)
    auto_issue = forms.BooleanField(
        label=_("Issue automatically"),
        required=False,
        help_text=_(
            "Each day, a code for each account that comes due: a birthday this month, a first order to make, "
            "loyalty reached. Other kinds give every account of the stages or segments named one code, once: "
            "with none named, every account."
        ),
    )
    auto_stages = forms.MultipleChoiceField(label=_("Only accounts in the stages"), required=False)
    auto_classes = forms.MultipleChoiceField(label=_("Only accounts in the segments"), required=False)
    auto_holdout = forms.IntegerField(label=_("Hold out (%)"), min_value=0, max_value=50, initial=0, required=False)
    channel = forms.ChoiceField(label=_("Tell them by"), choices=CHANNELS, initial="email", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = category_choices()
        for name, choices in (
            ("categories", categories),
            ("exclude_categories", categories),
            ("auto_stages", stage_choices()),
            ("auto_classes", class_choices()),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = choices
            field.widget.attrs["size"] = str(min(max(len(choices), 3), 8))
        type_skus = _("SKUs separated by commas or spaces.")
        products = product_options()
        use_codes(self.fields["products"], products, type_skus)
        use_codes(self.fields["exclude_products"], products, type_skus)

    @classmethod
    def initial_of(cls, campaign: Campaign) -> dict[str, Any]:
        """The form's fields from a stored campaign (to change a draft)."""
        from django.utils import timezone

        from patron.sales.models import Product

        terms = campaign.terms
        benefit = terms.get("benefit") or {}
        what = terms.get("what") or {}
        skus = dict(
            Product.objects.filter(
                pk__in=[*(what.get("products") or []), *(what.get("exclude_products") or [])]
            ).values_list("pk", "sku")
        )
        gift = benefit.get("kind") == "gift"
        return {
            "name": campaign.name,
            "customer_text": campaign.customer_text,
            "kind": campaign.kind,
            "benefit": benefit.get("kind"),
            "percent": benefit.get("percent", ""),
            "amount": benefit.get("amount", ""),
            "spend": benefit.get("spend", ""),
            "save": benefit.get("save", ""),
            "gift_product": skus.get((what.get("products") or [None])[0], "") if gift else "",
            "gift_units": benefit.get("free", 1),
            "points": terms.get("points", ""),
            "min_spend": terms.get("min_spend", ""),
            "products": [] if gift else [skus.get(i, str(i)) for i in what.get("products") or []],
            "categories": [str(i) for i in what.get("categories") or []],
            "exclude_products": [skus.get(i, str(i)) for i in what.get("exclude_products") or []],
            "exclude_categories": [str(i) for i in what.get("exclude_categories") or []],
            "currency": campaign.currency,
            "starts_at": timezone.localtime(campaign.starts_at),
            "ends_at": timezone.localtime(campaign.ends_at) if campaign.ends_at else None,
            "valid_days": terms.get("valid_days"),
            "uses_per_code": terms.get("uses_per_code"),
            "uses_per_account": terms.get("uses_per_account"),
            "budget": terms.get("budget", ""),
            "with_policies": terms.get("with_policies", True),
            "with_coupons": terms.get("with_coupons", False),
            "code_prefix": campaign.prefix,
            "auto_issue": campaign.auto_issue,
            "auto_stages": (campaign.target or {}).get("stages", []),
            "auto_classes": (campaign.target or {}).get("classes", []),
            "auto_holdout": campaign.holdout_percent,
            "channel": campaign.channel,
        }

    def clean_products(self) -> list[int]:
        return resolve_codes(
            self.cleaned_data["products"], Product.objects.all(), "sku", str(_("No product has the SKU %(codes)s."))
        )

    def clean_exclude_products(self) -> list[int]:
        return resolve_codes(
            self.cleaned_data["exclude_products"],
            Product.objects.all(),
            "sku",
            str(_("No product has the SKU %(codes)s.")),
        )

    def clean_gift_product(self) -> int | None:
        sku = (self.cleaned_data.get("gift_product") or "").strip()
        if not sku:
            return None
        found = Product.objects.filter(sku__iexact=sku).values_list("pk", flat=True).first()  # as typed, any case
        if found is None:
            raise ValidationError(str(_("No product has the SKU %(codes)s.")) % {"codes": sku})
        return int(found)

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if d.get("benefit") == "gift" and not d.get("gift_product") and "gift_product" not in self.errors:
            self.add_error("gift_product", _("Name the gift product."))
        return d

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        kind = d["benefit"]
        benefit: dict[str, Any] = {"kind": kind}
        if kind == "percent_off":
            benefit["percent"] = _typed(d.get("percent"))
        elif kind == "cart_amount_off":
            benefit["amount"] = _typed(d.get("amount"))
        elif kind == "gift":
            benefit["free"] = d.get("gift_units") or 1
        else:
            benefit.update(spend=_typed(d.get("spend")), save=_typed(d.get("save")))
        what: dict[str, Any] = {
            name: [int(v) for v in d.get(name) or []]
            for name in ("products", "categories", "exclude_products", "exclude_categories")
        }
        if kind == "gift" and d.get("gift_product"):
            what = {"products": [d["gift_product"]]}
        terms: dict[str, Any] = {
            "kind": d["kind"],
            "benefit": benefit,
            "uses_per_code": d.get("uses_per_code"),
            "uses_per_account": d.get("uses_per_account"),
            "with_policies": bool(d.get("with_policies")),
            "with_coupons": bool(d.get("with_coupons")),
            "what": {k: v for k, v in what.items() if v},
        }
        for name in ("min_spend", "budget", "points"):
            if _typed(d.get(name)):
                terms[name] = _typed(d.get(name))
        if d.get("valid_days"):
            terms["valid_days"] = d["valid_days"]
        return {
            "name": d["name"],
            "customer_text": d["customer_text"],
            "terms": {k: v for k, v in terms.items() if v is not None},
            "currency": d["currency"],
            "starts_at": d["starts_at"],
            "ends_at": d.get("ends_at"),
            "prefix": d.get("code_prefix") or "",
            "auto_issue": bool(d.get("auto_issue")),
            "target": {
                k: v
                for k, v in (
                    ("stages", list(d.get("auto_stages") or [])),
                    ("classes", list(d.get("auto_classes") or [])),
                )
                if v
            },
            "holdout_percent": d.get("auto_holdout") or 0,
            "channel": d.get("channel") or "email",
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        fields = {
            "terms.benefit.percent": "percent",
            "terms.benefit.amount": "amount",
            "terms.benefit.spend": "spend",
            "terms.benefit.save": "save",
            "terms.benefit.kind": "benefit",
            "terms.kind": "kind",
            "terms.min_spend": "min_spend",
            "terms.budget": "budget",
            "terms.uses_per_code": "uses_per_code",
            "terms.uses_per_account": "uses_per_account",
            "terms.valid_days": "valid_days",
            "terms.points": "points",
            "terms.benefit.free": "gift_units",
            "terms.what.products": "products",
            "terms.what.categories": "categories",
            "terms.what.exclude_products": "exclude_products",
            "terms.what.exclude_categories": "exclude_categories",
            "holdout_percent": "auto_holdout",
            "target.stages": "auto_stages",
            "target.classes": "auto_classes",
        }
        from patron.domain.coupons.terms import BENEFITS as KIND_BENEFITS

        labels = dict(BENEFITS)
        for path, messages in error_dict(exc).items():
            path = "code_prefix" if path == "prefix" else path
            if path == "terms.benefit.kind":
                allowed = sorted(KIND_BENEFITS.get(self.cleaned_data.get("kind", ""), set()))
                messages = [
                    _("This kind of campaign gives: %(allowed)s.")
                    % {"allowed": ", ".join(str(labels.get(k, k)) for k in allowed if k in labels)}
                ]
            field = fields.get(path, path if path in self.fields else None)
            for message in messages:
                self.add_error(field, message if field else f"{path}: {message}")


class RunForm(forms.Form):
    regions = forms.MultipleChoiceField(label=_("Regions"), required=False)
    classes = forms.MultipleChoiceField(label=_("Segments"), required=False)
    stages = forms.MultipleChoiceField(label=_("Lifecycle stages"), required=False)
    holdout_percent = forms.IntegerField(
        label=_("Hold out (%)"), min_value=0, max_value=50, initial=10, help_text=_("A random share that gets nothing.")
    )
    channel = forms.ChoiceField(label=_("Tell them by"), choices=CHANNELS, initial="email", required=False)
    at = forms.DateTimeField(label=_("Send at"), required=False, widget=DateTimeInput(), help_text=_("Empty: now."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, choices in (("regions", region_choices()), ("classes", class_choices()), ("stages", stage_choices())):
            field = self.fields[name]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = choices
            field.widget.attrs["size"] = str(min(max(len(choices), 3), 8))

    def target(self) -> dict[str, Any]:
        d = self.cleaned_data
        target = {
            "regions": [int(i) for i in d.get("regions") or []],
            "classes": list(d.get("classes") or []),
            "stages": list(d.get("stages") or []),
        }
        return {k: v for k, v in target.items() if v}


class LiveCampaignForm(forms.Form):
    """What a running campaign may still change: its name, its words for customers, and its end."""

    name = forms.CharField(label=_("Name"), max_length=200)
    customer_text = forms.CharField(
        label=_("Text for customers"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    ends_at = forms.DateTimeField(label=_("Ends"), required=False, widget=DateTimeInput())
