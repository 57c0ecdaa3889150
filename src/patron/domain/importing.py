"""Reading the spreadsheets users bring: bytes to rows, headers to fields, cells to values.

Pure: no Django, no files, no clock. Everything that can go wrong with a cell is a
``CellError`` whose ``code`` the edge words in the reader's language, so a dry run can
report each problem by row and column before anything is written.

Defined behaviour for the files people actually have:

* text in UTF-8 with or without a byte order mark, UTF-16 with a mark, or GB18030 (what
  Excel in China saves as "CSV"); anything else is refused as an unknown encoding rather
  than imported as mojibake;
* line endings \\r\\n, \\n and \\r, mixed in one file; a comma, semicolon or tab delimiter;
* numbers typed with full-width digits (１２３), thousands separators (1,234 and 1，234),
  a currency sign (¥, ￥, $) or surrounding spaces; a trailing % only where a percent is
  asked for;
* dates as 2026-11-25, 2026/11/25, 2026.11.25, 2026年11月25日, 20261125, or an Excel
  serial day number (45986), in the 1900 date system Excel uses;
* a text cell that Patron's own export escaped (``'=cmd``) comes back as it was.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.domain.spreadsheet import FORMULA_STARTS

# Excel's day 0 is 1899-12-30 once its fictitious 1900-02-29 is accounted for.
EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers between these are dates from 1954 to 2173: a five-digit number in a date
# column is a serial day, never a year or a compact date.
EXCEL_SERIAL_MIN, EXCEL_SERIAL_MAX = 20000, 99999
TRUE_WORDS = frozenset({"1", "y", "yes", "true", "t", "x", "✓", "√", "是", "对", "有"})
FALSE_WORDS = frozenset({"0", "n", "no", "false", "f", "否", "不", "无", "不是"})
CURRENCY_SIGNS = ("¥", "$", "€", "£", "RMB", "CNY", "USD", "元")
DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# A thousands separator sits between digits and is followed by exactly three of them.
THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


class CellError(ValueError):
    """``code`` names the problem; ``params`` fill in its words."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class FileError(ValueError):
    """The file as a whole cannot be read; nothing in it was looked at row by row."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


# --- bytes to text ----------------------------------------------------------------------

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "utf-16", "big5", "shift_jis", "latin-1")


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding it was read with.

    Without a byte order mark, strict UTF-8 is tried first (a GB18030 file almost never
    decodes as UTF-8 by accident), then GB18030. A file that is neither is refused: the
    user can name its encoding.
    """
    if not data.strip():
        raise FileError("empty")
    if encoding:
        if encoding not in ENCODINGS:
            raise FileError("unknown_encoding", encoding=encoding)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise FileError("not_in_encoding", encoding=encoding, position=exc.start) from None
        return _check_text(text.removeprefix("\ufeff")), encoding
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(name).removeprefix("\ufeff")), name
            except UnicodeDecodeError as exc:
                raise FileError("not_in_encoding", encoding=name, position=exc.start) from None
    if b"\x00" in data[:4096]:
        raise FileError("binary")
    for name in ("utf-8", "gb18030"):
        try:
            return _check_text(data.decode(name)), name
        except UnicodeDecodeError:
            continue
    raise FileError("unknown_encoding", encoding="")


def _check_text(text: str) -> str:
    sample = text[:4096]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t")
    if "\x00" in sample or controls > len(sample) // 100 + 1:
        raise FileError("binary")
    return text


def read_csv(text: str) -> list[list[str]]:
    """Rows of cells; the delimiter is whichever of , ; and tab splits the header most."""
    first = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as exc:  # a NUL byte or an unclosed quote at the very end
        raise FileError("bad_csv", detail=str(exc)) from None


# --- headers to fields ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A field an import understands; ``names`` are the headers that mean it, in both languages."""

    key: str
    kind: str = "text"  # text, decimal, integer, date, bool, list
    required: bool = False
    names: tuple[str, ...] = ()


def header_key(text: Any) -> str:
    """A header as compared: full-width folded, case and spaces and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", str(text or "")).casefold()
    folded = re.sub(r"[（(].*?[)）]", "", folded)  # "金额(元)" means "金额"
    return re.sub(r"[\s_\-.:：/*]+", "", folded)


def auto_mapping(headers: Sequence[Any], columns: Sequence[Column]) -> dict[int, str]:
    """Column index to field key, for the headers that name a field; each field is mapped once."""
    lookup: dict[str, str] = {}
    for column in columns:
        for name in (column.key, *column.names):
            lookup.setdefault(header_key(name), column.key)
    mapping: dict[int, str] = {}
    for index, header in enumerate(headers):
        key = lookup.get(header_key(header))
        if key is not None and key not in mapping.values():
            mapping[index] = key
    return mapping


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- cells to values --------------------------------------------------------------------


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_text(raw: Any) -> str:
    """Text as typed, trimmed; an apostrophe Patron's export put before a formula sign goes."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a code typed as 1001 that Excel stored as 1001.0
    text = str(raw).strip()
    # Apostrophes before a formula sign are text the user typed, and Patron's export adds one more.
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


def parse_decimal(raw: Any, *, percent: bool = False) -> Decimal:
    """A number as people type it; a float from Excel is taken by its shortest repr."""
    if isinstance(raw, bool):
        raise CellError("not_a_number", value=str(raw))
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise CellError("not_a_number", value=str(raw))
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        return raw
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
    original = text
    for sign in CURRENCY_SIGNS:
        text = text.replace(sign, "")
    if percent and text.endswith("%"):
        text = text[:-1]
    negative = text.startswith("(") and text.endswith(")")  # accountants' negative
    if negative:
        text = text[1:-1]
    if "," in text:
        if not re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", text):
            raise CellError("bad_separators", value=original)
        text = THOUSANDS_RE.sub("", text)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise CellError("not_a_number", value=original)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError("not_a_number", value=original) from None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise CellError("too_large", value=original)
    return -value if negative else value


def parse_integer(raw: Any) -> int:
    value = parse_decimal(raw)
    if value != value.to_integral_value():
        raise CellError("not_whole", value=parse_text(raw))
    return int(value)


def excel_serial_date(serial: Decimal | float | int) -> dt.date:
    """Excel's 1900 date system (serial 60 is the non-existent 1900-02-29)."""
    day = int(serial)
    if day < 1 or day > 2958465:
        raise CellError("bad_date", value=str(serial))
    if day < 60:
        return dt.date(1899, 12, 31) + dt.timedelta(days=day)
    return EXCEL_EPOCH + dt.timedelta(days=day)


def parse_date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        if EXCEL_SERIAL_MIN <= raw <= EXCEL_SERIAL_MAX:
            return excel_serial_date(raw)
        raise CellError("bad_date", value=str(raw))
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    # A date with a time of day ("2026-11-25 14:30:00"): the day is what is asked for.
    text = re.split(r"[ T](?=\d{1,2}:\d{2})", text, maxsplit=1)[0]
    match = DATE_RE.match(text) or COMPACT_DATE_RE.match(text)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise CellError("bad_date", value=str(raw)) from None
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        number = Decimal(text)
        if EXCEL_SERIAL_MIN <= number <= EXCEL_SERIAL_MAX:
            return excel_serial_date(number)
    raise CellError("bad_date", value=str(raw))


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = unicodedata.normalize("NFKC", parse_text(raw)).casefold()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS or text == "":
        return False
    raise CellError("not_yes_no", value=parse_text(raw))


def parse_list(raw: Any) -> list[str]:
    """Tags and the like: separated by commas, semicolons or the Chinese 、，；."""
    text = unicodedata.normalize("NFKC", parse_text(raw))
    return [part.strip() for part in re.split(r"[,;、|]", text) if part.strip()]


PARSERS: dict[str, Callable[[Any], Any]] = {
    "text": parse_text,
    "decimal": parse_decimal,
    "integer": parse_integer,
    "date": parse_date,
    "bool": parse_bool,
    "list": parse_list,
}


# --- rows -------------------------------------------------------------------------------


@dataclass(slots=True)
class Problem:
    """One finding of a dry run, at a row (1-based, as the spreadsheet numbers it) and field."""

    row: int | None
    field: str | None
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    level: str = "error"  # or "warning": reported, does not stop the import


@dataclass(slots=True)
class SourceRow:
    """A data row: its number in the file and its raw cells by field key."""

    number: int
    raw: dict[str, Any]


def rows_of(cells: Iterable[tuple[int, Sequence[Any]]], mapping: Mapping[int, str]) -> Iterable[SourceRow]:
    """Mapped data rows; rows with nothing in any mapped column are skipped, not reported."""
    for number, row in cells:
        raw = {key: (row[index] if index < len(row) else None) for index, key in mapping.items()}
        if all(is_blank(value) for value in raw.values()):
            continue
        yield SourceRow(number, raw)


def parse_row(row: SourceRow, columns: Mapping[str, Column], problems: list[Problem]) -> dict[str, Any]:
    """The row's values by field; a cell that cannot be read is a problem and left out.

    Blank cells are left out too, so an update never clears a field the file did not fill.
    """
    values: dict[str, Any] = {}
    for key, raw in row.raw.items():
        column = columns[key]
        if is_blank(raw):
            if column.required:
                problems.append(Problem(row.number, key, "required"))
            continue
        try:
            values[key] = PARSERS[column.kind](raw)
        except CellError as exc:
            problems.append(Problem(row.number, key, exc.code, exc.params))
    return values


def missing_required(mapping: Mapping[int, str], columns: Sequence[Column]) -> list[str]:
    mapped = set(mapping.values())
    return [c.key for c in columns if c.required and c.key not in mapped]
