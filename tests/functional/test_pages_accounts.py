"""The account pages through Django's test client: who sees what, filters, saved views and forms."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from patron.accounts import services as account_services
from patron.accounts import views as account_views
from patron.accounts.models import Account, Activity, Contact, CustomField, SavedView, Tag
from patron.audit.models import AuditEvent
from patron.staff.models import User
from tests.factories import make_account, make_industry, make_invoice, make_order, make_product, make_region_tree

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "finance", "marketing"]


@dataclass
class World:
    own: Account  # sales's, in Shenzhen (under Guangdong), with a budget of 5000
    own2: Account  # sales's, in Hangzhou
    team: Account  # sales2's: manager's team
    other: Account  # sales3's: North team


@pytest.fixture
def world(staff) -> World:
    User.objects.update(language="en")  # assert on Patron's words in English
    regions = make_region_tree()
    retail = make_industry()
    CustomField.objects.create(key="budget", label_zh="预算", label_en="Budget", kind="number")
    CustomField.objects.create(key="segment", label_zh="分层", label_en="Segment", kind="choice", choices=["A", "B"])
    own = make_account(
        staff.sales,
        code="SZ-TEA",
        name="Shenzhen Tea House",
        region=regions["SZ"],
        industry=retail,
        is_key_account=True,
        phone="0755-1234",
        notes="Owner prefers calls after 3pm",
        custom={"budget": "5000", "segment": "A"},
    )
    own.tags.add(Tag.objects.create(name="vip"))
    own2 = make_account(
        staff.sales, code="HZ-SILK", name="Hangzhou Silk Co", region=regions["HZ"], custom={"budget": "300"}
    )
    team = make_account(staff.sales2, code="GD-RICE", name="Guangdong Rice", region=regions["GD"])
    other = make_account(staff.sales3, code="BJ-DUCK", name="Beijing Duck Ltd", region=regions["CN"])
    today = timezone.localdate()
    order = make_order(staff.sales, own, [(make_product(price="120.00"), "2")], order_date=today - dt.timedelta(40))
    make_invoice(staff.finance, order, issue_date=today - dt.timedelta(40), due_date=today - dt.timedelta(10))
    account_services.note_add(actor=staff.sales, account=own, kind="call", subject="Called about the spring catalogue")
    return World(own=own, own2=own2, team=team, other=other)


def codes_in(response) -> list[str]:
    table = response.content.decode().split('data-testid="account-table"')[1].split("</table>")[0]
    return re.findall(r'<a href="/accounts/([^/"]+)/">\1</a>', table)


def listing(client, **params) -> list[str]:
    response = client.get(reverse("accounts:list"), params)
    assert response.status_code == 200
    return codes_in(response)


# --- who sees what -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_list_and_account_page_render_for_every_role_that_may_see_them(client, staff, world, role):
    client.force_login(getattr(staff, role))
    assert client.get(reverse("accounts:list")).status_code == 200
    visible = {"admin", "manager", "sales", "finance", "marketing"}
    response = client.get(reverse("accounts:detail", args=[world.own.code]))
    assert response.status_code == (200 if role in visible else 404)
    history = client.get(reverse("accounts:history", args=[world.own.code]))
    assert history.status_code == (403 if role == "marketing" else 200)


def test_a_salesperson_lists_only_own_accounts_and_gets_404_on_anothers(client, staff, world):
    client.force_login(staff.sales)
    assert sorted(listing(client)) == ["HZ-SILK", "SZ-TEA"]
    for account in (world.team, world.other):
        assert client.get(reverse("accounts:detail", args=[account.code])).status_code == 404
        assert client.get(reverse("accounts:edit", args=[account.code])).status_code == 404
        assert client.get(reverse("accounts:contact_new", args=[account.code])).status_code == 404
        assert client.post(reverse("accounts:note_new", args=[account.code]), {"kind": "note"}).status_code == 404


def test_a_manager_sees_the_team_and_not_the_other_team(client, staff, world):
    client.force_login(staff.manager)
    assert sorted(listing(client)) == ["GD-RICE", "HZ-SILK", "SZ-TEA"]
    assert client.get(reverse("accounts:detail", args=[world.other.code])).status_code == 404


def test_marketing_never_sees_private_notes_or_receivables(client, staff, world):
    client.force_login(staff.marketing)
    response = client.get(reverse("accounts:detail", args=[world.own.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Owner prefers calls" not in body
    assert 'data-testid="private-notes"' not in body
    assert 'data-testid="receivables"' not in body
    assert "Called about the spring catalogue" not in body  # a private call on the timeline
    assert ">Edit<" not in body
    list_body = client.get(reverse("accounts:list")).content.decode()
    assert "Outstanding" not in list_body
    assert client.get(reverse("accounts:edit", args=[world.own.code])).status_code == 403
    assert client.get(reverse("accounts:new")).status_code == 403


def test_the_owner_sees_notes_receivables_and_the_outstanding_column(client, staff, world):
    client.force_login(staff.sales)
    body = client.get(reverse("accounts:detail", args=[world.own.code])).content.decode()
    assert "Owner prefers calls" in body
    assert 'data-testid="receivables"' in body
    assert "CNY 240.00" in body
    assert "Called about the spring catalogue" in body
    assert "5000" in body.split('data-testid="custom-fields"')[1]
    list_body = client.get(reverse("accounts:list")).content.decode()
    assert "Outstanding" in list_body
    assert "240.00" in list_body


def test_finance_sees_receivables_but_not_notes_and_may_not_edit(client, staff, world):
    client.force_login(staff.finance)
    body = client.get(reverse("accounts:detail", args=[world.other.code])).content.decode()
    assert 'data-testid="receivables"' in body
    own = client.get(reverse("accounts:detail", args=[world.own.code])).content.decode()
    assert "Owner prefers calls" not in own
    assert client.get(reverse("accounts:edit", args=[world.own.code])).status_code == 403
    assert client.post(reverse("accounts:contact_new", args=[world.own.code]), {"name": "X"}).status_code == 403


def test_history_hides_private_note_changes_from_finance(client, staff, world):
    account_services.account_update(actor=staff.sales, account=world.own, data={"notes": "Secret: discount 12%"})
    client.force_login(staff.finance)
    body = client.get(reverse("accounts:history", args=[world.own.code])).content.decode()
    assert "Secret" not in body
    client.force_login(staff.sales)
    body = client.get(reverse("accounts:history", args=[world.own.code])).content.decode()
    assert "Secret: discount 12%" in body


# --- search, filters, sorting, paging ---------------------------------------------------------


def test_search_finds_by_name_code_phone_and_contact(client, staff, world):
    Contact.objects.create(account=world.own2, name="Ms Lin", phone="138-0000")
    client.force_login(staff.admin)
    assert listing(client, q="duck") == ["BJ-DUCK"]
    assert listing(client, q="sz-tea") == ["SZ-TEA"]
    assert listing(client, q="0755") == ["SZ-TEA"]
    assert listing(client, q="Ms Lin") == ["HZ-SILK"]


def test_region_filter_includes_every_region_below(client, staff, world):
    client.force_login(staff.admin)
    assert sorted(listing(client, region="GD")) == ["GD-RICE", "SZ-TEA"]
    assert sorted(listing(client, region="CN")) == ["BJ-DUCK", "GD-RICE", "HZ-SILK", "SZ-TEA"]
    assert listing(client, region="HZ") == ["HZ-SILK"]


def test_filters_by_owner_key_account_tag_kind_industry_and_dates(client, staff, world):
    client.force_login(staff.admin)
    assert sorted(listing(client, owner=staff.sales.pk)) == ["HZ-SILK", "SZ-TEA"]
    assert listing(client, key_account="yes") == ["SZ-TEA"]
    assert "SZ-TEA" not in listing(client, key_account="no")
    assert listing(client, tag="vip") == ["SZ-TEA"]
    assert listing(client, industry="RETAIL") == ["SZ-TEA"]
    assert listing(client, kind="person") == []
    today = timezone.localdate()
    assert listing(client, last_order_from=(today - dt.timedelta(60)).isoformat()) == ["SZ-TEA"]
    assert len(listing(client, created_from=today.isoformat(), created_to=today.isoformat())) == 4
    assert listing(client, created_to=(today - dt.timedelta(1)).isoformat()) == []


def test_custom_field_filters(client, staff, world):
    client.force_login(staff.admin)
    assert listing(client, cf_budget_min="1000") == ["SZ-TEA"]
    assert sorted(listing(client, cf_budget_max="5000")) == ["HZ-SILK", "SZ-TEA"]
    assert listing(client, cf_budget_min="100", cf_budget_max="400") == ["HZ-SILK"]
    assert listing(client, cf_segment="A") == ["SZ-TEA"]


def test_bad_filter_input_shows_an_error_not_a_500(client, staff, world):
    client.force_login(staff.admin)
    for params in (
        {"created_from": "yesterday"},
        {"cf_budget_min": "lots"},
        {"region": "ATLANTIS"},
        {"sort": "owner"},
        {"after": "not-a-cursor"},
        {"before": "%%%"},
    ):
        response = client.get(reverse("accounts:list"), params)
        assert response.status_code == 200, params


def test_sorting_by_name_descending(client, staff, world):
    client.force_login(staff.admin)
    assert listing(client, sort="-name") == ["SZ-TEA", "HZ-SILK", "GD-RICE", "BJ-DUCK"]
    body = client.get(reverse("accounts:list"), {"sort": "name"}).content.decode()
    assert "sort=-name" in body


def test_keyset_pages_go_forward_and_back(client, staff, world, monkeypatch):
    monkeypatch.setattr(account_views, "PAGE_SIZE", 3)
    client.force_login(staff.admin)
    first = client.get(reverse("accounts:list"), {"sort": "code"})
    assert codes_in(first) == ["BJ-DUCK", "GD-RICE", "HZ-SILK"]
    next_href = re.search(r'<a rel="next" href="\?([^"]+)"', first.content.decode()).group(1)
    second = client.get(reverse("accounts:list") + "?" + next_href.replace("&amp;", "&"))
    assert codes_in(second) == ["SZ-TEA"]
    assert 'rel="next"' not in second.content.decode()
    prev_href = re.search(r'<a rel="prev" href="\?([^"]+)"', second.content.decode()).group(1)
    back = client.get(reverse("accounts:list") + "?" + prev_href.replace("&amp;", "&"))
    assert codes_in(back) == ["BJ-DUCK", "GD-RICE", "HZ-SILK"]
    assert 'rel="prev"' not in back.content.decode()


def test_htmx_filtering_returns_only_the_results(client, staff, world):
    client.force_login(staff.admin)
    response = client.get(
        reverse("accounts:list"), {"q": "duck"}, headers={"HX-Request": "true", "HX-Target": "account-results"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="account-results"')
    assert "<html" not in body
    assert codes_in(response) == ["BJ-DUCK"]


# --- saved views ---------------------------------------------------------------------------------


def test_saved_view_round_trip(client, staff, world):
    client.force_login(staff.manager)
    response = client.post(
        reverse("accounts:view_save"), {"name": "Guangdong", "query": "region=GD&after=abc&sort=-name"}
    )
    assert response.status_code == 302
    view = SavedView.objects.get(user=staff.manager)
    assert parse_qs(view.query) == {"region": ["GD"], "sort": ["-name"]}
    page = client.get(reverse("accounts:list")).content.decode()
    link = re.search(r'<a href="(/accounts/\?[^"]+)">Guangdong</a>', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(link).query) == {"region": ["GD"], "sort": ["-name"]}
    assert codes_in(client.get(link)) == ["SZ-TEA", "GD-RICE"]
    # Saving under the same name replaces the filter.
    client.post(reverse("accounts:view_save"), {"name": "Guangdong", "query": "region=SZ"})
    assert SavedView.objects.get(user=staff.manager).query == "region=SZ"
    # Nobody else can delete it; its owner can.
    client.force_login(staff.sales)
    assert client.post(reverse("accounts:view_delete", args=[view.pk])).status_code == 404
    client.force_login(staff.manager)
    client.post(reverse("accounts:view_delete", args=[view.pk]))
    assert not SavedView.objects.exists()


def test_saved_view_needs_a_name(client, staff, world):
    client.force_login(staff.sales)
    response = client.post(reverse("accounts:view_save"), {"name": "", "query": "q=x"})
    assert response.status_code == 302
    assert not SavedView.objects.exists()


# --- forms ---------------------------------------------------------------------------------------


def field_errors(response) -> dict[str, list[str]]:
    body = response.content.decode()
    errors: dict[str, list[str]] = {}
    for block in re.findall(r'<div class="field[^"]*has-error[^"]*" data-field="([^"]+)">(.*?)</div>', body, re.S):
        name, html = block
        errors[name] = re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    return errors


def account_post(**overrides) -> dict[str, str]:
    data = {
        "code": "NEW-1",
        "name": "New Tea Shop",
        "kind": "company",
        "payment_terms_days": "30",
        "credit_limit": "1000",
        "preferred_channel": "phone",
        "language": "zh-hans",
        "cf_budget": "",
        "cf_segment": "",
    }
    data.update(overrides)
    return data


def test_creating_an_account_with_bad_input_shows_field_errors_and_writes_nothing(client, staff, world):
    client.force_login(staff.sales)
    before = (Account.objects.count(), AuditEvent.objects.count())
    response = client.post(
        reverse("accounts:new"),
        account_post(code="BAD CODE", phone="call me", credit_limit="12.345", cf_budget="lots"),
    )
    assert response.status_code == 200
    errors = field_errors(response)
    assert {"code", "phone", "credit_limit", "cf_budget"} <= set(errors)
    assert (Account.objects.count(), AuditEvent.objects.count()) == before


def test_a_required_custom_field_is_reported_against_its_input(client, staff, world):
    CustomField.objects.filter(key="segment").update(required=True)
    client.force_login(staff.sales)
    response = client.post(reverse("accounts:new"), account_post())
    assert "cf_segment" in field_errors(response)
    assert not Account.objects.filter(code="NEW-1").exists()


def test_creating_an_account_goes_to_its_page(client, staff, world):
    client.force_login(staff.sales)
    response = client.post(
        reverse("accounts:new"), account_post(tags="tea, wholesale", cf_budget="750", cf_segment="B")
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:detail", args=["NEW-1"])
    account = Account.objects.get(code="NEW-1")
    assert account.owner == staff.sales
    assert account.custom == {"budget": "750", "segment": "B"}
    assert sorted(account.tags.values_list("name", flat=True)) == ["tea", "wholesale"]


def test_a_duplicate_code_is_a_field_error(client, staff, world):
    client.force_login(staff.sales)
    response = client.post(reverse("accounts:new"), account_post(code="SZ-TEA"))
    assert response.status_code == 200
    assert "code" in field_errors(response)


def test_editing_an_account_records_history_with_before_and_after(client, staff, world):
    User.objects.filter(pk=staff.sales.pk).update(language="zh-hans")
    client.force_login(staff.sales)
    page = client.get(reverse("accounts:edit", args=[world.own.code]))
    assert page.status_code == 200
    assert 'value="Shenzhen Tea House"' in page.content.decode()
    data = account_post(
        code="SZ-TEA", name="Shenzhen Tea House Ltd", region=str(world.own.region_id), cf_budget="6000", cf_segment="A"
    )
    data["notes"] = world.own.notes
    data["tags"] = "vip"
    data["is_key_account"] = "on"
    data["industry"] = str(world.own.industry_id)
    data["phone"] = world.own.phone
    response = client.post(reverse("accounts:edit", args=[world.own.code]), data)
    assert response.status_code == 302, field_errors(response)
    world.own.refresh_from_db()
    assert world.own.name == "Shenzhen Tea House Ltd"
    assert world.own.custom["budget"] == "6000"
    history = client.get(reverse("accounts:history", args=[world.own.code])).content.decode()
    assert 'Shenzhen Tea House</span> → <span class="after">Shenzhen Tea House Ltd' in history
    assert "预算" in history  # the custom field's label, in the user's language (zh-hans)
    assert "5000" in history


def test_a_salesperson_cannot_hand_an_account_to_someone_else(client, staff, world):
    client.force_login(staff.sales)
    form = client.get(reverse("accounts:edit", args=[world.own.code])).content.decode()
    assert 'name="owner"' not in form


def test_adding_editing_and_removing_a_contact(client, staff, world):
    client.force_login(staff.sales)
    url = reverse("accounts:contact_new", args=[world.own2.code])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"name": "Mr Wang", "role": "buyer", "title": "Purchasing", "email": "wang@example.com", "email_consent": "on"},
    )
    assert response.status_code == 302
    contact = Contact.objects.get(account=world.own2)
    assert contact.is_primary
    assert contact.email_consent_at is not None
    page = client.get(reverse("accounts:detail", args=[world.own2.code])).content.decode()
    assert "Mr Wang" in page
    assert "Email consent since" in page
    edit = reverse("accounts:contact_edit", args=[world.own2.code, contact.pk])
    response = client.post(edit, {"name": "Mr Wang", "role": "decider", "email": "wang@example.com"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.role == "decider"
    assert contact.email_consent is False
    assert contact.email_consent_at is None
    remove = reverse("accounts:contact_remove", args=[world.own2.code, contact.pk])
    assert client.get(remove).status_code == 200
    assert client.post(remove).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEvent.objects.filter(action="CONTACT_REMOVED", account=world.own2).exists()


def test_bad_contact_input_shows_field_errors_and_writes_nothing(client, staff, world):
    client.force_login(staff.sales)
    response = client.post(
        reverse("accounts:contact_new", args=[world.own2.code]),
        {"name": "", "role": "buyer", "email": "not-an-email", "sms_consent": "on"},
    )
    assert response.status_code == 200
    errors = field_errors(response)
    assert "name" in errors
    response = client.post(
        reverse("accounts:contact_new", args=[world.own2.code]),
        {"name": "Ms Zhao", "role": "buyer", "email": "not-an-email", "sms_consent": "on"},
    )
    errors = field_errors(response)
    assert {"email", "sms_consent"} <= set(errors)
    assert not Contact.objects.filter(account=world.own2).exists()


def test_logging_a_call_puts_it_on_the_timeline(client, staff, world):
    client.force_login(staff.sales)
    url = reverse("accounts:note_new", args=[world.own2.code])
    assert 'value="call" selected' in client.get(url + "?kind=call").content.decode()
    response = client.post(url, {"kind": "call", "subject": "Asked for samples", "body": "Send 3 kinds"})
    assert response.status_code == 302
    page = client.get(reverse("accounts:detail", args=[world.own2.code])).content.decode()
    assert "Asked for samples" in page


def test_a_note_in_the_future_is_refused(client, staff, world):
    client.force_login(staff.sales)
    when = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("accounts:note_new", args=[world.own2.code]), {"kind": "note", "subject": "x", "occurred_at": when}
    )
    assert "occurred_at" in field_errors(response)
    assert not Activity.objects.filter(account=world.own2, kind="note").exists()


def test_email_goes_only_to_a_consenting_contact(client, staff, world, django_capture_on_commit_callbacks):
    consenting = Contact.objects.create(
        account=world.own,
        name="Ms Chen",
        email="chen@example.com",
        email_consent=True,
        email_consent_at=timezone.now(),
    )
    Contact.objects.create(account=world.own, name="Mr No", email="no@example.com")
    client.force_login(staff.sales)
    url = reverse("accounts:email_new", args=[world.own.code])
    page = client.get(url).content.decode()
    assert "Ms Chen" in page
    assert "Mr No" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"contact": consenting.pk, "subject": "Spring prices", "body": "Attached."})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["chen@example.com"]]
    response = client.post(url, {"contact": consenting.pk, "subject": "", "body": ""})
    assert {"subject", "body"} <= set(field_errors(response))


def test_email_page_without_consenting_contacts_says_so(client, staff, world):
    client.force_login(staff.sales)
    body = client.get(reverse("accounts:email_new", args=[world.own2.code])).content.decode()
    assert "consented to email" in body


def test_account_page_links_to_the_sales_pages_when_allowed(client, staff, world):
    client.force_login(staff.marketing)
    body = client.get(reverse("accounts:detail", args=[world.own.code])).content.decode()
    assert "Record payment" not in body
    assert "New order" not in body


def test_list_and_account_page_cost_a_fixed_number_of_queries(client, staff, world, django_assert_max_num_queries):
    for n in range(20):
        make_account(staff.sales, name=f"Filler {n}", region=world.own.region)
    client.force_login(staff.sales)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("accounts:list")).status_code == 200
    with django_assert_max_num_queries(18):  # 15, the open follow-ups, "my day"s count in the menu, open opportunities
        assert client.get(reverse("accounts:detail", args=[world.own.code])).status_code == 200
