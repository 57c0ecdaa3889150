"""The follow-up forms: plan or change a task, and say what came of it."""

from __future__ import annotations

import re
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
    # No outcome is chosen for the user: "done" without saying what came of it is refused, not guessed.
    outcome = forms.ChoiceField(
        label=_("What came of it"),
        choices=[("", "—"), *Task.OUTCOMES],
        error_messages={"required": _("Choose what came of it.")},
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CadenceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    rule = forms.ChoiceField(label=_("When"))
    days = forms.CharField(
        label=_("Days"), max_length=100, help_text=_("For example 14; after a first order, 3, 30 for two contacts.")
    )
    classes = forms.MultipleChoiceField(label=_("Segments entered"), required=False)
    stages = forms.MultipleChoiceField(label=_("Only accounts in the stages"), required=False)
    segments = forms.MultipleChoiceField(label=_("Only accounts in the segments"), required=False)
    subject = forms.CharField(label=_("Task subject"), max_length=200, required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from patron.discounts.forms import class_choices, stage_choices

        from .models import Cadence

        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = Cadence.RULES  # type: ignore[attr-defined]
        classes = class_choices()
        for name, choices in (("classes", classes), ("segments", classes), ("stages", stage_choices())):
            field = self.fields[name]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = choices
            field.widget.attrs["size"] = str(min(max(len(choices), 3), 8))

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        target: dict[str, Any] = {}
        if d.get("stages"):
            target["stages"] = list(d["stages"])
        if d.get("segments"):
            target["classes"] = list(d["segments"])
        return {
            "name": d["name"],
            "rule": d["rule"],
            "days": d["days"],
            "classes": list(d.get("classes") or []),
            "target": target,
            "subject": d.get("subject") or "",
            "active": bool(d.get("active")),
        }


class SurveyForm(forms.Form):
    """A survey's name, its words to customers, and up to five questions after the NPS one."""

    name = forms.CharField(label=_("Name"), max_length=200)
    intro = forms.CharField(label=_("Text for customers"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = [
            ("", "—"),
            ("rating", _("Rating, 1 to 5")),
            ("choice", _("One of several answers")),
            ("text", _("Words")),
        ]
        for i in range(1, 6):
            self.fields[f"q{i}_text"] = forms.CharField(
                label=_("Question %(n)s") % {"n": i}, required=False, max_length=300
            )
            self.fields[f"q{i}_kind"] = forms.ChoiceField(label=_("Answered as"), choices=kinds, required=False)
            self.fields[f"q{i}_choices"] = forms.CharField(
                label=_("Answers to choose from"), required=False, help_text=_("Separated by commas.")
            )

    def field_of(self, path: str) -> str | None:
        """The form field of a service error's path: "questions[0].choices" -> "q2_choices" if row 2 was the first."""
        found = re.fullmatch(r"questions\[(\d+)\](?:\.(\w+))?", path)
        if found is None or int(found[1]) >= len(getattr(self, "rows_kept", [])):
            return None
        part = found[2] if found[2] in ("text", "kind", "choices") else "text"
        return f"q{self.rows_kept[int(found[1])]}_{part}"

    def question_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"q{i}_text"], self[f"q{i}_kind"], self[f"q{i}_choices"]) for i in range(1, 6)]

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        questions = []
        self.rows_kept: list[int] = []  # the form's row of each question given (empty rows are skipped)
        for i in range(1, 6):
            text = (d.get(f"q{i}_text") or "").strip()
            if not text:
                continue
            self.rows_kept.append(i)
            kind = d.get(f"q{i}_kind") or "text"
            choices = [c.strip() for c in (d.get(f"q{i}_choices") or "").replace("，", ",").split(",") if c.strip()]
            questions.append({"kind": kind, "text": text, "choices": choices})
        return {"name": d["name"], "intro": d.get("intro") or "", "questions": questions}


class ComplaintForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    category = forms.ChoiceField(label=_("Category"))
    severity = forms.ChoiceField(label=_("Severity"), initial="normal")
    channel = forms.ChoiceField(label=_("Received by"))
    contact = forms.ChoiceField(label=_("Contact person"), required=False)
    owner = forms.ChoiceField(label=_("Owner"))
    description = forms.CharField(
        label=_("What the customer said"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, account: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        from .models import Complaint

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = Complaint.CATEGORIES  # type: ignore[attr-defined]
        self.fields["severity"].choices = Complaint.SEVERITIES  # type: ignore[attr-defined]
        self.fields["channel"].choices = Complaint.CHANNELS  # type: ignore[attr-defined]
        self.fields["contact"].choices = [("", "—")] + [(str(c.pk), c.name) for c in account.contacts.all()]  # type: ignore[attr-defined]
        self.fields["owner"].choices = owners  # type: ignore[attr-defined]
