"""Every account's indicators, read from its orders, returns, invoices and payments, on small numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.domain.periods import Period
from patron.sales import services as sales
from patron.sales.models import ExchangeRate
from patron.segments.indicators import account_indicators
from tests.factories import make_account, make_industry, make_order, make_product, make_region_tree

TODAY = dt.date(2026, 11, 25)
YEAR = Period(dt.date(2025, 11, 26), dt.date(2026, 11, 26))


def _row(frame: object, account_id: int) -> dict[str, object]:
    import polars as pl

    assert isinstance(frame, pl.DataFrame)
    rows = frame.filter(pl.col("account_id") == account_id).to_dicts()
    assert len(rows) == 1
    return rows[0]


@pytest.fixture
def shop(staff: object) -> dict[str, object]:
    admin = staff.admin  # type: ignore[attr-defined]
    regions = make_region_tree()
    tea = make_product(price="100.00", cost="60.00")
    cup = make_product(price="50.00", cost="10.00")
    buyer = make_account(
        staff.sales,  # type: ignore[attr-defined]
        region=regions["SZ"],
        industry=make_industry(),
        credit_limit=Decimal("1000.00"),
        is_key_account=True,
    )
    first = make_order(admin, buyer, [(tea, "2")], order_date=dt.date(2026, 5, 1))  # 200, cost 120
    make_order(admin, buyer, [(tea, "1"), (cup, "2")], order_date=dt.date(2026, 8, 1))  # 200, cost 80
    make_order(admin, buyer, [(cup, "1")], order_date=dt.date(2026, 11, 15))  # 50, cost 10
    make_order(admin, buyer, [(cup, "4")], order_date=dt.date(2024, 1, 10))  # before the period
    make_order(admin, buyer, [(tea, "9")], order_date=dt.date(2026, 9, 1), confirm=False)  # a draft: not a sale
    cancelled = make_order(admin, buyer, [(tea, "5")], order_date=dt.date(2026, 9, 2))
    sales.order_cancel(actor=admin, order=cancelled, reason="test")
    line = first.lines.get()
    sales.return_create(
        actor=admin,
        order=first,
        lines=[sales.ReturnLineInput(order_line=line, quantity="1")],
        return_date=dt.date(2026, 6, 1),
    )  # 100 back, cost 60
    invoice = sales.invoice_create(
        actor=admin,
        account=buyer,
        amount=Decimal("300.00"),
        issue_date=dt.date(2026, 8, 1),
        due_date=dt.date(2026, 9, 1),
    )
    sales.payment_record(
        actor=admin,
        account=buyer,
        amount=Decimal("100.00"),
        received_on=dt.date(2026, 8, 21),
        allocations=[sales.AllocationInput(invoice=invoice, amount=Decimal("100.00"))],
    )
    sales.invoice_create(
        actor=admin,
        account=buyer,
        amount=Decimal("80.00"),
        issue_date=dt.date(2026, 11, 1),
        due_date=dt.date(2026, 12, 1),
    )
    prospect = make_account(None)
    return {"buyer": buyer, "prospect": prospect}


def test_sales_count_confirmed_orders_in_the_period_net_of_returns(shop: dict[str, object]) -> None:
    frame = account_indicators(YEAR, today=TODAY).frame
    row = _row(frame, shop["buyer"].pk)  # type: ignore[attr-defined]
    assert row["purchase_count"] == 3  # the draft, the cancelled order and the 2024 order do not count
    assert row["gross_sales"] == 450.0
    assert row["returns"] == 100.0
    assert row["sales"] == 350.0
    # (450 - 210 cost) - (100 - 60 cost of the goods taken back)
    assert row["gross_profit"] == 200.0
    assert row["average_order_value"] == pytest.approx(116.67)
    assert row["return_rate"] == pytest.approx(100 / 450)


def test_days_count_to_the_end_of_the_period(shop: dict[str, object]) -> None:
    row = _row(account_indicators(YEAR, today=TODAY).frame, shop["buyer"].pk)  # type: ignore[attr-defined]
    assert row["recency_days"] == 10  # 15 to 25 November
    assert row["first_order_days"] == (TODAY - dt.date(2024, 1, 10)).days
    # four confirmed orders ever, first 2024-01-10, last 2026-11-15: three gaps
    assert row["interpurchase_days"] == pytest.approx((dt.date(2026, 11, 15) - dt.date(2024, 1, 10)).days / 3)
    assert row["orders_ever"] == 4


def test_receivables_are_what_is_still_open_by_how_late_it_is(shop: dict[str, object]) -> None:
    row = _row(account_indicators(YEAR, today=TODAY).frame, shop["buyer"].pk)  # type: ignore[attr-defined]
    assert row["owed"] == 280.0  # 200 left of 300, and 80 not yet due
    assert row["overdue"] == 200.0
    assert row["overdue_61_90"] == 200.0  # due 1 September, 85 days late
    assert row["overdue_1_30"] == row["overdue_31_60"] == row["overdue_90_plus"] == 0
    assert row["credit_used"] == pytest.approx(0.28)
    assert row["dso_days"] == pytest.approx(20.0)  # paid 20 days after the invoice


def test_region_path_reaches_every_region_above(shop: dict[str, object]) -> None:
    from patron.accounts.models import Region

    row = _row(account_indicators(YEAR, today=TODAY).frame, shop["buyer"].pk)  # type: ignore[attr-defined]
    ids = dict(Region.objects.values_list("code", "id"))
    assert row["region"] == ids["SZ"]
    assert row["region_path"] == [ids["CN"], ids["GD"], ids["SZ"]]
    assert row["industry"] == "RETAIL"
    assert row["key_account"] is True


def test_an_account_without_orders_has_zero_sales_and_no_recency(shop: dict[str, object]) -> None:
    row = _row(account_indicators(YEAR, today=TODAY).frame, shop["prospect"].pk)  # type: ignore[attr-defined]
    assert row["purchase_count"] == 0
    assert row["sales"] == 0
    assert row["purchase_frequency"] == 0
    assert row["recency_days"] is None
    assert row["average_order_value"] is None
    assert row["interpurchase_days"] is None
    assert row["owed"] == 0


def test_foreign_currency_orders_are_converted_at_the_rate_of_their_day(staff: object) -> None:
    admin = staff.admin  # type: ignore[attr-defined]
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("7.00000000"))
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 6, 1), rate=Decimal("7.20000000"))
    account = make_account(None)
    product = make_product(price="10.00", cost="0", currency="USD")
    orders = []
    for day in (dt.date(2026, 3, 1), dt.date(2026, 7, 1)):
        orders.append(
            sales.order_create(
                actor=admin,
                account=account,
                lines=[sales.LineInput(product=product, quantity="1")],
                currency="USD",
                order_date=day,
                confirm=True,
            )
        )
    result = account_indicators(YEAR, today=TODAY)
    assert _row(result.frame, account.pk)["sales"] == pytest.approx(142.0)  # 70 + 72
    sales.return_create(
        actor=admin,
        order=orders[0],
        lines=[sales.ReturnLineInput(order_line=orders[0].lines.get(), quantity="1")],
        return_date=dt.date(2026, 8, 1),
    )
    result = account_indicators(YEAR, today=TODAY)
    assert _row(result.frame, account.pk)["returns"] == pytest.approx(72.0)  # at August's rate
    assert result.skipped == {"orders_without_rate": 0}


def test_one_account_can_be_measured_alone(shop: dict[str, object]) -> None:
    buyer = shop["buyer"]
    alone = account_indicators(YEAR, today=TODAY, account_ids=[buyer.pk]).frame  # type: ignore[attr-defined]
    everyone = account_indicators(YEAR, today=TODAY).frame
    assert alone.height == 1
    assert alone.row(0, named=True) == _row(everyone, buyer.pk)  # type: ignore[attr-defined]


def test_outside_a_transaction_postgresql_runs_the_queries_side_by_side_in_order(db: None) -> None:
    """Each query then has a connection of its own (a test's transaction would hide its rows from them)."""
    import polars as pl
    from django.db import connection

    from patron.segments.indicators import _gather

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs them one after another on its one connection")

    def backend(tag: int) -> object:
        def query() -> pl.DataFrame:
            from django.db import connection as mine

            with mine.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                return pl.DataFrame({"tag": [tag], "pid": [cursor.fetchone()[0]]})

        return query

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    from django.db import connections

    inside = _gather([backend(0)])  # type: ignore[list-item]
    wrapper = connections["default"]
    wrapper.in_atomic_block = False  # as in a background task; put back before the test's rollback
    try:
        frames = _gather([backend(n) for n in range(5)])  # type: ignore[list-item]
    finally:
        wrapper.in_atomic_block = True
    assert [f["tag"][0] for f in frames] == [0, 1, 2, 3, 4]
    assert own not in {f["pid"][0] for f in frames}
    assert inside[0]["pid"][0] == own


def test_spend_by_top_level_category_nets_returns_and_adds_up_to_one(staff: object) -> None:
    from patron.sales.models import Category
    from patron.segments.selectors import category_mix

    admin = staff.admin  # type: ignore[attr-defined]
    tea = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    green = Category.objects.create(code="GREEN", name_zh="绿茶", name_en="Green tea", parent=tea)
    cups = Category.objects.create(code="CUPS", name_zh="杯具", name_en="Cups")
    account = make_account(None)
    green_tea = make_product(price="100.00", category=green)
    cup = make_product(price="25.00", category=cups)
    order = make_order(admin, account, [(green_tea, "3"), (cup, "4")], order_date=dt.date(2026, 10, 1))
    sales.return_create(
        actor=admin,
        order=order,
        lines=[sales.ReturnLineInput(order_line=order.lines.get(product=green_tea), quantity="1")],
        return_date=dt.date(2026, 10, 5),
    )
    make_order(admin, account, [(cup, "8")], order_date=dt.date(2025, 1, 1))  # before the period
    mix = category_mix(account, YEAR.start, YEAR.end)
    assert [(m.code, m.amount) for m in mix] == [("TEA", Decimal("200.00")), ("CUPS", Decimal("100.00"))]
    assert [m.share for m in mix] == [Decimal("0.6667"), Decimal("0.3333")]
