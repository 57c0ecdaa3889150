"""The import pages through Django's test client: upload, mapping, check, report, run, undo, and who sees what.

Huey runs immediately under the test settings, so a check or a run posted here is over
when the redirect is followed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from openpyxl import Workbook

from patron.accounts.models import Account
from patron.domain.importing import auto_mapping
from patron.imports import services
from patron.imports.kinds import columns_for
from patron.imports.models import ImportJob
from patron.imports.preview import CSV_PREFIX, XLSX_FULL_READ
from patron.staff.models import User
from tests.factories import make_order

pytestmark = pytest.mark.django_db

# The fifth column is not a header the import knows: the user maps it by hand.
HEADER = "客户编号,客户名称,电话,信用额度,说明\n"
BAD = (
    HEADER
    + 'C-001,深圳华强电子有限公司,0755-88886666,"50,000.00",老客户\n'
    + "C-002,广州白云商贸有限公司,020-66668888,abc,新客户\n"
)
GOOD = BAD.replace(",abc,", ",12000,")


@pytest.fixture(autouse=True)
def english(staff: Any) -> None:
    User.objects.update(language="en")


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, data: bytes, name: str = "客户.csv", kind: str = "accounts", encoding: str = "") -> Any:
    return client.post(
        reverse("imports:new"), {"kind": kind, "file": SimpleUploadedFile(name, data), "encoding": encoding}
    )


def uploaded(client: Client, data: bytes, **kwargs: Any) -> ImportJob:
    response = upload(client, data, **kwargs)
    assert response.status_code == 302, response.content.decode()
    job = ImportJob.objects.latest("id")
    assert response["Location"] == reverse("imports:detail", args=[job.pk])
    return job


def execute(client: Client, job: ImportJob, action: str, mapping: dict[int, str] | None = None) -> Any:
    if mapping is None:
        mapping = {int(index): key for index, key in job.mapping.items()}
    data = {f"column_{index}": mapping.get(index, "") for index in range(len(job.headers))}
    return client.post(reverse("imports:execute", args=[job.pk]), {**data, "action": action})


def selected(html: str, index: int) -> str:
    """The field chosen in the select of column ``index`` ("" when ignored)."""
    select = re.search(rf'<select name="column_{index}".*?</select>', html, re.S)
    assert select, f"no select for column {index}"
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(0))
    return option.group(1) if option else ""


def problems(html: str) -> list[tuple[str, str, str]]:
    """(row, column, level) of each line of the report table."""
    found = []
    for chunk in html.split('data-testid="problem"')[1:]:
        row = re.search(r'data-testid="problem-row">([^<]*)<', chunk).group(1)
        column = re.search(r'data-testid="problem-column">([^<]*)<', chunk).group(1)
        level = re.search(r'data-level="(\w+)"', chunk).group(1)
        found.append((row, column, level))
    return found


def test_a_gb18030_file_is_mapped_checked_reported_imported_and_undone(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, BAD.encode("gb18030"))
    assert (job.encoding, job.total_rows) == ("gb18030", 2)

    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "gb18030" in page
    for header in ("客户编号", "客户名称", "电话", "信用额度", "说明"):
        assert header in page
    assert [selected(page, i) for i in range(5)] == ["code", "name", "phone", "credit_limit", ""]
    assert "深圳华强电子有限公司" in page
    assert "广州白云商贸有限公司" in page

    # Ignore the phone column, map the unknown one to the private notes, and check.
    mapping = {0: "code", 1: "name", 3: "credit_limit", 4: "notes"}
    response = execute(client, job, "check", mapping)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.mapping == {"0": "code", "1": "name", "3": "credit_limit", "4": "notes"}
    assert job.status == ImportJob.CHECKED
    assert job.error_count == 1
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert [selected(page, i) for i in range(5)] == ["code", "name", "", "credit_limit", "notes"]
    assert problems(page) == [("3", "D (信用额度)", "error")]
    assert "“abc” is not a number." in page
    assert not Account.objects.exists()

    # Importing anyway writes nothing and says why.
    execute(client, job, "run", mapping)
    job.refresh_from_db()
    assert job.status == ImportJob.CHECKED
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "Nothing was imported: the file has 1 errors." in page
    assert not Account.objects.exists()

    # The corrected file: no errors, so "Import" is the primary button.
    fixed = uploaded(client, GOOD.encode("gb18030"))
    execute(client, fixed, "check", mapping)
    page = client.get(reverse("imports:detail", args=[fixed.pk])).content.decode()
    assert problems(page) == []
    assert re.search(r'class="primary" data-testid="run"', page)
    assert not re.search(r'class="primary" data-testid="check"', page)

    execute(client, fixed, "run", mapping)
    fixed.refresh_from_db()
    assert (fixed.status, fixed.created) == (ImportJob.DONE, 2)
    assert Account.objects.get(code="C-002").notes == "新客户"
    assert Account.objects.get(code="C-001").phone == ""  # the ignored column
    page = client.get(reverse("imports:detail", args=[fixed.pk])).content.decode()
    assert re.search(r'data-testid="count-created">2<', page)

    # Undo asks first, then takes it all back.
    confirm = client.get(reverse("imports:undo", args=[fixed.pk]))
    assert confirm.status_code == 200
    assert b'data-testid="confirm-undo"' in confirm.content
    assert Account.objects.count() == 2
    response = client.post(reverse("imports:undo", args=[fixed.pk]), follow=True)
    assert response.status_code == 200
    fixed.refresh_from_db()
    assert fixed.status == ImportJob.UNDONE
    assert not Account.objects.exists()
    assert re.search(r'data-testid="import-status">Undone<', response.content.decode())

    # The history lists both imports, newest first.
    history = client.get(reverse("imports:list")).content.decode()
    rows = history.split('data-testid="import-row"')[1:]
    assert len(rows) == 2
    assert f"/imports/{fixed.pk}/" in rows[0]
    assert f"/imports/{job.pk}/" in rows[1]
    assert ">Undone<" in rows[0]
    assert ">Checked<" in rows[1]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "The submitted file is empty."),
        (HEADER.encode(), "header.csv", "The file has a header row but no data rows."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "This is an old Excel file (.xls)"),
        (b"PK\x03\x04 not really a workbook", "broken.xlsx", "This Excel workbook cannot be read"),
        ("客户编号,客户名称\nC-1,华强\n".encode("big5", "replace") + b"\xff\xfe\xfd", "odd.csv", "neither UTF-8 nor"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_on_the_form(staff: Any, data: bytes, name: str, message: str) -> None:
    response = upload(as_user(staff.manager), data, name=name)
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'data-field="file".*?data-testid="field-error">([^<]*)<', html, re.S)
    assert error
    assert message in error.group(1).replace("&#x27;", "'")
    assert not ImportJob.objects.exists()


def test_a_file_in_the_wrong_encoding_names_the_encoding(staff: Any) -> None:
    response = upload(as_user(staff.manager), GOOD.encode("gb18030"), encoding="utf-8")
    assert response.status_code == 400
    assert "The file is not valid utf-8" in response.content.decode()


@override_settings(PATRON_IMPORT_MAX_MB=0)
def test_a_file_over_the_size_limit_is_refused(staff: Any) -> None:
    response = upload(as_user(staff.manager), GOOD.encode())
    assert response.status_code == 400
    assert "larger than the 0 MB an import accepts" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_bad_mapping_is_shown_on_the_column_and_saves_nothing(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, GOOD.encode())
    response = execute(client, job, "check", {0: "code", 1: "name", 4: "name"})
    assert response.status_code == 400
    html = response.content.decode()
    column_4 = re.search(r'data-field="column_4".*?</td>', html, re.S).group(0)
    assert "name is already mapped to another column." in column_4
    job.refresh_from_db()
    assert job.status == ImportJob.UPLOADED
    assert job.mapping == {"0": "code", "1": "name", "2": "phone", "3": "credit_limit"}

    response = execute(client, job, "check", {0: "code", 1: "name", 4: "no_such_field"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_missing_required_column_is_named(staff: Any) -> None:
    client = as_user(staff.manager)
    text = "订单号,客户编号,产品编号,数量\nSO-1,C-1,TEA,2\n"  # no order date
    job = uploaded(client, text.encode(), kind="orders")
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert re.search(r"order date — not mapped", page)
    response = execute(client, job, "check")
    assert response.status_code == 400
    assert "No column is mapped to order date, which is required." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.UPLOADED


def test_a_salesperson_cannot_see_another_salespersons_import(staff: Any) -> None:
    job = uploaded(as_user(staff.sales), GOOD.encode())
    other = as_user(staff.sales2)
    for name, method in (
        ("imports:detail", "get"),
        ("imports:progress", "get"),
        ("imports:report", "get"),
        ("imports:undo", "get"),
        ("imports:undo", "post"),
        ("imports:execute", "post"),
    ):
        response = getattr(other, method)(reverse(name, args=[job.pk]), {"action": "run"} if method == "post" else {})
        assert response.status_code == 404, name
    assert f"/imports/{job.pk}/" not in other.get(reverse("imports:list")).content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.UPLOADED
    # An admin sees everyone's imports.
    admin = as_user(staff.admin)
    assert admin.get(reverse("imports:detail", args=[job.pk])).status_code == 200
    assert f"/imports/{job.pk}/" in admin.get(reverse("imports:list")).content.decode()


def test_finance_may_choose_only_payments(staff: Any) -> None:
    client = as_user(staff.finance)
    html = client.get(reverse("imports:new")).content.decode()
    kind_select = re.search(r'<select name="kind".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', kind_select) == ["payments"]
    assert 'data-testid="template-payments"' in html
    assert 'data-testid="template-accounts"' not in html
    response = upload(client, GOOD.encode(), kind="accounts")
    assert response.status_code == 400
    assert re.search(r'data-field="kind".*?Select a valid choice', response.content.decode(), re.S)
    assert not ImportJob.objects.exists()


def test_marketing_may_import_nothing(staff: Any) -> None:
    client = as_user(staff.marketing)
    assert client.get(reverse("imports:new")).status_code == 403
    history = client.get(reverse("imports:list"))
    assert history.status_code == 200
    assert b'data-testid="new-import"' not in history.content


@pytest.mark.parametrize("kind", [k for k, _label in ImportJob.KINDS])
def test_each_template_maps_every_field_by_itself(staff: Any, kind: str) -> None:
    response = as_user(staff.manager).get(reverse("imports:template", args=[kind]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # a byte order mark, for Excel
    headers = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    columns = columns_for(kind)
    assert auto_mapping(headers, columns) == dict(enumerate(c.key for c in columns))
    assert all(re.search(r"[\u4e00-\u9fff]", h) and re.search(r"\([a-z][a-z -]*\)$", h) for h in headers), headers


def test_an_unknown_template_is_404(staff: Any) -> None:
    assert as_user(staff.manager).get("/imports/template/secrets.csv").status_code == 404


def test_progress_polls_while_busy_and_refreshes_when_done(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, GOOD.encode())
    job = services.job_start(actor=staff.manager, job=job, dry_run=True)  # claimed, not yet performed
    services.write_progress(job, 1)
    fragment = client.get(reverse("imports:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert 'hx-trigger="every 1s"' in html
    assert "1 of 2 rows" in html
    assert 'value="50"' in html
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert 'data-testid="import-progress"' in page
    assert 'data-testid="run"' not in page

    # A second click while it runs is refused with a message, not a second run.
    response = execute(client, job, "check", {})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "This import is already being checked or run." in page

    services.job_perform(actor=staff.manager, job=job, dry_run=True)
    done = client.get(reverse("imports:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert done["HX-Refresh"] == "true"
    plain = client.get(reverse("imports:progress", args=[job.pk]))
    assert plain.status_code == 302
    assert plain["Location"] == reverse("imports:detail", args=[job.pk])


def test_an_undo_that_later_records_prevent_is_an_error_message(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, GOOD.encode())
    execute(client, job, "run")
    job.refresh_from_db()
    assert job.status == ImportJob.DONE
    make_order(staff.manager, Account.objects.get(code="C-002"))
    response = client.post(reverse("imports:undo", args=[job.pk]), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'class="msg-error"[^>]*>The import cannot be undone: Row 3: Account C-002 has orders', html)
    job.refresh_from_db()
    assert job.status == ImportJob.DONE
    assert Account.objects.count() == 2


def test_importing_a_finished_import_again_changes_nothing(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, GOOD.encode())
    execute(client, job, "run")
    execute(client, job, "run")
    job.refresh_from_db()
    assert (job.status, job.created, Account.objects.count()) == (ImportJob.DONE, 2, 2)
    response = client.post(reverse("imports:execute", args=[job.pk]), {"action": "check"}, follow=True)
    assert "This import has already run." in response.content.decode()
    assert client.post(reverse("imports:execute", args=[job.pk]), {"action": "delete"}).status_code == 400


def test_the_report_downloads_as_csv(staff: Any) -> None:
    client = as_user(staff.manager)
    job = uploaded(client, BAD.encode())
    execute(client, job, "check")
    response = client.get(reverse("imports:report", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Column", "Problem", "Level"]
    assert rows[1][:2] == ["3", "D (信用额度)"]
    assert rows[1][3] == "Error"


def test_an_excel_workbook_is_previewed_as_it_will_be_read(staff: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户编号", "客户名称", "生日"])
    sheet.append(["C-001", "深圳华强", dt.datetime(1980, 5, 1)])
    sheet.append(["C-002", "广州白云", dt.datetime(1975, 12, 31)])
    out = io.BytesIO()
    book.save(out)
    client = as_user(staff.manager)
    job = uploaded(client, out.getvalue(), name="客户.xlsx")
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert re.search(r'data-testid="file-encoding">Excel workbook<', page)
    preview = re.search(r'data-testid="preview">(.*?)</tbody>', page, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", preview)
    assert cells == ["C-001", "深圳华强", "1980-05-01", "C-002", "广州白云", "1975-12-31"]


def test_a_large_csv_is_previewed_from_its_first_rows(staff: Any) -> None:
    rows = "".join(f"A-{i:05},客户{i},020-{i:08}\n" for i in range(20000))
    text = "客户编号,客户名称,电话\n" + rows
    assert len(text.encode("gb18030")) > 2 * CSV_PREFIX
    client = as_user(staff.manager)
    job = uploaded(client, text.encode("gb18030"))
    assert job.total_rows == 20000
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert re.search(r'data-testid="file-rows">20000<', page)
    preview = re.search(r'data-testid="preview">(.*?)</tbody>', page, re.S).group(1)
    assert re.findall(r'<th scope="row"[^>]*>(\d+)</th>', preview) == ["2", "3", "4", "5", "6"]
    assert "客户4" in preview
    assert "客户5" not in preview


def test_a_large_workbook_is_previewed_from_its_first_rows(staff: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户编号", "客户名称", "生日"])
    sheet.append([])  # a blank row is skipped, as the import skips it
    for i in range(15000):
        sheet.append([f"A-{i:05}", f"客户{i}", dt.datetime(1980, 1, 1) + dt.timedelta(days=i)])
    out = io.BytesIO()
    book.save(out)
    assert len(out.getvalue()) > XLSX_FULL_READ
    client = as_user(staff.manager)
    job = uploaded(client, out.getvalue(), name="big.xlsx")
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    preview = re.search(r'data-testid="preview">(.*?)</tbody>', page, re.S).group(1)
    assert re.findall(r'<th scope="row"[^>]*>(\d+)</th>', preview) == ["3", "4", "5", "6", "7"]
    assert re.findall(r"<td>([^<]*)</td>", preview)[:3] == ["A-00000", "客户0", "1980-01-01"]
    assert "客户5" not in preview


def test_a_large_workbook_is_uploaded_as_about_so_many_rows_and_read_while_checked(staff: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户编号", "客户名称", "生日"])
    for i in range(15000):
        sheet.append([f"A-{i:05}", f"客户{i}", dt.datetime(1980, 1, 1) + dt.timedelta(days=i)])
    out = io.BytesIO()
    book.save(out)
    client = as_user(staff.manager)
    response = upload(client, out.getvalue(), name="big.xlsx")
    job = ImportJob.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "big.xlsx uploaded: about 15000 rows, counted when the file is checked." in page
    assert re.search(r'data-testid="file-rows">about 15000<', page)
    assert "about 15000" in client.get(reverse("imports:list")).content.decode()

    job = services.job_start(actor=staff.manager, job=job, dry_run=True)  # claimed; the worker reads the file first
    fragment = client.get(reverse("imports:progress", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "Reading the file…" in fragment
    assert "about 15000 rows" in fragment
    assert 'value="0"' in fragment


def test_a_workbook_that_does_not_state_its_size_is_counted_when_checked(staff: Any) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["客户编号", "客户名称"])
    for i in range(25000):
        sheet.append([f"A-{i:05}", f"客户{i}"])
    out = io.BytesIO()
    book.save(out)
    client = as_user(staff.manager)
    page = client.get(upload(client, out.getvalue(), name="big.xlsx")["Location"]).content.decode()
    assert "big.xlsx uploaded; its rows are counted when the file is checked." in page
    assert re.search(r'data-testid="file-rows"><span class="muted">counted when checked<', page)
