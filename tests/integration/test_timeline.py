"""Timeline entries written by services are worded when read, in the reader's language."""

from django.utils import translation

from patron.accounts.timeline import EVENTS, render
from tests.api_client import ApiClient
from tests.factories import make_account, make_order, make_product


def test_an_order_entry_reads_in_each_readers_language(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="10.00"), "3")])
    entry = account.activities.get(event="order_confirmed")
    assert entry.params == {"number": order.number, "total": "30.00 CNY"}
    assert entry.subject == f"Order {order.number} confirmed, 30.00 CNY"
    with translation.override("zh-hans"):
        chinese = entry.title
    with translation.override("en"):
        english = entry.title
    assert order.number in chinese
    assert "confirmed" in english
    assert chinese != english


def test_the_api_words_the_timeline_for_the_caller(staff):
    account = make_account(staff.sales)
    make_order(staff.sales, account, [(make_product(price="10.00"), "1")])
    staff.sales.language = "en"
    staff.sales.save()
    api = ApiClient(staff.sales)
    english = api.get(f"/api/accounts/{account.code}/timeline").json()["items"][0]["subject"]
    chinese = api.get(f"/api/accounts/{account.code}/timeline", headers={"Accept-Language": "zh-hans"}).json()["items"][
        0
    ]["subject"]
    assert "confirmed" in english
    assert "confirmed" not in chinese


def test_every_event_renders_with_its_parameters_in_both_languages():
    params = {
        "number": "X1",
        "total": "1.00 CNY",
        "amount": "1.00 CNY",
        "due": "2026-01-01",
        "order": "SO1",
        "return": "R1",
        "by": "Li Lei",
        "reason": "Q1 rebate",
        "subject": "X1 visit",
        "over_by": "1.00 CNY",
        "date": "X1",  # a promise to pay names no document: its day stands for it here
        "name": "Ms Li",
    }
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for event in EVENTS:
                assert "X1" in render(event, params)


def test_an_unknown_event_falls_back_to_the_stored_subject():
    assert render("no_such_event", {}, "kept") == "kept"
    assert render("order_confirmed", {}, "kept") == "kept"
