"""Exporting the account list: the same rows the user may see, filtered, safe to open in Excel."""

import csv
import io

from openpyxl import load_workbook

from patron.accounts.models import CustomField
from patron.audit.models import AuditEvent
from tests.factories import make_account


def read_csv(response):
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_a_salesperson_exports_only_their_own_accounts(client, staff):
    mine = make_account(staff.sales, name="深圳茶行")
    make_account(staff.sales2, name="Not mine")
    client.force_login(staff.sales)
    rows = read_csv(client.get("/accounts/export/"))
    assert [r[0] for r in rows[1:]] == [mine.code]
    assert rows[1][1] == "深圳茶行"


def test_the_export_follows_the_lists_filters(client, staff):
    key = make_account(staff.sales, is_key_account=True)
    make_account(staff.sales, is_key_account=False)
    client.force_login(staff.admin)
    rows = read_csv(client.get("/accounts/export/?key_account=yes"))
    assert [r[0] for r in rows[1:]] == [key.code]


def test_formula_looking_cells_are_escaped_in_csv_and_xlsx(client, staff):
    make_account(staff.sales, name="=cmd|' /C calc'!A0", address="@SUM(1+1)")
    client.force_login(staff.admin)
    rows = read_csv(client.get("/accounts/export/"))
    assert rows[1][1] == "'=cmd|' /C calc'!A0"
    response = client.get("/accounts/export/?format=xlsx")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["'=cmd|' /C calc'!A0"]


def test_private_notes_are_exported_only_to_those_who_may_read_them(client, staff):
    make_account(staff.sales, notes="competitor offered 5% less")
    client.force_login(staff.marketing)
    marketing = read_csv(client.get("/accounts/export/"))
    assert "competitor" not in str(marketing)
    client.force_login(staff.sales)
    assert "competitor offered 5% less" in str(read_csv(client.get("/accounts/export/")))


def test_custom_fields_are_exported_like_built_in_ones(client, staff):
    CustomField.objects.create(key="budget", label_zh="年度预算", label_en="Annual budget", kind="number")
    make_account(staff.sales, custom={"budget": "95000"})
    staff.admin.language = "en"
    staff.admin.save()
    client.force_login(staff.admin)
    rows = read_csv(client.get("/accounts/export/"))
    column = rows[0].index("Annual budget")
    assert rows[1][column] == "95000"


def test_exports_are_audited_and_bad_requests_are_4xx(client, staff):
    client.force_login(staff.sales)
    client.get("/accounts/export/?format=xlsx")
    assert AuditEvent.objects.filter(action="ACCOUNTS_EXPORTED", actor=staff.sales).exists()
    assert client.get("/accounts/export/?format=pdf").status_code == 400
    assert client.get("/accounts/export/?region=NOWHERE").status_code == 400


def test_the_export_needs_a_sign_in(client):
    assert client.get("/accounts/export/").status_code == 302


def test_headings_follow_the_users_language(client, staff):
    make_account(staff.sales)
    staff.sales.language = "zh-hans"
    staff.sales.save()
    client.force_login(staff.sales)
    assert read_csv(client.get("/accounts/export/"))[0][:2] == ["编号", "名称"]


def test_the_list_links_to_an_export_of_what_it_shows(client, staff):
    make_account(staff.sales)
    client.force_login(staff.sales)
    page = client.get("/accounts/?key_account=yes").content.decode()
    assert "/accounts/export/?key_account=yes&amp;format=csv" in page
    assert 'data-testid="export-xlsx"' in page


def test_the_api_exports_what_the_caller_may_export(staff):
    from tests.api_client import ApiClient

    mine = make_account(staff.sales, name="=HYPERLINK(1)")
    make_account(staff.sales2)
    response = ApiClient(staff.sales).get("/api/accounts/export")
    assert response.status_code == 200
    rows = read_csv(response)
    assert [r[0] for r in rows[1:]] == [mine.code]
    assert rows[1][1] == "'=HYPERLINK(1)"
    xlsx = ApiClient(staff.sales).get("/api/accounts/export", {"format": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert ApiClient(staff.sales).get("/api/accounts/export", {"format": "pdf"}).status_code == 422
    assert ApiClient(staff.sales).get("/api/accounts/export", {"region": "NOWHERE"}).status_code == 422


def test_order_invoice_and_payment_lists_export_as_filtered_and_scoped(client, staff):
    from patron.sales import services as sales
    from tests.factories import make_invoice, make_order, make_product

    mine = make_account(staff.sales, name="@mine")
    theirs = make_account(staff.sales2)
    order = make_order(staff.sales, mine, [(make_product(price="10.00"), "2")])
    make_order(staff.sales2, theirs)
    make_invoice(staff.finance, order)
    sales.payment_record(actor=staff.finance, account=mine, amount="5.00", reference="=1+1")
    client.force_login(staff.sales)
    orders = read_csv(client.get("/sales/orders/?format=csv"))
    assert [r[0] for r in orders[1:]] == [order.number]
    assert orders[1][2] == "'@mine"
    invoices = read_csv(client.get("/sales/invoices/?format=csv&status=open"))
    assert len(invoices) == 2
    payments = read_csv(client.get("/sales/payments/?format=csv"))
    assert "'=1+1" in payments[1]
    xlsx = client.get("/sales/orders/?format=xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get("/sales/orders/?format=doc").status_code == 400


def test_sales_lists_link_to_an_export_of_what_they_show(client, staff):
    client.force_login(staff.finance)
    page = client.get("/sales/invoices/?status=open").content.decode()
    assert "?status=open&amp;format=csv" in page
