"""The reader's words for the pure core's file and cell problems."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from patron.domain.importing import FileError, Problem


def problem_text(problem: Problem) -> str:
    p = problem.params
    messages = {
        "required": _("This column is required; the cell is empty."),
        "not_a_number": _("“%(value)s” is not a number.") % {"value": p.get("value", "")},
        "bad_separators": _("“%(value)s” has misplaced thousands separators.") % {"value": p.get("value", "")},
        "too_large": _("“%(value)s” is too large.") % {"value": p.get("value", "")},
        "not_whole": _("“%(value)s” is not a whole number.") % {"value": p.get("value", "")},
        "bad_date": _("“%(value)s” is not a date; write it as 2026-11-25.") % {"value": p.get("value", "")},
        "not_yes_no": _("“%(value)s” is neither yes nor no.") % {"value": p.get("value", "")},
        "other_sheets": _("Only the first sheet (%(sheet)s) was read; the workbook also has: %(others)s.")
        % {"sheet": p.get("sheet", ""), "others": p.get("others", "")},
        "merged_not_read": _(
            "The workbook is too large to look for merged cells; a merged cell's value is in its first row only."
        ),
        "hidden_cells": _("The sheet has %(rows)s hidden rows and %(columns)s hidden columns; they were read too.")
        % {"rows": p.get("rows", 0), "columns": p.get("columns", 0)},
    }
    return messages.get(problem.code) or p.get("message") or problem.code


def file_error_text(exc: FileError) -> str:
    p = exc.params
    messages = {
        "empty": _("The file is empty."),
        "header_only": _("The file has a header row but no data rows."),
        "no_header": _("The first row with anything in it has no column names."),
        "binary": _("This is not a CSV text file or an Excel workbook (.xlsx)."),
        "old_excel": _("This is an old Excel file (.xls); save it as .xlsx or CSV and upload that."),
        "bad_xlsx": _("This Excel workbook cannot be read; it may be damaged or password-protected."),
        "unknown_encoding": _(
            "The file's text is neither UTF-8 nor GB18030; choose its encoding, or save it as “CSV UTF-8”."
        )
        if not p.get("encoding")
        else _("Unknown encoding %(encoding)s.") % {"encoding": p["encoding"]},
        "not_in_encoding": _("The file is not valid %(encoding)s (at byte %(position)s).")
        % {"encoding": p.get("encoding", ""), "position": p.get("position", "")},
        "bad_csv": _("The CSV file cannot be read: %(detail)s.") % {"detail": p.get("detail", "")},
        "too_large": _("The file is larger than the %(limit)s MB an import accepts; split it into smaller files.")
        % {"limit": settings.PATRON_IMPORT_MAX_MB},
    }
    return messages.get(exc.code, exc.code)
