"""A salesperson exports a long account list in headless Chromium: the offer, the progress bar, the file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from patron.exports import services
from patron.exports.models import ExportJob
from tests.factories import make_account

pytestmark = pytest.mark.browser


def _screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_long_export_shows_its_progress_then_downloads(live_server, sign_in, staff, settings, tmp_path, monkeypatch):
    settings.PATRON_EXPORT_DIRECT_ROWS = 5
    settings.VAR_DIR = tmp_path
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    mine = [make_account(staff.sales, name=f"=cmd|' /C calc'!A{n}") for n in range(6)]
    make_account(staff.sales2)
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)  # the worker is this test, below

    page = sign_in("sales")
    page.goto(f"{live_server.url}/accounts/")
    page.get_by_test_id("export-xlsx").click()
    expect(page.get_by_test_id("export-offer")).to_contain_text("more than 5 rows")
    _screenshot(page, "export-offer")
    page.get_by_test_id("start-export").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    expect(page.get_by_test_id("export-progress")).to_contain_text("Waiting to start")
    assert len(queued) == 1

    job = services.export_job_claim(queued[0])  # what the worker does: claim, count, write
    assert job is not None
    ExportJob.objects.filter(pk=job.pk).update(rows_total=6, rows_done=3)
    expect(page.get_by_test_id("export-progress")).to_contain_text("3 of 6 rows")
    expect(page.get_by_test_id("export-status")).to_have_text("Writing")
    expect(page.locator("#export-progress progress")).to_have_attribute("value", "50")
    _screenshot(page, "export-progress")

    services.export_job_write(job)
    expect(page.get_by_test_id("export-status")).to_have_text("Ready")
    expect(page.get_by_test_id("export-progress")).to_have_count(0)
    _screenshot(page, "export-ready")
    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    download: Any = info.value
    assert re.fullmatch(r"accounts-\d{8}-\d{4}\.xlsx", download.suggested_filename)
    path = tmp_path / "downloaded.xlsx"
    download.save_as(path)
    rows = list(load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted(a.code for a in mine)
    assert all(str(r[1]).startswith("'=cmd") for r in rows[1:])

    page.goto(f"{live_server.url}/exports/")
    expect(page.get_by_test_id("export-row")).to_have_count(1)
    expect(page.get_by_test_id("export-row")).to_contain_text("Ready")
    _screenshot(page, "export-list")
