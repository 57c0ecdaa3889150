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

from patron.core.errors import error_dict
from patron.sales.models import CURRENCY_CHOICES

from .models import RebateProgram

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
            basis=d["basis"],
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


class ProgramForm(TermsForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    customer_text = forms.CharField(
        label=_("Text for customers"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    period_kind = forms.ChoiceField(label=_("Period"), choices=RebateProgram.PERIODS, initial="quarter")
    effective_from = forms.DateField(label=_("Effective from"), widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(
        label=_("Effective to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="CNY")
    payout_form = forms.ChoiceField(label=_("Payout"), choices=RebateProgram.PAYOUTS, initial="credit_note")
    settlement_lag_days = forms.IntegerField(label=_("Paid days after the period ends"), initial=30, min_value=0)

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
        return data

    def program_data(self, keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The services' dict; ``keep``: the program's terms, for what the form does not show (products)."""
        terms = self.terms_data(keep)
        d = self.cleaned_data
        return {
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
    signed_on = forms.DateField(label=_("Signed on"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
