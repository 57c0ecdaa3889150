"""The first rows of an uploaded file, shown under its headers while the user maps the columns.

Read with the same reader as the import, so the preview shows the cells the import will
see (merged cells filled, dates as dates). Large files are previewed from their start
only: a CSV from its first part, a workbook streamed row by row until the rows are found
(where openpyxl cannot see merged cells, so a merged cell shows in its first row only).
The result is cached: the mapping page is shown many times, the file never changes.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from openpyxl.utils.exceptions import InvalidFileException

from patron.domain.importing import FileError

from .files import XLSX_MAGIC, read_head, read_table
from .models import ImportJob
from .services import import_dir

PREVIEW_ROWS = 5
# Enough bytes of a CSV for a header and five rows of any sensible width.
CSV_PREFIX = 256 * 1024
# Workbooks larger than this are streamed: reading all of a large one takes seconds per megabyte.
XLSX_FULL_READ = 256 * 1024
# Encodings in which a newline byte is never part of another character, so the prefix can be cut at one.
CUTTABLE = frozenset({"utf-8", "utf-8-sig", "gb18030", "big5", "shift_jis", "latin-1"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def preview_rows(job: ImportJob, limit: int = PREVIEW_ROWS) -> list[tuple[int, list[str]]]:
    """(row number as the spreadsheet shows it, cells under the headers) for the first ``limit`` rows."""
    key = f"imports:preview:{job.stored_as}:{limit}"  # the stored name is unique to the upload
    cached = cache.get(key)
    if cached is not None:
        return list(cached)
    try:
        data = (import_dir() / job.stored_as).read_bytes()
    except OSError:
        return []  # the file is gone (the import was undone or cleaned up)
    is_xlsx = data.startswith(XLSX_MAGIC) or job.encoding == "xlsx"
    try:
        if is_xlsx and len(data) > XLSX_FULL_READ:
            found = _first_sheet_rows(data, limit)
        else:
            if not is_xlsx and job.encoding in CUTTABLE and len(data) > CSV_PREFIX:
                data = data[: data.rfind(b"\n", 0, CSV_PREFIX) + 1] or data
            table = read_table(data, job.file_name, None if is_xlsx or not job.encoding else job.encoding)
            found = table.rows[:limit]
    except (FileError, OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException):
        return []
    width = len(job.headers)
    rows = []
    for number, cells in found:
        texts = [_text(cell) for cell in list(cells)[:width]]
        rows.append((number, texts + [""] * (width - len(texts))))
    cache.set(key, rows, 3600)
    return rows


def _first_sheet_rows(data: bytes, limit: int) -> list[tuple[int, Sequence[Any]]]:
    """The first ``limit`` rows under the header of the first sheet, streamed; blank rows are skipped, as on import."""
    return read_head(data, "upload.xlsx", limit=limit).rows
