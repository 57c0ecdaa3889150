"""The account list's filters as rewritten for a million accounts find what they found before.

Search asks the search indexes for ids first and falls back to matching row by row when a
term is common; both ways must give the same accounts. Region, industry and tag filters
look their ids up first instead of joining.
"""

from __future__ import annotations

import pytest

from patron.accounts import selectors
from patron.accounts.models import Account, Tag
from patron.accounts.selectors import AccountFilters, account_list
from tests.factories import make_account, make_industry, make_region_tree


def _codes(**filters: object) -> list[str]:
    from patron.staff.models import User

    admin = User.objects.get(username="admin")
    return sorted(a.code for a in account_list(user=admin, filters=AccountFilters(**filters)))  # type: ignore[arg-type]


@pytest.fixture
def accounts(staff: object) -> dict[str, Account]:
    a = make_account(None, code="SZ-TEA", name="深圳聚福茶行有限公司", phone="0755-8123-4567", email="sales@jufu.cn")
    b = make_account(None, code="GZ-RICE", name="广州米业有限公司", tax_id="91440101MA59XYZ12K", email="info@rice.cn")
    c = make_account(None, code="BJ-DUCK", name="Beijing Duck House", phone="010-6123-0000")
    d = make_account(None, code="HZ-SILK", name="杭州丝绸", email="sales@silk.com")
    b.contacts.create(name="王伟", role="buyer", phone="138-0000-1111")
    c.contacts.create(name="Ms Lin", role="decider", email="lin@duck.cn")
    d.contacts.create(name="聚福", role="buyer")  # a contact whose name another account has in its own
    return {"a": a, "b": b, "c": c, "d": d}


CASES = [
    ("聚福", ["HZ-SILK", "SZ-TEA"]),  # two characters: in a name, and a contact's name
    ("有限", ["GZ-RICE", "SZ-TEA"]),
    ("有限公司", ["GZ-RICE", "SZ-TEA"]),
    ("duck", ["BJ-DUCK"]),  # names ignore case
    ("sz-tea", ["SZ-TEA"]),  # codes too
    ("8123", ["SZ-TEA"]),  # inside a phone
    ("MA59XYZ", ["GZ-RICE"]),  # inside a tax id
    ("SALES@", ["HZ-SILK", "SZ-TEA"]),
    ("138-0000", ["GZ-RICE"]),  # a contact's phone
    ("王伟", ["GZ-RICE"]),  # a contact's name, two characters
    ("ms lin", ["BJ-DUCK"]),
    ("nothing like it", []),
    ("茶", ["SZ-TEA"]),  # one character: names
]


@pytest.mark.parametrize(("term", "expected"), CASES)
def test_search_finds_the_same_accounts_through_the_indexes_and_row_by_row(
    accounts: dict[str, Account], monkeypatch: pytest.MonkeyPatch, term: str, expected: list[str]
) -> None:
    assert _codes(q=term) == expected  # few matches: by ids
    monkeypatch.setattr(selectors, "SEARCH_IDS", 0)  # every term counts as common: row by row
    assert _codes(q=term) == expected


def test_short_terms_search_names_only(accounts: dict[str, Account], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two digits are in most phones: a term of fewer than three characters is looked for in names."""
    assert _codes(q="07") == []  # in SZ-TEA's phone, not in a name
    assert _codes(q="075") == ["SZ-TEA"]
    assert _codes(q="Be") == ["BJ-DUCK"]
    monkeypatch.setattr(selectors, "SEARCH_IDS", 0)
    assert _codes(q="07") == []


def test_search_keeps_to_what_the_user_may_see(staff: object, accounts: dict[str, Account]) -> None:
    mine = make_account(staff.sales, code="MINE", name="聚福小店")  # type: ignore[attr-defined]
    found = account_list(user=staff.sales, filters=AccountFilters(q="聚福"))  # type: ignore[attr-defined]
    assert [a.code for a in found] == [mine.code]


def test_region_industry_and_tag_filters_by_id_find_what_the_joins_found(staff: object) -> None:
    regions = make_region_tree()
    retail = make_industry()
    vip, _ = Tag.objects.get_or_create(name="VIP")
    export, _ = Tag.objects.get_or_create(name="出口")
    in_city = make_account(None, code="CITY", region=regions["SZ"], industry=retail)
    in_province = make_account(None, code="PROV", region=regions["GD"])
    elsewhere = make_account(None, code="ELSE", region=regions["HZ"], industry=retail)
    in_city.tags.add(vip, export)
    in_province.tags.add(vip)
    elsewhere.tags.add(export)
    assert _codes(region="GD") == ["CITY", "PROV"]
    assert _codes(region="CN") == ["CITY", "ELSE", "PROV"]
    assert _codes(industry="RETAIL") == ["CITY", "ELSE"]
    assert _codes(industry="NO-SUCH") == []
    assert _codes(tags=["VIP"]) == ["CITY", "PROV"]
    assert _codes(tags=["VIP", "出口"]) == ["CITY"]
    assert _codes(tags=["VIP", "no such tag"]) == []
    assert _codes(region="GD", industry="RETAIL", tags=["出口"]) == ["CITY"]
