"""Forms of the rebate pages: a program (its terms as fields and tier rows, no JSON) and an agreement.

The form only shapes what was typed into the terms dict of ``patron.domain.rebates.terms``; the
services judge it and answer with errors keyed by field paths (``terms.tiers[1].from``), which
``add_service_errors`` puts beside the field typed into.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.accounts.models import Account
from patron.core.errors import error_dict
from patron.discounts.forms import (
    account_options,
    category_choices,
    class_choices,
    codes_field,
    product_options,
    region_choices,
    resolve_codes,
    use_codes,
)
from patron.sales.forms import DateInput
from patron.sales.models import CURRENCY_CHOICES, Product

from .models import RebateProgram

_NO_SKU = _("No product has the SKU %(codes)s.")

TIER_ROWS = 6
_TIER_PATH = re.compile(r"^terms\.tiers\[(\d+)\]\.(from|percent|amount)$")


def _typed(value: str | None) -> str:
    """A number as people type it: "100,000", "100，000" or "100 000" all mean 100000."""
    return re.sub(r"[,，\s\u00a0]", "", value or "")


class TermsForm(forms.Form):
    """A program's terms as fields and tier rows: the program form's, and a replay's proposal."""

    basis = forms.ChoiceField(
        label=_("Volume"),
        choices=[("amount", _("Net sales")), ("quantity", _("Units bought")), ("profit", _("Gross profit"))],
    )
    mode = forms.ChoiceField(
        label=_("Tiers"),
        choices=[
            ("retroactive", _("Retroactive: the rate reached pays on all volume")),
            ("incremental", _("Incremental: each band at its own rate")),
        ],
    )
    documents = forms.ChoiceField(
        label=_("Orders counted"),
        choices=[
            ("all", _("Every confirmed order")),
            ("invoiced", _("Only invoiced orders")),
            ("paid", _("Only paid orders")),
        ],
        initial="all",
        required=False,  # left out: every confirmed order
    )
    tier_kind = forms.ChoiceField(
        label=_("Each tier pays"), choices=[("percent", _("a percent of the volume")), ("amount", _("a fixed sum"))]
    )
    threshold = forms.CharField(label=_("Threshold"), required=False, initial="0")
    cap = forms.CharField(label=_("Cap per account and period"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(TIER_ROWS):
            self.fields[f"tier_from_{i}"] = forms.CharField(label=pgettext_lazy("tier", "From"), required=False)
            self.fields[f"tier_value_{i}"] = forms.CharField(label=_("Rebate"), required=False)

    def tier_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"tier_from_{i}"], self[f"tier_value_{i}"]) for i in range(TIER_ROWS)]

    @staticmethod
    def initial_terms(terms: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "basis": terms.get("basis", "amount"),
            "mode": terms.get("mode", "retroactive"),
            "documents": terms.get("documents", "all"),
            "threshold": terms.get("threshold", "0"),
            "cap": terms.get("cap", ""),
        }
        tiers = terms.get("tiers") or []
        data["tier_kind"] = "amount" if tiers and "amount" in tiers[0] else "percent"
        for i, tier in enumerate(tiers[:TIER_ROWS]):
            data[f"tier_from_{i}"] = tier.get("from")
            data[f"tier_value_{i}"] = tier.get("percent", tier.get("amount"))
        return data

    def terms_data(self, keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The terms dict; ``keep``: the program's terms, for what the form does not show (products)."""
        d = self.cleaned_data
        self._rows: list[int] = []
        tiers = []
        for i in range(TIER_ROWS):
            start, value = _typed(d.get(f"tier_from_{i}")), _typed(d.get(f"tier_value_{i}"))
            if start or value:
                self._rows.append(i)
                tiers.append({"from": start, d["tier_kind"]: value})
        terms: dict[str, Any] = dict(keep or {})
        terms.update(
            basis=d.get("basis") or "amount",
            mode=d["mode"],
            documents=d.get("documents") or "all",
            threshold=_typed(d.get("threshold")) or "0",
            tiers=tiers,
        )
        terms.pop("cap", None)
        if _typed(d.get("cap")):
            terms["cap"] = _typed(d.get("cap"))
        return terms

    def add_service_errors(self, exc: ValidationError) -> None:
        for path, messages in error_dict(exc).items():
            found = _TIER_PATH.match(path)
            if found:
                row = self._rows[int(found.group(1))] if int(found.group(1)) < len(self._rows) else 0
                field = f"tier_from_{row}" if found.group(2) == "from" else f"tier_value_{row}"
            else:
                field = {
                    "terms.threshold": "threshold",
                    "terms.cap": "cap",
                    "terms.mode": "mode",
                    "terms.tiers": "tier_from_0",  # no tier given at all
                }.get(path, path)
                field = field if field in self.fields else None  # type: ignore[assignment]
            for message in messages:
                if field:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{path}: {message}")


def _set_choices(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    assert isinstance(field, forms.MultipleChoiceField)
    field.choices = choices
    field.widget.attrs["size"] = str(min(max(len(choices), 3), 8))


class ProgramForm(TermsForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    customer_text = forms.CharField(
        label=_("Text for customers"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    period_kind = forms.ChoiceField(label=_("Period"), choices=RebateProgram.PERIODS, initial="quarter")
    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    effective_to = forms.DateField(label=_("Effective to"), required=False, widget=DateInput())
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="CNY")
    payout_form = forms.ChoiceField(label=_("Payout"), choices=RebateProgram.PAYOUTS, initial="credit_note")
    settlement_lag_days = forms.IntegerField(label=_("Paid days after the period ends"), initial=30, min_value=0)
    # which products count (the terms' "what")
    categories = forms.MultipleChoiceField(
        label=_("Only these categories"),
        required=False,
        help_text=_("With their sub-categories; none: every product. Ctrl-click (⌘ on a Mac) to choose several."),
    )
    products = codes_field(_("Only these products"))
    exclude_categories = forms.MultipleChoiceField(label=_("Except categories"), required=False)
    exclude_products = codes_field(_("Except products"))
    # who may sign (the program's eligibility)
    regions = forms.MultipleChoiceField(
        label=_("Regions"), required=False, help_text=_("With everything below them; none: any region.")
    )
    classes = forms.MultipleChoiceField(label=_("Segments"), required=False)
    accounts = codes_field(_("Named accounts"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = category_choices()
        _set_choices(self.fields["categories"], categories)
        _set_choices(self.fields["exclude_categories"], categories)
        _set_choices(self.fields["regions"], region_choices())
        _set_choices(self.fields["classes"], class_choices())
        skus = _("SKUs separated by commas or spaces.")
        use_codes(self.fields["products"], product_options(), skus)
        use_codes(self.fields["exclude_products"], product_options(), skus)
        live = Account.objects.filter(merged_into__isnull=True)
        use_codes(self.fields["accounts"], account_options(live), _("Account codes separated by commas or spaces."))

    def clean_products(self) -> list[int]:
        return resolve_codes(self.cleaned_data["products"], Product.objects.all(), "sku", str(_NO_SKU))

    def clean_exclude_products(self) -> list[int]:
        return resolve_codes(self.cleaned_data["exclude_products"], Product.objects.all(), "sku", str(_NO_SKU))

    def clean_accounts(self) -> list[int]:
        live = Account.objects.filter(merged_into__isnull=True)
        return resolve_codes(self.cleaned_data["accounts"], live, "code", str(_("No account has the code %(codes)s.")))

    field_order = [
        "name",
        "description",
        "customer_text",
        "period_kind",
        "effective_from",
        "effective_to",
        "currency",
        "basis",
        "mode",
        "documents",
        "tier_kind",
        "threshold",
        "cap",
        "payout_form",
        "settlement_lag_days",
    ]

    @staticmethod
    def initial_for(program: RebateProgram) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: getattr(program, name)
            for name in (
                "name",
                "description",
                "customer_text",
                "period_kind",
                "effective_from",
                "effective_to",
                "currency",
                "payout_form",
                "settlement_lag_days",
            )
        }
        data.update(TermsForm.initial_terms(program.terms or {}))
        what = (program.terms or {}).get("what") or {}
        who = program.eligibility or {}
        skus = dict(
            Product.objects.filter(
                pk__in=[*(what.get("products") or []), *(what.get("exclude_products") or [])]
            ).values_list("pk", "sku")
        )
        codes = dict(Account.objects.filter(pk__in=who.get("accounts") or []).values_list("pk", "code"))
        data.update(
            categories=[str(i) for i in what.get("categories") or []],
            exclude_categories=[str(i) for i in what.get("exclude_categories") or []],
            products=[skus[i] for i in what.get("products") or [] if i in skus],
            exclude_products=[skus[i] for i in what.get("exclude_products") or [] if i in skus],
            regions=[str(i) for i in who.get("regions") or []],
            classes=list(who.get("classes") or []),
            accounts=[codes[i] for i in who.get("accounts") or [] if i in codes],
        )
        return data

    def program_data(self, keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The services' dict; ``keep``: the program's terms, for what the form does not show (products)."""
        terms = self.terms_data(keep)
        d = self.cleaned_data
        what = {
            "categories": [int(i) for i in d.get("categories") or []],
            "products": list(d.get("products") or []),
            "exclude_categories": [int(i) for i in d.get("exclude_categories") or []],
            "exclude_products": list(d.get("exclude_products") or []),
        }
        terms["what"] = {k: v for k, v in what.items() if v}
        if not terms["what"]:
            terms.pop("what")
        who = {
            "regions": [int(i) for i in d.get("regions") or []],
            "classes": list(d.get("classes") or []),
            "accounts": list(d.get("accounts") or []),
        }
        return {
            "eligibility": {k: v for k, v in who.items() if v},
            "name": d["name"],
            "description": d["description"],
            "customer_text": d["customer_text"],
            "period_kind": d["period_kind"],
            "effective_from": d["effective_from"],
            "effective_to": d["effective_to"],
            "currency": d["currency"],
            "payout_form": d["payout_form"],
            "settlement_lag_days": d["settlement_lag_days"],
            "terms": terms,
        }


class AgreementForm(forms.Form):
    account = forms.CharField(label=_("Account code"), max_length=40)
    signed_on = forms.DateField(label=_("Signed on"), widget=DateInput())
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=DateInput())


class AgreementTermsForm(TermsForm):
    """An agreement's end and, when it has them, its own tiers, threshold, cap and mode."""

    own_terms = forms.BooleanField(label=_("This account has its own tiers"), required=False)
    valid_to = forms.DateField(label=_("Valid to"), required=False, widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("basis", "documents"):  # the program's, for every account alike
            del self.fields[name]

    def own_data(self) -> dict[str, Any] | None:
        if not self.cleaned_data.get("own_terms"):
            return None
        self.cleaned_data.setdefault("basis", "amount")
        terms = self.terms_data()
        return {k: terms[k] for k in ("tiers", "threshold", "cap", "mode") if k in terms}
