"""Cells that leave Patron for a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by Excel and LibreOffice as a formula (``=cmd|' /C calc'!A0`` runs a program),
so exported text that starts that way gets a leading apostrophe, which spreadsheets
show as plain text (OWASP's advice on CSV injection). Numbers and dates are not text
and pass unchanged.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value
