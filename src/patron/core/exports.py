"""Files of any list for spreadsheets: CSV streamed in chunks, XLSX written row by row.

A list describes what it exports as an ``ExportSource``: its headings, its records in
order, and how one record becomes cells (text cells through
``patron.domain.spreadsheet.safe_cell``, so a spreadsheet never runs them as formulas).
``export_response`` turns rows into a download at once; ``write_export`` writes them to a
file and reports how many rows are written (what a background export shows as progress).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

from patron.domain.spreadsheet import safe_cell

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
CHUNK = 2000


@dataclass
class ExportSource:
    """What a list exports: ``cells`` turns one of ``records`` (ordered) into a row under ``headings``."""

    name: str
    headings: list[str]
    records: QuerySet[Any]
    cells: Callable[[Any], list[Any]]

    def rows(self) -> Iterator[list[Any]]:
        for record in self.records.iterator(chunk_size=CHUNK):
            yield self.cells(record)

    def count(self) -> int:
        return self.records.order_by().count()

    def more_than(self, limit: int) -> bool:
        """Whether the list has more than ``limit`` rows, counting no further than ``limit + 1``."""
        return self.records.order_by()[: limit + 1].count() > limit


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


def _write_xlsx(headings: list[str], rows: Iterator[list[Any]], out: IO[bytes], title: str) -> None:
    """A workbook written row by row (openpyxl's write-only mode): one row in memory at a time."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    book.save(out)


def xlsx_file(headings: list[str], rows: Iterator[list[Any]], title: str = "Patron") -> io.BufferedRandom:
    """The workbook in a temporary file, ready to be read from the start."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    _write_xlsx(headings, rows, out, title)
    out.seek(0)
    return out  # type: ignore[return-value]


def rows_of(records: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> Iterator[list[Any]]:
    for record in records:
        yield cells_of(record, columns)


def cells_of(record: Any, columns: list[tuple[str, Callable[[Any], Any]]]) -> list[Any]:
    return [safe_cell(value(record)) for _heading, value in columns]


def export_filename(name: str, kind: str, when: Any = None) -> str:
    """``name-YYYYmmdd-HHMM.csv`` or ``.xlsx``, in local time."""
    return f"{name}-{timezone.localtime(when):%Y%m%d-%H%M}.{kind}"


def export_response(
    kind: str, name: str, headings: list[str], rows: Iterator[list[Any]]
) -> FileResponse | StreamingHttpResponse:
    """The download: ``name-YYYYmmdd-HHMM.csv`` or ``.xlsx``."""
    filename = export_filename(name, kind)
    if kind == "xlsx":
        return FileResponse(
            xlsx_file(headings, rows, name), as_attachment=True, filename=filename, content_type=XLSX_TYPE
        )
    response = StreamingHttpResponse(csv_chunks(headings, rows), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _counted(rows: Iterator[list[Any]], progress: Callable[[int], None], every: int) -> Iterator[list[Any]]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % every == 0:
            progress(done)
    progress(done)


def write_export(
    kind: str,
    name: str,
    headings: list[str],
    rows: Iterator[list[Any]],
    out: IO[bytes],
    progress: Callable[[int], None] | None = None,
    every: int = CHUNK,
) -> None:
    """Write the file to ``out``; ``progress(rows written)`` every ``every`` rows and once at the end.

    The last call comes when every row is read: a workbook is then still being packed.
    """
    if progress is not None:
        rows = _counted(rows, progress, every)
    if kind == "xlsx":
        _write_xlsx(headings, rows, out, name)
    else:
        for chunk in csv_chunks(headings, rows):
            out.write(chunk)
