"""Forms of the import pages: the upload, and the mapping of the file's columns to fields.

Forms shape what the user sent; the services decide what is valid and answer with
field errors (``file``, ``kind``, ``mapping``, ``mapping.<column>``) that these forms
put back where the user made the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.core.errors import error_dict
from patron.domain.importing import ENCODINGS, Column, FileError, column_letter

from .kinds import field_label
from .messages import file_error_text
from .models import ImportJob

# What the file picker offers; the service reads what a file is from its bytes, not its name.
ACCEPT = ".csv,.txt,.tsv,.xlsx,.xlsm"


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    file = forms.FileField(
        label=gettext_lazy("File"),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )
    encoding = forms.ChoiceField(
        label=gettext_lazy("Encoding"),
        required=False,
        help_text=gettext_lazy("Only for CSV files; leave it to be detected unless the text comes out garbled."),
    )

    def __init__(self, *args: Any, kinds: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", "—"), *kinds]
        encoding = self.fields["encoding"]
        assert isinstance(encoding, forms.ChoiceField)
        encoding.choices = [("", _("Detect automatically")), *((name, name) for name in ENCODINGS)]
        self.fields["file"].help_text = _("CSV or Excel workbook (.xlsx), at most %(limit)s MB.") % {
            "limit": settings.PATRON_IMPORT_MAX_MB
        }

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.PATRON_IMPORT_MAX_MB * 1024 * 1024:
            raise ValidationError(file_error_text(FileError("too_large")))
        return upload

    def add_service_errors(self, exc: ValidationError) -> None:
        for key, messages in error_dict(exc).items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def column_field_name(index: int) -> str:
    return f"column_{index}"


class MappingForm(forms.Form):
    """One select per column of the file: a field of the import's kind, or nothing (ignored)."""

    def __init__(
        self, *args: Any, job: ImportJob, columns: Sequence[Column], disabled: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        choices: list[tuple[str, str]] = [("", _("— ignore —"))]
        for column in columns:
            label = field_label(job.kind, column.key)
            if column.required:
                label = _("%(field)s (required)") % {"field": label}
            choices.append((column.key, label))
        for index, header in enumerate(job.headers):
            self.fields[column_field_name(index)] = forms.ChoiceField(
                label=f"{column_letter(index)} {header}".strip(),
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
                disabled=disabled,
            )

    def columns(self) -> list[dict[str, Any]]:
        """The file's columns in order, each with its letter, header and select."""
        return [
            {"letter": column_letter(index), "header": header, "field": self[column_field_name(index)]}
            for index, header in enumerate(self.job.headers)
        ]

    def mapping(self) -> dict[int, str]:
        """Column index -> field key of the columns mapped to a field."""
        return {
            index: self.cleaned_data[column_field_name(index)]
            for index in range(len(self.job.headers))
            if self.cleaned_data.get(column_field_name(index))
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """``mapping.<index>`` goes on that column's select, ``mapping`` (and anything else) on the form."""
        for key, messages in error_dict(exc).items():
            field = None
            prefix, _dot, rest = key.partition(".")
            if prefix == "mapping" and rest.isdigit() and column_field_name(int(rest)) in self.fields:
                field = column_field_name(int(rest))
            for message in messages:
                self.add_error(field, message)
