"""The accounts API over HTTP: create, read, change, list with filters and pages, contacts, timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from patron.accounts.models import Account, CustomField
from patron.audit.models import AuditEvent
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_industry, make_invoice, make_order, make_product, make_region_tree


@pytest.fixture
def as_user(staff):
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


def test_me_tells_who_is_calling_and_what_the_role_may_do(as_user):
    response = as_user("sales").get("/api/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "sales"
    assert body["role"] == "salesperson"
    assert body["team"] == "South"
    assert "record_order" in body["actions"]
    assert "record_invoice" not in body["actions"]


def test_create_an_account_with_references_by_code_and_read_it_back(staff, as_user):
    make_region_tree()
    make_industry()
    CustomField.objects.create(key="positioning", label_zh="定位", kind="choice", choices=["premium", "value"])
    response = as_user("sales").post(
        "/api/accounts",
        {
            "code": "ACME-1",
            "name": "Acme 贸易",
            "region": "SZ",
            "industry": "RETAIL",
            "tags": ["vip", "tea"],
            "credit_limit": "50000.50",
            "phone": "０２０－１２３４５６７",
            "notes": "Likes green tea",
            "custom": {"positioning": "premium"},
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == "ACME-1"
    assert body["owner"]["username"] == "sales"  # a salesperson's new account is theirs
    assert body["region"] == {"code": "SZ", "name": "深圳"}  # in the user's language, zh-hans
    assert body["credit_limit"] == "50000.50"
    assert isinstance(body["credit_limit"], str)
    assert body["phone"] == "020-1234567"
    assert sorted(body["tags"]) == ["tea", "vip"]
    assert body["custom"] == {"positioning": "premium"}
    assert body["notes"] == "Likes green tea"
    assert dt.datetime.fromisoformat(body["created_at"]).tzinfo is not None

    again = as_user("sales").get("/api/accounts/ACME-1").json()
    assert again == body
    english = as_user("sales").get("/api/accounts/ACME-1", headers={"Accept-Language": "en"}).json()
    assert english["region"]["name"] == "Shenzhen"


def test_private_notes_reach_owner_and_manager_but_never_marketing_or_finance(staff, as_user):
    account = make_account(staff.sales, notes="Owner is retiring next year")
    url = f"/api/accounts/{account.code}"
    assert as_user("sales").get(url).json()["notes"] == "Owner is retiring next year"
    assert as_user("manager").get(url).json()["notes"] == "Owner is retiring next year"
    for name in ("marketing", "finance"):
        response = as_user(name).get(url)
        assert response.status_code == 200
        assert response.json()["notes"] is None
        assert "retiring" not in response.content.decode()


def test_history_hides_private_notes_from_finance(staff, as_user):
    as_user("sales").post("/api/accounts", {"code": "N1", "name": "Noted", "notes": "secret plan"})
    own = as_user("sales").get("/api/accounts/N1/history").json()["items"]
    assert own[0]["action"] == "ACCOUNT_CREATED"
    assert own[0]["changes"]["notes"] == [None, "secret plan"]
    response = as_user("finance").get("/api/accounts/N1/history")
    assert response.status_code == 200
    assert "secret plan" not in response.content.decode()
    assert response.json()["items"][0]["changes"]["name"][1] == "Noted"


def test_patch_changes_only_the_fields_sent_and_is_audited(staff, as_user):
    account = make_account(staff.sales, name="Old name", phone="020-1234567")
    response = as_user("sales").patch(f"/api/accounts/{account.code}", {"name": "New name", "is_key_account": True})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["is_key_account"], body["phone"]) == ("New name", True, "020-1234567")
    event = AuditEvent.objects.get(action="ACCOUNT_UPDATED", account=account)
    assert event.changes["name"] == ["Old name", "New name"]
    assert event.actor == staff.sales


def test_manager_reassigns_within_the_team_but_a_salesperson_cannot(staff, as_user):
    account = make_account(staff.sales)
    url = f"/api/accounts/{account.code}"
    response = as_user("manager").patch(url, {"owner": "sales2"})
    assert response.status_code == 200
    assert response.json()["owner"]["username"] == "sales2"
    mine = make_account(staff.sales)
    response = as_user("sales").patch(f"/api/accounts/{mine.code}", {"owner": "sales2"})
    assert response.status_code == 422
    assert error_fields(response) == {"owner"}
    mine.refresh_from_db()
    assert mine.owner == staff.sales


def test_list_filters_by_region_tree_tag_key_account_and_custom_field(staff, as_user):
    regions = make_region_tree()
    CustomField.objects.create(key="size", label_zh="规模", kind="number")
    a = make_account(staff.admin, region=regions["SZ"], is_key_account=True, custom={"size": "120"})
    b = make_account(staff.admin, region=regions["HZ"], custom={"size": "20"})
    c = make_account(staff.sales)
    a.tags.create(name="vip")
    admin = as_user("admin")

    def codes(**params):
        response = admin.get("/api/accounts", params)
        assert response.status_code == 200, response.json()
        return [item["code"] for item in response.json()["items"]]

    assert codes(region="GD") == [a.code]
    assert codes(region="CN") == [a.code, b.code]
    assert codes(tag="vip") == [a.code]
    assert codes(key_account="true") == [a.code]
    assert codes(key_account="false", region="CN") == [b.code]
    assert codes(**{"custom.size": "100.."}) == [a.code]
    assert codes(**{"custom.size": "..50"}) == [b.code]
    assert codes(owner="admin", sort="-code") == sorted([a.code, b.code], reverse=True)
    assert codes(owner="sales") == [c.code]
    assert codes(q=b.name) == [b.code]


def test_list_answers_only_what_the_caller_may_see(staff, as_user):
    own = make_account(staff.sales)
    team = make_account(staff.sales2)
    other = make_account(staff.sales3)

    def codes(name):
        return {item["code"] for item in as_user(name).get("/api/accounts").json()["items"]}

    assert codes("sales") == {own.code}
    assert codes("manager") == {own.code, team.code}
    assert codes("manager2") == {other.code}
    assert codes("marketing") == {own.code, team.code, other.code}


def test_pages_walk_every_account_once_even_with_tied_names(staff, as_user):
    for i in range(23):
        make_account(staff.admin, name="Same name" if i % 2 else f"Name {i % 5}")
    expected = set(Account.objects.values_list("code", flat=True))
    for sort in ("name", "-name", "code", "-created_at"):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 4, "sort": sort} | ({"cursor": cursor} if cursor else {})
            body = as_user("admin").get("/api/accounts", params).json()
            seen += [item["code"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == len(expected), sort
        assert set(seen) == expected
        assert pages == 6
    names = [
        item["name"] for item in as_user("admin").get("/api/accounts", {"sort": "name", "limit": 200}).json()["items"]
    ]
    assert names == sorted(names)


def test_contacts_are_added_changed_and_removed(staff, as_user):
    account = make_account(staff.sales)
    client = as_user("sales")
    first = client.post(f"/api/accounts/{account.code}/contacts", {"name": "Li Lei", "email": "li@Example.COM"})
    assert first.status_code == 201, first.json()
    assert first.json()["is_primary"] is True
    assert first.json()["email"] == "li@example.com"
    second = client.post(
        f"/api/accounts/{account.code}/contacts", {"name": "Han Meimei", "role": "buyer", "is_primary": True}
    )
    assert second.status_code == 201
    listed = client.get(f"/api/accounts/{account.code}/contacts").json()
    assert [c["name"] for c in listed] == ["Han Meimei", "Li Lei"]
    changed = client.patch(f"/api/contacts/{first.json()['id']}", {"email_consent": True})
    assert changed.status_code == 200
    assert changed.json()["email_consent_at"] is not None
    gone = client.delete(f"/api/contacts/{second.json()['id']}")
    assert gone.status_code == 204
    assert [c["name"] for c in client.get(f"/api/accounts/{account.code}/contacts").json()] == ["Li Lei"]


def test_timeline_pages_newest_first_and_hides_private_entries_from_marketing(staff, as_user):
    account = make_account(staff.sales)
    client = as_user("sales")
    now = timezone.now()
    for i in range(5):
        response = client.post(
            f"/api/accounts/{account.code}/notes",
            {"kind": "call", "subject": f"Call {i}", "occurred_at": (now - dt.timedelta(hours=i)).isoformat()},
        )
        assert response.status_code == 201, response.json()
    make_order(staff.sales, account)
    page = client.get(f"/api/accounts/{account.code}/timeline", {"limit": 3}).json()
    assert len(page["items"]) == 3
    rest = client.get(f"/api/accounts/{account.code}/timeline", {"cursor": page["next_cursor"]}).json()
    everything = page["items"] + rest["items"]
    assert len(everything) == 6
    times = [dt.datetime.fromisoformat(i["occurred_at"]) for i in everything]
    assert times == sorted(times, reverse=True)
    marketing = as_user("marketing").get(f"/api/accounts/{account.code}/timeline").json()["items"]
    assert [i["kind"] for i in marketing] == ["order"]


def test_receivables_give_owed_overdue_and_aging_as_text(staff, as_user):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="100.00"), "3")])
    make_invoice(staff.finance, order, issue_date=dt.date(2020, 1, 1), due_date=dt.date(2020, 1, 31))
    response = as_user("finance").get(f"/api/accounts/{account.code}/receivables")
    assert response.status_code == 200
    (cny,) = response.json()["balances"]
    assert cny["currency"] == "CNY"
    assert cny["owed"] == "300.00"
    assert cny["overdue"] == "300.00"
    assert cny["aging"]["90+"] == "300.00"
    assert cny["aging"]["current"] == "0"


def test_reference_data_lists_regions_industries_and_active_custom_fields(staff, as_user):
    make_region_tree()
    make_industry()
    CustomField.objects.create(key="old", label_zh="旧", kind="text", active=False)
    CustomField.objects.create(key="size", label_zh="规模", label_en="Size", kind="number")
    client = as_user("marketing")
    regions = client.get("/api/regions").json()
    assert {"code": "SZ", "parent": "GD", "path": "CN/GD/SZ/"}.items() <= next(
        r for r in regions if r["code"] == "SZ"
    ).items()
    assert client.get("/api/industries").json()[0]["code"] == "RETAIL"
    assert [f["key"] for f in client.get("/api/custom-fields").json()] == ["size"]


def test_a_salesperson_cannot_create_an_account_for_someone_else(staff, as_user):
    response = as_user("sales").post("/api/accounts", {"code": "GIFT", "name": "Gift", "owner": "sales2"})
    assert response.status_code == 422
    assert error_fields(response) == {"owner"}
    assert not Account.objects.filter(code="GIFT").exists()
    created = as_user("manager").post("/api/accounts", {"code": "TEAM", "name": "Team", "owner": "sales2"})
    assert created.status_code == 201
    assert created.json()["owner"]["username"] == "sales2"
