"""Background exports: the file holds what its owner may export when it is written, with progress, for a week."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import load_workbook

from patron.audit.models import AuditEvent
from patron.exports import services
from patron.exports.models import ExportJob
from patron.sales.models import Order
from tests.factories import make_account, make_invoice, make_order, make_product


@pytest.fixture(autouse=True)
def _own_var_dir(settings: Any, tmp_path: Any) -> None:
    """Each test's files in a directory of its own, so counts of files removed are this test's."""
    settings.VAR_DIR = tmp_path


def start(actor: Any, capture: Any, list_name: str = "accounts", kind: str = "csv", query: str = "") -> ExportJob:
    """Ask for an export and let the (immediate) queue write it, as the worker would after the commit."""
    with capture(execute=True):
        job = services.export_job_start(actor=actor, list_name=list_name, kind=kind, query=query)
    job.refresh_from_db()
    return job


def rows_of(job: ExportJob) -> list[list[Any]]:
    path, _name = services.export_file(job)
    if job.format == "xlsx":
        sheet = load_workbook(path, read_only=True).worksheets[0]
        return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_the_file_holds_only_the_accounts_the_owner_may_export(staff, django_capture_on_commit_callbacks):
    mine = make_account(staff.sales, name="深圳茶行")
    make_account(staff.sales2, name="Not mine")
    job = start(staff.sales, django_capture_on_commit_callbacks)
    assert job.status == ExportJob.DONE, job.message
    rows = rows_of(job)
    assert [r[0] for r in rows[1:]] == [mine.code]
    assert (job.rows_total, job.rows_done) == (1, 1)
    assert job.expires_at - job.finished_at == dt.timedelta(days=services.KEEP_DAYS)


def test_visibility_is_applied_again_when_the_file_is_written(staff, monkeypatch):
    """Asked for while two accounts were hers; one moved to a colleague before the worker ran."""
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    kept = make_account(staff.sales)
    moved = make_account(staff.sales)
    job = services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv")
    moved.owner = staff.sales3
    moved.save()
    job = services.export_job_perform(job.pk)
    assert [r[0] for r in rows_of(job)[1:]] == [kept.code]


def test_an_owner_who_may_no_longer_export_gets_a_failed_export_and_no_file(staff, monkeypatch):
    staff.finance.language = "en"  # the message is in the owner's language
    staff.finance.save()
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    make_invoice(staff.finance, make_order(staff.sales, make_account(staff.sales)))
    job = services.export_job_start(actor=staff.finance, list_name="invoices", kind="xlsx")
    staff.finance.role = "marketing"  # marketing may not see invoices
    staff.finance.save()
    job = services.export_job_perform(job.pk)
    assert job.status == ExportJob.FAILED
    assert job.message == "You may no longer export this list."
    assert not job.stored_as
    assert not list(services.export_dir().glob("*.part"))


def test_a_deactivated_owner_gets_no_file(staff, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    make_account(staff.sales)
    job = services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv")
    staff.sales.is_active = False
    staff.sales.save()
    assert services.export_job_perform(job.pk).status == ExportJob.FAILED


def test_formula_looking_cells_are_escaped_in_both_formats(staff, django_capture_on_commit_callbacks):
    make_account(staff.sales, name="=cmd|' /C calc'!A0", address="@SUM(1+1)")
    for kind in ("csv", "xlsx"):
        rows = rows_of(start(staff.admin, django_capture_on_commit_callbacks, kind=kind))
        assert rows[1][1] == "'=cmd|' /C calc'!A0"
        assert "'@SUM(1+1)" in rows[1]


def test_an_order_export_keeps_the_lists_filters_and_scope(staff, django_capture_on_commit_callbacks):
    staff.sales.language = "en"
    staff.sales.save()
    mine = make_account(staff.sales, name="@mine")
    confirmed = make_order(staff.sales, mine)
    make_order(staff.sales, mine, confirm=False)
    make_order(staff.sales2, make_account(staff.sales2))
    job = start(staff.sales, django_capture_on_commit_callbacks, "orders", "xlsx", f"status={Order.CONFIRMED}")
    assert job.status == ExportJob.DONE, job.message
    rows = rows_of(job)
    assert rows[0][:2] == ["Number", "Account code"]
    assert [r[0] for r in rows[1:]] == [confirmed.number]
    assert rows[1][2] == "'@mine"


def test_the_job_file_matches_the_direct_download(staff, client, django_capture_on_commit_callbacks):
    """The same list, filtered the same way, gives the same rows whether downloaded at once or in the background."""
    for n in range(4):
        make_product(sku=f"SKU-{n}", name=f"=HYPERLINK({n})", active=n != 2)
    client.force_login(staff.manager)
    direct = b"".join(client.get("/sales/products/?q=SKU&format=csv").streaming_content).decode("utf-8-sig")
    job = start(staff.manager, django_capture_on_commit_callbacks, "products", "csv", "q=SKU")
    assert rows_of(job) == list(csv.reader(io.StringIO(direct)))
    assert len(rows_of(job)) == 4  # the header and the three active products


def test_headings_are_in_the_owners_language(staff, django_capture_on_commit_callbacks):
    staff.sales.language = "zh-hans"
    staff.sales.save()
    make_account(staff.sales)
    assert rows_of(start(staff.sales, django_capture_on_commit_callbacks))[0][:2] == ["编号", "名称"]


def test_progress_is_saved_while_the_file_is_written(staff, monkeypatch, django_capture_on_commit_callbacks):
    for _n in range(5):
        make_account(staff.sales)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    seen: list[tuple[str, int | None, int]] = []
    save = services._save_progress

    def watched(job: ExportJob, done: int) -> None:
        save(job, done)
        stored = ExportJob.objects.get(pk=job.pk)
        seen.append((stored.status, stored.rows_total, stored.rows_done))

    monkeypatch.setattr(services, "_save_progress", watched)
    job = start(staff.sales, django_capture_on_commit_callbacks, kind="xlsx")
    assert seen == [("running", 5, 2), ("running", 5, 4), ("running", 5, 5)]
    assert (job.status, job.percent) == (ExportJob.DONE, 100)


def test_asking_is_audited_and_bad_requests_are_refused(staff, django_capture_on_commit_callbacks):
    job = start(staff.sales, django_capture_on_commit_callbacks, query="key_account=yes")
    event = AuditEvent.objects.get(action="ACCOUNTS_EXPORTED", actor=staff.sales)
    assert event.changes["export"] == [None, job.pk]
    assert event.changes["filters"] == [None, "key_account=yes"]
    with pytest.raises(ValidationError) as bad:
        services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv", query="region=NOWHERE")
    assert "region" in str(bad.value.message_dict["query"])
    with pytest.raises(ValidationError) as unknown:
        services.export_job_start(actor=staff.sales, list_name="contracts", kind="pdf")
    assert set(unknown.value.message_dict) == {"list", "format"}
    with pytest.raises(PermissionDenied):
        services.export_job_start(actor=staff.marketing, list_name="invoices", kind="csv")
    assert ExportJob.objects.count() == 1


def test_asking_twice_while_it_is_written_gives_the_same_export_and_a_repeated_task_writes_once(staff, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    make_account(staff.sales)
    first = services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv")
    assert services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv").pk == first.pk
    assert services.export_job_start(actor=staff.sales, list_name="accounts", kind="xlsx").pk != first.pk
    done = services.export_job_perform(first.pk)
    stored_as = done.stored_as
    again = services.export_job_perform(first.pk)
    assert (again.status, again.stored_as, again.finished_at) == (ExportJob.DONE, stored_as, done.finished_at)


def test_old_files_are_removed_and_stalled_exports_failed(staff, monkeypatch, django_capture_on_commit_callbacks):
    staff.sales.language = "en"  # the message is in the owner's language
    staff.sales.save()
    make_account(staff.sales)
    done = start(staff.sales, django_capture_on_commit_callbacks)
    path, _name = services.export_file(done)
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    waiting = services.export_job_start(actor=staff.sales, list_name="accounts", kind="xlsx")
    stray = services.export_dir() / "0123456789abcdef.csv"
    stray.write_bytes(b"left behind")
    old = timezone.now().timestamp() - services.STALL_SECONDS - 1
    os.utime(stray, (old, old))

    assert services.exports_clean(timezone.now()) == {"expired": 0, "stalled": 0, "strays": 1}
    assert path.exists()
    assert not stray.exists()
    assert ExportJob.objects.get(pk=waiting.pk).status == ExportJob.QUEUED

    # A day on, nothing has picked the waiting export up: it is given up. A week on, the file goes.
    assert services.exports_clean(waiting.created_at + dt.timedelta(days=1, seconds=1))["stalled"] == 1
    waiting.refresh_from_db()
    assert waiting.status == ExportJob.FAILED
    assert "background worker" in waiting.message
    assert path.exists()

    assert services.exports_clean(done.expires_at + dt.timedelta(seconds=1)) == {
        "expired": 1,
        "stalled": 0,
        "strays": 0,
    }
    assert not path.exists()
    done.refresh_from_db()
    assert done.is_expired
    assert not done.is_ready
    with pytest.raises(services.Conflict, match="removed after 7 days"):
        services.export_file(done)


def test_a_running_export_without_progress_for_ten_minutes_is_failed(staff, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    job = services.export_job_start(actor=staff.sales, list_name="accounts", kind="csv")
    claimed = services.export_job_claim(job.pk)
    assert claimed is not None
    (services.export_dir() / (claimed.stored_as + services.PART)).write_bytes(b"half")
    assert services.exports_clean(claimed.progress_at + dt.timedelta(seconds=60))["stalled"] == 0
    assert (
        services.exports_clean(claimed.progress_at + dt.timedelta(seconds=services.STALL_SECONDS + 1))["stalled"] == 1
    )
    assert not (services.export_dir() / (claimed.stored_as + services.PART)).exists()
    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.FAILED
