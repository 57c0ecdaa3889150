"""What-if and effect over the API and as pages: who may do what, bad input by field, both languages.

The data (March 2025 for the what-if, a VIP policy for the effect) and its hand-worked figures are
those of ``tests/integration/test_discount_analysis.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patron.discounts import analysis
from patron.discounts.models import WhatIfRun
from tests.api_client import ApiClient, error_fields
from tests.integration import test_discount_analysis as data

# The integration tests' data and fixtures (their figures are worked out by hand there).
MARCH = data.MARCH
march = data.march
vip = data.vip
_builtins = data._builtins
_fresh_book = data._fresh_book

EN = {"Accept-Language": "en"}


@pytest.fixture
def api(staff: Any) -> Any:
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


def signed_in(user: Any, language: str = "en") -> Client:
    user.language = language
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


def what_if_url(policy: Any) -> str:
    return f"/api/discount-policies/{policy.pk}/what-if"


# --- API ----------------------------------------------------------------------------------------------------------


def test_a_manager_replays_a_draft_over_the_api_and_reads_it_again(api, march):
    response = api("manager").post(what_if_url(march.draft), MARCH, headers=EN)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done"
    assert body["percent"] == 100
    assert body["currency"] == "CNY"
    assert [(row["key"], row["label"]) for row in body["segments"]] == [
        ("low", "Low value"),
        ("high", "High value"),
        ("", "(none)"),
    ]
    high = body["segments"][1]
    assert (high["current_discount"], high["policy_discount"], high["policy_margin"]) == ("40.00", "59.50", "120.50")
    totals = body["totals"]
    assert (totals["label"], totals["orders"], totals["policy_discount"]) == ("Total", 3, "79.50")
    again = api("finance").get(f"{what_if_url(march.draft)}/{body['id']}", headers=EN)
    assert again.status_code == 200
    assert again.json()["totals"] == totals
    listed = api("manager").get(what_if_url(march.draft)).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert listed[0]["created_by"] == "manager"


def test_a_large_period_answers_202_and_the_run_is_followed_to_its_result(
    api, march, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(analysis, "INLINE_LINES", 1)
    with django_capture_on_commit_callbacks(execute=True):  # huey runs at once under the test settings
        response = api("manager").post(what_if_url(march.draft), {**MARCH, "classes_as_of": "period_end"})
    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["background"], queued["lines_total"]) == ("queued", True, 4)
    assert queued["url"] == reverse("discounts:what_if_run", args=[queued["id"]])
    done = api("manager").get(f"{what_if_url(march.draft)}/{queued['id']}").json()
    assert done["status"] == "done"
    assert done["totals"]["policy_discount"] == "79.50"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2025-03-31", "end": "2025-03-01"}, "end"),
        ({"classification": "no_such_thing"}, "classification"),
        ({"period": "last_week"}, "period"),
        ({"start": "1 March"}, "start"),
        ({"classes_as_of": "yesterday"}, "classes_as_of"),
        ({"end": None}, "end"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(api, march, change, field):
    response = api("manager").post(what_if_url(march.draft), {**MARCH, **change}, headers=EN)
    assert response.status_code == 422, response.content
    assert field in error_fields(response)
    assert not WhatIfRun.objects.exists()


def test_the_end_before_the_start_is_explained_in_english(api, march):
    response = api("manager").post(
        what_if_url(march.draft), {**MARCH, "start": "2025-03-31", "end": "2025-03-01"}, headers=EN
    )
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "end"]
    assert error["msg"] == "The last day must not come before the first."


def test_only_those_who_edit_discounts_may_replay_and_managers_admins_finance_may_read(api, march, vip):
    for name in ("sales", "finance", "marketing"):
        assert api(name).post(what_if_url(march.draft), MARCH).status_code == 403
    assert api("admin").post(what_if_url(march.draft), MARCH).status_code == 201
    run = WhatIfRun.objects.get()
    effect = f"/api/discount-policies/{vip.policy.pk}/effect"
    for name in ("sales", "marketing"):
        assert api(name).get(effect).status_code == 403
        assert api(name).get(f"{what_if_url(march.draft)}/{run.pk}").status_code == 403
    for name in ("admin", "manager", "finance"):
        assert api(name).get(effect).status_code == 200
    assert ApiClient().get(effect).status_code == 401


def test_unknown_policies_and_runs_are_404(api, march):
    assert api("manager").post("/api/discount-policies/999999/what-if", MARCH).status_code == 404
    assert api("manager").get(f"{what_if_url(march.draft)}/999999").status_code == 404
    assert api("manager").get("/api/discount-policies/999999/effect").status_code == 404


def test_effect_over_the_api_with_the_difference_in_differences(api, vip, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2025, 6, 1))
    response = api("finance").get(f"/api/discount-policies/{vip.policy.pk}/effect", headers=EN)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["before"] == {"start": "2025-01-29", "end": "2025-02-28"}
    assert body["during"] == {"start": "2025-03-01", "end": "2025-03-31", "running": False}
    assert body["targeted"]["during"] == {
        "accounts": 2,
        "orders": 2,
        "sales": "540.00",
        "margin": "180.00",
        "discount": "60.00",
    }
    assert body["comparison"]["before"]["sales"] == "620.00"
    assert body["did"] == {"sales": "93.33", "margin": "13.33", "orders": "0.00"}
    assert body["did_mix"] == {"sales": "-40.00", "margin": "-40.00", "orders": "0.00"}
    assert body["mix_coverage"] == "1.0000"
    assert body["monthly"] == {"targeted": ["0.00", "200.00", "360.00"], "comparison": ["0.00", "206.67", "273.33"]}
    assert body["targeting"] == "who_or_discount"


def test_a_draft_has_no_effect_409(api, march):
    response = api("manager").get(f"/api/discount-policies/{march.draft.pk}/effect", headers=EN)
    assert response.status_code == 409
    assert response.json()["field"] == "status"


# --- pages --------------------------------------------------------------------------------------------------------


def test_a_manager_asks_a_what_if_on_its_page_and_reads_the_result(staff, march):
    client = signed_in(staff.manager)
    page = client.get(reverse("discounts:what_if", args=[march.draft.pk]))
    assert page.status_code == 200
    assert b'data-testid="what-if-form"' in page.content
    response = client.post(
        reverse("discounts:what_if", args=[march.draft.pk]),
        {
            "period": "custom",
            "start": "2025-03-01",
            "end": "2025-03-31",
            "classification": "value_tier",
            "classes_as_of": "order_date",
        },
    )
    run = WhatIfRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("discounts:what_if_run", args=[run.pk])
    result = client.get(response["Location"])
    assert result.status_code == 200
    text = result.content.decode()
    assert 'data-testid="what-if-table"' in text
    assert "59.50" in text
    assert "79.50" in text
    assert "each order&#x27;s own date" in text or "each order's own date" in text
    assert 'data-testid="discount-chart"' in text
    assert 'data-testid="margin-chart"' in text
    assert client.get(reverse("discounts:what_if", args=[march.draft.pk])).content.count(b"what-if-run-row") == 1


def test_the_form_shows_each_problem_next_to_its_field(staff, march):
    client = signed_in(staff.manager)
    response = client.post(
        reverse("discounts:what_if", args=[march.draft.pk]),
        {
            "period": "custom",
            "start": "2025-03-31",
            "end": "2025-03-01",
            "classification": "value_tier",
            "classes_as_of": "order_date",
        },
    )
    assert response.status_code == 400
    assert b"The last day must not come before the first." in response.content
    assert b'data-field="end"' in response.content
    assert not WhatIfRun.objects.exists()


def test_pages_refuse_those_who_may_not(staff, march, vip):
    sales = signed_in(staff.sales)
    for url in (
        reverse("discounts:analysis"),
        reverse("discounts:what_if", args=[march.draft.pk]),
        reverse("discounts:effect", args=[vip.policy.pk]),
    ):
        assert sales.get(url).status_code == 403
    finance = signed_in(staff.finance)
    page = finance.get(reverse("discounts:what_if", args=[march.draft.pk]))
    assert page.status_code == 200
    assert b'data-testid="what-if-form"' not in page.content
    assert (
        finance.post(reverse("discounts:what_if", args=[march.draft.pk]), {"period": "last_month"}).status_code == 403
    )


def test_a_background_run_shows_its_progress_until_it_is_done(staff, march):
    run = WhatIfRun.objects.create(
        policy=march.draft,
        start=dt.date(2025, 3, 1),
        end=dt.date(2025, 3, 31),
        classification_key="value_tier",
        status=WhatIfRun.RUNNING,
        background=True,
        lines_total=1000,
        lines_done=250,
        progress_at=timezone.now(),
    )
    client = signed_in(staff.manager)
    page = client.get(reverse("discounts:what_if_run", args=[run.pk]))
    assert b'data-testid="what-if-progress"' in page.content
    assert b'value="25"' in page.content
    partial = client.get(reverse("discounts:what_if_progress", args=[run.pk]), headers={"HX-Request": "true"})
    assert b"hx-trigger" in partial.content
    WhatIfRun.objects.filter(pk=run.pk).update(status=WhatIfRun.DONE, result={"segments": [], "totals": None})
    done = client.get(reverse("discounts:what_if_progress", args=[run.pk]), headers={"HX-Request": "true"})
    assert done.headers.get("HX-Refresh") == "true"


def test_the_effect_page_shows_both_groups_the_difference_and_the_chart(staff, vip, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2025, 6, 1))
    client = signed_in(staff.finance)
    page = client.get(reverse("discounts:effect", args=[vip.policy.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="did-sales">93.33' in text
    assert 'data-testid="did-mix-sales">-40.00' in text
    assert 'data-testid="effect-monthly"' in text
    assert "2025-01-29 – 2025-02-28" in text


def test_a_draft_effect_page_says_why_there_is_nothing(staff, march):
    page = signed_in(staff.manager).get(reverse("discounts:effect", args=[march.draft.pk]))
    assert page.status_code == 409
    assert b"what-if" in page.content


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_page_renders_in_both_languages(staff, march, vip, language, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2025, 6, 1))
    client = signed_in(staff.manager, language)
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    for url in (
        reverse("discounts:analysis"),
        reverse("discounts:what_if", args=[march.draft.pk]),
        reverse("discounts:what_if_run", args=[run.pk]),
        reverse("discounts:effect", args=[vip.policy.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert f'<html lang="{language}"'.encode() in page.content


def test_the_policy_list_links_the_analysis_for_those_who_may_read_it(staff):
    from django.test import Client
    from django.urls import reverse

    for user, shown in ((staff.manager, True), (staff.finance, True), (staff.sales, False)):
        client = Client()
        client.force_login(user)
        page = client.get(reverse("discounts:policy_list")).content.decode()
        assert ('data-testid="open-analysis"' in page) is shown, user.username
