"""The discount pages through Django's test client: policies (list, detail, form, status, copy, history),
the rule editor (every part of a rule, each error beside its field, nothing written on a mistake),
product sets, manual discount limits and the simulator (a hand-computed quote, why rules did not apply,
hints, who must approve, a described account, the sandbox), for editors and for a salesperson."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.audit.models import AuditEvent
from patron.discounts import mappers, services
from patron.discounts.models import DiscountLimit, DiscountRule, Policy, ProductSet
from patron.sales.models import Category
from patron.staff.models import User
from tests.api_client import as_user
from tests.factories import make_account, make_industry, make_product, make_region_tree

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TIERS = {
    "kind": "tiers",
    "basis": "quantity",
    "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}],
}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture(autouse=True)
def english(staff: Any) -> None:
    User.objects.update(language="en")


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


class World:
    regions: dict[str, Any]
    tea: Category
    green: Category
    cups: Category
    longjing: Any
    cup: Any
    shop: Any
    other_shop: Any
    policy: Policy
    rule: DiscountRule


@pytest.fixture
def world(staff: Any) -> World:
    """Tea in tiers (10+ units 5%, 50+ units 8%) for everyone, active; a salesperson's shop in Shenzhen."""
    w = World()
    w.regions = make_region_tree()
    w.tea = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    w.green = Category.objects.create(code="GREEN", name_zh="绿茶", name_en="Green tea", parent=w.tea)
    w.cups = Category.objects.create(code="CUPS", name_zh="杯", name_en="Cups")
    w.longjing = make_product("LJ", price="200.00", cost="120.00", category=w.green, name="Longjing")
    w.cup = make_product("CUP", price="30.00", cost="10.00", category=w.cups, name="Tea cup")
    w.shop = make_account(staff.sales, code="SHOP-1", name="Tea House", region=w.regions["SZ"])
    w.other_shop = make_account(staff.sales2, code="SHOP-2", name="Other House", region=w.regions["HZ"])
    w.policy = services.policy_create(actor=staff.manager, data={"name": "Volume tea", "customer_text": "Buy more."})
    w.rule = services.rule_create(
        actor=staff.manager,
        policy=w.policy,
        data={"name": "Tea tiers", "priority": 10, "what": {"categories": [w.tea.pk]}, "benefit": TIERS},
    )
    services.policy_set_status(actor=staff.manager, policy=w.policy, status=Policy.ACTIVE)
    return w


# --- policies ----------------------------------------------------------------------------------------------------


def test_the_navigation_offers_discounts_to_those_who_record_orders(staff, world):
    for user, shown in ((staff.sales, True), (staff.manager, True), (staff.admin, True), (staff.finance, False)):
        nav = text(as_user(user).get("/")).split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
        assert ('href="/discounts/"' in nav) is shown, user.username


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_policy_list_renders_in_both_languages(staff, world, language):
    response = as_user(staff.manager, language).get("/discounts/")
    assert response.status_code == 200
    body = text(response)
    assert f'lang="{language}"' in body
    assert "Volume tea" in body
    assert 'data-testid="new-policy"' in body


def test_the_policy_list_filters_by_status_and_counts_rules(staff, world):
    services.policy_create(actor=staff.manager, data={"name": "Spring draft"})
    client = as_user(staff.sales)
    body = text(client.get("/discounts/"))
    assert "Volume tea" in body
    assert "Spring draft" in body
    assert 'data-testid="new-policy"' not in body
    active = text(client.get("/discounts/?status=active"))
    assert "Volume tea" in active
    assert "Spring draft" not in active
    assert re.search(r'data-testid="rule-count">1<', active)
    drafts = text(client.get("/discounts/?status=draft"))
    assert "Spring draft" in drafts
    assert "Volume tea" not in drafts
    assert client.get("/discounts/?status=nonsense").status_code == 200


def test_a_salesperson_reads_a_policy_but_finds_no_controls(staff, world):
    for reader in (staff.finance, staff.marketing):
        assert as_user(reader).get("/discounts/").status_code == 200
        assert as_user(reader).get(f"/discounts/{world.policy.pk}/").status_code == 200
    body = text(as_user(staff.sales).get(f"/discounts/{world.policy.pk}/"))
    assert "Buy more." in body
    assert "5% off from 10 units; 8% off from 50 units on everything in Tea, for every customer." in body
    for control in ("edit-policy", "status-draft", "status-archived", "copy-policy", "add-rule", "edit-rule"):
        assert f'data-testid="{control}"' not in body
    assert 'data-testid="policy-history"' not in body


def test_a_manager_sees_the_controls_and_the_history(staff, world):
    body = text(as_user(staff.manager).get(f"/discounts/{world.policy.pk}/"))
    for control in ("edit-policy", "status-draft", "status-archived", "copy-policy", "add-rule", "edit-rule"):
        assert f'data-testid="{control}"' in body
    assert 'data-testid="status-active"' not in body
    history = body.split('data-testid="policy-history"', 1)[1]
    assert "Policy created" in history
    assert "Rule added" in history
    assert "Status changed" in history
    assert "Draft</span> → Active" in history


def test_a_salesperson_may_not_write_anything(staff, world):
    client = as_user(staff.sales)
    pk, rule = world.policy.pk, world.rule.pk
    before = (Policy.objects.count(), DiscountRule.objects.count(), AuditEvent.objects.count())
    for url, data in (
        ("/discounts/new/", {"name": "Mine"}),
        (f"/discounts/{pk}/edit/", {"name": "Mine"}),
        (f"/discounts/{pk}/status/", {"status": "archived"}),
        (f"/discounts/{pk}/copy/", {}),
        (f"/discounts/{pk}/rules/new/", {"name": "x", "benefit_kind": "percent_off", "percent": "50"}),
        (f"/discounts/rules/{rule}/", {"name": "x", "benefit_kind": "percent_off", "percent": "50"}),
        (f"/discounts/rules/{rule}/delete/", {}),
        ("/discounts/product-sets/new/", {"name": "Set"}),
        ("/discounts/limits/", {"who": "role", "role": "salesperson", "percent": "100"}),
    ):
        assert client.post(url, data).status_code == 403, url
    for url in ("/discounts/new/", f"/discounts/{pk}/edit/", f"/discounts/{pk}/rules/new/", "/discounts/limits/"):
        assert client.get(url).status_code == 403, url
    assert (Policy.objects.count(), DiscountRule.objects.count(), AuditEvent.objects.count()) == before
    world.policy.refresh_from_db()
    assert world.policy.status == Policy.ACTIVE


def test_a_manager_creates_a_policy_with_a_window_in_the_company_time_zone(staff, world):
    client = as_user(staff.manager)
    assert client.get("/discounts/new/").status_code == 200
    response = client.post(
        "/discounts/new/",
        {
            "name": "December",
            "description": "Year-end push",
            "customer_text": "10% in December",
            "effective_from": "2026-12-01T08:00",
            "effective_to": "2027-01-01T00:00",
        },
    )
    policy = Policy.objects.get(name="December")
    assert response.status_code == 302
    assert response["Location"] == f"/discounts/{policy.pk}/"
    assert policy.status == Policy.DRAFT
    assert policy.owner == staff.manager
    assert policy.effective_from == dt.datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert policy.effective_to == dt.datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)
    form = text(client.get(f"/discounts/{policy.pk}/edit/"))
    assert 'value="2026-12-01T08:00"' in form


def test_the_policy_form_shows_errors_and_writes_nothing(staff, world):
    client = as_user(staff.manager)
    before = Policy.objects.count()
    response = client.post(
        "/discounts/new/",
        {"name": "", "effective_from": "2026-12-01T08:00", "effective_to": "2026-11-01T08:00"},
    )
    assert response.status_code == 400
    body = text(response)
    assert 'id="id_name_error"' in body
    response = client.post(
        "/discounts/new/", {"name": "Back to front", "effective_from": "2026-12-01T08:00", "effective_to": "2026-11-01"}
    )
    assert response.status_code == 400
    assert re.search(r'id="id_effective_to_error">The policy must end after it starts\.', text(response))
    response = client.post("/discounts/new/", {"name": "Bad day", "effective_from": "2026-13-45T99:00"})
    assert response.status_code == 400
    assert 'id="id_effective_from_error"' in text(response)
    assert Policy.objects.count() == before


def test_status_buttons_activate_pause_archive_and_copy(staff, world):
    client = as_user(staff.manager)
    empty = services.policy_create(actor=staff.manager, data={"name": "Empty"})
    response = client.post(f"/discounts/{empty.pk}/status/", {"status": "active"}, follow=True)
    assert "Add a rule before activating the policy." in text(response)
    empty.refresh_from_db()
    assert empty.status == Policy.DRAFT

    response = client.post(f"/discounts/{world.policy.pk}/status/", {"status": "draft"}, follow=True)
    assert "is paused" in text(response)
    world.policy.refresh_from_db()
    assert world.policy.status == Policy.DRAFT
    client.post(f"/discounts/{world.policy.pk}/status/", {"status": "active"})
    world.policy.refresh_from_db()
    assert world.policy.status == Policy.ACTIVE
    assert client.post(f"/discounts/{world.policy.pk}/status/", {"status": "gone"}).status_code == 302

    client.post(f"/discounts/{world.policy.pk}/status/", {"status": "archived"})
    world.policy.refresh_from_db()
    assert world.policy.status == Policy.ARCHIVED
    body = text(client.get(f"/discounts/{world.policy.pk}/"))
    assert 'data-testid="edit-policy"' not in body
    assert 'data-testid="add-rule"' not in body
    response = client.post(f"/discounts/{world.policy.pk}/status/", {"status": "active"}, follow=True)
    assert "cannot become" in text(response)
    response = client.get(f"/discounts/{world.policy.pk}/edit/", follow=True)
    assert "An archived policy cannot change" in text(response)
    response = client.get(f"/discounts/rules/{world.rule.pk}/", follow=True)
    assert "An archived policy cannot change" in text(response)

    response = client.post(f"/discounts/{world.policy.pk}/copy/")
    copy = Policy.objects.get(name="Copy of Volume tea")
    assert response["Location"] == f"/discounts/{copy.pk}/"
    assert copy.status == Policy.DRAFT
    assert copy.rules.count() == 1
    assert client.get("/discounts/999999/").status_code == 404


# --- the rule editor ------------------------------------------------------------------------------------------


def rule_form(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "A rule", "priority": "0", "benefit_kind": "percent_off", "combines": "any"}
    data.update(fields)
    return data


def test_the_rule_editor_renders_in_both_languages(staff, world):
    for language in ("en", "zh-hans"):
        response = as_user(staff.manager, language).get(f"/discounts/{world.policy.pk}/rules/new/")
        assert response.status_code == 200
        body = text(response)
        assert 'data-testid="rule-form"' in body
        assert 'name="tier_from_0"' in body
        assert 'name="regions"' in body
        assert 'name="weekdays"' in body


def test_a_manager_adds_a_tiered_rule_through_the_form(staff, world):
    client = as_user(staff.manager)
    policy = services.policy_create(actor=staff.manager, data={"name": "Cups"})
    response = client.post(
        f"/discounts/{policy.pk}/rules/new/",
        rule_form(
            name="Cups by amount",
            priority="20",
            benefit_kind="tiers",
            tier_basis="amount",
            tier_from_0="300",
            tier_percent_0="3",
            tier_from_1="1000",
            tier_percent_1="6",
            categories=[str(world.cups.pk)],
            regions=[str(world.regions["GD"].pk)],
            channels=["sales_rep", "phone"],
            weekdays=["1", "2"],
            group="volume",
            cap_per_order="500",
        ),
    )
    rule = DiscountRule.objects.get(name="Cups by amount")
    assert response.status_code == 302
    assert response["Location"] == f"/discounts/{policy.pk}/#rule-{rule.pk}"
    assert rule.priority == 20
    assert rule.definition == {
        "benefit": {
            "kind": "tiers",
            "basis": "amount",
            "tiers": [{"from": "300", "percent": "3"}, {"from": "1000", "percent": "6"}],
        },
        "who": {"regions": [world.regions["GD"].pk]},
        "what": {"categories": [world.cups.pk]},
        "when": {"channels": ["sales_rep", "phone"], "weekdays": [1, 2]},
        "stacking": {"exclusive": False, "group": "volume"},
        "caps": {"per_order": "500"},
    }
    body = text(client.get(f"/discounts/{policy.pk}/"))
    assert "3% off from CNY 300.00; 6% off from CNY 1,000.00 on everything in Cups, for in Guangdong" in body


def every_part(world: World, staff: Any) -> dict[str, Any]:
    """A rule that fills every part of the form."""
    make_industry()
    from patron.accounts.models import Industry, Tag

    tag = Tag.objects.create(name="VIP")
    gifts = services.product_set_save(actor=staff.manager, data={"name": "Gifts", "products": [world.cup.pk]})
    return rule_form(
        name="Everything",
        priority="-5",
        benefit_kind="spend_save",
        spend="300",
        save="50",
        repeat="on",
        regions=[str(world.regions["GD"].pk)],
        industries=[str(Industry.objects.get().pk)],
        tags=[str(tag.pk)],
        accounts="SHOP-1, SHOP-2",
        stages=["new", "loyal"],
        new_customers="on",
        categories=[str(world.tea.pk)],
        products=["CUP"],
        product_sets=[str(gifts.pk)],
        exclude_products=["LJ"],
        exclude_categories=[str(world.green.pk)],
        min_quantity="2",
        min_line_amount="50",
        min_cart_amount="500",
        category_min_category=str(world.tea.pk),
        category_min_quantity="10",
        category_min_amount="1000",
        channels=["web_shop"],
        weekdays=["6", "7"],
        hours_from="22:00",
        hours_to="02:00",
        starts="2026-12-01T00:00",
        ends="2026-12-31T23:59",
        first_order="on",
        exclusive="on",
        group="winter",
        combines="only",
        combines_with="volume, vip",
        cap_per_line="80",
        cap_per_order="400",
    )


def test_every_part_of_a_rule_goes_through_the_form_and_comes_back_unchanged(staff, world):
    client = as_user(staff.manager)
    data = every_part(world, staff)
    response = client.post(f"/discounts/{world.policy.pk}/rules/new/", data)
    assert response.status_code == 302, re.findall(r'class="error"[^>]*>([^<]*)<', text(response))
    rule = DiscountRule.objects.get(name="Everything")
    d = rule.definition
    assert rule.priority == -5
    assert d["benefit"] == {"kind": "spend_save", "spend": "300", "save": "50", "repeat": True}
    assert d["who"]["accounts"] == [world.shop.pk, world.other_shop.pk]
    assert d["who"]["stages"] == ["new", "loyal"]
    assert d["who"]["new_customers"] is True
    assert d["what"]["products"] == [world.cup.pk]
    assert d["what"]["exclude_products"] == [world.longjing.pk]
    assert d["when"]["category_min"] == {"category": world.tea.pk, "quantity": "10", "amount": "1000"}
    assert d["when"]["hours"] == ["22:00", "02:00"]
    assert d["when"]["starts"] == "2026-12-01T00:00:00+08:00"
    assert d["when"]["ends"] == "2026-12-31T23:59:00+08:00"
    assert d["stacking"] == {"exclusive": True, "group": "winter", "combines_with": ["volume", "vip"]}
    assert d["caps"] == {"per_line": "80", "per_order": "400"}

    # The edit form shows it as it is; saving it untouched changes nothing (no new audit row).
    page = text(client.get(f"/discounts/rules/{rule.pk}/"))
    assert 'value="2026-12-01T00:00"' in page
    assert 'value="22:00"' in page
    assert 'value="volume, vip"' in page
    events = AuditEvent.objects.count()
    response = client.post(f"/discounts/rules/{rule.pk}/", data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.definition == d
    assert AuditEvent.objects.count() == events


def test_editing_a_rule_changes_its_benefit(staff, world):
    client = as_user(staff.manager)
    page = text(client.get(f"/discounts/rules/{world.rule.pk}/"))
    assert 'name="tier_from_1" value="50"' in page
    assert "5% off from 10 units; 8% off from 50 units" in page  # the preview, before any change
    response = client.post(
        f"/discounts/rules/{world.rule.pk}/",
        rule_form(
            name="Tea 7%", priority="10", benefit_kind="percent_off", percent="7", categories=[str(world.tea.pk)]
        ),
    )
    assert response.status_code == 302
    world.rule.refresh_from_db()
    assert world.rule.definition["benefit"] == {"kind": "percent_off", "percent": "7"}
    assert world.rule.name == "Tea 7%"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"percent": "150"}, "percent", "Must be between 0 and 100."),
        ({"percent": ""}, "percent", "This is required."),
        ({"percent": "ten"}, "percent", "Enter a number"),
        (
            {
                "benefit_kind": "tiers",
                "tier_from_0": "50",
                "tier_percent_0": "5",
                "tier_from_1": "10",
                "tier_percent_1": "8",
            },
            "tier_from_1",
            "Must be above the previous tier (50).",
        ),
        (
            {
                "benefit_kind": "tiers",
                "tier_from_0": "10",
                "tier_percent_0": "8",
                "tier_from_2": "50",
                "tier_percent_2": "5",
            },
            "tier_percent_2",
            "Must give more than the previous tier (8%).",
        ),
        ({"benefit_kind": "fixed_price", "price": "9"}, "benefit_kind", "A fixed price needs products"),
        ({"benefit_kind": "amount_off_unit", "unit_amount": "-3"}, "unit_amount", "Must be more than zero."),
        ({"benefit_kind": "cart_amount_off", "cart_amount": "0"}, "cart_amount", "Must be more than zero."),
        ({"benefit_kind": "spend_save", "spend": "100", "save": "300"}, "save", "Must be between 0 and 100"),
        ({"benefit_kind": "buy_get", "buy": "2"}, "free", "This is required."),
        ({"products": "LJ NOPE"}, "products", "No product has the SKU NOPE."),
        ({"accounts": "NOBODY"}, "accounts", "No account has the code NOBODY."),
        ({"regions": ["999999"]}, "regions", "Select a valid choice"),
        ({"hours_from": "25:00", "hours_to": "02:00"}, "hours_from", "Enter a time of day"),
        ({"hours_from": "09:00"}, "hours_to", "wrong type"),
        ({"starts": "2026-12-31T00:00", "ends": "2026-12-01T00:00"}, "ends", "This window is empty"),
        ({"category_min_quantity": "3"}, "category_min_category", "required"),
        ({"group": "no spaces allowed"}, "group", "wrong type"),
        ({"combines": "only", "combines_with": ""}, "combines_with", "Name the groups"),
        ({"priority": "2000000"}, "priority", "less than or equal to 1000000"),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_each_rule_error_shows_beside_its_field_and_nothing_is_written(staff, world, fields, field, message):
    client = as_user(staff.manager)
    before = (DiscountRule.objects.count(), AuditEvent.objects.count())
    data = rule_form(percent="5", **{"name": "Bad"})
    data.update(fields)
    response = client.post(f"/discounts/{world.policy.pk}/rules/new/", data)
    assert response.status_code == 400
    body = text(response)
    found = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', body)
    assert found, f"no error beside {field}: " + " | ".join(re.findall(r'class="error"[^>]*>([^<]*)<', body))
    assert message in found.group(1)
    assert (DiscountRule.objects.count(), AuditEvent.objects.count()) == before


def test_a_rule_left_without_tiers_says_so_above_the_tiers(staff, world):
    response = as_user(staff.manager).post(f"/discounts/{world.policy.pk}/rules/new/", rule_form(benefit_kind="tiers"))
    assert response.status_code == 400
    assert re.search(r'data-testid="tiers-error">Give at least one\.<', text(response))


def test_more_tier_rows_without_errors(staff, world):
    response = as_user(staff.manager).post(
        f"/discounts/{world.policy.pk}/rules/new/",
        rule_form(benefit_kind="tiers", action="more", tier_from_0="", tier_from_1="", tier_from_2=""),
    )
    assert response.status_code == 200
    body = text(response)
    assert 'name="tier_from_4"' in body
    assert 'class="error"' not in body


def test_the_live_preview_reads_the_rule_in_plain_words(staff, world):
    client = as_user(staff.manager)
    url = reverse("discounts:rule_preview")
    response = client.post(
        url,
        rule_form(percent="12", categories=[str(world.green.pk)], min_quantity="6"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "12% off on everything in Green tea, for every customer; at least 6 units a line." in text(response)
    response = client.post(url, rule_form(percent="120"), HTTP_HX_REQUEST="true")
    assert "Not complete yet" in text(response)
    assert "Must be between 0 and 100." in text(response)
    assert as_user(staff.finance).post(url, rule_form(percent="5")).status_code == 403


def test_deleting_a_rule(staff, world):
    client = as_user(staff.manager)
    response = client.post(f"/discounts/rules/{world.rule.pk}/delete/", follow=True)
    assert "Rule “Tea tiers” removed." in text(response)
    assert not DiscountRule.objects.filter(pk=world.rule.pk).exists()


# --- product sets and limits ------------------------------------------------------------------------------------


def test_product_sets_are_listed_for_all_and_edited_by_editors(staff, world):
    client = as_user(staff.manager)
    response = client.post(
        "/discounts/product-sets/new/", {"name": "Gift box", "description": "For festivals", "products": ["LJ", "CUP"]}
    )
    assert response.status_code == 302
    gifts = ProductSet.objects.get(name="Gift box")
    assert set(gifts.products.values_list("sku", flat=True)) == {"LJ", "CUP"}
    body = text(as_user(staff.sales).get("/discounts/product-sets/"))
    assert "Gift box" in body
    assert 'data-testid="new-product-set"' not in body
    assert re.search(r'data-testid="product-count">2<', body)

    response = client.post(f"/discounts/product-sets/{gifts.pk}/", {"name": "Gift box", "products": ["CUP"]})
    assert response.status_code == 302
    assert list(gifts.products.values_list("sku", flat=True)) == ["CUP"]

    services.product_set_save(actor=staff.manager, data={"name": "Other", "products": []})
    response = client.post("/discounts/product-sets/new/", {"name": "Other", "products": ["NOPE"]})
    assert response.status_code == 400
    body = text(response)
    assert "No product has the SKU NOPE." in body
    response = client.post("/discounts/product-sets/new/", {"name": "Other", "products": ["CUP"]})
    assert response.status_code == 400
    assert "Another product set has this name." in text(response)
    assert ProductSet.objects.count() == 2


def test_limits_are_for_admins_and_show_errors(staff, world):
    assert as_user(staff.manager).get("/discounts/limits/").status_code == 403
    client = as_user(staff.admin)
    assert client.get("/discounts/limits/").status_code == 200
    response = client.post(
        "/discounts/limits/", {"who": "role", "role": "salesperson", "percent": "5", "amount": "200"}
    )
    assert response.status_code == 302
    limit = DiscountLimit.objects.get(role="salesperson")
    assert (limit.percent, limit.amount, limit.category) == (Decimal("5.00"), Decimal("200.00"), None)
    response = client.post(
        "/discounts/limits/",
        {"who": "user", "user": str(staff.sales.pk), "category": str(world.tea.pk), "percent": "8"},
    )
    assert response.status_code == 302
    assert DiscountLimit.objects.get(user=staff.sales).category == world.tea
    body = text(client.get("/discounts/limits/"))
    assert "Salesperson" in body
    assert staff.sales.display_name() in body
    edit = text(client.get(f"/discounts/limits/?edit={limit.pk}"))
    assert 'value="200.00"' in edit

    before = DiscountLimit.objects.count()
    response = client.post("/discounts/limits/", {"who": "role", "role": "salesperson", "percent": "150"})
    assert response.status_code == 400
    assert re.search(r'id="id_percent_error">Enter a number between 0 and 100', text(response))
    response = client.post("/discounts/limits/", {"who": "user", "percent": "5"})
    assert response.status_code == 400
    assert 'id="id_user_error"' in text(response)
    response = client.post("/discounts/limits/", {"who": "role", "role": "emperor", "percent": "5"})
    assert response.status_code == 400
    assert DiscountLimit.objects.count() == before


# --- the simulator ----------------------------------------------------------------------------------------------


def sim(client: Client, *lines: tuple[str, ...], **fields: Any) -> Any:
    params: dict[str, Any] = {"mode": "account", "account": "SHOP-1", "channel": "sales_rep", "currency": "CNY"}
    params.update(fields)
    for i, line in enumerate(lines):
        params[f"line{i}-product"] = line[0]
        params[f"line{i}-quantity"] = line[1]
        if len(line) > 2:
            params[f"line{i}-manual_kind"] = line[2]
            params[f"line{i}-manual_value"] = line[3]
    return client.get("/discounts/simulator/", params)


def cell(body: str, testid: str, line: str, panel: str = "quote-live") -> str:
    section = body.split(f'data-testid="{panel}"', 1)[1]
    row = section.split(f'data-testid="quote-line" data-line="{line}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'data-testid="{testid}">([^<]*)<', row)
    assert found, testid
    return found.group(1).strip()


def test_the_simulator_shows_a_hand_computed_quote_with_why_and_what_next(staff, world):
    services.policy_create(actor=staff.manager, data={"name": "Draft only"})
    cups = services.policy_create(actor=staff.manager, data={"name": "Cups"})
    services.rule_create(
        actor=staff.manager,
        policy=cups,
        data={
            "name": "Ten cups",
            "what": {"products": [world.cup.pk]},
            "when": {"min_quantity": "10"},
            "benefit": {"kind": "percent_off", "percent": "3"},
        },
    )
    services.policy_set_status(actor=staff.manager, policy=cups, status=Policy.ACTIVE)
    response = sim(as_user(staff.sales), ("LJ", "20"), ("CUP", "2"))
    assert response.status_code == 200
    body = text(response)
    # 20 x 200 = 4,000 at tier 1 (5%): 200 off, 3,800; 2 cups at 30 = 60, no tea; total 3,860.
    assert cell(body, "list-amount", "1") == "4,000.00"
    assert cell(body, "net-amount", "1") == "3,800.00"
    assert cell(body, "net-unit-price", "1") == "190.00"
    assert cell(body, "margin", "1") == "1,400.00"  # 3,800 - 20 x 120
    assert cell(body, "net-amount", "2") == "60.00"
    assert re.search(r'data-testid="net-total">CNY 3,860\.00<', body)
    assert re.search(r'data-testid="discount-total">CNY 200\.00', body)
    assert "Tier 1 (from 10): 5% off" in body
    assert re.search(r'data-testid="hint"[^>]*>“Tea tiers”: 30 more for 8% off\.<', body)
    assert re.search(r'data-testid="why-not">Line 2: 8 more units needed \(at least 10\)\.<', body)
    assert "No manual discount: no approval needed." in body
    assert "For Tea House (SHOP-1)" in body


def test_a_manual_discount_beyond_the_limit_needs_a_manager(staff, world):
    services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "percent": "5", "amount": "1000"})
    body = text(sim(as_user(staff.sales), ("CUP", "10", "percent", "10")))
    # 300 less 10% by hand = 270; 10% is over the 5% limit.
    assert cell(body, "net-amount", "1") == "270.00"
    assert re.search(r'data-testid="approval" data-level="manager"', body)
    assert "a manual discount of 10% is above your limit of 5%" in body
    within = text(sim(as_user(staff.sales), ("CUP", "10", "percent", "4")))
    assert re.search(r'data-testid="approval" data-level=""', within)
    assert "within your limit" in within


def test_a_described_account_is_priced_without_an_account(staff, world):
    welcome = services.policy_create(actor=staff.manager, data={"name": "Welcome"})
    services.rule_create(
        actor=staff.manager,
        policy=welcome,
        data={
            "name": "New in Guangdong",
            "who": {"regions": [world.regions["GD"].pk], "new_customers": True},
            "benefit": {"kind": "percent_off", "percent": "10"},
        },
    )
    services.policy_set_status(actor=staff.manager, policy=welcome, status=Policy.ACTIVE)
    client = as_user(staff.sales)
    body = text(
        sim(client, ("CUP", "1"), mode="describe", account="", region=str(world.regions["SZ"].pk), new_customer="on")
    )
    assert cell(body, "net-amount", "1") == "27.00"
    assert "For the account described" in body
    body = text(
        sim(client, ("CUP", "1"), mode="describe", account="", region=str(world.regions["HZ"].pk), new_customer="on")
    )
    assert cell(body, "net-amount", "1") == "30.00"


def test_the_simulator_refuses_what_it_cannot_price_with_errors_not_failures(staff, world):
    client = as_user(staff.sales)
    response = sim(client, ("LJ", "1"), account="SHOP-2")  # a colleague's account
    assert response.status_code == 400
    assert re.search(r'id="id_account_error"[^>]*>No account you can see has this code\.', text(response))
    response = sim(client, ("NOPE", "1"), ("LJ", "0"), ("CUP", "1", "percent", "120"))
    assert response.status_code == 400
    body = text(response)
    assert re.search(r'id="id_line0-product_error"[^>]*>Unknown product\.', body)
    assert re.search(r'id="id_line1-quantity_error"[^>]*>Must be more than zero\.', body)
    assert re.search(r'id="id_line2-manual_value_error"[^>]*>A percent is at most 100\.', body)
    response = sim(client, ("LJ", "abc"), ("CUP", "1", "", "5"), ("CUP", "1", "price", ""))
    assert response.status_code == 400
    body = text(response)
    assert re.search(r'id="id_line0-quantity_error"[^>]*>Enter a number', body)
    assert re.search(r'id="id_line1-manual_kind_error"[^>]*>Choose percent off, amount off or a net price\.', body)
    response = sim(client, ("CUP", "1", "price", ""), ("CUP", "1", "amount", "31"))
    assert response.status_code == 400
    body = text(response)
    assert re.search(r'id="id_line0-manual_value_error"[^>]*>Enter a number\.', body)
    assert re.search(r'id="id_line1-manual_value_error"[^>]*>More than the list price\.', body)
    response = sim(client)
    assert response.status_code == 400
    assert "Add at least one line" in text(response)
    response = sim(client, ("LJ", "1"), at="yesterday", channel="pigeon", currency="XXX", rows="abc")
    assert response.status_code == 400
    body = text(response)
    assert 'id="id_at_error"' in body
    assert 'id="id_channel_error"' in body
    assert 'id="id_currency_error"' in body
    assert client.get("/discounts/simulator/?mode=account&line0-product=LJ&rows=99999").status_code == 400
    assert as_user(staff.finance).get("/discounts/simulator/").status_code == 403


def test_the_simulator_prices_at_another_moment(staff, world):
    services.policy_update(
        actor=staff.manager, policy=world.policy, data={"effective_from": "2030-01-01T00:00:00+08:00"}
    )
    client = as_user(staff.sales)
    now = text(sim(client, ("LJ", "20")))
    assert cell(now, "net-amount", "1") == "4,000.00"
    assert "Not started yet" in now
    later = text(sim(client, ("LJ", "20"), at="2030-02-01T10:00"))
    assert cell(later, "net-amount", "1") == "3,800.00"


def test_the_account_search_offers_only_accounts_the_user_sees(staff, world):
    client = as_user(staff.sales)
    body = text(client.get("/discounts/simulator/accounts/", {"account": "House"}))
    assert 'value="SHOP-1"' in body
    assert "SHOP-2" not in body
    body = text(client.get("/discounts/simulator/products/", {"line0-product": "long"}))
    assert 'value="LJ"' in body
    assert "CUP" not in body


def test_the_simulator_renders_in_chinese(staff, world):
    response = sim(as_user(staff.sales, "zh-hans"), ("LJ", "20"))
    assert response.status_code == 200
    body = text(response)
    assert 'lang="zh-hans"' in body
    assert cell(body, "net-amount", "1") == "3,800.00"


def test_the_sandbox_shows_live_and_sandbox_line_by_line_and_saves_nothing(staff, world):
    client = as_user(staff.sales)
    sim(client, ("LJ", "20"), ("CUP", "2"))  # the cart the sandbox pages return to
    response = client.post("/discounts/simulator/sandbox/", {"policy": str(world.policy.pk)})
    assert response.status_code == 302
    assert "account=SHOP-1" in response["Location"]
    body = text(client.get(response["Location"]))
    assert 'data-testid="sandbox-edit-rule"' in body
    assert 'data-testid="no-difference"' in body
    assert 'data-testid="sandbox-mark"' not in body
    key = world.rule.key
    page = client.get(f"/discounts/simulator/sandbox/rules/{key}/")
    assert page.status_code == 200
    assert "Sandbox: nothing is saved" in text(page)
    unchanged = rule_form(
        name="Tea tiers",
        priority="10",
        benefit_kind="tiers",
        tier_basis="quantity",
        tier_from_0="10",
        tier_percent_0="5",
        tier_from_1="50",
        tier_percent_1="8",
        categories=[str(world.tea.pk)],
    )
    body = text(client.get(client.post(f"/discounts/simulator/sandbox/rules/{key}/", unchanged)["Location"]))
    assert 'data-testid="sandbox-mark"' not in body
    # Make the first tier 10% instead of 5%.
    response = client.post(
        f"/discounts/simulator/sandbox/rules/{key}/",
        rule_form(
            name="Tea tiers",
            priority="10",
            benefit_kind="tiers",
            tier_basis="quantity",
            tier_from_0="10",
            tier_percent_0="10",
            tier_from_1="50",
            tier_percent_1="12",
            categories=[str(world.tea.pk)],
        ),
    )
    assert response.status_code == 302
    body = text(client.get(response["Location"]))
    assert cell(body, "net-amount", "1", "quote-live") == "3,800.00"
    assert cell(body, "net-amount", "1", "quote-sandbox") == "3,600.00"
    diff = body.split('data-testid="comparison"', 1)[1]
    assert re.search(r'data-testid="diff-row" data-line="1".*?data-testid="diff-amount">-200\.00<', diff)
    assert re.search(r'data-testid="diff-row" data-line="2".*?data-testid="diff-amount">0\.00<', diff)
    assert re.search(r'data-testid="diff-total">-200\.00<', diff)
    assert cell(body, "quantity", "1") == "20"
    assert re.search(r'data-testid="sandbox-mark">changed in the sandbox<', body)
    world.rule.refresh_from_db()
    assert world.rule.definition["benefit"] == TIERS  # nothing saved

    # A bad sandbox rule shows its errors like the editor's and keeps nothing.
    response = client.post("/discounts/simulator/sandbox/rules/new/", rule_form(percent="500"))
    assert response.status_code == 400
    assert 'id="id_percent_error"' in text(response)
    response = client.post(
        "/discounts/simulator/sandbox/rules/new/", rule_form(name="Cups 50%", percent="50", products=["CUP"])
    )
    body = text(client.get(response["Location"]))
    assert cell(body, "net-amount", "2", "quote-sandbox") == "30.00"
    assert re.search(r'data-testid="sandbox-mark">new in the sandbox<', body)

    response = client.post(f"/discounts/simulator/sandbox/rules/{key}/remove/")
    body = text(client.get(response["Location"]))
    assert cell(body, "net-amount", "1", "quote-sandbox") == "4,000.00"
    assert re.search(r'data-testid="sandbox-removed"><li>Tea tiers</li>', body)
    assert client.post("/discounts/simulator/sandbox/rules/S99/remove/").status_code == 404
    client.post("/discounts/simulator/sandbox/clear/")
    body = text(sim(client, ("LJ", "20")))
    assert 'data-testid="comparison"' not in body
    assert 'data-testid="sandbox-start"' in body
    assert client.get("/discounts/simulator/sandbox/rules/new/").status_code == 404
    assert DiscountRule.objects.count() == 1
