"""Runs place every account in one class of each classification, keep dated snapshots and record who moved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from patron.segments import pages, selectors, services
from patron.segments.models import Classification, Membership, SegmentRun
from tests.factories import SALES_BANDS, make_account, make_order, make_product

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def builtins(db: None) -> None:
    """The migration installs them; a transactional test elsewhere may have flushed them since."""
    services.install_builtins()


@pytest.fixture
def bands(staff: Any) -> Classification:
    Classification.objects.filter(builtin=True).update(active=False)  # only the one under test runs
    return services.classification_create(
        actor=staff.manager, data={"key": "sales_bands", "name_zh": "销售额分档", "definition": SALES_BANDS}
    )


@pytest.fixture
def shop(staff: Any) -> dict[str, Any]:
    product = make_product(price="100.00", cost="60.00")
    small = make_account(staff.sales)
    middle = make_account(staff.sales)
    big = make_account(staff.sales2)
    make_order(staff.admin, small, [(product, "5")], order_date=TODAY - dt.timedelta(days=30))  # 500
    make_order(staff.admin, middle, [(product, "20")], order_date=TODAY - dt.timedelta(days=30))  # 2,000
    make_order(staff.admin, big, [(product, "80")], order_date=TODAY - dt.timedelta(days=30))  # 8,000
    return {"small": small, "middle": middle, "big": big, "prospect": make_account(None), "product": product}


def _run(actor: Any, day: dt.date, account_ids: list[int] | None = None) -> SegmentRun:
    run = services.run_create(actor=actor, as_of=day, account_ids=account_ids)
    services.run_perform(run, account_ids=account_ids)
    run.refresh_from_db()
    return run


def _movers(classification: Classification, before: dt.date, **kwargs: Any) -> list[Any]:
    page = pages.movers_page(classification, before, TODAY, cursor=None, limit=50, **kwargs)
    return [row.account for row in page.rows]


def _class_of(classification: Classification, account: Any, day: dt.date) -> str | None:
    row = selectors.memberships_on(classification, day).filter(account=account).first()
    return row.class_key if row else None


def test_the_built_in_classifications_are_installed_once_and_edits_are_kept(db: None) -> None:
    keys = set(Classification.objects.filter(builtin=True).values_list("key", flat=True))
    assert keys == {"value_tier", "frequency_tier", "rfm", "lifecycle", "key_account_candidates", "churn_risk"}
    Classification.objects.filter(key="value_tier").update(name_en="Customer value")
    Classification.objects.filter(key="rfm").delete()
    assert [c.key for c in services.install_builtins()] == ["rfm"]
    assert Classification.objects.get(key="value_tier").name_en == "Customer value"


def test_a_run_places_every_account_in_exactly_one_class(staff: Any, bands: Classification, shop: dict) -> None:
    run = _run(staff.admin, TODAY - dt.timedelta(days=7))
    assert run.status == SegmentRun.DONE
    day = TODAY - dt.timedelta(days=7)
    assert _class_of(bands, shop["small"], day) == "low"
    assert _class_of(bands, shop["middle"], day) == "mid"
    assert _class_of(bands, shop["big"], day) == "high"
    assert _class_of(bands, shop["prospect"], day) == "low"  # no orders: the definition's missing class
    accounts = Membership.objects.filter(classification=bands).values_list("account_id", flat=True)
    assert len(accounts) == len(set(accounts)) == run.accounts
    snapshot = run.snapshots.get(classification=bands)
    assert snapshot.counts == selectors.counts_on(bands, day)


def test_running_again_without_changes_writes_nothing(staff: Any, bands: Classification, shop: dict) -> None:
    _run(staff.admin, TODAY - dt.timedelta(days=7))
    rows = Membership.objects.count()
    run = _run(staff.admin, TODAY)
    assert run.moved == 0
    assert Membership.objects.count() == rows


def test_an_account_that_buys_more_moves_and_keeps_its_history(staff: Any, bands: Classification, shop: dict) -> None:
    week_ago = TODAY - dt.timedelta(days=7)
    _run(staff.admin, week_ago)
    make_order(staff.admin, shop["middle"], [(shop["product"], "40")], order_date=TODAY - dt.timedelta(days=2))
    run = _run(staff.admin, TODAY)
    assert run.moved == 1
    assert _class_of(bands, shop["middle"], week_ago) == "mid"  # the past is as it was
    assert _class_of(bands, shop["middle"], TODAY) == "high"
    assert set(selectors.accounts_in_segment("sales_bands", ["high"], as_of=TODAY)) == {shop["middle"], shop["big"]}
    assert set(selectors.accounts_in_segment("sales_bands", ["high"], as_of=week_ago)) == {shop["big"]}
    movement = selectors.movement(bands, week_ago, TODAY, user=staff.admin)
    assert movement.matrix[("mid", "high")] == 1
    assert movement.moved() == 1
    moved = _movers(bands, week_ago, from_class="mid", to_class="high", user=staff.admin)
    assert moved == [shop["middle"]]
    # ... and why: the value it was measured at, against the cut point it passed
    (placement,) = selectors.account_placements(shop["middle"], TODAY)
    assert placement.membership.values == {"sales": 6000.0}
    assert placement.previous is not None
    assert placement.previous.class_key == "mid"
    codes = [r.code for r in placement.reasons]
    assert codes
    assert all(isinstance(c, str) for c in codes)
    assert any(r.params.get("class") == "high" for r in placement.reasons)


def test_movement_is_each_account_s_class_on_one_day_against_the_other(
    staff: Any, bands: Classification, shop: dict
) -> None:
    """Read from intervals (stayed, then only the rows that begin or end between the days), the matrix is
    what comparing every account's class on the two days gives: moves, a move there and back, a new
    account, a merged one, and for a reader who sees only some accounts."""
    from patron.accounts.merge import account_merge

    days = [TODAY - dt.timedelta(days=d) for d in (9, 6, 3, 0)]
    _run(staff.admin, days[0])
    make_order(staff.admin, shop["small"], [(shop["product"], "20")], order_date=days[1])  # low -> mid
    _run(staff.admin, days[1])
    newcomer = make_account(staff.sales)
    make_order(staff.admin, newcomer, [(shop["product"], "90")], order_date=days[2])  # appears, high
    make_order(staff.admin, shop["middle"], [(shop["product"], "40")], order_date=days[2])  # mid -> high
    _run(staff.admin, days[2])
    account_merge(actor=staff.admin, survivor=shop["big"], merged=shop["prospect"])  # the prospect leaves
    from patron.sales.models import Order

    Order.objects.filter(account=shop["middle"], order_date=days[2]).update(status=Order.CANCELLED)  # back to mid
    _run(staff.admin, days[3])
    accounts = [shop["small"], shop["middle"], shop["big"], shop["prospect"], newcomer]
    for user in (staff.admin, staff.sales):
        seen = [a for a in accounts if user is staff.admin or a.owner_id == staff.sales.pk]
        for i, before in enumerate(days):
            for after in days[i:]:
                expected: dict[tuple[str, str], int] = {}
                for account in seen:
                    pair = (_class_of(bands, account, before) or "", _class_of(bands, account, after) or "")
                    if pair != ("", ""):
                        expected[pair] = expected.get(pair, 0) + 1
                got = {k: n for k, n in selectors.movement(bands, before, after, user=user).matrix.items() if n}
                assert got == expected, (user.username, before, after)
        # ... and the counts per class a reader sees on each day, on the classification page and its chart
        for day in days:
            expected_counts = dict.fromkeys(selectors.class_keys(bands), 0)
            for account in seen:
                if (key := _class_of(bands, account, day)) is not None:
                    expected_counts[key] += 1
            assert pages.class_counts(bands, user, day) == expected_counts, (user.username, day)
            assert dict(pages.counts_series(bands, user))[day] == expected_counts, (user.username, day)
    # the one that went to high and came back is counted where it was on each day: mid, then mid
    assert selectors.movement(bands, days[1], days[3], user=staff.admin).matrix[("mid", "mid")] == 2


def test_a_salesperson_sees_only_their_own_movers(staff: Any, bands: Classification, shop: dict) -> None:
    week_ago = TODAY - dt.timedelta(days=7)
    _run(staff.admin, week_ago)
    for account in (shop["middle"], shop["big"]):
        make_order(staff.admin, account, [(shop["product"], "1")], order_date=TODAY - dt.timedelta(days=1))
    make_order(staff.admin, shop["small"], [(shop["product"], "10")], order_date=TODAY - dt.timedelta(days=1))
    _run(staff.admin, TODAY)
    assert _movers(bands, week_ago, from_class="low", to_class="mid", user=staff.sales) == [shop["small"]]
    assert _movers(bands, week_ago, from_class="low", to_class="mid", user=staff.sales2) == []
    assert selectors.movement(bands, week_ago, TODAY, user=staff.sales2).moved() == 0  # counts are scoped too
    assert selectors.movement(bands, week_ago, TODAY, user=staff.sales).matrix[("low", "mid")] == 1


def test_runs_go_forward_in_time(staff: Any, bands: Classification, shop: dict) -> None:
    _run(staff.admin, TODAY)
    run = services.run_create(actor=staff.admin, as_of=TODAY - dt.timedelta(days=3))
    with pytest.raises(ValidationError) as caught:
        services.run_perform(run)
    assert "as_of" in caught.value.message_dict
    run.refresh_from_db()
    assert run.status == SegmentRun.FAILED


def test_a_run_that_fails_midway_changes_no_membership(
    staff: Any, bands: Classification, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(staff.admin, TODAY - dt.timedelta(days=7))
    before = list(Membership.objects.order_by("id").values_list("id", "class_key", "valid_to"))
    make_order(staff.admin, shop["small"], [(shop["product"], "100")], order_date=TODAY - dt.timedelta(days=1))
    services.classification_create(
        actor=staff.admin,
        data={"key": "z_last", "name_zh": "最后", "definition": dict(SALES_BANDS, thresholds=["10", "20"])},
    )
    real = services.classify_accounts
    calls = {"n": 0}

    def failing_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "classify_accounts", failing_second)
    run = services.run_create(actor=staff.admin, as_of=TODAY)
    with pytest.raises(RuntimeError):
        services.run_perform(run)
    run.refresh_from_db()
    assert run.status == SegmentRun.FAILED
    assert "disk full" in run.error
    assert list(Membership.objects.order_by("id").values_list("id", "class_key", "valid_to")) == before


def test_an_incremental_run_places_changed_accounts_against_the_last_cut_points(staff: Any, shop: dict) -> None:
    Classification.objects.exclude(key="value_tier").update(active=False)
    value_tier = Classification.objects.get(key="value_tier")
    _run(staff.admin, TODAY - dt.timedelta(days=1))
    assert _class_of(value_tier, shop["small"], TODAY) != "high"
    make_order(staff.admin, shop["small"], [(shop["product"], "500")], order_date=TODAY)
    run = _run(staff.admin, TODAY, account_ids=[shop["small"].pk])
    assert run.scope == SegmentRun.INCREMENTAL
    assert _class_of(value_tier, shop["small"], TODAY) == "high"
    assert _class_of(value_tier, shop["big"], TODAY) == "high"  # untouched by the incremental run
    snapshot = run.snapshots.get()
    assert snapshot.counts == selectors.counts_on(value_tier, TODAY)


def test_a_merged_account_leaves_its_classes(staff: Any, bands: Classification, shop: dict) -> None:
    from patron.accounts.merge import account_merge

    _run(staff.admin, TODAY - dt.timedelta(days=7))
    account_merge(actor=staff.admin, survivor=shop["big"], merged=shop["middle"])
    _run(staff.admin, TODAY)
    assert _class_of(bands, shop["middle"], TODAY) is None
    assert _class_of(bands, shop["big"], TODAY) == "high"


def test_an_incremental_run_takes_a_merge_into_the_counts_at_once(
    staff: Any, bands: Classification, shop: dict
) -> None:
    """Before, the merged account stayed counted (and in its class) until the next full run."""
    from patron.accounts.merge import account_merge

    _run(staff.admin, TODAY)
    assert selectors.counts_on(bands, TODAY) == {"high": 1, "mid": 1, "low": 2}
    account_merge(actor=staff.admin, survivor=shop["small"], merged=shop["middle"])
    assert set(services.changed_accounts(SegmentRun.objects.get().started_at)) == {
        shop["small"].pk,
        shop["middle"].pk,
    }
    run = services.recompute_changed()
    assert run is not None
    assert run.scope == SegmentRun.INCREMENTAL
    assert _class_of(bands, shop["middle"], run.as_of) is None
    assert _class_of(bands, shop["small"], run.as_of) == "mid"  # 500 + 2,000 of its own now
    snapshot = run.snapshots.get()
    assert snapshot.counts == selectors.counts_on(bands, run.as_of) == {"high": 1, "mid": 1, "low": 1}


def test_a_wrong_definition_names_every_field_at_fault(staff: Any) -> None:
    wrong = dict(SALES_BANDS, indicator="salez", thresholds=["5000", "1000"])
    with pytest.raises(ValidationError) as caught:
        services.classification_create(actor=staff.manager, data={"key": "x", "name_zh": "x", "definition": wrong})
    fields = set(caught.value.message_dict)
    assert "definition.indicator" in fields
    assert any(f.startswith("definition.thresholds") for f in fields)
    assert not Classification.objects.filter(key="x").exists()


def test_names_keys_and_periods_are_checked(staff: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.classification_create(
            actor=staff.manager,
            data={
                "key": "bad key!",
                "name_zh": "",
                "window": "custom",
                "window_start": "2026-13-01",
                "definition": SALES_BANDS,
            },
        )
    assert set(caught.value.message_dict) >= {"key", "name_zh", "window_start"}


def test_only_managers_marketing_and_admins_edit_classifications(staff: Any) -> None:
    for user in (staff.sales, staff.finance):
        with pytest.raises(PermissionDenied):
            services.classification_create(actor=user, data={"key": "k", "name_zh": "k", "definition": SALES_BANDS})
        with pytest.raises(PermissionDenied):
            services.run_create(actor=user)
    made = services.classification_create(
        actor=staff.marketing, data={"key": "k", "name_zh": "k", "definition": SALES_BANDS}
    )
    assert made.kind == "single"


def test_editing_a_definition_applies_from_the_next_run(staff: Any, bands: Classification, shop: dict) -> None:
    _run(staff.admin, TODAY - dt.timedelta(days=7))
    services.classification_update(
        actor=staff.manager, classification=bands, data={"definition": dict(SALES_BANDS, thresholds=["100", "600"])}
    )
    bands.refresh_from_db()
    assert bands.version == 2
    assert _class_of(bands, shop["small"], TODAY) == "low"  # nothing changes until a run
    _run(staff.admin, TODAY)
    assert _class_of(bands, shop["small"], TODAY) == "mid"
    old, new = bands.snapshots.order_by("as_of")
    assert old.definition["thresholds"] == ["1000", "5000"]
    assert old.version == 1
    assert new.definition["thresholds"] == ["100", "600"]
    assert new.version == 2
    assert Decimal(str(shop["product"].list_price)) == Decimal("100.00")


def _membership_indexes() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Membership._meta.db_table)
    return {name for name, info in found.items() if info["index"] or info["unique"]}


def test_a_first_run_larger_than_the_table_rebuilds_its_indexes_once_and_keeps_them(
    staff: Any, bands: Classification, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import IntegrityError, transaction

    expected = {i.name for i in Membership._meta.indexes} | {c.name for c in Membership._meta.constraints}
    assert expected <= _membership_indexes()
    monkeypatch.setattr(services, "BULK_ROWS", 2)
    _run(staff.admin, TODAY)
    assert expected <= _membership_indexes()
    assert _class_of(bands, shop["big"], TODAY) == "high"
    open_row = Membership.objects.get(classification=bands, account=shop["big"], valid_to__isnull=True)
    with pytest.raises(IntegrityError), transaction.atomic():  # still one open row per account
        Membership.objects.create(
            classification=bands, account=shop["big"], class_key="low", snapshot=open_row.snapshot, valid_from=TODAY
        )


def test_a_bulk_write_that_fails_leaves_the_indexes_as_they_were(
    staff: Any, bands: Classification, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _membership_indexes()
    monkeypatch.setattr(services, "BULK_ROWS", 2)

    def broken(rows: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_insert", broken)
    run = services.run_create(actor=staff.admin, as_of=TODAY)
    with pytest.raises(RuntimeError):
        services.run_perform(run)
    assert _membership_indexes() == expected
    assert not Membership.objects.exists()
