"""Every coupon kind on orders whose figures were worked out by hand, and each kind's trigger: birthdays,
first orders and loyalty issued automatically once, holidays in their window, points exchanged for a code,
a free gift, shared public codes and imported ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patron.core.errors import Conflict
from patron.coupons import automatic, services
from patron.coupons.models import Campaign, CampaignRecipient, CampaignSend, Coupon, Redemption
from patron.rebates.models import PointsEntry
from patron.rebates.settlement import points_balance
from patron.sales import services as sales
from patron.sales.models import Category, Order
from patron.segments.models import Classification, Membership, SegmentRun, Snapshot
from patron.segments.services import install_builtins
from tests.factories import make_account, make_product

TEA_PRICE, CUP_PRICE = "100.00", "25.00"


def campaign(staff: Any, terms: dict[str, Any], **over: Any) -> Campaign:
    data = {"name": terms["kind"], "terms": terms, "starts_at": timezone.now() - dt.timedelta(days=1)}
    data.update(over)
    made = services.campaign_create(actor=staff.marketing, data=data)
    return services.campaign_set_status(actor=staff.marketing, campaign=made, status=Campaign.ACTIVE)


@pytest.fixture
def shop(staff: Any) -> Any:
    return make_account(staff.sales, code="SHOP", email="shop@example.com")


@pytest.fixture
def tea(db: Any) -> Any:
    return make_product(sku="TEA", price=TEA_PRICE, cost="60.00")


@pytest.fixture
def cup(db: Any) -> Any:
    ware = Category.objects.create(code="WARE", name_zh="器具", name_en="Teaware")
    return make_product(sku="CUP", price=CUP_PRICE, cost="10.00", category=ware)


def order(staff: Any, account: Any, lines: list[tuple[Any, str]], codes: list[str]) -> Order:
    return sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=p, quantity=q) for p, q in lines],
        coupons=codes,
    )


def refusal(staff: Any, account: Any, lines: list[tuple[Any, str]], code: str) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        order(staff, account, lines, [code])
    return refused.value.message_dict["coupons[0]"]


def one_code(staff: Any, made: Campaign, account: Any | None = None) -> str:
    if account is None:
        (code,) = services.codes_issue(actor=staff.marketing, campaign=made, count=1)
    else:
        (code,) = services.codes_issue(actor=staff.marketing, campaign=made, accounts=[account.pk])
    return code


@pytest.mark.parametrize(
    ("terms", "lines", "net"),
    [
        # 10% off 2 x 100 = 20 off: 180
        ({"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}}, [("tea", "2")], "180.00"),
        # 30 off the order of 200: 170
        ({"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "30"}}, [("tea", "2")], "170.00"),
        # spend 150 save 20, once: 200 - 20 = 180
        (
            {"kind": "spend_save", "benefit": {"kind": "spend_save", "spend": "150", "save": "20"}},
            [("tea", "2")],
            "180.00",
        ),
        # spend 150 save 20 for every 150 (repeat): 3 x 100 = 300 holds two 150s: 300 - 40 = 260
        (
            {"kind": "spend_save", "benefit": {"kind": "spend_save", "spend": "150", "save": "20", "repeat": True}},
            [("tea", "3")],
            "260.00",
        ),
        # 15% off teaware only: 2 tea (200) + 4 cups (100, 15 off): 285
        (
            {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "15"}, "what": {"products": ["cup"]}},
            [("tea", "2"), ("cup", "4")],
            "285.00",
        ),
        # 10% off everything but tea: 4 cups 100 -> 10 off; tea untouched: 200 + 90 = 290
        (
            {
                "kind": "holiday",
                "benefit": {"kind": "percent_off", "percent": "10"},
                "what": {"exclude_products": ["tea"]},
            },
            [("tea", "2"), ("cup", "4")],
            "290.00",
        ),
        # loyal reward 50 off from 300 of tea: 3 x 100 - 50 = 250
        (
            {"kind": "loyal_reward", "benefit": {"kind": "cart_amount_off", "amount": "50"}, "min_spend": "300"},
            [("tea", "3")],
            "250.00",
        ),
        # birthday: 20% off, at most the order: 100 -> 80
        ({"kind": "birthday", "benefit": {"kind": "percent_off", "percent": "20"}}, [("tea", "1")], "80.00"),
        # a free cup with 2 tea and 2 cups: 200 + 50 - 25 = 225
        (
            {"kind": "gift", "benefit": {"kind": "gift", "free": 1}, "what": {"products": ["cup"]}},
            [("tea", "2"), ("cup", "2")],
            "225.00",
        ),
    ],
)
def test_each_kind_prices_the_order_as_worked_out_by_hand(staff, shop, tea, cup, terms, lines, net):
    products = {"tea": tea, "cup": cup}
    what = terms.get("what") or {}
    terms = {**terms, "what": {k: [products[v].pk for v in vs] for k, vs in what.items()}}
    over = {"ends_at": timezone.now() + dt.timedelta(days=3)} if terms["kind"] == "holiday" else {}
    made = campaign(staff, terms, **over)
    placed = order(staff, shop, [(products[p], q) for p, q in lines], [one_code(staff, made)])
    assert placed.net_total == D(net)
    listed = sum((D({"tea": TEA_PRICE, "cup": CUP_PRICE}[p]) * D(q) for p, q in lines), D(0))
    assert Redemption.objects.get(campaign=made).amount == listed - D(net)  # what the coupon gave


def test_a_gift_coupon_without_the_gift_in_the_cart_says_to_add_it(staff, shop, tea, cup):
    made = campaign(staff, {"kind": "gift", "benefit": {"kind": "gift", "free": 1}, "what": {"products": [cup.pk]}})
    assert refusal(staff, shop, [(tea, "2")], one_code(staff, made)) == ["The gift is not in the cart: add 1 of it."]


def test_a_first_order_coupon_is_for_a_customer_who_has_not_ordered(staff, shop, tea):
    made = campaign(staff, {"kind": "first_order", "benefit": {"kind": "cart_amount_off", "amount": "30"}})
    newcomer = make_account(staff.sales, code="NEW")
    placed = order(staff, newcomer, [(tea, "1")], [one_code(staff, made)])
    assert placed.net_total == D("70.00")
    sales.order_confirm(actor=staff.sales, order=Order.objects.get(pk=placed.pk))
    assert refusal(staff, newcomer, [(tea, "1")], one_code(staff, made)) == [
        "This coupon is for a new customer's first order; this account has ordered before."
    ]


def test_a_holiday_campaign_has_an_end_and_its_codes_wait_for_the_holiday(staff, shop, tea):
    terms = {"kind": "holiday", "benefit": {"kind": "percent_off", "percent": "10"}}
    with pytest.raises(ValidationError) as no_end:
        campaign(staff, terms)
    assert "ends_at" in no_end.value.message_dict
    starts = timezone.now() + dt.timedelta(days=10)
    spring_festival = campaign(staff, terms, starts_at=starts, ends_at=starts + dt.timedelta(days=7))
    (reason,) = refusal(staff, shop, [(tea, "1")], one_code(staff, spring_festival))
    assert reason.startswith("This coupon is valid from ")


def _place(account: Any, stage: str, day: dt.date) -> None:
    install_builtins()
    lifecycle = Classification.objects.get(key="lifecycle")
    run = SegmentRun.objects.create(as_of=day, status=SegmentRun.DONE)
    snapshot = Snapshot.objects.create(run=run, classification=lifecycle, as_of=day, period_start=day, period_end=day)
    Membership.objects.create(
        classification=lifecycle, account=account, class_key=stage, snapshot=snapshot, valid_from=day
    )


def test_birthdays_first_orders_and_loyalty_are_issued_automatically_once(
    staff, tea, mailoutbox, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    other_month = (today.month % 12) + 1
    born = make_account(
        staff.sales, code="BORN", kind="person", birthday=today.replace(year=1990, day=1), email="b@x.example"
    )
    make_account(staff.sales, code="LATER", kind="person", birthday=dt.date(1990, other_month, 1))
    loyal = make_account(staff.sales, code="LOYAL", email="l@x.example")
    fresh = make_account(staff.sales, code="FRESH", email="f@x.example")
    sales.order_confirm(actor=staff.sales, order=order(staff, loyal, [(tea, "1")], []))
    sales.order_confirm(actor=staff.sales, order=order(staff, born, [(tea, "1")], []))
    _place(loyal, "loyal", today - dt.timedelta(days=3))
    _place(fresh, "new", today - dt.timedelta(days=3))
    benefit = {"kind": "percent_off", "percent": "10"}
    birthday = campaign(staff, {"kind": "birthday", "benefit": benefit, "valid_days": 30}, auto_issue=True)
    first = campaign(staff, {"kind": "first_order", "benefit": benefit}, auto_issue=True)
    reward = campaign(staff, {"kind": "loyal_reward", "benefit": benefit}, auto_issue=True)
    by_hand = campaign(staff, {"kind": "percent_off", "benefit": benefit})  # not automatic: nothing

    with django_capture_on_commit_callbacks(execute=True):
        made = automatic.auto_issue(today)
    assert set(made) == {birthday.pk, first.pk, reward.pk}

    def owners(c: Campaign) -> set[str]:
        return set(Coupon.objects.filter(campaign=c).values_list("account__code", flat=True))

    assert owners(birthday) == {"BORN"}  # a person born this month; LATER's month is to come
    assert owners(first) == {"FRESH", "LATER"}  # those who have not ordered yet
    assert owners(reward) == {"LOYAL"}
    assert not owners(by_hand)
    born_code = Coupon.objects.get(campaign=birthday)
    assert born_code.valid_until is not None
    assert (born_code.valid_until - born_code.issued_at) == dt.timedelta(days=30)
    assert {m.to[0] for m in mailoutbox} >= {"b@x.example", "l@x.example", "f@x.example"}

    assert automatic.auto_issue(today) == {}  # the same day again: nothing twice
    tomorrow = today + dt.timedelta(days=1)
    assert automatic.auto_issue(tomorrow) == {}  # nobody new came due
    assert CampaignSend.objects.filter(trigger=CampaignSend.AUTOMATIC).count() == 3
    next_year = today.replace(year=today.year + 1, day=1)
    assert set(automatic.auto_issue(next_year)) == {birthday.pk}  # a birthday comes once a year


def test_an_automatic_campaign_holds_out_its_share_and_records_it(staff):
    for i in range(40):
        make_account(staff.sales, code=f"N{i:02d}", email=f"n{i}@x.example")
    first = campaign(
        staff,
        {"kind": "first_order", "benefit": {"kind": "cart_amount_off", "amount": "10"}},
        auto_issue=True,
        holdout_percent=25,
    )
    (run,) = automatic.auto_issue(timezone.localdate()).values()
    held = CampaignRecipient.objects.filter(send=run, status=CampaignRecipient.HELD_OUT).count()
    assert run.held_out == held > 0
    assert Coupon.objects.filter(campaign=first).count() == 40 - held
    assert automatic.auto_issue(timezone.localdate() + dt.timedelta(days=1)) == {}  # the held out are not redrawn


def test_points_are_exchanged_for_a_code_once_and_a_short_balance_says_how_short(staff, shop, tea):
    made = campaign(
        staff,
        {"kind": "points_exchange", "benefit": {"kind": "cart_amount_off", "amount": "20"}, "points": "500"},
    )
    PointsEntry.objects.create(account=shop, points=D("800"), reason="rebate")
    coupon = services.points_exchange(actor=staff.sales, campaign=made, account=shop)
    assert coupon.account_id == shop.pk
    assert points_balance(shop.pk, timezone.localdate()) == D("300")
    with pytest.raises(ValidationError) as short:
        services.points_exchange(actor=staff.sales, campaign=made, account=shop)
    assert short.value.message_dict["points"] == ["500 points are needed; the account has 300 (200 missing)."]
    assert Coupon.objects.filter(campaign=made).count() == 1
    assert order(staff, shop, [(tea, "1")], [coupon.code]).net_total == D("80.00")
    with pytest.raises(ValidationError):
        services.campaign_create(
            actor=staff.marketing,
            data={
                "name": "No price",
                "terms": {"kind": "points_exchange", "benefit": {"kind": "cart_amount_off", "amount": "20"}},
                "starts_at": timezone.now(),
            },
        )
    other = campaign(staff, {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "5"}})
    with pytest.raises(Conflict):
        services.points_exchange(actor=staff.sales, campaign=other, account=shop)


def test_a_shared_public_code_serves_many_accounts_once_each(staff, shop, tea):
    made = campaign(
        staff,
        {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}, "uses_per_account": 1},
    )
    shared = services.shared_code_create(actor=staff.marketing, campaign=made, code="spring 2026")
    assert shared.code == "SPRING2026"
    for i in range(3):
        placed = order(staff, make_account(staff.sales, code=f"P{i}"), [(tea, "1")], ["Spring-2026"])
        assert placed.net_total == D("90.00")
    order(staff, shop, [(tea, "1")], ["SPRING2026"])
    assert "as often as allowed (1)" in refusal(staff, shop, [(tea, "1")], "SPRING2026")[0]
    with pytest.raises(ValidationError) as taken:
        services.shared_code_create(actor=staff.marketing, campaign=made, code="SPRING2026")
    assert taken.value.message_dict["code"] == ["This code is taken."]
    with pytest.raises(ValidationError):
        services.shared_code_create(actor=staff.marketing, campaign=made, code="ab")


def test_codes_are_imported_all_or_nothing_and_each_bad_row_is_named(staff, shop, tea):
    made = campaign(staff, {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "10"}})
    services.shared_code_create(actor=staff.marketing, campaign=made, code="TAKEN1")
    bad = b"code,account\nPARTNER001,SHOP\npartner-001,\nTAKEN1,\nNOPE2,GHOST\n!!,\n"
    with pytest.raises(ValidationError) as refused:
        services.codes_import(actor=staff.marketing, campaign=made, data=bad, file_name="codes.csv")
    assert refused.value.message_dict == {
        "row 3": ["“partner-001” is given twice (first on row 2)."],
        "row 4": ["“TAKEN1” is taken."],
        "row 5": ["No account has the code “GHOST”."],
        "row 6": ["“!!”: 4 to 64 letters and digits."],
    }
    assert Coupon.objects.filter(campaign=made).count() == 1  # nothing half-written
    good = b"code,account\nPARTNER001,SHOP\nPARTNER002,\n"
    assert services.codes_import(actor=staff.marketing, campaign=made, data=good, file_name="codes.csv") == 2
    bound = Coupon.objects.get(code="PARTNER001")
    assert (bound.account_id, bound.source) == (shop.pk, Coupon.IMPORTED)
    assert order(staff, shop, [(tea, "1")], ["partner 001"]).net_total == D("90.00")
    with pytest.raises(ValidationError) as no_column:
        services.codes_import(actor=staff.marketing, campaign=made, data=b"x,y\n1,2\n", file_name="c.csv")
    assert "code" in no_column.value.message_dict["file"][0]


def test_the_dashboard_counts_codes_and_discount_per_week_and_totals_each_kind(staff, shop, tea):
    from patron.coupons.effect import by_kind, over_time

    ten = campaign(
        staff,
        {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "10"}, "uses_per_account": 5},
        starts_at=timezone.now() - dt.timedelta(days=20),
    )
    codes = services.codes_issue(actor=staff.marketing, campaign=ten, count=4)
    order(staff, shop, [(tea, "1")], [codes[0]])
    order(staff, shop, [(tea, "2")], [codes[1]])
    series = over_time(ten)
    assert series["weekly"]
    assert len(series["labels"]) in (3, 4)  # 20 days back to this week's Monday
    assert (sum(series["issued"]), series["issued"][-1]) == (4, 4)
    assert (series["redeemed"][-1], series["cost"][-1], series["sales"][-1]) == (2, D("20.00"), D("280.00"))
    assert sum(series["redeemed"][:-1]) == 0
    (row,) = [r for r in by_kind() if r["kind"] == "amount_off"]
    assert (row["campaigns"], row["issued"], row["redeemed"], row["rate"]) == (1, 4, 2, D("50.0"))
    assert (row["cost"], row["sales"]) == (D("20.00"), D("280.00"))
    # margin: 280 sold (after the coupons) less 3 x 60 cost = 100, so 120 before the 20 of discount;
    # ROI (120 - 20) / 20 = 5: each yuan of discount came back with 5 of margin
    assert (row["margin"], row["roi"]) == (D("100.00"), D("5.00"))
