"""Discount policies on the database: rules checked against what exists, the rule book
rebuilt when anything changes, and quotes that follow the account's region, segments and history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from patron.accounts.models import Account
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.discounts import mappers, quoting, services
from patron.discounts.models import DiscountRule, Policy
from patron.domain.money import Money
from patron.sales.models import Category
from tests.factories import make_account, make_industry, make_order, make_product, make_region_tree

PERCENT_10 = {"kind": "percent_off", "percent": "10"}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture
def shop(staff: Any) -> Any:
    regions = make_region_tree()
    tea = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    green = Category.objects.create(code="GREEN", name_zh="绿茶", name_en="Green tea", parent=tea)
    cups = Category.objects.create(code="CUPS", name_zh="杯", name_en="Cups")

    class Shop:
        pass

    s = Shop()
    s.regions = regions  # type: ignore[attr-defined]
    s.tea, s.green, s.cups = tea, green, cups  # type: ignore[attr-defined]
    s.longjing = make_product("LJ", price="200.00", cost="120.00", category=green)  # type: ignore[attr-defined]
    s.cup = make_product("CUP", price="30.00", cost="10.00", category=cups)  # type: ignore[attr-defined]
    s.retail = make_industry()  # type: ignore[attr-defined]
    s.account = make_account(staff.sales, region=regions["SZ"], industry=s.retail)  # type: ignore[attr-defined]
    return s


def policy_with(staff: Any, *rules: dict[str, Any], activate: bool = True, **fields: Any) -> Policy:
    policy = services.policy_create(actor=staff.manager, data={"name": fields.pop("name", "Winter"), **fields})
    for rule in rules:
        services.rule_create(actor=staff.manager, policy=policy, data=rule)
    if activate:
        policy = services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    return policy


def quote(shop: Any, *lines: tuple[Any, str], user: Any = None, **kw: Any) -> quoting.Priced:
    requests = quoting.line_requests([{"product": p.sku, "quantity": q} for p, q in lines], currency="CNY")
    return quoting.price(shop.account, requests, user=user, **kw)


def test_a_region_rule_reaches_accounts_in_the_cities_below_it(staff, shop):
    policy_with(
        staff,
        {
            "name": "Guangdong tea",
            "who": {"regions": [shop.regions["GD"].pk]},
            "what": {"categories": [shop.tea.pk]},
            "benefit": PERCENT_10,
        },
    )
    priced = quote(shop, (shop.longjing, "2"), (shop.cup, "1"))
    assert priced.quote.net_total == Money(Decimal("390.00"), "CNY")  # 400 - 10% + 30
    (applied,) = priced.quote.applied
    assert applied.name == "Guangdong tea"
    assert applied.policy == "Winter"


def test_a_draft_policy_prices_nothing_and_activating_it_rebuilds_the_book(staff, shop):
    policy = policy_with(staff, {"name": "all 10%", "benefit": PERCENT_10}, activate=False)
    assert quote(shop, (shop.cup, "1")).quote.net_total == Money(Decimal("30.00"), "CNY")
    services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    assert quote(shop, (shop.cup, "1")).quote.net_total == Money(Decimal("27.00"), "CNY")
    rule = policy.rules.get()
    services.rule_update(actor=staff.manager, rule=rule, data={"benefit": {"kind": "percent_off", "percent": "20"}})
    assert quote(shop, (shop.cup, "1")).quote.net_total == Money(Decimal("24.00"), "CNY")
    services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ARCHIVED)
    assert quote(shop, (shop.cup, "1")).quote.net_total == Money(Decimal("30.00"), "CNY")


def test_the_policy_window_narrows_its_rules(staff, shop):
    now = timezone.now()
    policy_with(
        staff, {"name": "later", "benefit": PERCENT_10}, effective_from=(now + dt.timedelta(days=1)).isoformat()
    )
    priced = quote(shop, (shop.cup, "1"))
    assert priced.quote.net_total == Money(Decimal("30.00"), "CNY")
    assert priced.quote.outcomes[0].reasons[0].code == "NOT_STARTED"
    assert quote(
        shop, (shop.cup, "1"), now=timezone.localtime() + dt.timedelta(days=2)
    ).quote.net_total.amount == Decimal("27.00")


def test_a_product_set_is_expanded_and_its_change_reprices(staff, shop):
    cups_only = services.product_set_save(actor=staff.manager, data={"name": "Gifts", "products": [shop.cup.pk]})
    policy_with(staff, {"name": "gifts", "what": {"product_sets": [cups_only.pk]}, "benefit": PERCENT_10})
    assert quote(shop, (shop.longjing, "1")).quote.net_total.amount == Decimal("200.00")
    services.product_set_save(actor=staff.manager, product_set=cups_only, data={"products": [shop.longjing.pk]})
    assert quote(shop, (shop.longjing, "1")).quote.net_total.amount == Decimal("180.00")


def test_new_customers_only_until_their_first_confirmed_order(staff, shop):
    policy_with(staff, {"name": "welcome", "who": {"new_customers": True}, "benefit": PERCENT_10})
    assert quote(shop, (shop.cup, "1")).quote.net_total.amount == Decimal("27.00")
    make_order(staff.sales, shop.account, [(shop.cup, "1")])
    shop.account.refresh_from_db()
    again = quote(shop, (shop.cup, "1"))
    assert again.quote.net_total.amount == Decimal("30.00")
    assert again.quote.outcomes == ()  # indexed for new customers: not even looked at


def test_an_order_prices_by_the_account_as_it_is_when_written_not_as_the_caller_read_it(staff, shop):
    from patron.sales import services as sales

    policy_with(staff, {"name": "welcome", "who": {"new_customers": True}, "benefit": PERCENT_10})
    account = Account.objects.get(pk=shop.account.pk)  # read once, as a page or a till would
    totals = [
        sales.order_create(
            actor=staff.sales, account=account, lines=[sales.LineInput(shop.cup, "1")], confirm=True
        ).net_total
        for _ in range(2)
    ]
    assert totals == [Decimal("27.00"), Decimal("30.00")]  # the second is no longer a new customer's


def test_a_floor_from_the_unit_cost_holds_rules_back(staff, shop, settings):
    settings.PATRON_FLOOR_MARGIN_PERCENT = "10"  # cup: cost 10 -> floor 11
    policy_with(staff, {"name": "clearance", "benefit": {"kind": "percent_off", "percent": "90"}})
    line = quote(shop, (shop.cup, "2")).quote.lines[0]
    assert line.net_amount.amount == Decimal("22.00")
    assert line.discounts[0].notes[0].code == "LIMITED_BY_FLOOR"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"name": "x", "benefit": {"kind": "percent_off", "percent": "120"}}, "benefit.percent"),
        ({"name": "x", "benefit": PERCENT_10, "who": {"regions": [999999]}}, "who.regions[0]"),
        ({"name": "x", "benefit": PERCENT_10, "what": {"products": [999999]}}, "what.products[0]"),
        ({"name": "x", "benefit": PERCENT_10, "what": {"product_sets": [999999]}}, "what.product_sets[0]"),
        ({"name": "x", "benefit": PERCENT_10, "who": {"classes": ["value_tier:gold"]}}, "who.classes[0]"),
        ({"name": "x", "benefit": PERCENT_10, "who": {"classes": ["nosuch:high"]}}, "who.classes[0]"),
        ({"name": "x", "benefit": PERCENT_10, "who": {"stages": ["zombie"]}}, "who.stages[0]"),
        (
            {
                "name": "x",
                "benefit": {"kind": "tiers", "tiers": [{"from": "50", "percent": "5"}, {"from": "10", "percent": "8"}]},
            },
            "benefit.tiers[1].from",
        ),
        (
            {
                "name": "x",
                "benefit": PERCENT_10,
                "when": {"starts": "2026-12-10T00:00+08:00", "ends": "2026-12-01T00:00+08:00"},
            },
            "when.ends",
        ),
        ({"name": "", "benefit": PERCENT_10}, "name"),
        ({"name": "x", "benefit": PERCENT_10, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field_and_nothing_is_written(staff, shop, rule, field):
    from patron.segments.services import install_builtins

    install_builtins()
    policy = policy_with(staff, activate=False)
    with pytest.raises(ValidationError) as caught:
        services.rule_create(actor=staff.manager, policy=policy, data=rule)
    assert field in caught.value.message_dict
    assert not DiscountRule.objects.exists()


def test_a_rule_for_a_class_of_a_classification_that_exists_is_accepted(staff, shop):
    from patron.segments.services import install_builtins

    install_builtins()
    policy = policy_with(staff, activate=False)
    rule = services.rule_create(
        actor=staff.manager,
        policy=policy,
        data={"name": "vip", "who": {"classes": ["value_tier:high"]}, "benefit": PERCENT_10},
    )
    assert rule.definition["who"] == {"classes": ["value_tier:high"]}


def test_only_managers_and_admins_write_policies(staff, shop):
    for user in (staff.sales, staff.finance, staff.marketing):
        with pytest.raises(PermissionDenied):
            services.policy_create(actor=user, data={"name": "mine"})
    assert services.policy_create(actor=staff.admin, data={"name": "ok"}).status == Policy.DRAFT


def test_policy_status_moves_and_refusals(staff, shop):
    policy = policy_with(staff, activate=False)
    with pytest.raises(ValidationError) as caught:
        services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    assert "status" in caught.value.message_dict  # no rule yet
    services.rule_create(actor=staff.manager, policy=policy, data={"name": "r", "benefit": PERCENT_10})
    services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ARCHIVED)
    with pytest.raises(Conflict):
        services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    with pytest.raises(Conflict):
        services.rule_create(actor=staff.manager, policy=policy, data={"name": "r2", "benefit": PERCENT_10})
    copy = services.policy_copy(actor=staff.manager, policy=policy)
    assert copy.status == Policy.DRAFT
    assert copy.rules.count() == 1


def test_every_change_is_audited(staff, shop):
    policy = policy_with(staff, {"name": "r", "benefit": PERCENT_10})
    rule = policy.rules.get()
    services.rule_update(actor=staff.manager, rule=rule, data={"priority": 5})
    services.rule_delete(actor=staff.manager, rule=rule)
    events = AuditEvent.objects.filter(action__startswith="DISCOUNT").order_by("id")
    actions = list(events.values_list("action", flat=True))
    assert actions == [
        "DISCOUNT_POLICY_CREATED",
        "DISCOUNT_RULE_CREATED",
        "DISCOUNT_POLICY_STATUS_CHANGED",
        "DISCOUNT_RULE_UPDATED",
        "DISCOUNT_RULE_DELETED",
    ]


def test_a_policy_that_ends_before_it_starts_is_refused(staff, shop):
    with pytest.raises(ValidationError) as caught:
        services.policy_create(
            actor=staff.manager,
            data={
                "name": "p",
                "effective_from": "2026-12-10T00:00:00+08:00",
                "effective_to": "2026-12-01T00:00:00+08:00",
            },
        )
    assert "effective_to" in caught.value.message_dict
    assert not Policy.objects.exists()


# --- manual discounts and limits -----------------------------------------------------------------------------


def manual_quote(shop: Any, user: Any, percent: str, qty: str = "1") -> quoting.Priced:
    requests = quoting.line_requests(
        [{"product": shop.longjing.sku, "quantity": qty, "manual": {"kind": "percent", "value": percent}}],
        currency="CNY",
    )
    return quoting.price(shop.account, requests, user=user)


def test_manual_discounts_within_the_limit_need_nobody_beyond_it_a_manager_then_an_admin(staff, shop):
    services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "percent": "5", "amount": "1000"})
    services.discount_limit_set(actor=staff.admin, data={"role": "sales_manager", "percent": "15", "amount": "5000"})
    assert manual_quote(shop, staff.sales, "5").need.level == ""  # type: ignore[union-attr]
    assert manual_quote(shop, staff.sales, "10").need.level == "manager"  # type: ignore[union-attr]
    assert manual_quote(shop, staff.sales, "20").need.level == "admin"  # type: ignore[union-attr]
    assert manual_quote(shop, staff.manager, "10").need.level == ""  # type: ignore[union-attr]
    assert manual_quote(shop, staff.admin, "30").need.level == ""  # type: ignore[union-attr]


def test_a_users_own_limit_and_a_category_limit_win(staff, shop):
    services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "percent": "5", "amount": "1000"})
    services.discount_limit_set(actor=staff.admin, data={"user": staff.sales2.pk, "percent": "12", "amount": "1000"})
    services.discount_limit_set(
        actor=staff.admin, data={"role": "salesperson", "category": shop.tea.pk, "percent": "8", "amount": "1000"}
    )
    assert manual_quote(shop, staff.sales, "8").need.level == ""  # type: ignore[union-attr]  (tea: 8%)
    assert manual_quote(shop, staff.sales, "9").need.level == "manager"  # type: ignore[union-attr]
    assert manual_quote(shop, staff.sales2, "12").need.level == ""  # type: ignore[union-attr]


def test_no_limit_written_means_every_manual_discount_is_asked_for(staff, shop):
    need = manual_quote(shop, staff.sales, "1").need
    assert need is not None
    assert need.level == "manager"
    assert need.reasons[0].code == "OVER_PERCENT_LIMIT"


def test_below_the_floor_always_needs_approval_even_for_an_admin(staff, shop):
    requests = quoting.line_requests(
        [{"product": shop.longjing.sku, "quantity": "1", "manual": {"kind": "price", "value": "100"}}], currency="CNY"
    )
    need = quoting.price(shop.account, requests, user=staff.admin).need
    assert need is not None
    assert need.level == "manager"
    assert [r.code for r in need.reasons] == ["BELOW_FLOOR"]


def test_bad_lines_are_named_and_a_manual_price_above_the_rules_is_refused(staff, shop):
    with pytest.raises(ValidationError) as caught:
        quoting.line_requests(
            [
                {"product": "NOPE", "quantity": "1"},
                {"product": shop.cup.sku, "quantity": "-1"},
                {"product": shop.cup.sku, "quantity": "1", "manual": {"kind": "percent", "value": "150"}},
                {"product": shop.cup.sku, "quantity": 1.5},
            ],
            currency="CNY",
        )
    assert set(caught.value.message_dict) == {
        "lines.0.product",
        "lines.1.quantity",
        "lines.2.manual.value",
        "lines.3.quantity",
    }
    requests = quoting.line_requests(
        [{"product": shop.cup.sku, "quantity": "1", "manual": {"kind": "price", "value": "31"}}], currency="CNY"
    )
    with pytest.raises(ValidationError) as caught:
        quoting.price(shop.account, requests, user=staff.sales)
    assert "lines.0.manual.value" in caught.value.message_dict


def test_a_new_category_made_after_the_book_was_built_is_found(staff, shop):
    policy_with(staff, {"name": "tea", "what": {"categories": [shop.tea.pk]}, "benefit": PERCENT_10})
    assert quote(shop, (shop.longjing, "1")).quote.net_total.amount == Decimal("180.00")
    oolong = Category.objects.create(code="OOLONG", name_zh="乌龙", name_en="Oolong", parent=shop.tea)
    tieguanyin = make_product("TGY", price="100.00", cost="50.00", category=oolong)
    assert quote(shop, (tieguanyin, "1")).quote.net_total.amount == Decimal("90.00")


def test_a_rule_on_a_product_set_that_was_emptied_discounts_nothing(staff, shop):
    gifts = services.product_set_save(actor=staff.manager, data={"name": "Gifts", "products": [shop.cup.pk]})
    policy_with(staff, {"name": "gifts", "what": {"product_sets": [gifts.pk]}, "benefit": PERCENT_10})
    services.product_set_save(actor=staff.manager, product_set=gifts, data={"products": []})
    priced = quote(shop, (shop.cup, "1"), (shop.longjing, "1"))
    assert priced.quote.net_total.amount == Decimal("230.00")
    assert priced.quote.outcomes == ()


def test_a_product_price_change_reaches_the_next_quote(staff, shop):
    from patron.sales.services import product_update

    assert quote(shop, (shop.cup, "1")).quote.list_total.amount == Decimal("30.00")
    product_update(actor=staff.admin, product=shop.cup, data={"list_price": "35.00"})
    assert quote(shop, (shop.cup, "1")).quote.list_total.amount == Decimal("35.00")


def test_the_reasons_for_approval_read_as_sentences(staff, shop):
    from patron.discounts.messages import reason_text

    need = manual_quote(shop, staff.sales, "10").need
    assert need is not None
    from django.utils import translation

    with translation.override("en"):
        assert reason_text(need.reasons[0]) == "Line 1: 10% off by hand, above the limit of 0%."


def test_setting_a_limit_twice_keeps_one_row(staff, shop):
    from patron.discounts.models import DiscountLimit

    for percent in ("5", "7"):
        services.discount_limit_set(
            actor=staff.admin, data={"role": "salesperson", "percent": percent, "amount": "100"}
        )
        services.discount_limit_set(
            actor=staff.admin, data={"role": "salesperson", "category": shop.tea.pk, "percent": percent}
        )
    assert DiscountLimit.objects.count() == 2
    assert DiscountLimit.objects.get(category=None).percent == Decimal("7.00")


def test_the_quotes_account_lookup_follows_the_access_table(staff, shop):
    from patron.accounts.access import visible_accounts
    from patron.discounts.mappers import quote_context

    def visible_account(user, code):
        return quote_context(user, code).account

    north = make_account(staff.sales3)
    merged = make_account(staff.sales)
    Account.objects.filter(pk=merged.pk).update(merged_into=shop.account)
    for user in (staff.sales, staff.sales2, staff.sales3, staff.manager, staff.manager2, staff.finance, staff.admin):
        for account in (shop.account, north, merged):
            expected = visible_accounts(user).filter(pk=account.pk).exists()
            found = visible_account(user, account.code)
            assert (found is not None) == expected, (user.username, account.code)
    found = visible_account(staff.sales, shop.account.code)
    assert found is not None
    assert (found.pk, found.region_id, found.industry_id) == (shop.account.pk, shop.account.region_id, shop.retail.pk)


def test_the_quote_context_reads_the_same_account_and_profile_in_one_query(staff, shop, django_assert_num_queries):
    from patron.accounts.access import visible_accounts
    from patron.accounts.models import Tag
    from patron.discounts.mappers import account_profile, compiled, quote_context

    tag = Tag.objects.create(name="VIP")
    shop.account.tags.add(tag)
    make_order(staff.sales, shop.account, [(shop.cup, "1")])
    shop.account.refresh_from_db()
    held = compiled()
    with django_assert_num_queries(1):
        context = quote_context(staff.sales, shop.account.code)
    assert context.profile == account_profile(shop.account, held.catalogue)
    assert context.profile.tags == frozenset({tag.pk})
    assert context.profile.has_ordered
    assert context.profile.region_path == (shop.regions["SZ"].pk, shop.regions["GD"].pk, shop.regions["CN"].pk)
    north = make_account(staff.sales3)
    for user in (staff.sales, staff.manager, staff.manager2, staff.finance):
        for account in (shop.account, north):
            expected = visible_accounts(user).filter(pk=account.pk).exists()
            assert (quote_context(user, account.code).account is not None) == expected


def test_a_segments_limit_gives_its_accounts_more_room(staff, shop):
    from patron.segments.models import Classification, Membership
    from patron.segments.services import install_builtins

    install_builtins()
    services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "percent": "5", "amount": "1000"})
    services.discount_limit_set(
        actor=staff.admin, data={"role": "salesperson", "segment": "value_tier:high", "percent": "12", "amount": "5000"}
    )
    assert manual_quote(shop, staff.sales, "10").need.level == "manager"  # type: ignore[union-attr]
    Membership.objects.create(
        classification=Classification.objects.get(key="value_tier"),
        account=shop.account,
        class_key="high",
        snapshot_id=0,
        valid_from=timezone.localdate() - dt.timedelta(days=1),
    )
    assert manual_quote(shop, staff.sales, "10").need.level == ""  # type: ignore[union-attr]
    assert manual_quote(shop, staff.sales, "13").need.level == "manager"  # type: ignore[union-attr]
    with pytest.raises(ValidationError) as caught:
        services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "segment": "value_tier:gold"})
    assert "segment" in caught.value.message_dict


def test_a_rule_for_lifecycle_stages_reads_with_the_stages_names(staff, shop):
    from django.utils import translation

    from patron.discounts.describe import Names, rule_text
    from patron.segments.services import install_builtins

    install_builtins()
    definition = {"who": {"stages": ["new", "at_risk"]}, "benefit": PERCENT_10}
    with translation.override("en"):
        text = rule_text(definition, Names.for_rules([definition]))
    assert "lifecycle stage New, At risk" in text


def test_a_rule_for_another_channel_says_which_by_its_name(staff, shop):
    from django.utils import translation

    from patron.discounts.messages import reason_text

    policy_with(staff, {"name": "shop only", "when": {"channels": ["web_shop"]}, "benefit": PERCENT_10})
    (outcome,) = quote(shop, (shop.cup, "1")).quote.outcomes
    with translation.override("en"):
        assert reason_text(outcome.reasons[0]) == "Only for orders through Web shop."


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_quote_context_is_prepared_once_on_postgresql(staff, shop):
    """Planning the query cost PostgreSQL five times running it; a prepared statement plans once."""
    from patron.discounts.mappers import quote_context

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    for _ in range(8):
        assert quote_context(staff.sales, shop.account.code).account is not None
    statements = [s for s in prepared() if "merged_into_id IS NULL" in s]
    assert len(statements) == 1
    # Django's own queries stay unprepared: binding on the client, safe behind any pooler.
    for _ in range(8):
        list(Account.objects.filter(code=shop.account.code))
    assert not [s for s in prepared() if "merged_into_id IS NULL" not in s and "accounts_account" in s]


def test_preparing_can_be_turned_off_for_a_pooler(monkeypatch):
    from patron.config.settings import database_from_url

    url = "postgres://u@db:5432/patron"
    assert database_from_url(url)["OPTIONS"] == {"prepare_threshold": 5}
    monkeypatch.setenv("PATRON_DATABASE_PREPARE", "0")
    assert database_from_url(url)["OPTIONS"] == {"prepare_threshold": None}
    assert "prepare_threshold" not in database_from_url("sqlite:///x.db")["OPTIONS"]  # type: ignore[operator]


def test_worded_reasons_are_remembered_by_language_and_written_form():
    """The quote words each reason once; what it remembers must read exactly as wording it afresh."""
    from django.utils import translation

    from patron.discounts.messages import reason_text
    from patron.domain.explain import Reason

    quoting._WORDED.clear()
    one = Reason("MIN_SPEND_NOT_MET", {"missing": Money(Decimal("1.0"), "CNY")})
    same_sum = Reason("MIN_SPEND_NOT_MET", {"missing": Money(Decimal("1.00"), "CNY")})
    listed = Reason("WRONG_CHANNEL", {"channels": ["web_shop", "store"]})
    for language in ("en", "zh-hans", "en"):
        with translation.override(language):
            for reason in (one, same_sum, listed, one):
                data = quoting.reason_data(reason)
                assert data["text"] == reason_text(reason)
                assert data["code"] == reason.code
            assert quoting.reason_data(one)["params"]["missing"]["amount"] == "1.0"
            assert quoting.reason_data(same_sum)["params"]["missing"]["amount"] == "1.00"
            assert quoting.reason_data(listed)["params"]["channels"] == ["web_shop", "store"]
    with translation.override("zh-hans"):
        chinese = quoting.reason_data(listed)["text"]
    with translation.override("en"):
        assert quoting.reason_data(listed)["text"] == "Only for orders through Web shop, Store."
    assert chinese != "Only for orders through Web shop, Store."
    # A caller changing its copy does not change what the next quote reads.
    with translation.override("en"):
        quoting.reason_data(one)["text"] = "changed"
        assert quoting.reason_data(one)["text"] == reason_text(one)
    # Parameters that cannot be remembered are worded every time.
    odd = Reason("NO_BENEFIT", {"detail": {"a": 1}})
    assert quoting.reason_data(odd)["params"] == {"detail": {"a": 1}}
