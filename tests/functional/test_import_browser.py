"""A salesperson imports a customer list in headless Chromium: report by row and column, fix, import, undo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from patron.accounts.models import Account
from patron.imports import services
from patron.imports.models import ImportJob

pytestmark = pytest.mark.browser

HEADER = "客户编号,客户名称,电话,信用额度,账期\n"
WITH_ERRORS = (
    HEADER
    + 'SZ-001,深圳华强电子有限公司,0755-88886666,"50,000.00",30\n'
    + "GZ-002,广州白云商贸有限公司,020-66668888,五万,45\n"
    + "BJ-003,北京中关村科技有限公司,010-62626262,80000,abc\n"
)
FIXED = WITH_ERRORS.replace(",五万,", ",50000,").replace(",abc\n", ",60\n")


def _screenshot(page, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def salesperson(staff):
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    return staff.sales


def _upload(page, live_server, name: str, text: str) -> None:
    page.goto(f"{live_server.url}/imports/")
    page.get_by_test_id("new-import").click()
    page.select_option("#id_kind", "accounts")
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode("gb18030")}])
    _screenshot(page, "import-upload")
    page.get_by_test_id("upload").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))


def test_salesperson_fixes_a_file_by_its_report_then_imports_and_undoes_it(live_server, sign_in, salesperson):
    page = sign_in("sales")

    _upload(page, live_server, "客户名单.csv", WITH_ERRORS)
    expect(page.get_by_test_id("file-encoding")).to_have_text("gb18030")
    expect(page.get_by_test_id("file-rows")).to_have_text("3")
    expect(page.locator("select[name=column_0]")).to_have_value("code")
    expect(page.locator("select[name=column_3]")).to_have_value("credit_limit")
    expect(page.get_by_test_id("preview")).to_contain_text("北京中关村科技有限公司")
    _screenshot(page, "import-mapping")

    page.get_by_test_id("check").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Checked")
    expect(page.get_by_test_id("count-errors")).to_have_text("2")
    problems = page.get_by_test_id("problem")
    expect(problems).to_have_count(2)
    expect(problems.nth(0).get_by_test_id("problem-row")).to_have_text("3")
    expect(problems.nth(0).get_by_test_id("problem-column")).to_have_text("D (信用额度)")
    expect(problems.nth(0).get_by_test_id("problem-message")).to_have_text("“五万” is not a number.")
    expect(problems.nth(1).get_by_test_id("problem-row")).to_have_text("4")
    expect(problems.nth(1).get_by_test_id("problem-column")).to_have_text("E (账期)")
    expect(page.get_by_test_id("check")).to_have_class("primary")
    _screenshot(page, "import-report")
    assert not Account.objects.exists()

    _upload(page, live_server, "客户名单-改.csv", FIXED)
    page.get_by_test_id("check").click()
    expect(page.get_by_test_id("check-ok")).to_be_visible()
    expect(page.get_by_test_id("count-would-create")).to_have_text("3")
    expect(page.get_by_test_id("problem")).to_have_count(0)
    expect(page.get_by_test_id("run")).to_have_class("primary")

    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Imported")
    expect(page.get_by_test_id("count-created")).to_have_text("3")
    assert Account.objects.get(code="BJ-003").payment_terms_days == 60
    _screenshot(page, "import-done")

    page.get_by_test_id("undo").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/undo/$"))
    page.get_by_test_id("confirm-undo").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Undone")
    expect(page.get_by_test_id("undone-note")).to_be_visible()
    assert not Account.objects.exists()

    page.goto(f"{live_server.url}/imports/")
    rows = page.get_by_test_id("import-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Undone")
    expect(rows.nth(1)).to_contain_text("Checked")


def test_the_page_follows_a_check_in_the_background_and_shows_its_report(live_server, sign_in, salesperson):
    """A check claimed but not yet done shows a progress bar that polls; when it is done the page reloads."""
    job = services.job_create(actor=salesperson, kind="accounts", file_name="list.csv", data=WITH_ERRORS.encode())
    job = services.job_start(actor=salesperson, job=job, dry_run=True)
    services.write_progress(job, 1)
    page = sign_in("sales")
    page.goto(f"{live_server.url}/imports/{job.pk}/")
    expect(page.get_by_test_id("import-progress")).to_contain_text("1 of 3 rows")
    expect(page.get_by_test_id("run")).to_have_count(0)

    services.job_perform(actor=salesperson, job=job, dry_run=True)  # what the worker does
    expect(page.get_by_test_id("import-status")).to_have_text("Checked")
    expect(page.get_by_test_id("import-progress")).to_have_count(0)
    expect(page.get_by_test_id("problem")).to_have_count(2)
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.CHECKED
