"""The user-facing words for the pure core's error codes, in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _

from patron.domain.money import MoneyError
from patron.domain.text import TextError


def text_error(exc: TextError) -> str:
    messages = {
        "spaces": _("Must not contain spaces."),
        "full_width": _("Use half-width (ASCII) characters; full-width characters are not allowed."),
        "code_chars": _("Use only letters, digits, '-', '_' and '.', at most 40 characters."),
        "phone": _("A phone number may contain only digits, spaces, '+', '-' and brackets."),
        "tax_id": _("A tax id is 15 to 20 letters and digits (an 18-character unified social credit code)."),
        "email": _("Enter a valid email address."),
    }
    return messages.get(exc.code, str(exc))


def money_error(exc: MoneyError, places: int | None = None) -> str:
    messages = {
        "too_many_places": _("At most %(places)d decimal places.") % {"places": places if places is not None else 2},
        "too_large": _("The amount is too large."),
        "unknown_currency": _("Unknown currency."),
        "not_a_number": _("Enter a number."),
        "float": _("Enter a number."),
        "currency_mismatch": _("Amounts in different currencies cannot be combined."),
    }
    return messages.get(exc.code, str(exc))
