"""Files of any list for spreadsheets: CSV streamed in chunks, XLSX written row by row.

Callers give headings and an iterator of rows whose text cells went through
``patron.domain.spreadsheet.safe_cell``; ``export_response`` adds the download headers.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

from patron.domain.spreadsheet import safe_cell

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Line:
    """A file-like that hands back what csv.writer wrote, for streaming."""

    def write(self, text: str) -> str:
        return text


def csv_chunks(headings: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark, so Excel in China opens the Chinese text correctly."""
    writer = csv.writer(_Line())
    yield ("\ufeff" + writer.writerow(headings)).encode()
    for row in rows:
        yield writer.writerow(["" if v is None else v for v in row]).encode()


def xlsx_file(headings: list[str], rows: Iterator[list[Any]], title: str = "Patron") -> io.BufferedRandom:
    """A workbook written row by row (openpyxl's write-only mode) into a temporary file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    out = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    book.save(out)
    out.seek(0)
    return out  # type: ignore[return-value]


def rows_of(records: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> Iterator[list[Any]]:
    for record in records:
        yield [safe_cell(value(record)) for _heading, value in columns]


def export_response(
    kind: str, name: str, headings: list[str], rows: Iterator[list[Any]]
) -> FileResponse | StreamingHttpResponse:
    """The download: ``name-YYYYmmdd-HHMM.csv`` or ``.xlsx``."""
    filename = f"{name}-{timezone.localtime():%Y%m%d-%H%M}.{kind}"
    if kind == "xlsx":
        return FileResponse(
            xlsx_file(headings, rows, name), as_attachment=True, filename=filename, content_type=XLSX_TYPE
        )
    response = StreamingHttpResponse(csv_chunks(headings, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
