"""The segment pages through Django's test client: list, classification, members, movers, editor, runs,
the account page's panel, in both languages, for editors and for a salesperson.

Huey runs at once under the test settings, so a recompute posted here is over when the redirect is followed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from django.utils import timezone

from patron.segments import services
from patron.segments.models import Classification, Membership, SegmentRun
from patron.staff.models import User
from tests.api_client import as_user
from tests.factories import SALES_BANDS, make_account, make_order, make_product


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture(autouse=True)
def english(staff: Any) -> None:
    User.objects.update(language="en")


def _run(day: dt.date) -> SegmentRun:
    run = services.run_create(actor=None, as_of=day)
    services.run_perform(run)
    return run


@pytest.fixture
def shop(staff: Any) -> dict[str, Any]:
    """The salesperson's small, middle and big accounts and a prospect, a colleague's big account; two runs,
    between which the middle account moves from mid to high."""
    services.classification_create(
        actor=staff.manager, data={"key": "sales_bands", "name_zh": "销售额分档", "definition": SALES_BANDS}
    )
    product = make_product(price="100.00", cost="60.00")
    long_ago = today() - dt.timedelta(days=200)
    accounts = {
        "small": make_account(staff.sales, code="S-1", name="=1+1"),
        "middle": make_account(staff.sales, code="S-2", name="Middle Co"),
        "big": make_account(staff.sales, code="S-3", name="Big Co"),
        "prospect": make_account(staff.sales, code="S-4", name="Prospect Co"),
        "other": make_account(staff.sales2, code="T-1", name="Colleague Co"),
    }
    for name, quantity in (("small", "5"), ("middle", "20"), ("big", "80"), ("other", "60")):
        make_order(staff.admin, accounts[name], [(product, quantity)], order_date=long_ago)
        make_order(staff.admin, accounts[name], [(product, "1")], order_date=long_ago + dt.timedelta(days=20))
    first = today() - dt.timedelta(days=30)
    _run(first)
    make_order(staff.admin, accounts["middle"], [(product, "40")], order_date=today() - dt.timedelta(days=2))
    _run(today())
    return {**accounts, "first": first, "product": product}


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- the list ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_list_renders_in_both_languages_with_counts_and_the_latest_run(staff, shop, language):
    response = as_user(staff.manager, language).get("/segments/")
    assert response.status_code == 200
    html = _text(response)
    assert f'<html lang="{language}">' in html
    assert 'data-testid="dist-sales_bands"' in html
    assert 'data-testid="recompute"' in html
    assert 'data-testid="run-status"' in html
    if language == "en":
        assert "Big: 3" in html
        assert "Done" in html
    else:
        assert "客户" in html  # the navigation, in Chinese


def test_the_list_shows_a_salesperson_their_own_accounts_and_no_controls(staff, shop):
    html = _text(as_user(staff.sales).get("/segments/"))
    assert "Big: 2" in html  # not the colleague's big account
    assert 'data-testid="recompute"' not in html
    assert 'data-testid="new-classification"' not in html
    assert "The accounts you can see" in html


def test_the_navigation_offers_segments(staff, shop):
    html = _text(as_user(staff.sales).get("/"))
    nav = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/segments/"' in nav


# --- runs --------------------------------------------------------------------------------------------------------


def test_an_editor_recomputes_and_a_salesperson_may_not(staff, shop):
    response = as_user(staff.sales).post("/segments/runs/")
    assert response.status_code == 403
    assert SegmentRun.objects.count() == 2
    client = as_user(staff.marketing)
    response = client.post("/segments/runs/", follow=True)
    assert response.status_code == 200
    assert SegmentRun.objects.count() == 3
    assert SegmentRun.objects.order_by("-id").first().status == SegmentRun.DONE
    assert "Recompute started for" in _text(response)


def test_the_progress_polls_while_a_run_lasts_then_refreshes_the_page(staff, shop):
    run = SegmentRun.objects.create(
        as_of=today(), status=SegmentRun.RUNNING, step="classify", steps_done=3, steps_total=4
    )
    client = as_user(staff.sales)
    html = _text(client.get("/segments/"))
    assert f'hx-get="/segments/runs/{run.pk}/"' in html
    assert "Classifying accounts" in html
    assert 'value="75"' in html
    assert 'data-testid="recompute"' not in html
    partial = client.get(f"/segments/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in partial.content.decode()
    SegmentRun.objects.filter(pk=run.pk).update(status=SegmentRun.DONE)
    done = client.get(f"/segments/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    # an editor asking to recompute meanwhile is shown the run under way, not a second one
    SegmentRun.objects.filter(pk=run.pk).update(status=SegmentRun.RUNNING)
    as_user(staff.admin).post("/segments/runs/")
    assert SegmentRun.objects.count() == 3


# --- one classification ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_classification_page_renders_in_both_languages(staff, shop, language):
    response = as_user(staff.admin, language).get("/segments/sales_bands/")
    assert response.status_code == 200
    html = _text(response)
    assert 'data-testid="distribution-chart"' in html
    assert 'data-testid="movement-table"' in html
    assert 'data-testid="counts-over-time"' in html
    assert 'data-testid="edit"' in html


def test_a_classification_page_shows_counts_cut_points_and_movement(staff, shop):
    html = _text(as_user(staff.manager).get("/segments/sales_bands/"))
    counts = dict(re.findall(r'data-testid="class-count" data-key="(\w+)">.*?data-testid="count">(\d+)<', html))
    assert counts == {"low": "2", "mid": "0", "high": "3"}
    assert "CNY 1,000.00, CNY 5,000.00" in html
    before, after = shop["first"].isoformat(), today().isoformat()
    link = f"/segments/sales_bands/movers/?before={before}&amp;after={after}&amp;from=mid&amp;to=high"
    assert link in html
    assert "1 of 5 accounts changed class" in html


def test_a_salesperson_sees_their_accounts_and_no_edit_link(staff, shop):
    html = _text(as_user(staff.sales).get("/segments/sales_bands/"))
    counts = dict(re.findall(r'data-testid="class-count" data-key="(\w+)">.*?data-testid="count">(\d+)<', html))
    assert counts == {"low": "2", "mid": "0", "high": "2"}
    assert 'data-testid="edit"' not in html
    assert "1 of 4 accounts changed class" in html


def test_a_bad_day_is_said_and_the_page_still_shows(staff, shop):
    response = as_user(staff.manager).get("/segments/sales_bands/?as_of=2026-02-30")
    assert response.status_code == 400
    assert "“2026-02-30” is not a day" in _text(response)
    assert as_user(staff.manager).get("/segments/nope/").status_code == 404


def test_movers_show_their_values_then_and_now_and_why(staff, shop):
    before, after = shop["first"].isoformat(), today().isoformat()
    url = f"/segments/sales_bands/movers/?before={before}&after={after}&from=mid&to=high"
    html = _text(as_user(staff.sales).get(url))
    assert html.count('data-testid="mover-row"') == 1
    assert "Middle Co" in html
    assert "CNY 2,100.00" in html
    assert "CNY 6,100.00" in html
    assert "Cumulative sales is CNY 6,100.00, at least CNY 5,000.00: Big." in html
    assert 'data-testid="mover-row"' not in _text(as_user(staff.sales2).get(url))
    assert as_user(staff.sales).get(url.replace("to=high", "to=gold")).status_code == 400


def test_the_members_of_a_class_paged_with_why_and_export(staff, shop):
    client = as_user(staff.sales)
    html = _text(client.get("/segments/sales_bands/accounts/?class=low"))
    assert html.count('data-testid="member-row"') == 2
    assert "Prospect Co" in html
    assert "Cumulative sales is CNY 600.00, below CNY 1,000.00: Small." in html
    assert 'data-testid="export-csv"' in html
    response = client.get("/segments/export/?segment=sales_bands&class=high&format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["S-2", "S-3"]  # not the colleague's account
    low = client.get("/segments/export/?segment=sales_bands&class=low&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(low.streaming_content).decode("utf-8-sig"))))
    assert rows[1][1] == "'=1+1"
    assert client.get("/segments/export/?segment=sales_bands&format=pdf").status_code == 400
    assert client.get("/segments/export/?segment=nope&format=csv").status_code == 404


def test_the_members_page_says_when_a_class_is_unknown(staff, shop):
    response = as_user(staff.manager).get("/segments/sales_bands/accounts/?class=gold")
    assert response.status_code == 400
    assert "Unknown class: gold." in _text(response)


def test_the_rfm_grid_and_the_churn_list(staff, shop):
    client = as_user(staff.manager)
    html = _text(client.get("/segments/rfm/"))
    assert 'hx-get="/segments/rfm/rfm/' in html
    grid = _text(client.get("/segments/rfm/rfm/"))
    cells = re.findall(r'data-testid="rfm-cell" data-r="(\d)" data-fm="(\d)"><span class="n">(\d+)<', grid)
    assert len(cells) == 25
    assert sum(int(n) for _r, _fm, n in cells) == 4  # four accounts bought, the prospect is apart
    assert "No orders: 1" in grid
    # Each buyer's membership keeps its RFM code (R, F, M digits); the grid counts cells from it ...
    codes = Membership.objects.filter(classification__key="rfm", valid_to__isnull=True, score__isnull=False)
    assert codes.count() == 4
    assert all(111 <= m.score <= 555 and set(str(int(m.score))) <= set("12345") for m in codes)
    # ... and memberships stored before runs kept it are scored again from their values, to the same cells.
    codes.update(score=None)
    again = _text(client.get("/segments/rfm/rfm/"))
    assert re.findall(r'data-testid="rfm-cell" data-r="(\d)" data-fm="(\d)"><span class="n">(\d+)<', again) == cells
    assert client.get("/segments/sales_bands/rfm/").status_code == 404

    lifecycle = _text(client.get("/segments/lifecycle/"))
    assert 'data-testid="churn-list"' in lifecycle
    # the small, big and colleague's accounts ordered twice 180 days ago, 20 days apart: churned
    assert lifecycle.count('data-testid="member-row"') == 3
    # why, as measured when they became churned (the first run, 30 days ago) ...
    assert "Last order 150 days ago; it usually orders every 20 days, and after 60 days" in lifecycle
    # ... and how late they are today: 180 days against a rhythm of 20, nine times
    assert '<td class="num">180</td> <td class="num">20</td> <td class="num">9.0</td>' in lifecycle


# --- the account page --------------------------------------------------------------------------------------------


def test_the_account_page_shows_each_class_since_when_the_class_before_and_why(staff, shop):
    html = _text(as_user(staff.sales).get("/accounts/S-2/"))
    assert 'data-testid="account-segments"' in html
    row = html.split('data-key="sales_bands"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="class" data-testid="segment-class">Big</td>' in row
    assert today().isoformat() in row
    assert "Medium" in row
    assert "Cumulative sales is CNY 6,100.00, at least CNY 5,000.00: Big." in row


def test_the_account_page_shows_what_it_bought_by_category_in_the_last_year(staff, shop):
    html = _text(as_user(staff.sales).get("/accounts/S-2/"))
    table = html.split('data-testid="category-mix"', 1)[1].split("</table>", 1)[0]
    # 40 units in the last year (the older orders are 200 days old: in the year too), all tea
    assert "<td>Tea</td>" in table
    assert "CNY 6,100.00" in table
    assert "100%" in table
    html = _text(as_user(staff.sales).get("/accounts/S-4/"))
    assert "Nothing bought in the last 12 months." in html


def test_the_account_page_panel_renders_in_chinese(staff, shop):
    response = as_user(staff.sales, "zh-hans").get("/accounts/S-2/")
    assert response.status_code == 200
    assert 'data-testid="account-segments"' in response.content.decode()


# --- the editor --------------------------------------------------------------------------------------------------


def _form(**extra: str) -> dict[str, str]:
    data = {
        "key": "aov",
        "name_zh": "客单价",
        "name_en": "Order value",
        "window": "trailing_12_months",
        "active": "on",
        "kind": "single",
        "indicator": "sales",
        "method": "thresholds",
        "ties": "group",
        "normalisation": "minmax",
        "class_key_0": "low",
        "class_key_1": "mid",
        "cut_1": "1000",
        "class_key_2": "high",
        "class_label_2": "Top",
        "cut_2": "5000",
    }
    data.update(extra)
    return data


def test_the_editor_is_for_editors_only(staff, shop):
    client = as_user(staff.sales)
    assert client.get("/segments/new/").status_code == 403
    assert client.post("/segments/new/", _form()).status_code == 403
    assert client.get("/segments/sales_bands/edit/").status_code == 403
    assert not Classification.objects.filter(key="aov").exists()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_editor_renders_in_both_languages(staff, shop, language):
    client = as_user(staff.manager, language)
    assert client.get("/segments/new/").status_code == 200
    html = _text(client.get("/segments/rfm/edit/"))
    assert "&quot;champions&quot;" in html  # the RFM definition as pretty JSON
    assert re.search(r'<fieldset data-kinds="rules rfm lifecycle">', html)


def test_the_editor_previews_counts_without_saving_then_saves(staff, shop):
    client = as_user(staff.manager)
    response = client.post("/segments/new/", {**_form(), "action": "preview"})
    assert response.status_code == 200
    html = _text(response)
    previewed = dict(re.findall(r'data-testid="preview-count" data-key="(\w+)">.*?data-testid="count">(\d+)<', html))
    assert previewed == {"low": "2", "mid": "0", "high": "3"}
    assert not Classification.objects.filter(key="aov").exists()

    response = client.post("/segments/new/", {**_form(), "action": "save"})
    assert response.status_code == 302
    assert response["Location"] == "/segments/aov/"
    saved = Classification.objects.get(key="aov")
    assert saved.definition == {
        "kind": "single",
        "indicator": "sales",
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high", "label": "Top"}],
        "method": "thresholds",
        "thresholds": ["1000", "5000"],
    }


def test_the_editor_puts_each_error_beside_its_field(staff, shop):
    client = as_user(staff.manager)
    response = client.post("/segments/new/", {**_form(cut_2="500", key="sales_bands", class_key_1="mid!")})
    assert response.status_code == 400
    html = _text(response)
    assert re.search(r'id="id_cut_2_error"[^>]*>Must be greater than the previous cut point \(1000\)\.<', html)
    assert 'id="id_class_key_1_error"' in html
    assert re.search(r'id="id_key_error">Another classification has this key\.<', html)
    assert Classification.objects.filter(key="sales_bands").get().definition == SALES_BANDS


def test_the_editor_maps_errors_when_a_row_is_left_empty(staff, shop):
    data = _form(class_key_1="", cut_1="", class_key_3="top", cut_3="abc")
    response = as_user(staff.manager).post("/segments/new/", data)
    assert response.status_code == 400
    # rows 0, 2 and 3 are the classes; the fault is the cut point typed in row 3
    assert re.search(r'id="id_cut_3_error"[^>]*>Enter a', _text(response))


def test_the_editor_takes_quantiles_as_percentages(staff, shop):
    data = _form(method="quantiles", cut_1="50%", cut_2="80%", key="q")
    response = as_user(staff.manager).post("/segments/new/", data)
    assert response.status_code == 302
    definition = Classification.objects.get(key="q").definition
    assert definition["quantiles"] == ["0.5", "0.8"]
    assert definition["ties"] == "group"


def test_the_editor_builds_a_weighted_score(staff, shop):
    data = _form(kind="score", key="score", weight_sales="40", weight_overdue="-10", normalisation="percentile")
    response = as_user(staff.manager).post("/segments/new/", {**data, "cut_1": "40", "cut_2": "70"})
    assert response.status_code == 302
    definition = Classification.objects.get(key="score").definition
    assert definition["weights"] == {"sales": "40", "overdue": "-10"}
    assert definition["normalisation"] == "percentile"


def test_the_editor_refuses_all_zero_weights_beside_the_weights(staff, shop):
    data = _form(kind="score", key="score", weight_sales="0")
    response = as_user(staff.manager).post("/segments/new/", data)
    assert response.status_code == 400
    assert 'data-field="weights">At least one weight must be non-zero.' in _text(response)


def test_the_editor_edits_json_kinds_and_says_where_json_is_wrong(staff, shop):
    client = as_user(staff.manager)
    rfm = Classification.objects.get(key="rfm")
    base = {"name_zh": rfm.name_zh, "window": "trailing_12_months", "active": "on", "kind": "rfm"}
    response = client.post("/segments/rfm/edit/", {**base, "definition_json": "{not json"})
    assert response.status_code == 400
    assert "This is not valid JSON" in _text(response)
    changed = dict(rfm.definition, bins=7)
    response = client.post("/segments/rfm/edit/", {**base, "definition_json": json.dumps(changed)})
    assert response.status_code == 400
    assert re.search(
        r'id="id_definition_json_error">segments: Some accounts would fall in no class\.<', _text(response)
    )
    labels = dict(rfm.definition)
    labels["segments"] = [dict(s, label="冠军" if s["key"] == "champions" else s["label"]) for s in labels["segments"]]
    response = client.post("/segments/rfm/edit/", {**base, "definition_json": json.dumps(labels)})
    assert response.status_code == 302
    rfm.refresh_from_db()
    assert rfm.definition["segments"][0]["label"] == "冠军"


def test_more_rows_for_classes_without_errors(staff, shop):
    response = as_user(staff.manager).post("/segments/new/", {**_form(), "action": "more"})
    assert response.status_code == 200
    html = _text(response)
    assert 'name="class_key_4"' in html
    assert 'class="error"' not in html
