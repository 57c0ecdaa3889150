"""Long lists export in the background: the offer, the progress page, the file, the Exports list and the API."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from patron.audit.models import AuditEvent
from patron.exports import services
from patron.exports.models import ExportJob
from patron.sales.models import Product
from tests.api_client import ApiClient
from tests.factories import make_account, make_product


@pytest.fixture(autouse=True)
def _small_limit(settings: Any, tmp_path: Any) -> None:
    """Lists of more than three rows count as long here; files go to this test's own directory."""
    settings.PATRON_EXPORT_DIRECT_ROWS = 3
    settings.VAR_DIR = tmp_path


def accounts(owner: Any, count: int) -> list[Any]:
    return [make_account(owner, name=f"=HYPERLINK({n})") for n in range(count)]


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_a_short_list_downloads_at_once(client, staff):
    accounts(staff.sales, 3)
    client.force_login(staff.sales)
    response = client.get("/accounts/export/?format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert not ExportJob.objects.exists()


def test_a_long_list_is_offered_then_written_in_the_background(client, staff, django_capture_on_commit_callbacks):
    staff.sales.language = "en"
    staff.sales.save()
    mine = accounts(staff.sales, 4)
    accounts(staff.sales2, 2)
    client.force_login(staff.sales)
    offer = client.get("/accounts/export/?key_account=no&format=xlsx")
    assert offer.status_code == 200
    page = offer.content.decode()
    assert 'data-testid="export-offer"' in page
    assert "more than 3 rows" in page
    assert 'name="query" value="key_account=no"' in page
    assert not AuditEvent.objects.filter(action="ACCOUNTS_EXPORTED").exists()  # nothing has left yet

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            reverse("exports:start"), {"list": "accounts", "format": "xlsx", "query": "key_account=no"}
        )
    job = ExportJob.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("exports:detail", args=[job.pk])
    detail = client.get(started["Location"]).content.decode()
    assert re.search(r'data-testid="export-status">Ready<', detail)
    assert 'data-testid="download"' in detail
    assert "key_account = no" in detail

    response = client.get(reverse("exports:download", args=[job.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert re.match(r'attachment; filename="accounts-\d{8}-\d{4}\.xlsx"', response["Content-Disposition"])
    sheet = load_workbook(io.BytesIO(body_of(response)), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted(a.code for a in mine)
    assert {r[1] for r in rows[1:]} == {f"'=HYPERLINK({n})" for n in range(4)}
    assert AuditEvent.objects.filter(action="ACCOUNTS_EXPORTED", actor=staff.sales).count() == 1


def test_order_and_product_lists_offer_the_background_too(client, staff, django_capture_on_commit_callbacks):
    for _n in range(4):
        make_product()
    client.force_login(staff.sales)
    page = client.get("/sales/products/?format=csv&after=junk").content.decode()
    assert 'data-testid="export-offer"' in page
    assert 'name="list" value="products"' in page
    assert 'name="query" value=""' in page  # paging is not a filter
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports:start"), {"list": "products", "format": "csv", "query": ""})
    job = ExportJob.objects.get()
    text = body_of(client.get(reverse("exports:download", args=[job.pk]))).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 5
    assert "Unit cost" not in rows[0]
    assert "单位成本" not in rows[0]


def test_the_default_limit_is_five_thousand_rows(client, staff, settings):
    del settings.PATRON_EXPORT_DIRECT_ROWS
    assert services.direct_limit() == 5000
    Product.objects.bulk_create([Product(sku=f"B{n:05}", name=f"P{n}", list_price=1) for n in range(5000)])
    client.force_login(staff.manager)
    assert client.get("/sales/products/?format=csv")["Content-Type"].startswith("text/csv")
    make_product()
    assert 'data-testid="export-offer"' in client.get("/sales/products/?format=csv").content.decode()


def test_someone_elses_export_is_a_404_even_for_an_admin(client, staff, django_capture_on_commit_callbacks):
    accounts(staff.sales, 4)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv")
    for other in (staff.manager, staff.admin):
        client.force_login(other)
        for name in ("exports:detail", "exports:progress", "exports:download"):
            assert client.get(reverse(name, args=[job.pk])).status_code == 404
        assert 'data-testid="export-row"' not in client.get(reverse("exports:list")).content.decode()
    client.force_login(staff.sales)
    listing = client.get(reverse("exports:list")).content.decode()
    assert listing.count('data-testid="export-row"') == 1
    assert 'data-testid="export-download"' in listing


def test_the_progress_polls_while_the_file_is_written_and_refreshes_when_done(client, staff, monkeypatch):
    staff.sales.language = "en"
    staff.sales.save()
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    accounts(staff.sales, 4)
    job = services.export_job_start(actor=staff.sales, list_name="accounts", kind="xlsx")
    client.force_login(staff.sales)
    waiting = client.get(reverse("exports:progress", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting to start" in waiting
    assert 'hx-trigger="every 1s"' in waiting
    assert 'data-testid="download"' not in client.get(reverse("exports:detail", args=[job.pk])).content.decode()

    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.RUNNING, rows_total=4000, rows_done=1000)
    running = client.get(reverse("exports:progress", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "1,000 of 4,000 rows" in running
    assert 'value="25"' in running
    download = client.get(reverse("exports:download", args=[job.pk]), follow=True)
    assert "The file is not ready yet." in download.content.decode()

    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.QUEUED, rows_total=None, rows_done=0)
    services.export_job_perform(job.pk)
    done = client.get(reverse("exports:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert done.headers["HX-Refresh"] == "true"
    assert 'data-testid="download"' in client.get(reverse("exports:detail", args=[job.pk])).content.decode()


def test_a_bad_request_to_start_is_a_400_with_the_reason(client, staff):
    client.force_login(staff.sales)
    assert client.post(reverse("exports:start"), {"list": "contracts", "format": "csv"}).status_code == 400
    response = client.post(reverse("exports:start"), {"list": "accounts", "format": "csv", "query": "region=NOWHERE"})
    assert response.status_code == 400
    assert 'data-testid="export-errors"' in response.content.decode()
    client.force_login(staff.marketing)
    assert client.post(reverse("exports:start"), {"list": "invoices", "format": "csv"}).status_code == 403
    assert client.get(reverse("exports:start")).status_code == 405
    assert not ExportJob.objects.exists()


def test_the_exports_page_needs_a_sign_in_and_is_in_the_navigation(client, staff):
    assert client.get(reverse("exports:list")).status_code == 302
    client.force_login(staff.marketing)
    assert 'href="/exports/"' in client.get("/").content.decode()


# --- API ----------------------------------------------------------------------


def test_the_api_starts_follows_and_downloads_an_export(staff, django_capture_on_commit_callbacks):
    mine = accounts(staff.sales, 2)
    accounts(staff.sales2, 2)
    api = ApiClient(staff.sales)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/exports", {"list": "accounts", "format": "csv", "query": ""})
    assert response.status_code == 201, response.content
    export_id = response.json()["id"]
    detail = api.get(f"/api/exports/{export_id}").json()
    assert (detail["status"], detail["rows_total"], detail["percent"]) == ("done", 2, 100)
    assert detail["file_url"] == f"/api/exports/{export_id}/file"
    text = body_of(api.get(detail["file_url"])).decode("utf-8-sig")
    assert sorted(r[0] for r in list(csv.reader(io.StringIO(text)))[1:]) == sorted(a.code for a in mine)
    assert [item["id"] for item in api.get("/api/exports").json()["items"]] == [export_id]

    other = ApiClient(staff.admin)
    assert other.get(f"/api/exports/{export_id}").status_code == 404
    assert other.get(f"/api/exports/{export_id}/file").status_code == 404
    assert other.get("/api/exports").json()["items"] == []


def test_the_api_refuses_bad_exports_and_a_file_not_yet_written(staff, monkeypatch):
    api = ApiClient(staff.sales)
    bad = api.post("/api/exports", {"list": "contracts", "format": "pdf"})
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {("body", "list"), ("body", "format")}
    region = api.post("/api/exports", {"list": "accounts", "query": "region=NOWHERE"})
    assert region.status_code == 422
    assert region.json()["detail"][0]["loc"] == ["body", "query"]
    assert ApiClient(staff.marketing).post("/api/exports", {"list": "payments"}).status_code == 403
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    waiting = api.post("/api/exports", {"list": "accounts"}).json()
    assert (waiting["status"], waiting["file_url"]) == ("queued", None)
    response = api.get(f"/api/exports/{waiting['id']}/file", headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert response.json()["detail"] == "The file is not ready yet."


def test_the_api_account_export_writes_a_long_workbook_in_the_background(staff, django_capture_on_commit_callbacks):
    accounts(staff.sales, 4)
    api = ApiClient(staff.sales)
    csv_response = api.get("/api/accounts/export")  # CSV streams at any size
    assert len(list(csv.reader(io.StringIO(body_of(csv_response).decode("utf-8-sig"))))) == 5
    with django_capture_on_commit_callbacks(execute=True):
        response = api.get("/api/accounts/export", {"format": "xlsx", "kind": "company"})
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/exports/{body['id']}"
    job = ExportJob.objects.get(pk=body["id"])
    assert job.filters["kind"] == "company"
    assert api.get(response["Location"]).json()["status"] == "done"
    book = load_workbook(io.BytesIO(body_of(api.get(f"/api/exports/{body['id']}/file"))), read_only=True)
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == 5


def test_a_long_segment_list_is_written_in_the_background_with_the_same_rows(
    client, staff, django_capture_on_commit_callbacks
):
    from patron.segments import services as segments
    from patron.segments.models import Classification

    segments.install_builtins()
    Classification.objects.exclude(key="value_tier").update(active=False)
    mine = accounts(staff.sales, 4)
    accounts(staff.sales2, 2)
    segments.run_perform(segments.run_create(actor=staff.admin))
    client.force_login(staff.sales)
    query = "segment=value_tier&class=low&class=mid&class=high"
    offer = client.get(f"/segments/export/?{query}&format=csv").content.decode()
    assert 'data-testid="export-offer"' in offer
    assert 'name="list" value="segment_accounts"' in offer
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports:start"), {"list": "segment_accounts", "format": "csv", "query": query})
    job = ExportJob.objects.get()
    text = body_of(client.get(reverse("exports:download", args=[job.pk]))).decode("utf-8-sig")
    codes = {row[0] for row in list(csv.reader(io.StringIO(text)))[1:]}
    assert codes == {a.code for a in mine}  # a salesperson's own accounts only
