import datetime as dt
from decimal import Decimal

import pytest

from patron.accounts.models import CustomField
from patron.accounts.selectors import AccountFilters, FilterError, account_list
from patron.core.pagination import BadCursor, keyset_page
from tests.factories import make_account, make_industry, make_region_tree


def codes(qs):
    return sorted(a.code for a in qs)


def test_region_filter_includes_every_region_below_it(staff):
    regions = make_region_tree()
    in_city = make_account(staff.sales, region=regions["SZ"])
    in_province = make_account(staff.sales, region=regions["GD"])
    make_account(staff.sales, region=regions["HZ"])
    found = account_list(user=staff.admin, filters=AccountFilters(region="GD"))
    assert codes(found) == sorted([in_city.code, in_province.code])
    with pytest.raises(FilterError):
        list(account_list(user=staff.admin, filters=AccountFilters(region="NOWHERE")))


def test_search_finds_accounts_by_contact_name_phone_and_tax_id(staff):
    account = make_account(staff.sales, name="深圳茶行", tax_id="91440300MA5EXAMPLE", phone="0755 1234 5678")
    account.contacts.create(name="王经理", role="decider")
    make_account(staff.sales, name="Other")
    for term in ["茶行", "王经理", "MA5EXAMPLE", "1234"]:
        assert codes(account_list(user=staff.admin, filters=AccountFilters(q=term))) == [account.code]


def test_salesperson_list_holds_only_own_accounts_and_manager_the_team(staff):
    own = make_account(staff.sales)
    teammate = make_account(staff.sales2)
    other_team = make_account(staff.sales3)
    assert codes(account_list(user=staff.sales)) == [own.code]
    assert codes(account_list(user=staff.manager)) == sorted([own.code, teammate.code])
    assert other_team.code in codes(account_list(user=staff.marketing))


def test_custom_number_and_choice_fields_filter_like_built_in_ones(staff):
    CustomField.objects.create(key="budget", label_zh="年度预算", kind="number")
    CustomField.objects.create(key="positioning", label_zh="价值定位", kind="choice", choices=["price", "quality"])
    small = make_account(staff.sales, custom={"budget": "9000", "positioning": "price"})
    big = make_account(staff.sales, custom={"budget": "120000.5", "positioning": "quality"})
    make_account(staff.sales)
    assert codes(account_list(user=staff.admin, filters=AccountFilters(custom={"budget": "10000.."}))) == [big.code]
    assert codes(account_list(user=staff.admin, filters=AccountFilters(custom={"budget": "..9000"}))) == [small.code]
    assert codes(account_list(user=staff.admin, filters=AccountFilters(custom={"positioning": "price"}))) == [
        small.code
    ]
    with pytest.raises(FilterError) as err:
        list(account_list(user=staff.admin, filters=AccountFilters(custom={"budget": "lots"})))
    assert err.value.field == "custom.budget"


def test_filters_combine(staff):
    retail = make_industry()
    hit = make_account(staff.sales, industry=retail, is_key_account=True, credit_limit=Decimal("50000"))
    make_account(staff.sales, industry=retail, is_key_account=False)
    make_account(staff.sales, is_key_account=True)
    f = AccountFilters(industry="RETAIL", key_account=True, credit_limit_min=Decimal("10000"))
    assert codes(account_list(user=staff.admin, filters=f)) == [hit.code]


def test_keyset_pages_cover_every_row_once_even_with_tied_names(staff):
    for _ in range(23):
        make_account(staff.sales, name="同名客户")
    for _ in range(5):
        make_account(staff.sales, name="Another")
    seen = []
    cursor = None
    while True:
        page = keyset_page(account_list(user=staff.admin), sort="-name", cursor=cursor, limit=4)
        seen.extend(a.pk for a in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 28


def test_keyset_pages_by_date_time(staff):
    for _ in range(7):
        make_account(staff.sales)
    page1 = keyset_page(account_list(user=staff.admin), sort="-created_at", cursor=None, limit=5)
    page2 = keyset_page(account_list(user=staff.admin), sort="-created_at", cursor=page1.next_cursor, limit=5)
    assert len(page1.items) == 5
    assert len(page2.items) == 2
    assert page2.next_cursor is None
    assert not {a.pk for a in page1.items} & {a.pk for a in page2.items}


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJ4IjoxfQ", "W1siYSJdLCJiIl0"])
def test_a_tampered_cursor_is_refused(staff, cursor):
    with pytest.raises(BadCursor):
        keyset_page(account_list(user=staff.admin), sort="code", cursor=cursor, limit=5)


def test_last_order_dates_filter(staff):
    recent = make_account(staff.sales, last_order_date=dt.date(2026, 10, 1))
    make_account(staff.sales, last_order_date=dt.date(2024, 1, 1))
    f = AccountFilters(last_order_from=dt.date(2026, 1, 1))
    assert codes(account_list(user=staff.admin, filters=f)) == [recent.code]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e999999", "abc.."])
def test_a_number_filter_that_is_not_a_finite_number_is_a_filter_error(staff, raw):
    CustomField.objects.create(key="size", label_zh="规模", kind="number")
    with pytest.raises(FilterError) as err:
        list(account_list(user=staff.admin, filters=AccountFilters(custom={"size": raw})))
    assert err.value.field == "custom.size"
