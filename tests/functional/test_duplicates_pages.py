"""The possible-duplicates page, the merge page and the account page's pointer to them, through the test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.accounts.models import Account, Activity, DuplicateDismissal
from patron.audit.models import AuditEvent
from patron.sales.models import Order
from patron.staff.models import User
from tests.factories import make_account, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(staff):
    User.objects.update(language="en")
    a = make_account(staff.sales, code="HQ-1", name="华强实业有限公司", email="", address="Futian")
    b = make_account(staff.sales, code="HQ-2", name="华强实业（深圳）有限公司", email="buy@hq.cn", address="Nanshan")
    make_order(staff.sales, b)
    return a, b


def page(client, user, url, **kwargs):
    client.force_login(user)
    return client.get(url, **kwargs)


def test_the_account_page_points_to_its_possible_duplicates(client, staff, twins):
    html = page(client, staff.sales, "/accounts/HQ-1/").content.decode()
    assert 'hx-get="/accounts/HQ-1/duplicates/"' in html  # loaded after the page
    notice = page(client, staff.sales, "/accounts/HQ-1/duplicates/").content.decode()
    assert 'data-testid="possible-duplicates"' in notice
    assert "This account looks like 1 other account:" in notice
    assert "HQ-2 华强实业（深圳）有限公司" in notice
    assert "/accounts/duplicates/?account=HQ-1" in notice
    # Marketing may read the account but not act on a duplicate: no pointer.
    assert (
        'hx-get="/accounts/HQ-1/duplicates/"' not in page(client, staff.marketing, "/accounts/HQ-1/").content.decode()
    )
    notice = page(client, staff.marketing, "/accounts/HQ-1/duplicates/").content.decode()
    assert 'data-testid="possible-duplicates"' not in notice
    # Nothing to say about an account without look-alikes.
    make_account(staff.sales, code="LONE", name="美的电器")
    assert "possible-duplicates" not in page(client, staff.sales, "/accounts/LONE/duplicates/").content.decode()


def test_the_duplicates_page_lists_pairs_with_reasons_and_offers_what_the_reader_may_do(client, staff, twins):
    html = page(client, staff.manager, "/accounts/duplicates/").content.decode()
    assert 'data-pair="HQ-1~HQ-2"' in html
    assert "Same name, legal form and punctuation aside (华强实业)" in html
    assert "/accounts/HQ-1/merge/?other=HQ-2" in html
    assert "Not a duplicate" in html
    sales = page(client, staff.sales, "/accounts/duplicates/").content.decode()
    assert "Not a duplicate" in sales
    assert "/merge/" not in sales  # salespeople do not merge
    assert 'data-pair="HQ-1~HQ-2"' not in page(client, staff.sales3, "/accounts/duplicates/").content.decode()


def test_the_navigation_offers_duplicates_to_those_who_edit_accounts(client, staff, twins):
    def nav(user):
        html = page(client, user, "/").content.decode()
        return html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]

    assert "/accounts/duplicates/" in nav(staff.sales)
    assert "/accounts/duplicates/" not in nav(staff.marketing)


def test_not_a_duplicate_takes_the_pair_off_the_list(client, staff, twins):
    client.force_login(staff.sales)
    response = client.post(
        reverse("accounts:duplicate_dismiss"), {"account": "HQ-1", "other": "HQ-2", "next": "/accounts/duplicates/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/duplicates/"
    assert DuplicateDismissal.objects.get().dismissed_by == staff.sales
    assert 'data-pair="HQ-1~HQ-2"' not in client.get("/accounts/duplicates/").content.decode()
    offsite = client.post(
        reverse("accounts:duplicate_dismiss"), {"account": "HQ-1", "other": "HQ-2", "next": "https://evil.example/"}
    )
    assert offsite["Location"] == "/accounts/duplicates/"


def test_the_merge_page_shows_both_side_by_side_with_a_choice_per_differing_field(client, staff, twins):
    html = page(client, staff.manager, "/accounts/HQ-1/merge/?other=HQ-2").content.decode()
    assert 'name="choice.address" value="this" checked' in html
    assert 'name="choice.email" value="other" checked' in html  # a blank is filled from the other
    assert 'name="choice.owner"' not in html  # the same owner: nothing to choose
    assert 'name="choice.notes"' not in html  # both empty
    assert 'data-testid="confirm-merge"' in html
    assert "/accounts/HQ-2/merge/?other=HQ-1" in html  # keep the other one instead


def test_confirming_the_merge_moves_everything_and_leads_to_the_survivor(client, staff, twins):
    a, _b = twins
    client.force_login(staff.manager)
    response = client.post("/accounts/HQ-1/merge/", {"other": "HQ-2", "choice.address": "other"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/HQ-1/"
    a.refresh_from_db()
    assert (a.address, a.email) == ("Nanshan", "buy@hq.cn")
    assert Order.objects.get().account == a
    detail = client.get("/accounts/HQ-1/").content.decode()
    assert "Merged HQ-2 华强实业（深圳）有限公司 into this account" in detail
    assert "HQ-2 merged into HQ-1." in detail
    # The merged account's page leads to the survivor; its history shows the merge.
    moved = client.get("/accounts/HQ-2/")
    assert (moved.status_code, moved["Location"]) == (302, "/accounts/HQ-1/")
    history = client.get("/accounts/HQ-2/history/", follow=True).content.decode()
    assert "Account merged into this one" in history
    assert "Order created (on HQ-2)" in history  # the merged account's own history came along, labelled
    assert "HQ-2 华强实业（深圳）有限公司" in history
    list_html = client.get("/accounts/").content.decode()
    assert "/accounts/HQ-2/" not in list_html


def test_posting_the_merge_twice_merges_once(client, staff, twins):
    client.force_login(staff.manager)
    client.post("/accounts/HQ-1/merge/", {"other": "HQ-2"})
    again = client.post("/accounts/HQ-1/merge/", {"other": "HQ-2"}, follow=True)
    assert "HQ-2 was already merged into HQ-1." in again.content.decode()
    assert AuditEvent.objects.filter(action="ACCOUNT_MERGED").count() == 1
    assert Activity.objects.filter(kind="merge").count() == 1


def test_a_bad_choice_is_shown_on_its_field_and_nothing_moves(client, staff, twins):
    client.force_login(staff.manager)
    response = client.post("/accounts/HQ-1/merge/", {"other": "HQ-2", "choice.address": "both"})
    assert response.status_code == 422
    assert "Choose &#x27;this&#x27; or &#x27;other&#x27;." in response.content.decode()
    assert Account.objects.get(code="HQ-2").merged_into is None


def test_merging_into_a_merged_account_is_refused_on_the_page(client, staff, twins):
    make_account(staff.sales, code="HQ-3", name="Another")
    client.force_login(staff.admin)
    client.post("/accounts/HQ-1/merge/", {"other": "HQ-2"})
    shown = client.get("/accounts/HQ-2/merge/?other=HQ-3").content.decode()
    assert "already merged" in shown
    assert 'data-testid="confirm-merge"' not in shown
    response = client.post("/accounts/HQ-2/merge/", {"other": "HQ-3"})
    assert response.status_code == 422
    assert "HQ-2 was merged into HQ-1; merge into that account instead." in response.content.decode()


@pytest.mark.parametrize("who", ["sales", "finance", "marketing"])
def test_the_merge_page_is_forbidden_to_who_may_not_merge(client, staff, twins, who):
    assert page(client, getattr(staff, who), "/accounts/HQ-1/merge/?other=HQ-2").status_code == 403
    client.force_login(getattr(staff, who))
    assert client.post("/accounts/HQ-1/merge/", {"other": "HQ-2"}).status_code == 403
    assert Account.objects.get(code="HQ-2").merged_into is None


def test_a_merge_page_without_another_account_goes_back_to_the_list(client, staff, twins):
    response = page(client, staff.manager, "/accounts/HQ-1/merge/?other=NOPE")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/duplicates/?account=HQ-1"
