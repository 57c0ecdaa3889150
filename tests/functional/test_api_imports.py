"""The import API as an integration uses it: multipart upload, mapping, check, run, progress, undo."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from patron.accounts.models import Account
from tests.api_client import ApiClient, error_fields

pytestmark = pytest.mark.django_db

CSV = '客户编号,客户名称,信用额度\nC-001,华强,"1,000"\nC-002,白云,2000\n'


def upload(api: ApiClient, kind: str, data: bytes, name: str = "a.csv", **extra: str) -> Any:
    return api.client.post(
        "/api/imports",
        {"kind": kind, "file": SimpleUploadedFile(name, data), **extra},
        headers=api._headers(None),
    )


def test_upload_check_run_undo(staff: Any) -> None:
    api = ApiClient(staff.manager)
    response = upload(api, "accounts", CSV.encode("gb18030"))
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["encoding"] == "gb18030"
    assert job["mapping"] == {"0": "code", "1": "name", "2": "credit_limit"}
    checked = api.post(f"/api/imports/{job['id']}/check")
    assert checked.status_code == 202
    detail = api.get(f"/api/imports/{job['id']}").json()
    assert detail["status"] == "checked"
    assert detail["error_count"] == 0
    assert detail["progress"] == {"done": 2, "total": 2, "percent": 100, "phase": "rows"}
    ran = api.post(f"/api/imports/{job['id']}/run")
    assert ran.status_code == 202
    assert api.get(f"/api/imports/{job['id']}").json()["created"] == 2
    again = api.post(f"/api/imports/{job['id']}/run")
    assert again.status_code == 200
    assert Account.objects.count() == 2
    undone = api.post(f"/api/imports/{job['id']}/undo")
    assert undone.status_code == 200
    assert undone.json()["status"] == "undone"
    assert not Account.objects.exists()
    listed = api.get("/api/imports").json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]


def test_report_names_rows_and_columns(staff: Any) -> None:
    staff.manager.language = "en"  # the report is worded in the importer's language
    staff.manager.save()
    api = ApiClient(staff.manager)
    job = upload(api, "accounts", b"code,name,credit_limit\nA 1,x,abc\n").json()
    api.post(f"/api/imports/{job['id']}/run")
    detail = api.get(f"/api/imports/{job['id']}").json()
    assert detail["status"] == "checked"
    assert "Nothing was imported" in detail["message"]
    assert {(p["row"], p["column"]) for p in detail["report"]} == {(2, "A (code)"), (2, "C (credit_limit)")}
    assert not Account.objects.exists()


def test_mapping_can_be_given_and_is_checked(staff: Any) -> None:
    api = ApiClient(staff.manager)
    data = "编号X,名称X\nC-9,九号\n".encode()
    bad = upload(api, "accounts", data, mapping=json.dumps({"0": "code", "1": "code"}))
    assert bad.status_code == 422
    assert "mapping.1" in error_fields(bad)
    good = upload(api, "accounts", data, mapping=json.dumps({"0": "code", "1": "name"}))
    assert good.status_code == 201
    assert good.json()["mapping"] == {"0": "code", "1": "name"}
    put = api.client.put(
        f"/api/imports/{good.json()['id']}/mapping",
        json.dumps({"mapping": {"0": "code", "5": "name"}}),
        content_type="application/json",
        headers=api._headers(None),
    )
    assert put.status_code == 422
    assert "mapping" in error_fields(put)


@pytest.mark.parametrize(
    ("data", "fields"),
    [(b"", {"file"}), ("客户编号\n".encode(), {"file"}), (b"\x00\x01binary", {"file"})],
)
def test_bad_files_are_422_naming_the_file(staff: Any, data: bytes, fields: set[str]) -> None:
    response = upload(ApiClient(staff.manager), "accounts", data)
    assert response.status_code == 422
    assert error_fields(response) == fields


def test_bad_kind_and_encoding(staff: Any) -> None:
    api = ApiClient(staff.manager)
    assert upload(api, "planets", b"a\n1\n").status_code == 422
    response = upload(api, "accounts", CSV.encode(), encoding="ebcdic")
    assert response.status_code == 422
    assert error_fields(response) == {"encoding"}


def test_others_imports_are_404_and_kinds_follow_the_role(staff: Any) -> None:
    job = upload(ApiClient(staff.sales), "accounts", CSV.encode()).json()
    other = ApiClient(staff.sales2)
    assert other.get(f"/api/imports/{job['id']}").status_code == 404
    assert other.post(f"/api/imports/{job['id']}/run").status_code == 404
    assert ApiClient(staff.admin).get(f"/api/imports/{job['id']}").status_code == 200
    assert upload(ApiClient(staff.finance), "accounts", CSV.encode()).status_code == 403
    assert upload(ApiClient(staff.marketing), "payments", CSV.encode()).status_code == 403


def test_undo_of_an_unfinished_import_is_409(staff: Any) -> None:
    api = ApiClient(staff.manager)
    job = upload(api, "accounts", CSV.encode()).json()
    response = api.post(f"/api/imports/{job['id']}/undo")
    assert response.status_code == 409
    assert response.json()["field"] == "status"


def test_fields_list_the_recognised_headers(staff: Any) -> None:
    fields = ApiClient(staff.sales).get("/api/imports/fields/orders").json()
    by_key = {f["key"]: f for f in fields}
    assert by_key["quantity"]["required"]
    assert "数量" in by_key["quantity"]["headers"]


def test_a_large_workbook_is_uploaded_with_its_stated_row_count_and_counted_by_its_check(staff: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户编号", "客户名称", "电话"])
    for i in range(15000):
        sheet.append([f"A-{i:05}", f"客户{i}", f"020-{i:08}"])
    out = io.BytesIO()
    book.save(out)
    api = ApiClient(staff.manager)
    job = upload(api, "accounts", out.getvalue(), name="big.xlsx").json()
    assert (job["total_rows"], job["total_rows_exact"]) == (15000, False)
    assert job["mapping"] == {"0": "code", "1": "name", "2": "phone"}
    listed = api.get("/api/imports").json()["items"][0]
    assert (listed["total_rows"], listed["total_rows_exact"]) == (15000, False)
