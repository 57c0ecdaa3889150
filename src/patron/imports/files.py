"""An uploaded file as a table: its header and numbered rows, from CSV or an Excel workbook.

Excel specifics with defined behaviour:

* the first sheet is read (a workbook's other sheets are named in a warning);
* a merged cell's value fills every cell it covers, so an order number merged over its
  lines belongs to each line;
* hidden rows and columns are read like visible ones, with a warning that says how many,
  because a filter left on by accident should not lose data silently;
* cells formatted as dates arrive as dates; numbers in a date column as serial days;
* formulas are read as the values Excel last saved with them.

Large workbooks (over ``MERGED_CELLS_LIMIT`` bytes) are streamed in read-only mode, where
openpyxl cannot see merged cells: a warning says so.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from patron.domain.importing import FileError, Problem, decode, is_blank, read_csv

MERGED_CELLS_LIMIT = 10 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"


@dataclass
class Table:
    headers: list[str]
    # (row number as the spreadsheet shows it, cells)
    rows: list[tuple[int, Sequence[Any]]]
    encoding: str = ""
    warnings: list[Problem] = field(default_factory=list)


def read_table(data: bytes, file_name: str, encoding: str | None = None) -> Table:
    if not data.strip():
        raise FileError("empty")
    if data.startswith(OLD_EXCEL_MAGIC):
        raise FileError("old_excel")
    if data.startswith(XLSX_MAGIC) or file_name.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    text, used = decode(data, encoding)
    rows = read_csv(text)
    return _table([(index + 1, row) for index, row in enumerate(rows)], used, [])


def _table(numbered: list[tuple[int, Sequence[Any]]], encoding: str, warnings: list[Problem]) -> Table:
    # The header is the first row with anything in it; blank rows before it are skipped.
    while numbered and all(is_blank(c) for c in numbered[0][1]):
        numbered.pop(0)
    if not numbered:
        raise FileError("empty")
    header = numbered[0][1]
    headers = [str(h).strip() if h is not None else "" for h in header]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileError("no_header")
    data_rows = [(n, row) for n, row in numbered[1:] if not all(is_blank(c) for c in row)]
    if not data_rows:
        raise FileError("header_only")
    return Table(headers, data_rows, encoding, warnings)


def _read_xlsx(data: bytes) -> Table:
    read_only = len(data) > MERGED_CELLS_LIMIT
    try:
        book = load_workbook(io.BytesIO(data), read_only=read_only, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileError("bad_xlsx") from None
    try:
        sheet = book.worksheets[0]
        warnings: list[Problem] = []
        if len(book.worksheets) > 1:
            others = ", ".join(ws.title for ws in book.worksheets[1:])
            warnings.append(Problem(None, None, "other_sheets", {"sheet": sheet.title, "others": others}, "warning"))
        rows: list[list[Any]] = [list(r) for r in sheet.iter_rows(values_only=True)]
        if read_only:
            warnings.append(Problem(None, None, "merged_not_read", {}, "warning"))
        else:
            for merged in sheet.merged_cells.ranges:
                value = rows[merged.min_row - 1][merged.min_col - 1] if merged.min_row <= len(rows) else None
                for r in range(merged.min_row, min(merged.max_row, len(rows)) + 1):
                    row = rows[r - 1]
                    if len(row) < merged.max_col:
                        row.extend([None] * (merged.max_col - len(row)))
                    for c in range(merged.min_col, merged.max_col + 1):
                        row[c - 1] = value
            hidden_rows = sum(1 for dim in sheet.row_dimensions.values() if dim.hidden)
            hidden_cols = sum(1 for dim in sheet.column_dimensions.values() if dim.hidden)
            if hidden_rows or hidden_cols:
                warnings.append(
                    Problem(None, None, "hidden_cells", {"rows": hidden_rows, "columns": hidden_cols}, "warning")
                )
    finally:
        book.close()
    return _table([(index + 1, [_cell(v) for v in row]) for index, row in enumerate(rows)], "xlsx", warnings)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value
