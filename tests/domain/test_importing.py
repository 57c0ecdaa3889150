"""The pure reading of users' files: encodings, delimiters, numbers, dates, headers."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.importing import (
    CellError,
    Column,
    FileError,
    Problem,
    SourceRow,
    auto_mapping,
    column_letter,
    decode,
    excel_serial_date,
    header_key,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_list,
    parse_row,
    parse_text,
    read_csv,
    rows_of,
)
from patron.domain.spreadsheet import safe_cell

TEXT = "客户编号,客户名称\nC-1,深圳华强电子有限公司\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode(), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.encode("utf-16"), "utf-16"),
    ],
)
def test_decode_finds_the_encoding(data: bytes, encoding: str) -> None:
    assert decode(data) == (TEXT, encoding)


def test_decode_refuses_what_it_cannot_read() -> None:
    with pytest.raises(FileError) as exc:
        decode(b"a,b\n\x80\xff\n")
    assert exc.value.code == "unknown_encoding"
    with pytest.raises(FileError, match="binary"):
        decode(b"PDF\x00\x01\x02")
    with pytest.raises(FileError, match="empty"):
        decode(b" \n\r\n")
    with pytest.raises(FileError, match="not_in_encoding"):
        decode("中文".encode("gb18030"), "utf-8")
    assert decode("中文".encode("big5"), "big5")[0] == "中文"


def test_read_csv_mixed_line_endings_and_delimiters() -> None:
    assert read_csv("a,b\r\n1,2\n3,4\r5,6") == [["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"]]
    assert read_csv("a;b\n1;2,5\n") == [["a", "b"], ["1", "2,5"]]
    assert read_csv("a\tb\n1\t2\n") == [["a", "b"], ["1", "2"]]
    assert read_csv('a,b\n"line\none",2\n') == [["a", "b"], ["line\none", "2"]]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1,234.50", "1234.50"),
        ("１２，３４５．６７", "12345.67"),
        ("¥1,000", "1000"),
        ("￥ 99", "99"),
        (" 42 ", "42"),
        ("(15.00)", "-15.00"),
        ("-3", "-3"),
        ("1e3", "1E+3"),
        (12, "12"),
        (0.1, "0.1"),
        (Decimal("2.50"), "2.50"),
    ],
)
def test_parse_decimal_reads_numbers_as_typed(raw: object, value: str) -> None:
    assert parse_decimal(raw) == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("abc", "not_a_number"),
        ("1,00", "bad_separators"),
        ("12,34,567", "bad_separators"),
        ("1e20", "too_large"),
        (float("nan"), "not_a_number"),
        (True, "not_a_number"),
        ("", "not_a_number"),
    ],
)
def test_parse_decimal_refuses(raw: object, code: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_decimal(raw)
    assert exc.value.code == code


def test_percent_only_where_asked() -> None:
    assert parse_decimal("8%", percent=True) == Decimal(8)
    with pytest.raises(CellError):
        parse_decimal("8%")


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2026-11-25", dt.date(2026, 11, 25)),
        ("2026/1/5", dt.date(2026, 1, 5)),
        ("2026.01.05", dt.date(2026, 1, 5)),
        ("2026年1月5日", dt.date(2026, 1, 5)),
        ("２０２６－１１－２５", dt.date(2026, 11, 25)),
        ("20261125", dt.date(2026, 11, 25)),
        ("2026-11-25 14:30:00", dt.date(2026, 11, 25)),
        ("45986", dt.date(2025, 11, 25)),
        (45986, dt.date(2025, 11, 25)),
        (45986.5, dt.date(2025, 11, 25)),
        (dt.datetime(2026, 1, 2, 3, 4), dt.date(2026, 1, 2)),
    ],
)
def test_parse_date(raw: object, day: dt.date) -> None:
    assert parse_date(raw) == day


@pytest.mark.parametrize("raw", ["2026-02-30", "tomorrow", "11/25/2026", 2026, "123", "99999999"])
def test_parse_date_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_date(raw)


def test_excel_serial_days_follow_excel() -> None:
    assert excel_serial_date(1) == dt.date(1900, 1, 1)
    assert excel_serial_date(59) == dt.date(1900, 2, 28)
    assert excel_serial_date(61) == dt.date(1900, 3, 1)  # 60 is Excel's fictitious 1900-02-29
    assert excel_serial_date(44927) == dt.date(2023, 1, 1)


def test_bool_list_and_text() -> None:
    assert [parse_bool(v) for v in ("是", "Yes", "√", "否", "")] == [True, True, True, False, False]
    with pytest.raises(CellError):
        parse_bool("maybe")
    assert parse_list("经销商、华南;重点, VIP") == ["经销商", "华南", "重点", "VIP"]
    assert parse_text(1001.0) == "1001"
    assert parse_text("'=SUM(A1)") == "=SUM(A1)"
    assert parse_text("'plain") == "'plain"
    assert parse_text(safe_cell("'=typed")) == "'=typed"  # an apostrophe the user typed stays


@given(st.text(max_size=40))
def test_text_round_trips_through_the_export_escape(value: str) -> None:
    stripped = value.strip()
    assert parse_text(safe_cell(stripped)) == stripped or stripped.startswith(("\t", "\r"))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12))
def test_formatted_numbers_read_back_exactly(value: Decimal) -> None:
    assert parse_decimal(f"{value:,}") == value
    full_width = unicodedata.normalize("NFKC", f"{value:,}").translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert parse_decimal(full_width) == value


@given(st.dates(min_value=dt.date(1955, 1, 1), max_value=dt.date(2173, 1, 1)))
def test_every_date_form_reads_back(day: dt.date) -> None:
    serial = (day - dt.date(1899, 12, 30)).days
    forms = [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日", serial]
    assert {parse_date(form) for form in forms} == {day}


def test_headers_map_in_either_language_and_once() -> None:
    columns = [Column("code", names=("客户编号",)), Column("name", names=("客户名称", "account name"))]
    assert header_key(" Account_Name ") == header_key("account name")
    assert header_key("金额（元）") == header_key("金额")
    assert auto_mapping(["客户编号", "Account Name", "客户名称", "x"], columns) == {0: "code", 1: "name"}


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_rows_skip_blank_lines_and_parse_reports_by_field() -> None:
    rows = list(rows_of([(2, ["C-1", "x"]), (3, ["", " "]), (4, ["C-2"])], {0: "code", 1: "credit"}))
    assert [r.number for r in rows] == [2, 4]
    assert rows[1].raw == {"code": "C-2", "credit": None}
    problems: list[Problem] = []
    columns = {"code": Column("code", required=True), "credit": Column("credit", "decimal")}
    assert parse_row(SourceRow(5, {"code": "", "credit": "x"}), columns, problems) == {}
    assert [(p.row, p.field, p.code) for p in problems] == [(5, "code", "required"), (5, "credit", "not_a_number")]
