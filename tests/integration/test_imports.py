"""Imports end to end through the services: dry run, run, re-import, undo, and the bad files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from openpyxl import Workbook

from patron.accounts.models import Account, Activity, Contact
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.imports.files import HEAD_ONLY_OVER
from patron.imports.models import ImportJob
from patron.imports.preview import preview_rows
from patron.imports.services import (
    job_create,
    job_execute,
    job_perform,
    job_set_mapping,
    job_start,
    job_undo,
    progress,
    rows_exact,
)
from patron.sales.models import Invoice, Order, OrderLine, Payment, Product
from tests.factories import make_account, make_invoice, make_order, make_product, make_region_tree

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(staff: Any) -> None:
    """Reports are worded in the importer's language; these tests read them in English."""
    for user in vars(staff).values():
        user.language = "en"
        user.save(update_fields=["language"])


ACCOUNTS_CSV = (
    "客户编号,客户名称,电话,税号,信用额度,账期,标签\n"
    'C-001,深圳华强电子有限公司,0755-88886666,91440300MA5F000001,"50,000.00",30,经销商、华南\n'
    "C-002,广州白云商贸有限公司,020-66668888,,１２，０００,45,\n"
)


def upload(actor: Any, kind: str, text: str | bytes, name: str = "file.csv", encoding: str = "utf-8") -> ImportJob:
    data = text if isinstance(text, bytes) else text.encode(encoding)
    return job_create(actor=actor, kind=kind, file_name=name, data=data)


def check(actor: Any, job: ImportJob) -> ImportJob:
    return job_execute(actor=actor, job=job, dry_run=True)


def run(actor: Any, job: ImportJob) -> ImportJob:
    return job_execute(actor=actor, job=job, dry_run=False)


def errors_of(job: ImportJob) -> list[tuple[int | None, str | None, str]]:
    return [(p["row"], p["field"], p["message"]) for p in job.report if p["level"] == "error"]


def test_accounts_import_maps_chinese_headers_and_reads_numbers_as_typed(staff: Any) -> None:
    job = upload(staff.manager, "accounts", ACCOUNTS_CSV)
    assert set(job.mapping.values()) == {
        "code",
        "name",
        "phone",
        "tax_id",
        "credit_limit",
        "payment_terms_days",
        "tags",
    }
    job = check(staff.manager, job)
    assert job.status == ImportJob.CHECKED
    assert job.error_count == 0, job.report
    assert not Account.objects.exists(), "a dry run writes nothing"
    job = run(staff.manager, job)
    assert job.status == ImportJob.DONE
    assert job.created == 2
    first = Account.objects.get(code="C-001")
    assert first.credit_limit == Decimal("50000.00")
    assert sorted(first.tags.values_list("name", flat=True)) == ["华南", "经销商"]
    assert Account.objects.get(code="C-002").credit_limit == Decimal("12000.00")  # full-width digits and comma
    assert first.owner == staff.manager
    assert AuditEvent.objects.filter(action="ACCOUNT_CREATED").count() == 2


def test_gb18030_and_bom_files_read_the_same(staff: Any) -> None:
    gb = upload(staff.manager, "accounts", ACCOUNTS_CSV.encode("gb18030"))
    bom = upload(staff.manager, "accounts", ACCOUNTS_CSV.encode("utf-8-sig"))
    assert gb.encoding == "gb18030"
    assert bom.encoding == "utf-8-sig"
    assert gb.headers == bom.headers == ["客户编号", "客户名称", "电话", "税号", "信用额度", "账期", "标签"]
    run(staff.manager, gb)
    assert Account.objects.get(code="C-001").name == "深圳华强电子有限公司"


def test_reimport_updates_and_never_duplicates(staff: Any) -> None:
    run(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    again = run(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = ACCOUNTS_CSV.replace("30,经销商", "60,经销商")
    job = run(staff.manager, upload(staff.manager, "accounts", changed))
    assert (job.created, job.updated, job.unchanged) == (0, 1, 1)
    assert Account.objects.count() == 2
    assert Account.objects.get(code="C-001").payment_terms_days == 60


def test_reimport_matches_by_tax_id_when_the_code_is_new(staff: Any) -> None:
    run(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    text = "客户编号,客户名称,税号,地址\nX-9,深圳华强,91440300MA5F000001,深圳市福田区\n"
    job = run(staff.manager, upload(staff.manager, "accounts", text))
    assert job.updated == 1
    assert job.created == 0
    assert Account.objects.get(code="C-001").address == "深圳市福田区"
    assert any("C-001" in p["message"] for p in job.report if p["level"] == "warning")


def test_dry_run_reports_every_problem_by_row_and_column(staff: Any) -> None:
    text = '客户编号,客户名称,信用额度,生日,电话\nC-1,甲,abc,,\nC-1,乙,100,,\nC 2,丙,100,,12\n,,,,\nC-3,丁,"1,00",,\n'
    job = check(staff.manager, upload(staff.manager, "accounts", text))
    found = {(row, field) for row, field, _m in errors_of(job)}
    assert (2, "credit_limit") in found  # not a number
    assert (3, "code") in found  # also on row 2
    assert (4, "code") in found  # spaces
    assert (4, "phone") in found
    assert (6, "credit_limit") in found  # misplaced separator
    assert all(p["column"] for p in job.report if p["field"] in ("credit_limit", "code"))
    assert next(p for p in job.report if p["row"] == 2)["column"] == "C (信用额度)"
    assert (job.created, job.updated) == (0, 0)  # rows with errors are not counted as would-be writes
    assert not Account.objects.exists()


def test_a_failure_on_the_last_row_writes_nothing(staff: Any) -> None:
    rows = "".join(f"A-{i:03},客户{i}\n" for i in range(50))
    job = run(staff.manager, upload(staff.manager, "accounts", "code,name\n" + rows + "bad code,最后一行\n"))
    assert job.status == ImportJob.CHECKED
    assert job.error_count == 1
    assert errors_of(job)[0][:2] == (52, "code")
    assert not Account.objects.exists()
    assert not AuditEvent.objects.filter(action="ACCOUNT_CREATED").exists()


def test_a_crash_mid_import_leaves_the_database_as_it_was(staff: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.imports import kinds

    calls = {"n": 0}
    real = kinds.account_create

    def flaky(**kwargs: Any) -> Account:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(kinds, "account_create", flaky)
    job = upload(staff.manager, "accounts", ACCOUNTS_CSV)
    with pytest.raises(RuntimeError):
        run(staff.manager, job)
    assert not Account.objects.exists()
    job.refresh_from_db()
    assert job.status == ImportJob.FAILED
    assert "Nothing was written" in job.message


def test_undo_removes_what_the_import_created_and_restores_what_it_changed(staff: Any) -> None:
    before = make_account(staff.manager, code="C-001", name="旧名字", payment_terms_days=10)
    job = run(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    assert (job.created, job.updated) == (1, 1)
    assert Account.objects.get(pk=before.pk).name == "深圳华强电子有限公司"
    job = job_undo(actor=staff.manager, job=job)
    assert job.status == ImportJob.UNDONE
    restored = Account.objects.get(pk=before.pk)
    assert (restored.name, restored.payment_terms_days) == ("旧名字", 10)
    assert not restored.tags.exists()
    assert not Account.objects.filter(code="C-002").exists()
    assert AuditEvent.objects.filter(action="IMPORT_UNDONE").count() == 1
    assert job_undo(actor=staff.manager, job=job).status == ImportJob.UNDONE  # twice is a no-op


def test_undo_refuses_when_later_records_depend_on_the_import(staff: Any) -> None:
    job = run(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    make_order(staff.manager, Account.objects.get(code="C-002"))
    with pytest.raises(Conflict, match="C-002"):
        job_undo(actor=staff.manager, job=job)
    assert Account.objects.filter(code__in=["C-001", "C-002"]).count() == 2
    job.refresh_from_db()
    assert job.status == ImportJob.DONE


def test_only_the_importer_or_an_admin_sees_and_undoes_an_import(staff: Any) -> None:
    job = run(staff.sales, upload(staff.sales, "accounts", ACCOUNTS_CSV))
    with pytest.raises(PermissionDenied):
        job_undo(actor=staff.sales2, job=job)
    assert job_undo(actor=staff.admin, job=job).status == ImportJob.UNDONE


def test_a_salesperson_cannot_change_others_accounts_by_import(staff: Any) -> None:
    make_account(staff.sales2, code="C-001", name="别人的客户")
    job = run(staff.sales, upload(staff.sales, "accounts", ACCOUNTS_CSV))
    assert job.status == ImportJob.CHECKED
    assert errors_of(job) == [(2, None, "You may not make this change.")]
    assert Account.objects.get(code="C-001").name == "别人的客户"


def test_finance_may_not_import_accounts(staff: Any) -> None:
    with pytest.raises(PermissionDenied):
        upload(staff.finance, "accounts", ACCOUNTS_CSV)


# --- orders -------------------------------------------------------------------------


@pytest.fixture
def catalogue(staff: Any) -> dict[str, Any]:
    account = make_account(staff.sales, code="C-001", name="华强")
    return {
        "account": account,
        "pen": make_product("PEN", price="10.00"),
        "ink": make_product("INK", price="2.50"),
    }


ORDERS_CSV = (
    "订单号,客户编号,订单日期,产品编号,数量,单价,金额\n"
    "SO-1,C-001,2026/11/01,PEN,3,9.50,28.50\n"
    "SO-1,C-001,2026/11/01,INK,10,,25.00\n"
    "SO-2,C-001,45962,PEN,1,10,10\n"
)


def test_orders_import_groups_lines_and_checks_totals(staff: Any, catalogue: dict[str, Any]) -> None:
    job = run(staff.sales, upload(staff.sales, "orders", ORDERS_CSV))
    assert job.status == ImportJob.DONE, job.report
    assert job.created == 2
    first = Order.objects.get(number="SO-1")
    assert first.status == Order.CONFIRMED
    assert first.net_total == Decimal("53.50")
    assert first.list_total == Decimal("55.00")
    assert first.lines.count() == 2
    assert Order.objects.get(number="SO-2").order_date == dt.date(2025, 11, 1)  # an Excel serial day
    account = Account.objects.get(code="C-001")
    assert account.last_order_date == dt.date(2026, 11, 1)
    assert Activity.objects.filter(account=account, event="order_confirmed").count() == 2
    again = run(staff.sales, upload(staff.sales, "orders", ORDERS_CSV))
    assert (again.created, again.unchanged) == (0, 2)
    assert Order.objects.count() == 2
    assert OrderLine.objects.count() == 3


def test_orders_dry_run_names_each_bad_cell(staff: Any, catalogue: dict[str, Any]) -> None:
    text = (
        "订单号,客户编号,订单日期,产品编号,数量,单价,金额,币种\n"
        "SO-1,C-404,2026-11-01,PEN,1,10,10,CNY\n"
        "SO-2,C-001,2026-11-01,PEN,0,10,0,CNY\n"
        "SO-3,C-001,2026-11-01,PEN,-2,10,-20,CNY\n"
        "SO-4,C-001,not a date,PEN,1,10,10,CNY\n"
        "SO-5,C-001,2026-11-01,PEN,2,10,25,CNY\n"
        "SO-6,C-001,2026-11-01,PEN,1,10,10,XYZ\n"
        "SO-7,C-001,2026-11-01,NOPE,1,10,10,CNY\n"
        "SO-8,C-001,2026-11-01,PEN,1,ten,10,CNY\n"
        f"{'SO-' + '9' * 40},C-001,2026-11-01,PEN,1,10,10,CNY\n"
        "new,C-001,2026-11-01,PEN,1,10,10,CNY\n"
    )
    job = check(staff.sales, upload(staff.sales, "orders", text))
    found = {(row, field) for row, field, _m in errors_of(job)}
    assert found == {
        (2, "account"),
        (3, "quantity"),
        (4, "quantity"),
        (5, "order_date"),
        (6, "line_total"),
        (7, "currency"),
        (8, "sku"),
        (9, "net_unit_price"),
        (10, "number"),
        (11, "number"),
    }, errors_of(job)
    assert "25" in next(m for r, f, m in errors_of(job) if f == "line_total")
    assert not Order.objects.exists()


def test_orders_of_someone_elses_account_are_refused(staff: Any, catalogue: dict[str, Any]) -> None:
    job = check(staff.sales2, upload(staff.sales2, "orders", ORDERS_CSV))
    assert {(r, f) for r, f, _m in errors_of(job)} == {(2, "account"), (4, "account")}


def test_order_undo_takes_the_orders_and_their_timeline_back(staff: Any, catalogue: dict[str, Any]) -> None:
    job = run(staff.sales, upload(staff.sales, "orders", ORDERS_CSV))
    job_undo(actor=staff.sales, job=job)
    assert not Order.objects.exists()
    assert not Activity.objects.filter(event="order_confirmed").exists()
    assert Account.objects.get(code="C-001").last_order_date is None


# --- payments, contacts, products ---------------------------------------------------


def test_payments_import_applies_to_invoices_and_undo_reopens_them(staff: Any, catalogue: dict[str, Any]) -> None:
    order = make_order(staff.sales, catalogue["account"], [(catalogue["pen"], "10")])
    invoice = make_invoice(staff.finance, order)
    text = f'收款单号,客户编号,金额,收款日期,发票号\nPAY-1,C-001,"{invoice.amount:,}",2026-11-20,{invoice.number}\n'
    job = run(staff.finance, upload(staff.finance, "payments", text))
    assert job.status == ImportJob.DONE, job.report
    invoice.refresh_from_db()
    assert invoice.status == Invoice.PAID
    again = run(staff.finance, upload(staff.finance, "payments", text))
    assert again.unchanged == 1
    assert Payment.objects.count() == 1
    job_undo(actor=staff.finance, job=job)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == (Invoice.OPEN, Decimal("0"))
    assert not Payment.objects.exists()


def test_contacts_import_adds_and_updates_people_of_an_account(staff: Any, catalogue: dict[str, Any]) -> None:
    text = "客户编号,联系人,角色,邮箱\nC-001,王总,决策人,wang@example.com\nC-001,李工,User,li@example.com\n"
    job = run(staff.sales, upload(staff.sales, "contacts", text))
    assert job.created == 2, job.report
    assert Contact.objects.get(email="wang@example.com").role == "decider"
    job2 = run(staff.sales, upload(staff.sales, "contacts", text.replace("User", "Buyer")))
    assert (job2.created, job2.updated, job2.unchanged) == (0, 1, 1)


def test_products_import_creates_and_reprices(staff: Any) -> None:
    text = 'SKU,产品名称,标价,成本\nP-1,笔,"1,200.50",800\n'
    run(staff.manager, upload(staff.manager, "products", text))
    assert Product.objects.get(sku="P-1").list_price == Decimal("1200.5")
    job = run(staff.manager, upload(staff.manager, "products", text.replace("800", "850")))
    assert job.updated == 1
    job_undo(actor=staff.manager, job=job)
    assert Product.objects.get(sku="P-1").unit_cost == Decimal("800")


# --- mapping ------------------------------------------------------------------------


def test_mapping_is_checked(staff: Any) -> None:
    job = upload(staff.manager, "orders", "a,b,c\n1,2,3\n")
    assert job.mapping == {}
    with pytest.raises(ValidationError) as exc:
        job_set_mapping(actor=staff.manager, job=job, mapping={"0": "number", "1": "number", "2": "nope"})
    assert set(exc.value.message_dict) == {"mapping", "mapping.1", "mapping.2"}
    accounts = upload(staff.manager, "accounts", ACCOUNTS_CSV)
    with pytest.raises(ValidationError, match="at least one column"):
        job_set_mapping(actor=staff.manager, job=accounts, mapping={})
    with pytest.raises(ValidationError, match="No column is mapped"):
        check(staff.manager, job)  # an unmapped file is not checked
    products = upload(staff.manager, "products", "货号,名,价\nP-1,笔,1\n")
    assert products.mapping == {"0": "sku"}
    products = job_set_mapping(actor=staff.manager, job=products, mapping={"0": "sku", "1": "name", "2": "list_price"})
    assert run(staff.manager, products).created == 1


def test_progress_is_complete_after_a_check(staff: Any) -> None:
    job = check(staff.manager, upload(staff.manager, "accounts", ACCOUNTS_CSV))
    assert progress(job) == {"done": 2, "total": 2, "percent": 100, "phase": "rows"}


# --- bad files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        ("客户编号,客户名称\n".encode(), "header row but no data"),
        ("客户编号,客户名称\n,\n".encode(), "header row but no data"),
        (b"\x00\x01\x02binary\x00", "not a CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "old Excel"),
        (b"PK\x03\x04broken zip", "cannot be read"),
        ("客户编号,客户名称\nC-1,x".encode() + b"\x80\xff\n", "neither UTF-8 nor GB18030"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(staff: Any, data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        job_create(actor=staff.manager, kind="accounts", file_name="x.csv", data=data)
    assert message in exc.value.message_dict["file"][0]
    assert not ImportJob.objects.exists()


@override_settings(PATRON_IMPORT_MAX_MB=1)
def test_a_file_over_the_size_limit_is_refused(staff: Any) -> None:
    data = ("code,name\n" + "A-1,x\n" * 200_000).encode()
    with pytest.raises(ValidationError, match="larger than the 1 MB"):
        job_create(actor=staff.manager, kind="accounts", file_name="big.csv", data=data)


def test_mixed_line_endings_and_semicolons(staff: Any) -> None:
    data = b"code;name\r\nA-1;one\nA-2;two\rA-3;three\r\n"
    job = run(staff.manager, job_create(actor=staff.manager, kind="accounts", file_name="x.csv", data=data))
    assert job.created == 3
    assert Account.objects.get(code="A-3").name == "three"


def test_formula_looking_cells_are_kept_as_text_and_exported_escaped(staff: Any, client: Any) -> None:
    text = "code,name\nA-1,=cmd|' /C calc'!A0\nA-2,'=HYPERLINK(1)\n"
    run(staff.manager, upload(staff.manager, "accounts", text))
    assert Account.objects.get(code="A-1").name == "=cmd|' /C calc'!A0"
    assert Account.objects.get(code="A-2").name == "=HYPERLINK(1)"  # our own export's escape is taken back
    client.force_login(staff.manager)
    body = b"".join(client.get("/accounts/export/?format=csv").streaming_content).decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in body


def xlsx(rows: list[list[Any]], **options: Any) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in options.get("merge", []):
        sheet.merge_cells(cells)
    for number in options.get("hide_rows", []):
        sheet.row_dimensions[number].hidden = True
    if options.get("second_sheet"):
        book.create_sheet("备注")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_excel_merged_cells_dates_and_hidden_rows(staff: Any, catalogue: dict[str, Any]) -> None:
    data = xlsx(
        [
            ["订单号", "客户编号", "订单日期", "产品编号", "数量", "单价"],
            ["SO-9", "C-001", dt.datetime(2026, 11, 2), "PEN", 1, 10],
            [None, None, None, "INK", 4.0, 2.5],
            ["SO-10", "C-001", 45963, "PEN", 2, "１０"],
        ],
        merge=["A2:A3", "B2:B3", "C2:C3"],
        hide_rows=[4],
        second_sheet=True,
    )
    job = run(staff.sales, job_create(actor=staff.sales, kind="orders", file_name="orders.xlsx", data=data))
    assert job.status == ImportJob.DONE, job.report
    order = Order.objects.get(number="SO-9")
    assert order.lines.count() == 2
    assert order.order_date == dt.date(2026, 11, 2)
    assert Order.objects.get(number="SO-10").order_date == dt.date(2025, 11, 2)
    warnings = " ".join(p["message"] for p in job.report if p["level"] == "warning")
    assert "hidden rows" in warnings
    assert "备注" in warnings


def large_workbook(rows: int, *, states_its_size: bool = True, **options: Any) -> bytes:
    """An orders workbook (two lines an order) over the size an upload reads whole.

    openpyxl's write-only mode leaves out the sheet's ``<dimension>`` (as some other writers do);
    its normal mode, like Excel, states it.
    """
    header = ["订单号", "客户编号", "订单日期", "产品编号", "数量", "单价"]
    lines = [
        [
            f"SO-{n // 2:06}",
            "C-001",
            dt.datetime(2026, 1, 1) + dt.timedelta(days=n // 2 % 300),
            ("PEN", "INK")[n % 2],
            n % 97 + 1,
            10 if n % 2 == 0 else 2.5,
        ]
        for n in range(rows)
    ]
    if states_its_size:
        data = xlsx([header, *lines], **options)
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        for row in [header, *lines]:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    assert len(data) > HEAD_ONLY_OVER
    return data


ROWS = 10000


@pytest.mark.slow
def test_a_large_workbook_upload_reads_its_header_and_first_rows_only(staff: Any, catalogue: dict[str, Any]) -> None:
    data = large_workbook(ROWS, states_its_size=False)
    job = job_create(actor=staff.sales, kind="orders", file_name="big.xlsx", data=data)
    assert job.headers == ["订单号", "客户编号", "订单日期", "产品编号", "数量", "单价"]
    assert job.mapping == {
        "0": "number",
        "1": "account",
        "2": "order_date",
        "3": "sku",
        "4": "quantity",
        "5": "net_unit_price",
    }
    # Not counted: the sheet does not say how many rows it has, and the upload did not read them all.
    assert (job.total_rows, rows_exact(job)) == (0, False)
    assert [number for number, _cells in preview_rows(job)] == [2, 3, 4, 5, 6]
    assert preview_rows(job)[0][1][:4] == ["SO-000000", "C-001", "2026-01-01", "PEN"]
    event = AuditEvent.objects.get(action="IMPORT_UPLOADED", entity_id=str(job.pk))
    assert event.changes["rows_estimated"] == [None, True]

    job = job_start(actor=staff.sales, job=job, dry_run=True)
    assert progress(job)["phase"] == "reading"  # what the progress bar says until the whole file is read
    job = job_perform(actor=staff.sales, job=job, dry_run=True)
    assert (job.status, job.error_count, job.total_rows, job.created) == (ImportJob.CHECKED, 0, ROWS, ROWS // 2)
    assert rows_exact(job)


def test_a_large_workbook_states_about_how_many_rows_it_has_until_checked(staff: Any) -> None:
    job = job_create(actor=staff.sales, kind="orders", file_name="big.xlsx", data=large_workbook(ROWS))
    assert (job.total_rows, rows_exact(job)) == (ROWS, False)
    small = job_create(actor=staff.manager, kind="accounts", file_name="small.xlsx", data=xlsx([["编号"], ["A-1"]]))
    assert (small.total_rows, rows_exact(small)) == (1, True)  # a small workbook is read whole, as before


@pytest.mark.slow
def test_merged_cells_hidden_rows_and_other_sheets_of_a_large_workbook_are_found_by_its_check(
    staff: Any, catalogue: dict[str, Any]
) -> None:
    """The upload reads the head only; the check reads the workbook whole, merged cells, hidden rows and all."""
    data = large_workbook(ROWS, merge=["A2:A3", "B2:B3", "C2:C3"], hide_rows=[5], second_sheet=True)
    job = check(staff.sales, job_create(actor=staff.sales, kind="orders", file_name="big.xlsx", data=data))
    assert job.status == ImportJob.CHECKED
    # Row 3 has its order number, account and date only from the merged cells above it.
    assert job.error_count == 0, job.report[:3]
    warnings = " ".join(p["message"] for p in job.report if p["level"] == "warning")
    assert "hidden rows" in warnings
    assert "备注" in warnings


@pytest.mark.slow
def test_a_workbook_damaged_past_its_first_rows_is_refused_by_its_check(staff: Any, catalogue: dict[str, Any]) -> None:
    source = zipfile.ZipFile(io.BytesIO(large_workbook(3 * ROWS, states_its_size=False)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as damaged:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                content = content[: len(content) // 2]  # cut off in the middle of the sheet
            damaged.writestr(item, content)
    assert len(out.getvalue()) > HEAD_ONLY_OVER
    job = job_create(actor=staff.sales, kind="orders", file_name="big.xlsx", data=out.getvalue())
    assert len(preview_rows(job)) == 5
    job = check(staff.sales, job)
    assert job.status == ImportJob.UPLOADED
    assert "This Excel workbook cannot be read" in job.message
    assert not Order.objects.exists()


# --- the command --------------------------------------------------------------------


def test_command_checks_imports_and_undoes(staff: Any, tmp_path: Any) -> None:
    from django.core.management import CommandError, call_command

    path = tmp_path / "accounts.csv"
    path.write_bytes(("编号X,名称X\n" + "C-1,一号\n").encode("gb18030"))
    out = io.StringIO()
    call_command(
        "import_data",
        "accounts",
        str(path),
        "--user",
        "manager",
        "--map",
        "编号X=code",
        "--map",
        "1=name",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "Imported: 1 created" in out.getvalue()
    job = ImportJob.objects.get(status=ImportJob.DONE)
    call_command("import_data", "--undo", str(job.pk), "--user", "manager", stdout=io.StringIO())
    assert not Account.objects.exists()
    with pytest.raises(CommandError, match="may not"):
        call_command("import_data", "accounts", str(path), "--user", "finance", stderr=io.StringIO())
    with pytest.raises(CommandError, match="No column 'nope'"):
        call_command(
            "import_data", "accounts", str(path), "--user", "manager", "--map", "nope=code", stderr=io.StringIO()
        )


def test_new_accounts_that_look_like_existing_ones_are_flagged(staff: Any) -> None:
    make_account(staff.manager, code="OLD-1", name="深圳华强电子有限公司", phone="0755-88886666")
    job = check(staff.manager, upload(staff.manager, "accounts", "code,name\nNEW-1,深圳华强电子（深圳）有限公司\n"))
    assert job.error_count == 0
    warnings = [p for p in job.report if p["level"] == "warning"]
    assert [(p["row"], p["field"]) for p in warnings] == [(2, "name")]
    assert "OLD-1" in warnings[0]["message"]


def test_rows_for_a_merged_account_go_to_the_survivor(staff: Any, catalogue: dict[str, Any]) -> None:
    from patron.accounts.merge import account_merge

    other = make_account(staff.sales, code="C-OLD", name="华强旧")
    account_merge(actor=staff.manager, survivor=catalogue["account"], merged=other)
    job = run(staff.sales, upload(staff.sales, "orders", ORDERS_CSV.replace("C-001", "C-OLD")))
    assert job.status == ImportJob.DONE, job.report
    assert set(Order.objects.values_list("account__code", flat=True)) == {"C-001"}
    assert any("merged into C-001" in p["message"] for p in job.report)


@pytest.mark.slow
def test_a_50_mb_file_is_accepted_and_read_row_by_row(staff: Any) -> None:
    line = "SO-{n:07},C-001,2026-11-01,PEN,3,9.50,28.50,这一行的备注写得比较长以便文件更大一些\n"
    header = "订单号,客户编号,订单日期,产品编号,数量,单价,金额,备注\n"
    rows = 50 * 1024 * 1024 // len(line.format(n=0).encode()) - 1
    data = (header + "".join(line.format(n=n) for n in range(rows))).encode()
    assert 49 * 1024 * 1024 < len(data) <= 50 * 1024 * 1024
    job = job_create(actor=staff.sales, kind="orders", file_name="big.csv", data=data)
    assert job.total_rows == rows
    assert len(job.mapping) == 8
    with pytest.raises(ValidationError, match="larger than the 50 MB"):
        job_create(actor=staff.sales, kind="orders", file_name="big.csv", data=data + b"x" * (1024 * 1024))


def test_a_value_too_long_for_its_column_is_a_row_error(staff: Any, catalogue: dict[str, Any]) -> None:
    order = make_order(staff.sales, catalogue["account"], [(catalogue["pen"], "10")])
    invoice = make_invoice(staff.finance, order)
    text = f"收款单号,客户编号,金额,收款日期,参考号\nPAY-9,C-001,10,2026-11-20,{'x' * 300}\n"
    job = run(staff.finance, upload(staff.finance, "payments", text))
    assert job.status == ImportJob.CHECKED
    assert [(row, field) for row, field, _m in errors_of(job)] == [(2, "reference")]
    assert invoice.allocations.count() == 0


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_exported_product_list_imports_back_unchanged(staff: Any, client: Any, language: str) -> None:
    make_product("P-1", price="12.50", cost="8.00")
    make_product("P-2", price="1000.00", cost="600.00")
    staff.manager.language = language
    staff.manager.save()
    client.force_login(staff.manager)
    response = client.get("/sales/products/?format=csv", HTTP_ACCEPT_LANGUAGE=language)
    body = b"".join(response.streaming_content)
    job = run(staff.manager, job_create(actor=staff.manager, kind="products", file_name="p.csv", data=body))
    assert job.status == ImportJob.DONE, job.report
    assert (job.created, job.updated, job.unchanged) == (0, 0, 2)
    assert len(job.mapping) == 8


def test_a_salesperson_exports_products_without_costs(staff: Any, client: Any) -> None:
    make_product("P-1", price="12.50", cost="8.00")
    client.force_login(staff.sales)
    body = b"".join(client.get("/sales/products/?format=csv").streaming_content).decode("utf-8-sig")
    assert "8.0000" not in body
    assert "12.5000" in body


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_exported_account_list_imports_back_unchanged(staff: Any, client: Any, language: str) -> None:
    from tests.factories import make_industry

    regions = make_region_tree()
    make_account(
        staff.sales,
        code="A-1",
        name="甲",
        region=regions["SZ"],
        industry=make_industry(),
        phone="0755-1234567",
        tax_id="91440300MA5F000001",
        credit_limit="5000",
        notes="=HYPERLINK(1)",
    )
    staff.manager.language = language
    staff.manager.save()
    client.force_login(staff.manager)
    body = b"".join(client.get("/accounts/export/?format=csv").streaming_content)
    job = check(staff.manager, job_create(actor=staff.manager, kind="accounts", file_name="a.csv", data=body))
    assert job.report == []
    assert (job.created, job.updated, job.unchanged) == (0, 0, 1)


def test_a_changed_order_is_replaced_and_undo_restores_its_lines(staff: Any, catalogue: dict[str, Any]) -> None:
    run(staff.sales, upload(staff.sales, "orders", ORDERS_CSV))
    before = Order.objects.get(number="SO-1")
    totals = (before.list_total, before.net_total)
    changed = ORDERS_CSV.replace("SO-1,C-001,2026/11/01,PEN,3,9.50,28.50", "SO-1,C-001,2026/11/01,PEN,4,9.50,38.00")
    job = run(staff.sales, upload(staff.sales, "orders", changed))
    assert (job.created, job.updated, job.unchanged) == (0, 1, 1)
    after = Order.objects.get(number="SO-1")
    assert after.net_total == Decimal("63.00")
    assert after.lines.get(product=catalogue["pen"]).quantity == 4
    job_undo(actor=staff.sales, job=job)
    restored = Order.objects.get(number="SO-1")
    assert (restored.list_total, restored.net_total) == totals
    assert restored.lines.get(product=catalogue["pen"]).quantity == 3
    assert OrderLine.objects.filter(order=restored).count() == 2
