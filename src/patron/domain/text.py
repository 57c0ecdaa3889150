"""Checks and normalisation for the codes, phones and ids people type, in either script.

Full-width forms typed with a Chinese input method (ＡＢＣ１２３, （０２０）) are folded
to their ASCII forms by NFKC where that is unambiguous (phones, tax ids); a record
*code* is an identifier, so full-width characters or spaces in it are an error
rather than a silent change.
"""

from __future__ import annotations

import re
import unicodedata

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
# An area code may come in brackets first: "(020) 8888 6666".
PHONE_RE = re.compile(r"^\+?[0-9(][0-9 \-()]{4,29}$")
PHONE_MIN_DIGITS = 5
TAX_ID_RE = re.compile(r"^[0-9A-Z]{15,20}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TextError(ValueError):
    """``code`` names the problem so the edge can say it in the reader's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def has_full_width(value: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in {"F", "W"} for ch in value)


def check_code(value: str, what: str = "code") -> str:
    """An identifier: 1-40 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit."""
    if value != value.strip() or " " in value or "\u3000" in value:
        raise TextError("spaces", f"{what} must not contain spaces")
    if has_full_width(value):
        raise TextError("full_width", f"{what} must use half-width (ASCII) characters, not full-width ones")
    if not CODE_RE.match(value):
        raise TextError("code_chars", f"{what} may contain only letters, digits, '-', '_' and '.', at most 40")
    return value


def normalise_phone(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).strip()
    if not folded:
        return ""
    if not PHONE_RE.match(folded) or sum(ch.isdigit() for ch in folded) < PHONE_MIN_DIGITS:
        raise TextError("phone", "phone may contain only digits, spaces, '+', '-' and brackets")
    return folded


def normalise_tax_id(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).strip().upper()
    if not folded:
        return ""
    if not TAX_ID_RE.match(folded):
        raise TextError(
            "tax_id", "tax id must be 15 to 20 letters and digits (an 18-character unified social credit code)"
        )
    return folded


def normalise_email(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).strip()
    if not folded:
        return ""
    if not EMAIL_RE.match(folded) or has_full_width(folded):
        raise TextError("email", "enter a valid email address")
    local, _, domain = folded.rpartition("@")
    return f"{local}@{domain.lower()}"
