"""Segmentation over the API: classifications, preview, runs, members, movement, an account's classes, export.

Huey runs at once under the test settings, so a run started here is over when the answer comes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone

from patron.segments import services
from patron.segments.models import Classification, SegmentRun
from tests.api_client import ApiClient, error_fields
from tests.factories import SALES_BANDS, make_account, make_order, make_product

EN = {"Accept-Language": "en"}


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def api(staff: Any) -> Any:
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


@pytest.fixture
def shop(staff: Any) -> dict[str, Any]:
    """Three of the salesperson's accounts and one of a colleague's, with sales of 500, 2,000, 8,000 and 6,000."""
    Classification.objects.filter(builtin=True).update(active=False)  # only the one under test runs
    services.classification_create(
        actor=staff.manager, data={"key": "sales_bands", "name_zh": "销售额分档", "definition": SALES_BANDS}
    )
    product = make_product(price="100.00", cost="60.00")
    month_ago = today() - dt.timedelta(days=40)
    accounts = {
        "small": make_account(staff.sales, code="S-1", name='=HYPERLINK("http://x")'),
        "middle": make_account(staff.sales, code="S-2", name="Middle Co"),
        "big": make_account(staff.sales, code="S-3", name="Big Co"),
        "other": make_account(staff.sales2, code="T-1", name="Colleague's Co"),
        "prospect": make_account(staff.sales, code="S-4", name="Prospect Co"),
    }
    for name, quantity in (("small", "5"), ("middle", "20"), ("big", "80"), ("other", "60")):
        make_order(staff.admin, accounts[name], [(product, quantity)], order_date=month_ago)
    return {**accounts, "product": product}


def _run(day: dt.date) -> SegmentRun:
    run = services.run_create(actor=None, as_of=day)
    services.run_perform(run)
    return run


@pytest.fixture
def moved(staff: Any, shop: dict[str, Any]) -> dict[str, Any]:
    """A run 30 days ago, then the middle account buys 4,000 more and a run today moves it to the top."""
    first = today() - dt.timedelta(days=30)
    _run(first)
    make_order(staff.admin, shop["middle"], [(shop["product"], "40")], order_date=today() - dt.timedelta(days=2))
    _run(today())
    return {**shop, "first": first}


# --- classifications ---------------------------------------------------------------------------------------------


def test_the_list_counts_what_each_reader_may_see(api, moved):
    everyone = {c["key"]: c for c in api("manager").get("/api/segments", headers=EN).json()}
    bands = everyone["sales_bands"]
    assert bands["as_of"] == today().isoformat()
    assert bands["counts"] == [
        {"key": "low", "label": "Small", "count": 2},
        {"key": "mid", "label": "Medium", "count": 0},
        {"key": "high", "label": "Big", "count": 3},
    ]
    assert {"value_tier", "rfm", "lifecycle"} <= set(everyone)
    mine = {c["key"]: c for c in api("sales").get("/api/segments").json()}["sales_bands"]
    assert [c["count"] for c in mine["counts"]] == [2, 0, 2]  # the colleague's big account is not counted
    finance = {c["key"]: c for c in api("finance").get("/api/segments").json()}["sales_bands"]
    assert [c["count"] for c in finance["counts"]] == [2, 0, 3]


def test_one_classification_with_its_cut_points_and_notes_in_words(api, moved):
    body = api("marketing").get("/api/segments/sales_bands", headers=EN).json()
    assert body["definition"] == SALES_BANDS
    assert body["cut_points"] == [{"band": "", "values": ["CNY 1,000.00", "CNY 5,000.00"]}]
    assert body["notes"] == []  # thresholds: nothing was fitted
    assert api("marketing").get("/api/segments/nope").status_code == 404


def test_quantiles_that_tie_are_explained_with_the_cut_points_used(api, staff, moved):
    services.classification_create(
        actor=staff.admin,
        data={
            "key": "orders_q",
            "name_zh": "订单数分位",
            "definition": {
                "kind": "single",
                "indicator": "purchase_count",
                "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
                "method": "quantiles",
                "quantiles": ["0.3", "0.6"],
            },
        },
    )
    _run(today())
    notes = api("admin").get("/api/segments/orders_q", headers=EN).json()["notes"]
    tied = [n for n in notes if n["code"] == "QUANTILES_TIED"]
    # purchase counts 0, 1, 1, 1, 2: the plain cut points 1 and 1 would leave the middle class empty
    assert [n["text"] for n in tied] == [
        "Quantiles tied on Purchase count: equal values stay in one class, so the cut points 1, 2 were used "
        "instead of 1, 1 (class sizes 1, 3, 1)."
    ]


def test_create_edit_and_their_refusals(api, staff, shop):
    good = {"key": "aov", "name_zh": "客单价", "name_en": "Order value", "definition": SALES_BANDS}
    response = api("marketing").post("/api/segments", good, headers=EN)
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "Order value"
    assert response.json()["counts"] == [
        {"key": "low", "label": "Small", "count": 0},
        {"key": "mid", "label": "Medium", "count": 0},
        {"key": "high", "label": "Big", "count": 0},
    ]

    bad = {**SALES_BANDS, "thresholds": ["5000", "1000"], "indicator": "sales"}
    response = api("marketing").post("/api/segments", {**good, "key": "aov2", "definition": bad}, headers=EN)
    assert response.status_code == 422
    assert "definition.thresholds.1" in error_fields(response)
    [message] = [e["msg"] for e in response.json()["detail"] if e["loc"] == ["body", "definition", "thresholds", 1]]
    assert message == "Must be greater than the previous cut point (5000)."

    response = api("marketing").post(
        "/api/segments",
        {**good, "key": "aov", "name_zh": "", "definition": {**SALES_BANDS, "indicator": "shoe_size"}},
        headers=EN,
    )
    assert response.status_code == 422
    assert {"key", "name_zh", "definition.indicator"} <= error_fields(response)
    assert not Classification.objects.filter(key="aov2").exists()

    assert api("sales").post("/api/segments", {**good, "key": "mine"}).status_code == 403
    assert api("finance").patch("/api/segments/aov", {"name_en": "x"}).status_code == 403
    assert not Classification.objects.filter(key="mine").exists()

    response = api("manager").patch("/api/segments/aov", {"definition": {**SALES_BANDS, "classes": []}}, headers=EN)
    assert response.status_code == 422
    assert "definition.classes" in error_fields(response)
    response = api("manager").patch("/api/segments/aov", {"name_en": "Basket size"}, headers=EN)
    assert response.status_code == 200
    assert response.json()["name"] == "Basket size"
    assert response.json()["version"] == 1  # the definition did not change
    assert api("manager").patch("/api/segments/nope", {"name_en": "x"}).status_code == 404


def test_a_definition_that_is_not_an_object_is_refused_by_name(api, shop):
    response = api("admin").post("/api/segments", {"key": "x", "name_zh": "x", "definition": [1, 2]})
    assert response.status_code == 422
    assert "definition" in error_fields(response)


# --- preview -----------------------------------------------------------------------------------------------------


def test_preview_counts_every_account_without_saving(api, shop):
    response = api("manager").post("/api/segments/preview", {"definition": SALES_BANDS}, headers=EN)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 5
    assert [(c["key"], c["count"]) for c in body["counts"]] == [("low", 2), ("mid", 1), ("high", 2)]
    assert body["cut_points"] == [{"band": "", "values": ["CNY 1,000.00", "CNY 5,000.00"]}]
    assert not SegmentRun.objects.exists()

    quantiles = {**SALES_BANDS, "method": "quantiles", "quantiles": ["0.5", "0.8"]}
    del quantiles["thresholds"]
    body = api("manager").post("/api/segments/preview", {"definition": quantiles}, headers=EN).json()
    assert sum(c["count"] for c in body["counts"]) == 5
    assert [n["code"] for n in body["notes"]] == []


def test_preview_refuses_a_bad_definition_naming_each_field_and_non_editors(api, shop):
    bad = {**SALES_BANDS, "thresholds": ["1000", "abc"], "missing": "nowhere"}
    response = api("manager").post("/api/segments/preview", {"definition": bad}, headers=EN)
    assert response.status_code == 422
    assert {"definition.thresholds.1", "definition.missing"} <= error_fields(response)
    response = api("manager").post(
        "/api/segments/preview", {"definition": SALES_BANDS, "window": "custom", "window_start": "2026-01-01"}
    )
    assert response.status_code == 422
    assert error_fields(response) == {"window_end"}
    assert api("sales").post("/api/segments/preview", {"definition": SALES_BANDS}).status_code == 403


# --- runs --------------------------------------------------------------------------------------------------------


def test_a_recompute_answers_202_and_its_progress_can_be_followed(api, shop):
    response = api("manager").post("/api/segment-runs", {})
    assert response.status_code == 202, response.json()
    run = response.json()
    assert run["as_of"] == today().isoformat()
    assert response["Location"] == f"/api/segment-runs/{run['id']}"
    status = api("sales").get(response["Location"]).json()
    assert (status["status"], status["percent"], status["accounts"]) == ("done", 100, 5)
    assert [r["id"] for r in api("sales").get("/api/segment-runs").json()] == [run["id"]]
    assert api("sales").get("/api/segment-runs/999999").status_code == 404


def test_a_recompute_is_refused_to_non_editors_and_into_the_past(api, shop):
    assert api("sales").post("/api/segment-runs", {}).status_code == 403
    assert api("finance").post("/api/segment-runs", {}).status_code == 403
    assert not SegmentRun.objects.exists()
    assert api("admin").post("/api/segment-runs", {}).status_code == 202
    response = api("admin").post("/api/segment-runs", {"as_of": (today() - dt.timedelta(days=3)).isoformat()})
    assert response.status_code == 422
    assert error_fields(response) == {"as_of"}
    response = api("admin").post("/api/segment-runs", {"as_of": "2026-02-30"})
    assert response.status_code == 422
    assert error_fields(response) == {"as_of"}


def test_asking_again_while_a_run_is_under_way_gives_that_run(api, staff, shop):
    running = SegmentRun.objects.create(as_of=today(), status=SegmentRun.RUNNING, step="classify", steps_total=4)
    response = api("admin").post("/api/segment-runs", {})
    assert response.status_code == 202
    assert response.json()["id"] == running.pk
    assert response.json()["status"] == "running"
    assert SegmentRun.objects.count() == 1


# --- members -----------------------------------------------------------------------------------------------------


def test_the_accounts_in_a_segment_on_a_day_with_why(api, moved):
    body = api("manager").get("/api/segments/sales_bands/accounts", {"class_key": "high"}, headers=EN).json()
    assert [i["account"]["code"] for i in body["items"]] == ["S-2", "S-3", "T-1"]
    middle = body["items"][0]
    assert middle["since"] == today().isoformat()
    assert middle["values"] == {"sales": 6000.0}
    assert middle["reasons"][0]["code"] == "BAND"
    assert middle["reasons"][0]["text"] == "Cumulative sales is CNY 6,000.00, at least CNY 5,000.00: Big."

    before = api("manager").get(
        "/api/segments/sales_bands/accounts", {"class_key": "high", "as_of": moved["first"].isoformat()}
    )
    assert [i["account"]["code"] for i in before.json()["items"]] == ["S-3", "T-1"]

    mine = api("sales").get("/api/segments/sales_bands/accounts", {"class_key": ["high", "low"], "limit": 2}).json()
    assert [i["account"]["code"] for i in mine["items"]] == ["S-1", "S-2"]
    rest = api("sales").get(
        "/api/segments/sales_bands/accounts", {"class_key": ["high", "low"], "cursor": mine["next_cursor"]}
    )
    assert [i["account"]["code"] for i in rest.json()["items"]] == ["S-3", "S-4"]


def test_members_refuse_a_bad_day_an_unknown_class_and_an_unknown_classification(api, moved):
    response = api("manager").get("/api/segments/sales_bands/accounts", {"as_of": "2026-13-01"})
    assert response.status_code == 422
    assert error_fields(response) == {"as_of"}
    response = api("manager").get("/api/segments/sales_bands/accounts", {"class_key": "gold"}, headers=EN)
    assert response.status_code == 422
    assert error_fields(response) == {"class_key"}
    assert response.json()["detail"][0]["msg"] == "Unknown class: gold."
    assert api("manager").get("/api/segments/nope/accounts").status_code == 404
    assert api("manager").get("/api/segments/sales_bands/accounts", {"cursor": "garbage"}).status_code == 422


# --- movement ----------------------------------------------------------------------------------------------------


def test_movement_between_the_last_two_snapshots_and_its_movers(api, moved):
    body = api("manager").get("/api/segments/sales_bands/movement").json()
    assert (body["before"], body["after"]) == (moved["first"].isoformat(), today().isoformat())
    cells = {(c["before_class"], c["after_class"]): c["count"] for c in body["cells"]}
    assert cells == {("low", "low"): 2, ("mid", "high"): 1, ("high", "high"): 2}
    assert (body["moved"], body["total"]) == (1, 5)

    query = {
        "before": moved["first"].isoformat(),
        "after": today().isoformat(),
        "before_class": "mid",
        "after_class": "high",
    }
    movers = api("sales").get("/api/segments/sales_bands/movers", query, headers=EN).json()["items"]
    assert [m["account"]["code"] for m in movers] == ["S-2"]
    assert movers[0]["before_values"] == {"sales": 2000.0}
    assert movers[0]["after_values"] == {"sales": 6000.0}
    assert "at least CNY 5,000.00" in movers[0]["reasons"][0]["text"]
    assert api("sales2").get("/api/segments/sales_bands/movers", query).json()["items"] == []


def test_movement_for_a_salesperson_counts_only_their_accounts(api, moved):
    body = api("sales2").get("/api/segments/sales_bands/movement").json()
    assert {(c["before_class"], c["after_class"]): c["count"] for c in body["cells"]} == {("high", "high"): 1}


def test_movement_refuses_days_in_the_wrong_order(api, moved):
    response = api("manager").get("/api/segments/sales_bands/movement", {"before": "2026-05-01", "after": "2026-01-01"})
    assert response.status_code == 422
    assert error_fields(response) == {"after"}


# --- an account's classes ---------------------------------------------------------------------------------------


def test_an_accounts_classes_with_the_class_before_and_why(api, moved):
    response = api("sales").get("/api/accounts/S-2/segments", headers=EN)
    assert response.status_code == 200
    [placement] = response.json()
    assert (placement["classification"], placement["class_key"], placement["label"]) == ("sales_bands", "high", "Big")
    assert (placement["previous_class"], placement["previous_label"]) == ("mid", "Medium")
    assert placement["previous_since"] == moved["first"].isoformat()
    assert placement["reasons"][0]["text"] == "Cumulative sales is CNY 6,000.00, at least CNY 5,000.00: Big."
    assert api("sales").get("/api/accounts/T-1/segments").status_code == 404  # a colleague's account
    assert api("sales").get("/api/accounts/NOPE/segments").status_code == 404


def test_reasons_follow_the_callers_language(api, moved):
    [placement] = api("sales").get("/api/accounts/S-2/segments", headers={"Accept-Language": "zh-hans"}).json()
    assert placement["reasons"][0]["code"] == "BAND"
    assert "6,000.00" in placement["reasons"][0]["text"]


# --- export ------------------------------------------------------------------------------------------------------


def _rows(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_a_segment_as_csv_with_formulas_defused(api, moved):
    response = api("manager").get("/api/segments/sales_bands/export", {"class_key": "low"}, headers=EN)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert rows[0] == ["Code", "Name", "Owner", "Class", "In this class since", "Cumulative sales"]
    assert [r[0] for r in rows[1:]] == ["S-1", "S-4"]
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][3] == "Small"
    assert rows[1][5] == "500.00"
    assert rows[2][5] == "0.00"  # a prospect: no sales


def test_export_is_scoped_and_refuses_bad_input(api, moved):
    rows = _rows(api("sales2").get("/api/segments/sales_bands/export", {"class_key": "high"}))
    assert [r[0] for r in rows[1:]] == ["T-1"]
    workbook = api("manager").get("/api/segments/sales_bands/export", {"format": "xlsx"})
    assert workbook.status_code == 200
    assert workbook["Content-Type"].startswith("application/vnd.openxmlformats")
    assert api("manager").get("/api/segments/sales_bands/export", {"class_key": "gold"}).status_code == 422
    assert api("manager").get("/api/segments/sales_bands/export", {"format": "pdf"}).status_code == 422
    assert api("manager").get("/api/segments/nope/export").status_code == 404


def test_every_reason_the_engine_writes_has_words():
    """A reason code without words would reach the reader as its code."""
    import re
    from pathlib import Path

    import patron.domain.segmentation as engine
    import patron.segments as app
    from patron.segments.messages import _REASONS

    sources = [*Path(engine.__path__[0]).glob("*.py"), *Path(app.__path__[0]).glob("*.py")]
    codes = set()
    for path in sources:
        text = path.read_text()
        codes |= set(re.findall(r'(?:Reason|_band_reason)\(\s*"([A-Z_]+)"', text))
        codes |= set(re.findall(r'^([A-Z_]+) = "\1"$', text, re.MULTILINE))
    assert {"BAND", "QUANTILES_TIED", "RFM_CELL", "ON_RHYTHM"} <= codes
    missing = sorted(code for code in codes if code not in _REASONS)
    assert missing == []
