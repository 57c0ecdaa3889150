"""The follow-up forms: plan or change a task, and say what came of it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from patron.domain.followups import MAX_EVERY

from .models import Task


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class TaskForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    kind = forms.ChoiceField(label=_("How"), choices=Task.KINDS)
    due_at = forms.DateTimeField(label=_("Due"), widget=DateTimeInput())
    contact = forms.ChoiceField(label=_("Contact person"), required=False)
    owner = forms.ChoiceField(label=_("Owner"))
    repeat_every = forms.IntegerField(label=_("Repeat every"), required=False, min_value=1, max_value=MAX_EVERY)
    repeat_unit = forms.ChoiceField(label=_("Unit"), choices=Task.UNITS, required=False, initial="weeks")
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, account: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contacts = [("", "—")] + [(str(c.pk), f"{c.name} · {c.get_role_display()}") for c in account.contacts.all()]
        self.fields["contact"].choices = contacts  # type: ignore[attr-defined]
        self.fields["owner"].choices = owners  # type: ignore[attr-defined]

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "subject": d["subject"],
            "kind": d["kind"],
            "due_at": d["due_at"],
            "contact": d.get("contact") or None,
            "owner": d["owner"],
            "repeat_every": d.get("repeat_every"),
            "repeat_unit": d.get("repeat_unit") if d.get("repeat_every") else "",
            "notes": d.get("notes") or "",
        }


class CompleteForm(forms.Form):
    outcome = forms.ChoiceField(label=_("What came of it"), choices=Task.OUTCOMES)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
