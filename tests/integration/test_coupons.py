"""Coupons on orders: priced by the one engine, redeemed in the order's transaction, limits that hold,
uses given back on cancel and return; and a rebate paid as a discount on a later order."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from patron.core.errors import Conflict
from patron.coupons import services
from patron.coupons.models import Campaign, Coupon, Redemption
from patron.domain.coupons.codes import is_well_formed, shown
from patron.sales import services as sales
from patron.sales.models import Order
from tests.factories import make_account, make_product


def campaign(staff: Any, terms: dict[str, Any], **over: Any) -> Campaign:
    data = {"name": "Spring", "terms": terms, "starts_at": timezone.now() - dt.timedelta(days=1), "prefix": "spr"}
    data.update(over)
    made = services.campaign_create(actor=staff.marketing, data=data)
    return services.campaign_set_status(actor=staff.marketing, campaign=made, status=Campaign.ACTIVE)


TEN_OFF = {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}}


@pytest.fixture
def shop(staff: Any) -> Any:
    return make_account(staff.sales, code="SHOP")


@pytest.fixture
def tea(db: Any) -> Any:
    return make_product(sku="TEA", price="100.00", cost="60.00")


def order(staff: Any, account: Any, product: Any, units: str, codes: list[str], **kw: Any) -> Order:
    return sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=product, quantity=units)],
        coupons=codes,
        **kw,
    )


def test_a_campaigns_codes_are_well_formed_distinct_and_only_editors_make_them(staff):
    spring = campaign(staff, TEN_OFF)
    made = services.codes_issue(actor=staff.marketing, campaign=spring, count=300)
    assert len(set(made)) == 300 == Coupon.objects.filter(campaign=spring).count()
    assert all(is_well_formed(c, "SPR") for c in made)
    with pytest.raises(PermissionDenied):
        services.codes_issue(actor=staff.sales, campaign=spring, count=1)
    with pytest.raises(ValidationError) as bad:
        services.campaign_create(
            actor=staff.marketing,
            data={"name": "", "terms": {"kind": "spend_save", "benefit": {"kind": "percent_off", "percent": "5"}}},
        )
    assert {"name", "terms.benefit.kind", "starts_at"} <= set(bad.value.message_dict)


def test_a_coupon_prices_the_order_and_is_used_once(staff, shop, tea):
    (code,) = services.codes_issue(actor=staff.marketing, campaign=campaign(staff, TEN_OFF), count=1)
    typed = shown(code, "SPR").lower()  # as a customer reads it out: dashes, lower case
    first = order(staff, shop, tea, "3", [typed])
    assert first.net_total == D("270.00")  # 10% off 300
    redemption = Redemption.objects.get()
    assert (redemption.order_id, redemption.amount) == (first.pk, D("30.00"))
    assert Coupon.objects.get(code=code).uses == 1
    with pytest.raises(ValidationError) as again:
        order(staff, shop, tea, "1", [code])
    assert again.value.message_dict["coupons[0]"] == ["This coupon has been used up."]
    assert Order.objects.count() == 1  # the refused order was not written


def test_each_refusal_names_the_code_and_says_why(staff, shop, tea):
    spring = campaign(
        staff,
        {
            "kind": "spend_save",
            "benefit": {"kind": "spend_save", "spend": "300", "save": "50"},
            "min_spend": "300",
        },
    )
    (code,) = services.codes_issue(actor=staff.marketing, campaign=spring, count=1)
    with pytest.raises(ValidationError) as short:
        order(staff, shop, tea, "2", [code])
    assert short.value.message_dict["coupons[0]"] == ["The minimum spend is CNY 300.00: CNY 100.00 more is needed."]
    other = make_account(staff.sales, code="OTHER")
    (bound,) = services.codes_issue(actor=staff.marketing, campaign=spring, accounts=[other.pk])
    with pytest.raises(ValidationError) as theirs:
        order(staff, shop, tea, "3", [bound])
    assert theirs.value.message_dict["coupons[0]"] == ["This coupon belongs to another account."]
    with pytest.raises(ValidationError) as unknown:
        order(staff, shop, tea, "3", ["SUMMER-2026", code, code])
    assert unknown.value.message_dict["coupons[0]"] == ["No coupon has this code."]
    assert unknown.value.message_dict["coupons[2]"] == ["This code is given twice."]
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")  # one character wrong
    with pytest.raises(ValidationError) as mistyped:
        order(staff, shop, tea, "3", [typo])
    assert mistyped.value.message_dict["coupons[0]"] == ["This is not a coupon code: check it for a typing mistake."]
    later = campaign(staff, TEN_OFF, name="Later", starts_at=timezone.now() + dt.timedelta(days=2))
    (early,) = services.codes_issue(actor=staff.marketing, campaign=later, count=1)
    with pytest.raises(ValidationError) as soon:
        order(staff, shop, tea, "3", [early])
    assert soon.value.message_dict["coupons[0]"][0].startswith("This coupon is valid from ")
    gone = campaign(
        staff, TEN_OFF, name="Gone", starts_at=timezone.now() - dt.timedelta(days=9), ends_at=timezone.now()
    )
    (late,) = services.codes_issue(actor=staff.marketing, campaign=gone, count=1)
    with pytest.raises(ValidationError) as expired:
        order(staff, shop, tea, "3", [late])
    assert expired.value.message_dict["coupons[0]"][0].startswith("This coupon expired on ")
    assert not Redemption.objects.exists()


def test_a_budget_and_a_limit_per_account_hold(staff, shop, tea):
    worth = campaign(
        staff, {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "60"}, "budget": "100"}
    )
    with pytest.raises(Conflict) as issuing:  # two codes of 60 are worth more than the budget of 100
        services.codes_issue(actor=staff.marketing, campaign=worth, count=2)
    assert str(issuing.value) == "The budget covers 1 more codes at 60 each; 2 are asked for."
    services.codes_issue(actor=staff.marketing, campaign=worth, count=1)
    budget = campaign(
        staff, {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "30"}, "budget": "100"}, name="B"
    )
    first, second = services.codes_issue(actor=staff.marketing, campaign=budget, count=2)  # no face value: no cap
    order(staff, shop, tea, "2", [first])  # 30% of 200 = 60 of the 100
    with pytest.raises(ValidationError) as spent:
        order(staff, shop, tea, "2", [second])
    assert spent.value.message_dict["coupons[0]"] == ["The campaign's budget is spent (CNY 40.00 left)."]
    shared = campaign(
        staff,
        {**TEN_OFF, "uses_per_code": 1000, "uses_per_account": 1},
        name="Shared",
    )
    (public,) = services.codes_issue(actor=staff.marketing, campaign=shared, count=1)
    order(staff, shop, tea, "1", [public])
    order(staff, make_account(staff.sales), tea, "1", [public])  # another account may use it too
    with pytest.raises(ValidationError) as once:
        order(staff, shop, tea, "1", [public])
    assert "as often as allowed (1)" in once.value.message_dict["coupons[0]"][0]


def test_two_codes_of_one_campaign_on_one_order_count_together_against_its_limits(staff, shop, tea):
    per_account = campaign(staff, {**TEN_OFF, "uses_per_account": 1, "with_coupons": True})
    first, second = services.codes_issue(actor=staff.marketing, campaign=per_account, count=2)
    with pytest.raises(ValidationError) as twice:
        order(staff, shop, tea, "2", [first, second])
    assert set(twice.value.message_dict) == {"coupons[1]"}  # the first fits, the second is one use too many
    assert "as often as allowed (1)" in twice.value.message_dict["coupons[1]"][0]
    budget = campaign(staff, {**TEN_OFF, "budget": "25", "with_coupons": True}, name="B", prefix="bb")
    one, two = services.codes_issue(actor=staff.marketing, campaign=budget, count=2)
    with pytest.raises(ValidationError) as spent:
        order(staff, shop, tea, "2", [one, two])  # 10% of 200 = 20 of the 25; the second's share is over
    assert spent.value.message_dict == {"coupons[1]": ["The campaign's budget is spent (CNY 5.00 left)."]}
    assert not Redemption.objects.exists()  # nothing half-written
    assert not Order.objects.exists()
    assert order(staff, shop, tea, "2", [one]).net_total == D("180.00")


def test_cancelling_or_returning_the_whole_order_gives_the_use_back(staff, shop, tea):
    spring = campaign(staff, TEN_OFF)
    (code,) = services.codes_issue(actor=staff.marketing, campaign=spring, count=1)
    draft = order(staff, shop, tea, "2", [code])
    sales.order_cancel(actor=staff.sales, order=draft)
    assert Coupon.objects.get(code=code).uses == 0
    assert Redemption.objects.get().reversed_reason == "order cancelled"
    kept = order(staff, shop, tea, "2", [code], confirm=True)
    line = kept.lines.get()
    sales.return_create(actor=staff.sales, order=kept, lines=[sales.ReturnLineInput(line, "1")])
    assert Coupon.objects.get(code=code).uses == 1  # half returned: the coupon stays used
    sales.return_create(actor=staff.sales, order=kept, lines=[sales.ReturnLineInput(line, "1")])
    assert Coupon.objects.get(code=code).uses == 0
    assert Campaign.objects.get(pk=spring.pk).budget_used == 0


def test_changing_a_drafts_lines_prices_its_coupons_again_or_says_why_they_no_longer_apply(staff, shop, tea):
    thirty = campaign(
        staff,
        {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "30"}, "min_spend": "200"},
    )
    (code,) = services.codes_issue(actor=staff.marketing, campaign=thirty, count=1)
    draft = order(staff, shop, tea, "2", [code])
    assert draft.net_total == D("170.00")
    changed = sales.order_update_lines(
        actor=staff.sales, order=draft, lines=[sales.LineInput(product=tea, quantity="3")]
    )
    assert changed.net_total == D("270.00")  # 300 less the coupon's 30, still
    assert Coupon.objects.get(code=code).uses == 1
    assert Redemption.objects.get(campaign=thirty, reversed_at__isnull=True).amount == D("30.00")
    assert sorted(Redemption.objects.values_list("reversed_reason", flat=True)) == ["", "order lines changed"]
    with pytest.raises(ValidationError) as short:  # 100 is under the minimum spend of 200
        sales.order_update_lines(actor=staff.sales, order=changed, lines=[sales.LineInput(product=tea, quantity="1")])
    assert short.value.message_dict["coupons[0]"] == ["The minimum spend is CNY 200.00: CNY 100.00 more is needed."]
    assert Order.objects.get(pk=draft.pk).net_total == D("270.00")  # nothing changed
    assert Coupon.objects.get(code=code).uses == 1


def test_a_first_order_coupon_stays_on_its_draft_when_the_lines_change(staff, shop, tea):
    welcome = campaign(staff, {"kind": "first_order", "benefit": {"kind": "cart_amount_off", "amount": "30"}})
    (code,) = services.codes_issue(actor=staff.marketing, campaign=welcome, count=1)
    draft = order(staff, shop, tea, "2", [code])
    changed = sales.order_update_lines(actor=staff.sales, order=draft, lines=[sales.LineInput(tea, "3")])
    assert changed.net_total == D("270.00")  # the draft itself is not an earlier order
    assert Redemption.objects.get(reversed_at__isnull=True).order_id == draft.pk
    with pytest.raises(ValidationError) as second:  # another order of the same account is
        order(staff, shop, tea, "1", [code])
    assert set(second.value.message_dict) == {"coupons[0]"}


def test_a_rebate_paid_as_a_discount_is_a_code_worth_the_rebate_once(staff, shop, tea):
    from patron.rebates import services as rebates
    from patron.rebates.models import RebatePayout, RebateProgram
    from patron.rebates.settlement import settlement_approve, settlement_start

    terms = {"threshold": "0", "tiers": [{"from": "0", "percent": "10"}]}
    made = rebates.program_create(
        actor=staff.manager,
        data={"name": "Discount rebate", "effective_from": "2026-01-01", "terms": terms, "payout_form": "discount"},
    )
    program = rebates.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    rebates.agreement_create(actor=staff.manager, program=program, account=shop, signed_on="2026-01-01")
    sales.order_create(
        actor=staff.sales,
        account=shop,
        lines=[sales.LineInput(product=tea, quantity="5")],
        order_date=dt.date(2026, 2, 1),
        confirm=True,
    )
    settlement = settlement_start(actor=staff.finance, program=program, day=dt.date(2026, 1, 15))
    settlement_approve(actor=staff.admin, settlement=settlement)
    payout = RebatePayout.objects.get()
    assert (payout.form, payout.status, payout.amount) == ("discount", "done", D("50.00"))
    coupon = Coupon.objects.get(code=payout.reference)
    assert (coupon.account_id, coupon.amount, coupon.source) == (shop.pk, D("50.00"), "rebate")
    later = order(staff, shop, tea, "2", [payout.reference])
    assert later.net_total == D("150.00")  # 200 less the 50 rebate
    with pytest.raises(ValidationError):
        order(staff, shop, tea, "2", [payout.reference])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="connections racing need PostgreSQL")
def test_200_orders_racing_for_one_single_use_code_give_one_redemption(staff):
    shop = make_account(staff.sales, code="RACE")
    tea = make_product(sku="RACE-TEA", price="100.00")
    (code,) = services.codes_issue(actor=staff.marketing, campaign=campaign(staff, TEN_OFF), count=1)
    attempts = 200
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=60)
            order(staff, shop, tea, "1", [code])
            result = "ok"
        except ValidationError as exc:
            result = exc.message_dict.get("coupons[0]", ["?"])[0]
        except BaseException as exc:  # reported below
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, [o for o in outcomes if o != "This coupon has been used up."][:5]
    assert outcomes.count("This coupon has been used up.") == attempts - 1
    assert Redemption.objects.count() == 1
    assert Coupon.objects.get(code=code).uses == 1
    assert Order.objects.filter(account=shop).count() == 1


def test_a_till_redeems_a_code_with_an_order_through_the_api_and_a_refusal_is_a_422_naming_it(staff, shop, tea):
    from tests.api_client import ApiClient, error_fields

    (code,) = services.codes_issue(actor=staff.marketing, campaign=campaign(staff, TEN_OFF), count=1)
    client = ApiClient(staff.sales)
    body = {
        "account": "SHOP",
        "lines": [{"product": "TEA", "quantity": "3"}],
        "coupons": [code.lower()],
        "confirm": True,
    }
    made = client.post("/api/orders", body)
    assert made.status_code == 201, made.json()
    assert (made.json()["status"], made.json()["net_total"]) == ("confirmed", "270.00")
    assert client.get(f"/api/orders/{made.json()['number']}").json() == made.json()  # the answer is what was stored
    again = client.post("/api/orders", body)
    assert again.status_code == 422
    assert error_fields(again) == {"coupons[0]"}
    assert Order.objects.count() == 1


def test_checking_codes_says_what_each_would_give_or_why_not(staff, shop, tea):
    from tests.api_client import ApiClient

    spring = campaign(
        staff,
        {"kind": "spend_save", "benefit": {"kind": "spend_save", "spend": "300", "save": "50"}, "min_spend": "300"},
    )
    good, short = services.codes_issue(actor=staff.marketing, campaign=spring, count=2)
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    client = ApiClient(staff.sales)
    body = {"account": "SHOP", "lines": [{"product": "TEA", "quantity": "3"}], "codes": [good]}
    answer = client.post("/api/coupons/check", body).json()
    assert answer["valid"] is True
    assert answer["coupons"][0]["discount"] == "50.00"
    assert answer["net_total"] == "250.00"
    small = client.post(
        "/api/coupons/check", {**body, "lines": [{"product": "TEA", "quantity": "2"}], "codes": [short]}
    )
    verdict = small.json()["coupons"][0]
    assert verdict["valid"] is False
    assert verdict["reasons"] == ["The minimum spend is CNY 300.00: CNY 100.00 more is needed."]
    unknown = client.post("/api/coupons/check", {**body, "codes": ["WHATEVER"]}).json()["coupons"][0]
    assert unknown["reasons"] == ["No coupon has this code."]
    assert not Redemption.objects.exists()  # checking uses nothing


def test_guessing_codes_is_throttled_per_user_token_and_address(staff, shop, tea, settings, tmp_path, monkeypatch):
    from patron.core.counters import WindowCounts
    from patron.coupons import throttles
    from tests.api_client import ApiClient

    # Counts of its own: the machine's are shared with the other test processes, trying codes from the same address.
    monkeypatch.setattr(throttles, "COUNTS", WindowCounts(tmp_path / "throttle.sqlite3"))
    settings.PATRON_COUPON_CHECKS_PER_MINUTE = 5
    client = ApiClient(staff.sales)
    body = {"account": "SHOP", "lines": [{"product": "TEA", "quantity": "1"}]}
    statuses = [client.post("/api/coupons/check", {**body, "codes": [f"GUESS{i:04d}"]}).status_code for i in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    # Orders with codes count too, and a second token of the same user is no way around it.
    other = ApiClient(staff.sales)
    order_body = {"account": "SHOP", "lines": [{"product": "TEA", "quantity": "1"}], "coupons": ["GUESS9999"]}
    assert other.post("/api/orders", order_body).status_code == 429
    assert other.post("/api/orders", {**order_body, "coupons": []}).status_code == 201  # orders without codes: free
    throttles.clear()
    # Three people behind one address, each claiming another X-Forwarded-For: the address's limit (twice the
    # rate) still holds, since the header is not believed without a proxy in front.
    settings.PATRON_COUPON_CHECKS_PER_MINUTE = 1
    tries = [
        ApiClient(user).post(
            "/api/coupons/check", {**body, "codes": ["GUESS0001"]}, headers={"X-Forwarded-For": f"10.0.0.{i}"}
        )
        for i, user in enumerate((staff.sales, staff.manager, staff.admin))
    ]
    assert [t.status_code for t in tries] == [200, 200, 429]


def _race(attempts: int, attempt: Any) -> list[str]:
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            attempt(i)
            result = "ok"
        except ValidationError as exc:
            result = exc.message_dict.get("coupons[0]", ["?"])[0]
        except BaseException as exc:  # reported by the caller's assertions
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="connections racing need PostgreSQL")
def test_an_accounts_limit_and_a_budget_hold_when_orders_race(staff):
    shop = make_account(staff.sales, code="RACE2")
    tea = make_product(sku="RACE2-TEA", price="100.00")
    once = campaign(staff, {**TEN_OFF, "uses_per_code": 1000, "uses_per_account": 2}, name="Twice each")
    (shared,) = services.codes_issue(actor=staff.marketing, campaign=once, count=1)
    outcomes = _race(50, lambda i: order(staff, shop, tea, "1", [shared]))
    assert outcomes.count("ok") == 2, outcomes[:3]
    assert Redemption.objects.filter(campaign=once).count() == 2
    budget = campaign(
        staff,
        {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "30"}, "budget": "100"},
        name="Budget",
    )
    codes = services.codes_issue(actor=staff.marketing, campaign=budget, count=50)  # a percent: no face value
    outcomes = _race(50, lambda i: order(staff, shop, tea, "1", [codes[i]]))
    assert outcomes.count("ok") == 3, outcomes[:3]  # 3 x 30 = 90; a fourth would pass the 100
    assert Campaign.objects.get(pk=budget.pk).budget_used == D("90.00")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="connections racing need PostgreSQL")
def test_points_exchanged_at_once_never_spend_the_same_points_twice(staff):
    from patron.rebates.models import PointsEntry
    from patron.rebates.settlement import points_balance

    shop = make_account(staff.sales, code="RACE3")
    PointsEntry.objects.create(account=shop, points=D("1000"), reason="rebate")
    exchange = campaign(
        staff,
        {"kind": "points_exchange", "benefit": {"kind": "cart_amount_off", "amount": "20"}, "points": "300"},
        name="Points",
    )
    outcomes = _race(20, lambda i: services.points_exchange(actor=staff.sales, campaign=exchange, account=shop))
    assert outcomes.count("ok") == 3, outcomes[:3]  # 3 x 300 of the 1,000
    assert Coupon.objects.filter(campaign=exchange).count() == 3
    assert points_balance(shop.pk, timezone.localdate()) == D("100")


def test_a_code_drawn_twice_is_drawn_again_not_stored_twice(staff, monkeypatch):
    from patron.domain.coupons import codes as drawing

    spring = campaign(staff, TEN_OFF)
    (first,) = services.codes_issue(actor=staff.marketing, campaign=spring, count=1)
    draws = iter([[first, "SPRAAAAAAAAAA2"], ["SPRBBBBBBBBBB2", "SPRCCCCCCCCCC2"]])
    monkeypatch.setattr(drawing, "new_codes", lambda count, prefix="": next(draws))
    made = services.codes_issue(actor=staff.marketing, campaign=spring, count=2)
    assert made == ["SPRBBBBBBBBBB2", "SPRCCCCCCCCCC2"]  # the batch with a clash was drawn again
    assert Coupon.objects.filter(campaign=spring).count() == 3
