"""The pipeline's forms: an opportunity, a move between stages, a decision maker, a document, the list's filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from patron.domain import pipeline as rules
from patron.domain.money import Money, MoneyError
from patron.sales.models import CURRENCY_CHOICES

from .models import STAGES, OpportunityContact, OpportunityDocument

OPEN_STAGE_CHOICES = [(value, label) for value, label in STAGES if value in rules.OPEN_STAGES]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class OpportunityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    stage = forms.ChoiceField(label=_("Stage"), choices=OPEN_STAGE_CHOICES, initial=rules.QUALIFICATION)
    amount = forms.CharField(label=_("Amount"), max_length=30, help_text=_("For example 120000.00"))
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="CNY")
    probability = forms.IntegerField(
        label=_("Probability (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Leave empty for the stage's usual probability."),
    )
    expected_close = forms.DateField(label=_("Expected close"), widget=DateInput())
    owner = forms.ChoiceField(label=_("Owner"))
    next_step = forms.CharField(label=_("Next step"), max_length=300, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, owners: list[tuple[str, str]], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owners  # type: ignore[attr-defined]
        if editing:
            del self.fields["stage"]

    def clean(self) -> dict[str, Any]:
        """The amount as the services take it (no more decimals than the currency has), named on the form."""
        cleaned = super().clean() or {}
        amount, currency = cleaned.get("amount"), cleaned.get("currency") or "CNY"
        if amount:
            try:
                money = Money.parse(amount, currency)
            except MoneyError:
                self.add_error("amount", _("Give an amount such as 120000.00, with at most the currency's decimals."))
            else:
                if money.amount < 0:
                    self.add_error("amount", _("The amount cannot be negative."))
        return cleaned

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        data = {
            "name": d["name"],
            "amount": d["amount"],
            "currency": d["currency"],
            "probability": d.get("probability"),
            "expected_close": d["expected_close"],
            "owner": d["owner"],
            "next_step": d.get("next_step") or "",
            "description": d.get("description") or "",
        }
        if "stage" in d:
            data["stage"] = d["stage"]
        return data


class MoveForm(forms.Form):
    stage = forms.ChoiceField(label=_("Move to"), choices=STAGES)
    probability = forms.IntegerField(
        label=_("Probability (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Leave empty for the stage's usual probability."),
    )
    lost_reason = forms.CharField(label=_("Why it was lost"), max_length=rules.MAX_REASON, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class DecisionMakerForm(forms.Form):
    contact = forms.ChoiceField(label=_("Contact person"))
    role = forms.ChoiceField(label=_("Role in the decision"), choices=OpportunityContact.ROLES)
    attitude = forms.ChoiceField(label=_("Attitude"), choices=OpportunityContact.ATTITUDES, initial="unknown")
    notes = forms.CharField(label=_("Notes"), max_length=500, required=False)

    def __init__(self, *args: Any, account: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contacts = [(str(c.pk), f"{c.name} · {c.get_role_display()}") for c in account.contacts.all()]
        self.fields["contact"].choices = [("", "—"), *contacts]  # type: ignore[attr-defined]


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=OpportunityDocument.KINDS, initial="quote")
    name = forms.CharField(label=_("Name"), max_length=200, required=False, help_text=_("The file's name if empty."))
    file = forms.FileField(label=_("File"))


class FilterForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    account = forms.CharField(label=_("Account code"), max_length=40, required=False)
    month = forms.CharField(
        label=_("Expected close month"),
        max_length=7,
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", _("All")), ("open", _("Every open stage")), *STAGES]  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", _("Everyone")), *owners]  # type: ignore[attr-defined]

    def clean_month(self) -> dt.date | None:
        text = (self.cleaned_data.get("month") or "").strip()
        if not text:
            return None
        try:
            year, month = (int(part) for part in text.split("-"))
            return dt.date(year, month, 1)
        except ValueError:
            raise ValidationError(_("Give a month as YYYY-MM.")) from None
