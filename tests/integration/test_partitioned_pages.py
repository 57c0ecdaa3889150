"""A region's list, paged one sub-region at a time and merged, shows what one ordered query shows.

On PostgreSQL ``keyset_page`` merges each region's first page (``partition_by``); on
SQLite it reads the plain query. Both must walk the same rows in the same order, in
either direction and through ties in the sort field.
"""

from __future__ import annotations

import pytest

from patron.accounts.models import Account
from patron.accounts.selectors import AccountFilters, account_list
from patron.core.pagination import keyset_page, partition_by
from tests.factories import make_account, make_industry, make_region_tree


@pytest.fixture
def spread(staff: object) -> dict[str, object]:
    regions = make_region_tree()
    retail = make_industry()
    names = ["Alpha", "Beta", "Gamma", "Delta", "Alpha", "Zeta", "Eta", "Beta", "Theta", "Iota", "Kappa"]
    for i in range(44):
        region = regions[["GD", "SZ", "ZJ", "HZ", "CN"][i % 5]]
        make_account(
            None,
            name=f"{names[i % len(names)]} {i % 3}",  # repeats, so ties on name are broken by id
            region=region,
            industry=retail if i % 2 else None,
            is_key_account=i % 4 == 0,
        )
    return regions  # type: ignore[return-value]


def _walk(sort: str, limit: int, **filters: object) -> list[int]:
    from patron.staff.models import User

    admin = User.objects.get(username="admin")
    seen: list[int] = []
    cursor = None
    while True:
        qs = account_list(user=admin, filters=AccountFilters(sort=sort, **filters))  # type: ignore[arg-type]
        page = keyset_page(qs, sort=sort, cursor=cursor, limit=limit)
        seen += [a.pk for a in page.items]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def _expected(sort: str, region_codes: list[str], **extra: object) -> list[int]:
    field = sort.lstrip("-")
    order = [sort, ("-" if sort.startswith("-") else "") + "id"]
    qs = Account.objects.filter(region__code__in=region_codes, **extra).order_by(*order)
    assert field
    return list(qs.values_list("id", flat=True))


@pytest.mark.parametrize("sort", ["name", "-name", "code", "-created_at"])
@pytest.mark.parametrize("limit", [1, 4, 50])
def test_a_province_pages_through_its_cities_in_one_order(spread: object, sort: str, limit: int) -> None:
    walked = _walk(sort, limit, region="GD")
    assert walked == _expected(sort, ["GD", "SZ"])
    assert len(walked) == len(set(walked)) > limit or limit == 50


def test_the_other_filters_apply_within_every_region(spread: object) -> None:
    walked = _walk("name", 3, region="CN", industry="RETAIL", key_account=False)
    expected = _expected("name", ["CN", "GD", "SZ", "ZJ", "HZ"], industry__code="RETAIL", is_key_account=False)
    assert walked == expected
    assert expected  # the case is not empty


def test_partitioned_rows_keep_what_the_queryset_selects(spread: object) -> None:
    regions = spread
    qs = partition_by(
        Account.objects.select_related("region").prefetch_related("tags"),
        "region_id",
        [regions["GD"].pk, regions["SZ"].pk],  # type: ignore[attr-defined]
        sorts=("name",),
    )
    page = keyset_page(qs, sort="name", cursor=None, limit=5)
    assert len(page.items) == 5
    assert {a.region.code for a in page.items} <= {"GD", "SZ"}
    assert all("tags" in a._prefetched_objects_cache for a in page.items)  # prefetched, not one query each


def test_postgresql_reads_each_region_from_its_index_and_merges(spread: object) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _walk("name", 50, region="GD")
    merged = [q["sql"] for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    assert bool(merged) == connection.features.supports_slicing_ordering_in_compound
    with CaptureQueriesContext(connection) as queries:
        _walk("code", 50, region="GD")  # no (region, code) index: one plain query reads it better
    assert not [q for q in queries.captured_queries if "UNION ALL" in q["sql"]]
