"""The classification editor: a form without JSON for one indicator and a weighted score, JSON for the rest.

The form only shapes what the user typed into a definition dict; the service validates it
and answers with field errors ("definition.thresholds[1]", "definition.classes[0].key",
"definition.weights.sales") that ``add_service_errors`` puts back beside the field the
user typed into: the cut point of that class's row, that class's key, that weight.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from patron.core.errors import error_dict
from patron.domain.segmentation.builtin import key_account_candidates, lifecycle, rfm
from patron.domain.segmentation.indicators import INDICATORS

from .messages import indicator_label
from .models import Classification

FORM_KINDS = ("single", "score")
JSON_KINDS = ("rules", "rfm", "lifecycle")
MIN_ROWS = 3
MAX_ROWS = 60  # more classes than any definition sensibly has
NUMERIC = [key for key, ind in INDICATORS.items() if ind.numeric and not ind.optional]
METHODS = [
    ("thresholds", gettext_lazy("Fixed thresholds")),
    ("quantiles", gettext_lazy("Quantiles (shares of the accounts)")),
]
TIES = [
    ("group", gettext_lazy("Keep equal values in one class")),
    ("rank", gettext_lazy("Split equal values by account id")),
]
NORMALISATIONS = [
    ("minmax", gettext_lazy("Lowest to highest value (min-max)")),
    ("percentile", gettext_lazy("Percentile rank")),
]
_PATH = re.compile(r"^definition\.(classes|thresholds|quantiles)\[(\d+)\](.*)$")


def examples() -> list[tuple[str, str]]:
    """A starting point for each kind written in JSON."""
    return [
        (kind, json.dumps(make(), indent=2, ensure_ascii=False))
        for kind, make in (("rules", key_account_candidates), ("rfm", rfm), ("lifecycle", lifecycle))
    ]


def _percent(text: str) -> str:
    """ "50%" -> "0.5"; anything else as typed."""
    text = text.strip()
    if text.endswith("%"):
        try:
            from decimal import Decimal

            return format(Decimal(text[:-1].strip().replace(",", "")) / 100, "f")
        except ArithmeticError:
            return text
    return text


class ClassificationForm(forms.Form):
    key = forms.CharField(
        label=pgettext_lazy("identifier", "Key"),
        max_length=40,
        help_text=gettext_lazy("Letters, digits, dashes or underscores; other parts of Patron refer to it."),
    )
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    window = forms.ChoiceField(label=gettext_lazy("Measured over"), choices=Classification.WINDOWS)
    window_start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    window_end = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    active = forms.BooleanField(label=gettext_lazy("Active (recomputed with every run)"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Classification.KINDS)
    indicator = forms.ChoiceField(label=gettext_lazy("Indicator"), required=False)
    method = forms.ChoiceField(label=gettext_lazy("Cut by"), choices=METHODS, required=False)
    ties = forms.ChoiceField(label=gettext_lazy("Equal values at a cut point"), choices=TIES, required=False)
    missing = forms.CharField(
        label=gettext_lazy("Class of accounts without a value"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("A class key; the lowest class when empty."),
    )
    normalisation = forms.ChoiceField(
        label=gettext_lazy("Indicators compared by"), choices=NORMALISATIONS, required=False
    )
    definition_json = forms.CharField(
        label=gettext_lazy("Definition (JSON)"),
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
    )

    def __init__(
        self, data: Any = None, *, instance: Classification | None = None, more_rows: int = 0, **kwargs: Any
    ) -> None:
        self.instance = instance
        initial = self._initial(instance) if data is None else {}
        super().__init__(data, initial=initial, **kwargs)
        if instance is not None:
            del self.fields["key"]
        indicator = self.fields["indicator"]
        assert isinstance(indicator, forms.ChoiceField)
        indicator.choices = [(key, indicator_label(key)) for key in NUMERIC]
        self.rows = self._row_count(data, initial) + more_rows
        self.rows = min(max(self.rows, MIN_ROWS), MAX_ROWS)
        for i in range(self.rows):
            self.fields[f"class_key_{i}"] = forms.CharField(
                label=pgettext_lazy("identifier", "Key"), max_length=64, required=False
            )
            self.fields[f"class_label_{i}"] = forms.CharField(
                label=gettext_lazy("Label"), max_length=100, required=False
            )
            if i:
                self.fields[f"cut_{i}"] = forms.CharField(
                    label=gettext_lazy("Starts at"), max_length=40, required=False
                )
        for key in NUMERIC:
            self.fields[f"weight_{key}"] = forms.CharField(label=indicator_label(key), max_length=20, required=False)
        self.group_errors: dict[str, list[str]] = {}
        self._kept: list[int] = []

    # --- initial values -------------------------------------------------------

    @staticmethod
    def _initial(instance: Classification | None) -> dict[str, Any]:
        if instance is None:
            return {
                "kind": "single",
                "window": "trailing_12_months",
                "active": True,
                "method": "thresholds",
                "ties": "group",
                "normalisation": "minmax",
                "indicator": "sales",
                "class_key_0": "low",
                "class_key_1": "mid",
                "class_key_2": "high",
            }
        d = instance.definition if isinstance(instance.definition, dict) else {}
        initial: dict[str, Any] = {
            "name_zh": instance.name_zh,
            "name_en": instance.name_en,
            "description": instance.description,
            "window": instance.window,
            "window_start": instance.window_start,
            "window_end": instance.window_end,
            "active": instance.active,
            "kind": instance.kind,
            "method": d.get("method", "thresholds"),
            "ties": d.get("ties", "group"),
            "normalisation": d.get("normalisation", "minmax"),
            "indicator": d.get("indicator", "sales"),
            "missing": d.get("missing", "") if isinstance(d.get("missing"), str) else "",
        }
        if instance.kind in FORM_KINDS:
            cuts = d.get(d.get("method", "thresholds")) or []
            for i, item in enumerate(d.get("classes") or []):
                if isinstance(item, dict):
                    initial[f"class_key_{i}"] = item.get("key", "")
                    label = item.get("label", "")
                    initial[f"class_label_{i}"] = "" if label == item.get("key") else label
                if i and i - 1 < len(cuts):
                    initial[f"cut_{i}"] = str(cuts[i - 1])
            for key, weight in (d.get("weights") or {}).items():
                initial[f"weight_{key}"] = str(weight)
        else:
            initial["definition_json"] = json.dumps(d, indent=2, ensure_ascii=False)
        return initial

    @staticmethod
    def _row_count(data: Any, initial: dict[str, Any]) -> int:
        source = data if data is not None else initial
        used = [
            int(name.rsplit("_", 1)[1])
            for name in source
            if re.fullmatch(r"class_key_\d+", name) and int(name.rsplit("_", 1)[1]) < MAX_ROWS
        ]
        if data is not None:
            return max(used, default=-1) + 1
        return max(used, default=-1) + 1 + 2  # room for two more classes

    # --- what the sections hold ----------------------------------------------

    def meta_fields(self) -> list[Any]:
        names = ["key", "name_zh", "name_en", "window", "window_start", "window_end", "active"]
        return [self[name] for name in names if name in self.fields]

    def class_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "index": i,
                "key": self[f"class_key_{i}"],
                "label": self[f"class_label_{i}"],
                "cut": self[f"cut_{i}"] if i else None,
            }
            for i in range(self.rows)
        ]

    def weight_fields(self) -> list[Any]:
        return [self[f"weight_{key}"] for key in NUMERIC]

    def current_kind(self) -> str:
        value = self["kind"].value()
        return str(value) if value else "single"

    # --- the definition ------------------------------------------------------

    def definition(self) -> Any:
        """The definition dict the user described (``None`` when the JSON does not parse; the error is added)."""
        data = self.cleaned_data
        kind = data.get("kind") or "single"
        if kind in JSON_KINDS:
            text = (data.get("definition_json") or "").strip()
            if not text:
                self.add_error("definition_json", _("Write the definition, or start from an example below."))
                return None
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                self.add_error("definition_json", _("This is not valid JSON: %(error)s") % {"error": exc})
                return None
            if isinstance(parsed, dict):
                if parsed.get("kind", kind) != kind:
                    self.add_error(
                        "definition_json",
                        _("This definition is of another kind; choose its kind above."),
                    )
                    return None
                parsed["kind"] = kind
            return parsed
        self._kept = [
            i
            for i in range(self.rows)
            if (data.get(f"class_key_{i}") or "").strip() or (data.get(f"class_label_{i}") or "").strip()
        ]
        classes = []
        for i in self._kept:
            key = (data.get(f"class_key_{i}") or "").strip()
            label = (data.get(f"class_label_{i}") or "").strip()
            classes.append({"key": key, "label": label} if label else {"key": key})
        method = data.get("method") or "thresholds"
        cuts = [_percent(data.get(f"cut_{i}") or "") for i in self._kept[1:]]
        definition: dict[str, Any] = {"kind": kind}
        if kind == "single":
            definition["indicator"] = data.get("indicator") or ""
        else:
            definition["weights"] = {
                key: (data.get(f"weight_{key}") or "").strip()
                for key in NUMERIC
                if (data.get(f"weight_{key}") or "").strip()
            }
            definition["normalisation"] = data.get("normalisation") or "minmax"
        definition["classes"] = classes
        definition["method"] = method
        definition[method] = cuts
        if method == "quantiles":
            definition["ties"] = data.get("ties") or "group"
        missing = (data.get("missing") or "").strip()
        if missing:
            definition["missing"] = missing
        return definition

    def service_data(self) -> dict[str, Any] | None:
        """What the services take, or None when the form already has errors."""
        if not self.is_valid():
            return None
        definition = self.definition()
        if self.errors:
            return None
        data = {
            name: self.cleaned_data.get(name)
            for name in ("name_zh", "name_en", "description", "window", "window_start", "window_end", "active")
        }
        data["active"] = bool(data["active"])
        if "key" in self.fields:
            data["key"] = self.cleaned_data.get("key")
        data["definition"] = definition
        return data

    # --- errors from the service ---------------------------------------------

    def _field_for(self, name: str) -> tuple[str | None, str]:
        """The form field for a service error's field name, and a prefix for the message (the path, when the
        error lands on a field that does not name it)."""
        if name in self.fields and not name.startswith(("class_", "cut_", "weight_")):
            return name, ""
        if not name.startswith("definition"):
            return None, ""
        path = name[len("definition") :].lstrip(".")
        kind = self.cleaned_data.get("kind") if hasattr(self, "cleaned_data") else None
        if kind in JSON_KINDS:
            return "definition_json", f"{path}: " if path else ""
        if path == "kind":
            return "kind", ""
        if path in ("indicator", "method", "ties", "missing", "normalisation"):
            return path, ""
        if path.startswith("weights."):
            field = f"weight_{path.split('.', 1)[1]}"
            return (field, "") if field in self.fields else ("weights", "")
        if path in ("weights", "classes", "thresholds", "quantiles"):
            return {"weights": "weights", "classes": "classes"}.get(path, "cuts"), ""
        match = _PATH.match(name)
        if match and self._kept:
            what, index, rest = match.group(1), int(match.group(2)), match.group(3)
            if what == "classes":
                if index < len(self._kept):
                    row = self._kept[index]
                    return (f"class_label_{row}" if rest == ".label" else f"class_key_{row}"), ""
                return "classes", ""
            if index + 1 < len(self._kept):
                return f"cut_{self._kept[index + 1]}", ""
            return "cuts", ""
        return None, f"{path}: " if path else ""

    def add_service_errors(self, exc: ValidationError) -> None:
        for name, messages in error_dict(exc).items():
            field, prefix = self._field_for(name)
            for message in messages:
                if field in ("weights", "classes", "cuts"):
                    self.group_errors.setdefault(field, []).append(prefix + message)
                elif field is not None and field in self.fields:
                    self.add_error(field, prefix + message)
                else:
                    self.add_error(None, prefix + message)

    def has_errors(self) -> bool:
        return bool(self.errors) or bool(self.group_errors)
