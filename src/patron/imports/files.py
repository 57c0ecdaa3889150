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

An upload reads only what the mapping page needs (``read_head``): a CSV or a small
workbook whole, a workbook over ``HEAD_ONLY_OVER`` bytes as its header and first rows,
streamed, with the row count the sheet states (its ``<dimension>``) as an estimate. Reading
all of a 100,000-row workbook takes openpyxl 15-25 seconds; the check and the run, which
go on in the background with a progress bar, read it whole.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.xml.functions import iterparse

from patron.domain.importing import FileError, Problem, decode, is_blank, read_csv

MERGED_CELLS_LIMIT = 10 * 1024 * 1024
# Workbooks larger than this are read at upload as their header and first rows only (about a second of reading).
HEAD_ONLY_OVER = 256 * 1024
HEAD_ROWS = 5
# What openpyxl raises on a damaged workbook; an XML parse error (a SyntaxError) can come from any row.
BAD_XLSX = (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError)
XLSX_MAGIC = b"PK\x03\x04"
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"


@dataclass
class Table:
    headers: list[str]
    # (row number as the spreadsheet shows it, cells)
    rows: list[tuple[int, Sequence[Any]]]
    encoding: str = ""
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class Head:
    """What an upload reads of a file: its header, its first rows and how many rows it has.

    ``rows_exact`` is False for a workbook read in part: ``row_count`` is then the count its
    sheet states (None if it states none), until a check or a run reads every row.
    """

    headers: list[str]
    rows: list[tuple[int, Sequence[Any]]]
    encoding: str
    row_count: int | None
    rows_exact: bool


def is_workbook(data: bytes, file_name: str) -> bool:
    return data.startswith(XLSX_MAGIC) or file_name.lower().endswith((".xlsx", ".xlsm"))


def head_only(encoding: str, size: int) -> bool:
    """Whether an upload of this encoding and size was read as its head only (see ``read_head``)."""
    return encoding == "xlsx" and size > HEAD_ONLY_OVER


def read_head(data: bytes, file_name: str, encoding: str | None = None, limit: int = HEAD_ROWS) -> Head:
    """The header and first ``limit`` rows; a large workbook is streamed and left unread after them.

    Refuses the same files as ``read_table`` (empty, header only, not a workbook), except a
    large workbook whose damage lies past its first rows, which its check then reports.
    """
    if is_workbook(data, file_name) and not data.startswith(OLD_EXCEL_MAGIC) and head_only("xlsx", len(data)):
        return _xlsx_head(data, limit)
    table = read_table(data, file_name, encoding)
    return Head(table.headers, table.rows[:limit], table.encoding, len(table.rows), True)


def read_table(data: bytes, file_name: str, encoding: str | None = None) -> Table:
    if not data.strip():
        raise FileError("empty")
    if data.startswith(OLD_EXCEL_MAGIC):
        raise FileError("old_excel")
    if is_workbook(data, file_name):
        return _read_xlsx(data)
    text, used = decode(data, encoding)
    rows = read_csv(text)
    return _table([(index + 1, row) for index, row in enumerate(rows)], used, [])


def _headers(cells: Sequence[Any]) -> list[str]:
    headers = [str(h).strip() if h is not None else "" for h in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileError("no_header")
    return headers


def _table(numbered: list[tuple[int, Sequence[Any]]], encoding: str, warnings: list[Problem]) -> Table:
    # The header is the first row with anything in it; blank rows before it are skipped.
    while numbered and all(is_blank(c) for c in numbered[0][1]):
        numbered.pop(0)
    if not numbered:
        raise FileError("empty")
    headers = _headers(numbered[0][1])
    data_rows = [(n, row) for n, row in numbered[1:] if not all(is_blank(c) for c in row)]
    if not data_rows:
        raise FileError("header_only")
    return Table(headers, data_rows, encoding, warnings)


def _read_xlsx(data: bytes) -> Table:
    read_only = len(data) > MERGED_CELLS_LIMIT
    try:
        book = load_workbook(io.BytesIO(data), read_only=read_only, data_only=True)
    except BAD_XLSX:
        raise FileError("bad_xlsx") from None
    try:
        sheet = book.worksheets[0]
        warnings: list[Problem] = []
        if len(book.worksheets) > 1:
            others = ", ".join(ws.title for ws in book.worksheets[1:])
            warnings.append(Problem(None, None, "other_sheets", {"sheet": sheet.title, "others": others}, "warning"))
        try:
            rows: list[list[Any]] = [list(r) for r in sheet.iter_rows(values_only=True)]
        except BAD_XLSX:
            raise FileError("bad_xlsx") from None
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


# --- the head of a large workbook ---------------------------------------------------------


class _StreamedSheet(ReadOnlyWorksheet):
    """openpyxl's streamed sheet, without its size.

    openpyxl sizes a streamed sheet when it opens it, and when the sheet does not state its
    size (files written by openpyxl itself, among others) it parses the whole sheet to find
    it, which is the full read the head avoids. Rows are read until the caller stops.
    """

    def _get_size(self) -> None:
        return None


def _stated_rows(book: Any, path: str) -> int | None:
    """The last row the sheet's ``<dimension ref="A1:G100001"/>`` states, read from the sheet's first elements."""
    with book._archive.open(path) as source:
        for _event, element in iterparse(source, events=("start",)):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "dimension":
                try:
                    max_row = range_boundaries(element.get("ref", ""))[3]
                except (TypeError, ValueError):
                    return None
                return int(max_row) if max_row else None
            if tag == "sheetData":
                return None
    return None


def _open_first_sheet(data: bytes) -> tuple[Any, Any, int | None]:
    """The workbook (read-only, values only) and its first worksheet, streamed, and the rows it states.

    The steps of openpyxl's own ``load_workbook(read_only=True)``, except that no sheet is sized.
    """
    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
    reader.read_manifest()
    reader.read_strings()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)
    book = reader.wb
    for sheet, rel in reader.parser.find_sheets():
        if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
            return (
                book,
                _StreamedSheet(book, sheet.name, rel.target, reader.shared_strings),
                _stated_rows(book, rel.target),
            )
    raise FileError("bad_xlsx")


def _xlsx_head(data: bytes, limit: int) -> Head:
    try:
        book, sheet, stated = _open_first_sheet(data)
    except FileError:
        raise
    except (*BAD_XLSX, AttributeError):
        raise FileError("bad_xlsx") from None
    try:
        header: tuple[int, Sequence[Any]] | None = None
        rows: list[tuple[int, Sequence[Any]]] = []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            if all(is_blank(c) for c in cells):
                continue
            if header is None:
                header = (number, cells)
                continue
            rows.append((number, [_cell(v) for v in cells]))
            if len(rows) >= limit:
                break
    except BAD_XLSX:
        raise FileError("bad_xlsx") from None
    finally:
        book._archive.close()
    if header is None:
        raise FileError("empty")
    headers = _headers(header[1])
    if not rows:
        raise FileError("header_only")
    if len(rows) < limit:  # the whole sheet has been read: its rows are known
        return Head(headers, rows, "xlsx", len(rows), True)
    estimate = max(stated - header[0], len(rows)) if stated else None
    return Head(headers, rows, "xlsx", estimate, False)
