"""Field errors raised by services and shown by every surface.

Services raise ``django.core.exceptions.ValidationError`` with a dict of
field -> messages (nested lines as ``lines.2.quantity``); the API turns it into a
422 body, forms into field errors. ``Conflict`` is for a valid request that the
current state refuses (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

T = TypeVar("T")

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)


class Conflict(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class FieldErrors:
    """Collect errors by field, then raise them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, []).append(str(message))

    def check_date(self, field: str, value: dt.date | None) -> bool:
        """Dates (and date-times) Patron keeps are within 1900-2999; outside is a typing mistake."""
        if value is None or EARLIEST.year <= value.year <= LATEST.year:
            return True
        self.add(field, _("Enter a date between %(first)s and %(last)s.") % {"first": EARLIEST, "last": LATEST})
        return False

    def full_clean(self, instance: Any, exclude: list[str] | None = None) -> None:
        """Add the model's own checks (lengths, choices, uniqueness, constraints) for fields not yet in error."""
        try:
            instance.full_clean(exclude=exclude)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field not in self.errors:
                    for msg in messages:
                        self.add(field, msg)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def error_dict(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}
