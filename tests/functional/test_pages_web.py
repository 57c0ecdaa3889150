"""The shell pages: sign-in, dashboard, profile and the language switch, through Django's test client."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.sales import services as sales
from patron.staff.models import User
from patron.web.charts import bar_chart
from patron.web.dashboard import dashboard, month_start
from tests.factories import make_account, make_invoice, make_order, make_product

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "finance", "marketing"]


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, "the page has no <html lang>"
    return match.group(1)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_page_offers_the_language_choice_and_signs_in(client, staff):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'action="/i18n/setlang/"' in body
    assert 'name="username"' in body
    response = client.post(reverse("login"), {"username": "sales", "password": "pw-sales"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_shows_an_error_not_a_crash(client, staff):
    response = client.post(reverse("login"), {"username": "sales", "password": "nope"})
    assert response.status_code == 200
    assert 'class="errorbox"' in response.content.decode()


def test_anonymous_language_switch_on_the_sign_in_page(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": reverse("login")}, follow=True)
    assert html_lang(response) == "zh-hans"
    response = client.post("/i18n/setlang/", {"language": "en", "next": reverse("login")}, follow=True)
    assert html_lang(response) == "en"


def test_sign_out_is_a_post(client, staff):
    client.force_login(staff.sales)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_renders_for_every_role(client, staff, role):
    client.force_login(getattr(staff, role))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="sales-chart"' in body
    assert "<title id=" in body
    assert "<desc id=" in body
    receivables = role != "marketing"
    assert ('data-testid="tile-owed"' in body) is receivables
    assert ('data-testid="overdue-accounts"' in body) is receivables


def test_dashboard_counts_only_what_the_user_may_see(client, staff):
    today = timezone.localdate()
    own = make_account(staff.sales, is_key_account=True)
    make_account(staff.sales)
    make_account(staff.sales3, is_key_account=True)
    make_order(staff.sales, own, [(make_product(price="100.00"), "3")], order_date=today)
    dash = dashboard(user=staff.sales, today=today)
    assert (dash.accounts, dash.key_accounts, dash.active_accounts) == (2, 1, 1)
    assert dash.sales_month == Decimal("300.00")
    assert dashboard(user=staff.admin, today=today).accounts == 3
    assert dashboard(user=staff.sales3, today=today).sales_month == Decimal(0)


def test_dashboard_sales_are_net_of_returns_and_skip_drafts(staff):
    today = timezone.localdate()
    account = make_account(staff.sales)
    product = make_product(price="50.00")
    order = make_order(staff.sales, account, [(product, "4")], order_date=today)
    make_order(staff.sales, account, [(product, "10")], order_date=today, confirm=False)
    line = order.lines.get()
    sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(order_line=line.pk, quantity="1")])
    dash = dashboard(user=staff.sales, today=today)
    assert dash.sales_month == Decimal("150.00")
    assert dash.sales_year == Decimal("150.00")
    assert dash.months[-1].start == month_start(today)
    assert dash.months[-1].amount == Decimal("150.00")
    assert len(dash.months) == 12


def test_dashboard_shows_overdue_accounts_to_those_who_may_see_receivables(client, staff):
    today = timezone.localdate()
    account = make_account(staff.sales, name="Late Payer Ltd")
    order = make_order(staff.sales, account, [(make_product(price="80.00"), "1")], order_date=today - dt.timedelta(60))
    make_invoice(staff.finance, order, issue_date=today - dt.timedelta(60), due_date=today - dt.timedelta(30))
    dash = dashboard(user=staff.finance, today=today)
    assert dash.owed == dash.overdue == Decimal("80.00")
    assert [row.account.pk for row in dash.overdue_accounts] == [account.pk]
    client.force_login(staff.finance)
    body = client.get(reverse("home")).content.decode()
    assert "Late Payer Ltd" in body.split('data-testid="overdue-accounts"')[1]
    client.force_login(staff.marketing)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="overdue-accounts"' not in body
    assert 'data-testid="tile-overdue"' not in body
    assert dashboard(user=staff.marketing, today=today).show_receivables is False


def test_bar_chart_scales_bars_to_round_ticks():
    chart = bar_chart(
        [("2026-01", Decimal("100"), "100"), ("2026-02", Decimal("250"), "250"), ("2026-03", Decimal(0), "0")],
        title="t",
        desc="d",
    )
    heights = [b.height for b in chart.bars]
    assert heights[2] == 0
    assert heights[1] > heights[0] > 0
    assert chart.ticks[-1].text == "300"
    negative = bar_chart([("a", Decimal("-50"), "-50"), ("b", Decimal("100"), "100")], title="t", desc="d")
    assert negative.bars[0].negative
    assert negative.bars[0].y == negative.baseline


def test_profile_language_changes_the_page_language(client, staff):
    client.force_login(staff.sales)
    response = client.get(reverse("profile"))
    assert response.status_code == 200
    response = client.post(reverse("profile"), {"language": "en"}, follow=True)
    assert html_lang(response) == "en"
    assert User.objects.get(pk=staff.sales.pk).language == "en"
    response = client.post(reverse("profile"), {"language": "zh-hans"}, follow=True)
    assert html_lang(response) == "zh-hans"
    assert User.objects.get(pk=staff.sales.pk).language == "zh-hans"


def test_profile_rejects_an_unknown_language(client, staff):
    client.force_login(staff.sales)
    response = client.post(reverse("profile"), {"language": "klingon"})
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert User.objects.get(pk=staff.sales.pk).language == "zh-hans"


def test_top_bar_language_switch_saves_the_choice_and_returns_to_the_page(client, staff):
    client.force_login(staff.manager)
    page = reverse("accounts:list") + "?q=x"
    response = client.post(reverse("language"), {"language": "en", "next": page})
    assert response.status_code == 302
    assert response["Location"] == page
    assert User.objects.get(pk=staff.manager.pk).language == "en"
    assert html_lang(client.get(page)) == "en"
    client.post(reverse("language"), {"language": "zh-hans", "next": page})
    body = client.get(page)
    assert html_lang(body) == "zh-hans"
    assert re.search(r'<option value="zh-hans"\s+selected', body.content.decode())


def test_language_switch_never_redirects_off_site(client, staff):
    client.force_login(staff.sales)
    response = client.post(reverse("language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_password_change_page_renders(client, staff):
    client.force_login(staff.sales)
    assert client.get(reverse("password_change")).status_code == 200


def test_dashboard_converts_foreign_currency_at_the_rate_of_the_order_date(staff):
    from patron.sales.models import ExchangeRate

    today = timezone.localdate()
    account = make_account(staff.sales)
    ExchangeRate.objects.create(currency="USD", valid_from=today - dt.timedelta(days=400), rate=Decimal("7"))
    usd = make_product(price="10.00", currency="USD")
    sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=usd, quantity="3")],
        currency="USD",
        confirm=True,
        order_date=today,
    )
    eur = make_product(price="5.00", currency="EUR")
    sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=eur, quantity="1")],
        currency="EUR",
        confirm=True,
        order_date=today,
    )
    dash = dashboard(user=staff.sales, today=today)
    assert dash.sales_month == Decimal("210.00")
    assert dash.sales_unconverted.items() == [("EUR", Decimal("5.00"))]


def test_dashboard_costs_a_fixed_number_of_queries(client, staff, django_assert_max_num_queries):
    today = timezone.localdate()
    product = make_product()
    for n in range(6):
        account = make_account(staff.sales)
        order = make_order(staff.sales, account, [(product, "1")], order_date=today - dt.timedelta(days=40 + n))
        make_invoice(staff.finance, order, issue_date=order.order_date, due_date=order.order_date)
    client.force_login(staff.sales)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("home")).status_code == 200


def test_overdue_amounts_without_a_rate_are_not_ranked_as_company_currency(staff):
    import datetime as dt
    from decimal import Decimal

    from patron.sales.models import Invoice
    from patron.web.dashboard import dashboard
    from tests.factories import make_account

    account = make_account(staff.sales)
    Invoice.objects.create(
        number="INV-EUR-1",
        account=account,
        currency="EUR",
        issue_date=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 2, 1),
        amount=Decimal("500.00"),
    )
    dash = dashboard(user=staff.admin, today=dt.date(2026, 6, 1))
    assert dash.overdue_account_count == 1
    assert dash.overdue_accounts == []
    assert dict(dash.receivables_unconverted.items()) == {"EUR": Decimal("500.00")}
