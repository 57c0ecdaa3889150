"""Possible duplicates and merging over the API: lists, checks, dismissals, merges and their refusals."""

from __future__ import annotations

import pytest

from patron.accounts.models import Account, DuplicateDismissal
from patron.audit.models import AuditEvent
from patron.sales.models import Order
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_order


@pytest.fixture
def api(staff):
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


@pytest.fixture
def twins(staff):
    a = make_account(staff.sales, code="HQ-1", name="华强实业有限公司", notes="secret A")
    b = make_account(staff.sales, code="HQ-2", name="深圳市华强实业有限公司", phone="0755-8888 6666", notes="secret B")
    make_order(staff.sales, b)
    return a, b


def test_the_list_gives_pairs_with_reasons_in_words(api, twins):
    body = api("manager").get("/api/accounts/duplicates", headers={"Accept-Language": "en"}).json()
    assert body["pending"] is False
    [pair] = body["items"]
    assert (pair["account"]["code"], pair["other"]["code"]) == ("HQ-1", "HQ-2")
    assert pair["score"] == 95
    assert pair["reasons"] == [
        {
            "code": "SAME_NAME",
            "params": {"name": "华强实业", "other": "华强实业", "similarity": 1.0},
            "text": "Same name, legal form and punctuation aside (华强实业)",
        }
    ]


def test_the_list_of_one_account_and_an_unknown_account_filter(api, twins):
    assert len(api("admin").get("/api/accounts/duplicates", {"account": "HQ-2"}).json()["items"]) == 1
    response = api("sales3").get("/api/accounts/duplicates", {"account": "HQ-2"})
    assert response.status_code == 422
    assert error_fields(response) == {"account"}


def test_an_account_coded_like_a_path_word_does_not_shadow_the_list(api, staff, twins):
    assert api("admin").get("/api/accounts/HQ-1").status_code == 200
    assert "items" in api("admin").get("/api/accounts/duplicates").json()


def test_check_a_record_before_creating_it_sees_only_what_the_caller_may_see(api, twins):
    record = {"name": "华强实业（深圳）有限公司", "phone": "+86 755 88886666"}
    found = api("sales").post("/api/accounts/duplicates/check", record).json()
    assert [(m["account"]["code"], sorted(r["code"] for r in m["reasons"])) for m in found] == [
        ("HQ-2", ["SAME_NAME", "SAME_PHONE"]),
        ("HQ-1", ["SAME_NAME"]),
    ]
    assert api("sales3").post("/api/accounts/duplicates/check", record).json() == []


def test_duplicates_of_one_account(api, twins):
    found = api("sales").get("/api/accounts/HQ-1/duplicates").json()
    assert [m["account"]["code"] for m in found] == ["HQ-2"]
    assert api("sales3").get("/api/accounts/HQ-1/duplicates").status_code == 404


def test_dismiss_a_pair(api, staff, twins):
    response = api("sales").post("/api/accounts/duplicates/dismiss", {"account": "HQ-2", "other": "HQ-1"})
    assert response.status_code == 200
    assert response.json()["account"]["code"] == "HQ-1"
    assert response.json()["dismissed_by"]["username"] == "sales"
    assert api("sales").get("/api/accounts/duplicates").json()["items"] == []
    assert api("admin").get("/api/accounts/HQ-1/duplicates").json() == []


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({"account": "HQ-1", "other": "NOPE"}, 422, {"other"}),
        ({"account": "HQ-1", "other": "HQ-1"}, 422, {"other"}),
        ({"account": "HQ-1"}, 422, {"other"}),
    ],
)
def test_dismissing_with_bad_input_names_the_field(api, twins, body, status, fields):
    response = api("sales").post("/api/accounts/duplicates/dismiss", body)
    assert response.status_code == status
    assert error_fields(response) == fields
    assert not DuplicateDismissal.objects.exists()


def test_dismissing_others_accounts_is_forbidden(api, staff, twins):
    mine = make_account(staff.sales2, code="MINE", name="华强实业")
    response = api("sales2").post("/api/accounts/duplicates/dismiss", {"account": "MINE", "other": "HQ-1"})
    assert response.status_code == 422  # HQ-1 is not theirs to see: unknown to them
    assert error_fields(response) == {"other"}
    response = api("manager").post("/api/accounts/duplicates/dismiss", {"account": mine.code, "other": "HQ-1"})
    assert response.status_code == 200


# --- merge ---------------------------------------------------------------------------------------------


def test_merge_moves_the_orders_and_hides_the_other_account(api, staff, twins):
    a, _b = twins
    response = api("manager").post("/api/accounts/HQ-1/merge", {"other": "HQ-2", "fields": {"notes": "both"}})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["already_merged"] is False
    assert body["merged"]["code"] == "HQ-2"
    assert body["moved"]["sales.order"] == 1
    assert Order.objects.get().account_id == a.pk
    assert api("manager").get("/api/accounts/HQ-2").status_code == 404
    codes = [item["code"] for item in api("manager").get("/api/accounts").json()["items"]]
    assert "HQ-2" not in codes
    account = api("manager").get("/api/accounts/HQ-1").json()
    assert account["phone"] == "0755-8888 6666"  # blank filled from the other
    assert account["notes"] == "secret A\n\nsecret B"


def test_merging_again_returns_the_first_result(api, twins):
    first = api("admin").post("/api/accounts/HQ-1/merge", {"other": "HQ-2"}).json()
    again = api("admin").post("/api/accounts/HQ-1/merge", {"other": "HQ-2"})
    assert again.status_code == 200
    assert again.json() == {**first, "already_merged": True}
    assert AuditEvent.objects.filter(action="ACCOUNT_MERGED").count() == 1


def test_the_history_of_the_survivor_holds_both_and_hides_private_snapshots_from_finance(api, twins):
    api("admin").post("/api/accounts/HQ-1/merge", {"other": "HQ-2"})
    events = api("admin").get("/api/accounts/HQ-1/history").json()["items"]
    merge = next(e for e in events if e["action"] == "ACCOUNT_MERGED")
    assert merge["changes"]["snapshots"]["merged"]["notes"] == "secret B"
    assert {e["entity_type"] for e in events} >= {"account", "order"}  # the other's order history came along
    finance = api("finance").get("/api/accounts/HQ-1/history").json()["items"]
    merge = next(e for e in finance if e["action"] == "ACCOUNT_MERGED")
    assert "notes" not in merge["changes"]["snapshots"]["merged"]
    assert "notes" not in merge["changes"]["snapshots"]["survivor"]
    assert "secret" not in str(finance)


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/accounts/HQ-1/merge", {"other": "HQ-1"}, 422, "other"),
        ("/api/accounts/HQ-1/merge", {"other": "NOPE"}, 422, "other"),
        ("/api/accounts/HQ-1/merge", {}, 422, "other"),
        ("/api/accounts/HQ-1/merge", {"other": "HQ-2", "fields": {"colour": "this"}}, 422, "fields.colour"),
        ("/api/accounts/HQ-1/merge", {"other": "HQ-2", "fields": {"name": "mine"}}, 422, "fields.name"),
        ("/api/accounts/HQ-1/merge", {"other": "HQ-2", "fields": ["name"]}, 422, "fields"),
    ],
)
def test_bad_merge_input_is_a_422_naming_the_field(api, twins, path, body, status, field):
    response = api("manager").post(path, body)
    assert response.status_code == status
    assert field in error_fields(response)
    assert not Account.objects.filter(merged_into__isnull=False).exists()


def test_merging_into_a_merged_account_is_a_409_naming_it(api, staff, twins):
    make_account(staff.sales, code="HQ-3", name="other")
    api("manager").post("/api/accounts/HQ-1/merge", {"other": "HQ-2"})
    response = api("manager").post("/api/accounts/HQ-2/merge", {"other": "HQ-3"})
    assert response.status_code == 409
    assert response.json()["field"] == "account"
    assert "HQ-1" in response.json()["detail"]
    response = api("manager").post("/api/accounts/HQ-3/merge", {"other": "HQ-2"})
    assert response.status_code == 409
    assert response.json()["field"] == "other"


def test_an_unknown_or_invisible_account_in_the_path_is_a_404(api, twins):
    assert api("manager").post("/api/accounts/NOPE/merge", {"other": "HQ-2"}).status_code == 404
    assert api("sales3").post("/api/accounts/HQ-1/merge", {"other": "HQ-2"}).status_code == 404


@pytest.mark.parametrize("who", ["sales", "finance", "marketing"])
def test_who_may_not_merge_gets_a_403(api, twins, who):
    response = api(who).post("/api/accounts/HQ-1/merge", {"other": "HQ-2"})
    assert response.status_code == 403
    assert not Account.objects.filter(merged_into__isnull=False).exists()
