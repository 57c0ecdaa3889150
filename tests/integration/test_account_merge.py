"""Merging a duplicate into an account: everything moves, both histories stay, and it happens once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connections

from patron.accounts import services as accounts
from patron.accounts.access import visible_accounts
from patron.accounts.exports import export_queryset
from patron.accounts.merge import account_merge, default_choices, merged_history, merged_target
from patron.accounts.models import Account, Activity, Contact, CustomField, Tag
from patron.accounts.selectors import AccountFilters, account_list, account_timeline
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.sales import services as sales
from patron.sales.models import CreditNote, Invoice, Order, Payment, Return
from tests.factories import make_account, make_invoice, make_order, make_product


def busy_account(staff, owner, **fields):
    """An account with a contact, a confirmed order, a return, an invoice, a payment and a note."""
    account = make_account(owner, **fields)
    accounts.contact_create(actor=staff.admin, account=account, data={"name": f"{account.name} buyer"})
    order = make_order(staff.admin, account, [(make_product(price="100.00"), "3")], order_date=dt.date(2026, 3, 1))
    make_invoice(staff.finance, order)
    sales.return_create(actor=staff.admin, order=order, lines=[sales.ReturnLineInput(order.lines.get(), "1")])
    sales.payment_record(actor=staff.finance, account=account, amount="50.00")
    accounts.note_add(actor=staff.admin, account=account, kind="call", subject=f"Call with {account.name}")
    return account


@pytest.fixture
def pair(staff):
    survivor = busy_account(staff, staff.sales, code="A-1", name="华强实业有限公司", phone="", email="a@huaqiang.cn")
    duplicate = busy_account(
        staff, staff.sales2, code="B-1", name="华强实业（深圳）有限公司", phone="0755-8888 6666", tax_id=""
    )
    return survivor, duplicate


def test_everything_of_the_duplicate_moves_to_the_survivor(staff, pair):
    survivor, duplicate = pair
    result = account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    assert not result.already
    for model in (Order, Invoice, Payment, Return, CreditNote):
        assert not model.objects.filter(account=duplicate).exists(), model
    assert Order.objects.filter(account=survivor).count() == 2
    assert Invoice.objects.filter(account=survivor).count() == 2
    assert Payment.objects.filter(account=survivor).count() == 2
    assert Return.objects.filter(account=survivor).count() == 2
    assert set(Contact.objects.filter(account=survivor).values_list("name", flat=True)) == {
        "华强实业有限公司 buyer",
        "华强实业（深圳）有限公司 buyer",
    }
    assert result.moved["sales.order"] == 1
    assert result.moved["accounts.contact"] == 1


def test_the_survivors_primary_contact_stays_its_only_primary(staff, pair):
    survivor, duplicate = pair
    primary = Contact.objects.get(account=survivor, is_primary=True)
    account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    assert list(Contact.objects.filter(account=survivor, is_primary=True)) == [primary]


def test_the_timeline_shows_the_duplicates_old_entries_and_the_merge(staff, pair):
    survivor, duplicate = pair
    account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    entries = list(account_timeline(user=staff.manager, account=survivor))
    titles = [e.title for e in entries]
    assert "Call with 华强实业（深圳）有限公司" in titles
    assert "Call with 华强实业有限公司" in titles
    assert entries[0].kind == "merge"
    assert entries[0].title == "Merged B-1 华强实业（深圳）有限公司 into this account"
    assert entries[0].actor == staff.manager
    assert not Activity.objects.filter(account=duplicate).exists()


def test_the_audit_trail_keeps_both_histories_and_the_merge_with_both_snapshots(staff, pair):
    survivor, duplicate = pair
    duplicate_events = set(AuditEvent.objects.filter(account=duplicate).values_list("pk", flat=True))
    assert duplicate_events
    account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    history = list(merged_history(survivor))
    assert duplicate_events <= {e.pk for e in history}
    merge = next(e for e in history if e.action == "ACCOUNT_MERGED")
    assert merge.actor == staff.manager
    assert merge.changes["snapshots"]["merged"]["name"] == "华强实业（深圳）有限公司"
    assert merge.changes["snapshots"]["merged"]["phone"] == "0755-8888 6666"
    assert merge.changes["snapshots"]["survivor"]["phone"] == ""
    assert merge.changes["merged_account"] == [None, "B-1 华强实业（深圳）有限公司"]
    # The survivor's blank phone was filled from the duplicate, and the trail says so.
    assert merge.changes["phone"] == ["", "0755-8888 6666"]


def test_the_merged_account_is_marked_hidden_from_lists_and_exports_and_leads_to_the_survivor(staff, pair):
    survivor, duplicate = pair
    account_merge(actor=staff.admin, survivor=survivor, merged=duplicate)
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor
    assert duplicate.merged_by == staff.admin
    assert duplicate.merged_at is not None
    for user in (staff.admin, staff.manager, staff.finance, staff.sales2):
        assert not account_list(user=user, filters=AccountFilters()).filter(pk=duplicate.pk).exists()
        assert not visible_accounts(user).filter(pk=duplicate.pk).exists()
    assert not export_queryset(staff.admin, AccountFilters()).filter(pk=duplicate.pk).exists()
    assert merged_target(visible_accounts(staff.admin), "B-1") == survivor
    assert merged_target(visible_accounts(staff.sales2), "B-1") is None  # sales2 cannot


def test_fields_default_to_the_survivors_with_blanks_filled_and_choices_override(staff):
    CustomField.objects.create(key="grade", label_zh="等级", kind="text")
    CustomField.objects.create(key="channel", label_zh="渠道", kind="text")
    survivor = make_account(
        staff.sales, name="Acme", email="", address="Shenzhen", custom={"grade": "A"}, notes="Keep the price"
    )
    duplicate = make_account(
        staff.sales,
        name="ACME Ltd",
        email="buy@acme.cn",
        address="Guangzhou",
        custom={"grade": "B", "channel": "shop"},
        notes="Prefers calls",
        is_key_account=True,
    )
    survivor.tags.add(Tag.objects.create(name="tea"))
    duplicate.tags.add(Tag.objects.get(name="tea"), Tag.objects.create(name="wholesale"))
    assert default_choices(survivor, duplicate) == {
        "name": "this",
        "is_key_account": "this",
        "email": "other",
        "address": "this",
        "notes": "this",
        "custom.grade": "this",
        "custom.channel": "other",
    }
    account_merge(
        actor=staff.manager,
        survivor=survivor,
        merged=duplicate,
        choices={"address": "other", "notes": "both", "is_key_account": "other"},
    )
    survivor.refresh_from_db()
    assert (survivor.name, survivor.email, survivor.address) == ("Acme", "buy@acme.cn", "Guangzhou")
    assert survivor.is_key_account is True
    assert survivor.notes == "Keep the price\n\nPrefers calls"
    assert survivor.custom == {"grade": "A", "channel": "shop"}
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["tea", "wholesale"]


def test_order_dates_span_both_accounts_orders(staff):
    survivor, duplicate = make_account(staff.sales), make_account(staff.sales)
    make_order(staff.sales, survivor, order_date=dt.date(2026, 5, 1))
    make_order(staff.sales, duplicate, order_date=dt.date(2025, 1, 15))
    make_order(staff.sales, duplicate, order_date=dt.date(2026, 8, 1))
    make_order(staff.sales, duplicate, order_date=dt.date(2024, 1, 1), confirm=False)  # a draft does not count
    account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    survivor.refresh_from_db()
    assert (survivor.first_order_date, survivor.last_order_date) == (dt.date(2025, 1, 15), dt.date(2026, 8, 1))


def test_receivables_follow_the_invoices_and_payments(staff, pair):
    from patron.sales.selectors import account_receivables

    survivor, duplicate = pair
    today = dt.date(2026, 3, 2)
    owed = account_receivables(survivor, today)["CNY"]["owed"] + account_receivables(duplicate, today)["CNY"]["owed"]
    account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    assert account_receivables(survivor, today)["CNY"]["owed"] == owed == Decimal("300.00")


def test_accounts_merged_into_the_duplicate_before_now_lead_to_the_survivor(staff):
    a, b, c = make_account(staff.sales), make_account(staff.sales), make_account(staff.sales)
    account_merge(actor=staff.manager, survivor=b, merged=c)
    account_merge(actor=staff.manager, survivor=a, merged=b)
    c.refresh_from_db()
    assert c.merged_into == a
    assert merged_target(visible_accounts(staff.manager), c.code) == a


# --- once, and only once ---------------------------------------------------------------------------


def test_merging_the_same_pair_again_changes_nothing_and_returns_the_earlier_result(staff, pair):
    survivor, duplicate = pair
    first = account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    counts = (AuditEvent.objects.count(), Activity.objects.count(), Order.objects.filter(account=survivor).count())
    again = account_merge(actor=staff.manager, survivor=survivor, merged=duplicate)
    assert again.already
    assert again.moved == first.moved
    assert (AuditEvent.objects.count(), Activity.objects.count(), Order.objects.filter(account=survivor).count()) == (
        counts
    )


def test_merging_into_an_account_that_was_merged_away_is_refused(staff):
    a, b, c = make_account(staff.sales), make_account(staff.sales), make_account(staff.sales)
    account_merge(actor=staff.manager, survivor=a, merged=b)
    with pytest.raises(Conflict) as refused:
        account_merge(actor=staff.manager, survivor=b, merged=c)
    assert refused.value.field == "account"
    assert a.code in refused.value.message
    with pytest.raises(Conflict) as twice:
        account_merge(actor=staff.manager, survivor=c, merged=b)
    assert twice.value.field == "other"
    assert Account.objects.get(pk=c.pk).merged_into is None


def test_an_account_cannot_be_merged_into_itself(staff):
    a = make_account(staff.sales)
    with pytest.raises(ValidationError) as refused:
        account_merge(actor=staff.manager, survivor=a, merged=a)
    assert set(refused.value.message_dict) == {"other"}


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"colour": "this"}, "fields.colour"),
        ({"name": "mine"}, "fields.name"),
        ({"name": "both"}, "fields.name"),
        ({"birthday": "other"}, "fields.birthday"),
    ],
)
def test_bad_choices_are_refused_on_the_field_and_nothing_moves(staff, choices, field):
    a = make_account(staff.sales, name="Acme")
    b = make_account(staff.sales, name="Acme Ltd", kind="person", birthday=dt.date(1980, 1, 1))
    make_order(staff.sales, b)
    with pytest.raises(ValidationError) as refused:
        account_merge(actor=staff.manager, survivor=a, merged=b, choices=choices)
    assert set(refused.value.message_dict) == {field}
    assert b.orders.count() == 1
    assert Account.objects.get(pk=b.pk).merged_into is None


# --- who may merge -----------------------------------------------------------------------------------


def test_a_salesperson_cannot_merge_even_their_own_accounts(staff):
    a, b = make_account(staff.sales), make_account(staff.sales)
    with pytest.raises(PermissionDenied):
        account_merge(actor=staff.sales, survivor=a, merged=b)
    assert Account.objects.get(pk=b.pk).merged_into is None


@pytest.mark.parametrize("who", ["sales", "finance", "marketing", "manager2"])
def test_only_who_may_merge_both_accounts_may_merge_them(staff, who):
    a, b = make_account(staff.sales), make_account(staff.sales2)
    with pytest.raises(PermissionDenied):
        account_merge(actor=getattr(staff, who), survivor=a, merged=b)
    assert not AuditEvent.objects.filter(action="ACCOUNT_MERGED").exists()


def test_a_manager_cannot_merge_an_account_of_another_team_into_their_own(staff):
    mine, theirs = make_account(staff.sales), make_account(staff.sales3)
    with pytest.raises(PermissionDenied):
        account_merge(actor=staff.manager, survivor=mine, merged=theirs)
    account_merge(actor=staff.admin, survivor=mine, merged=theirs)
    assert Account.objects.get(pk=theirs.pk).merged_into_id == mine.pk


# --- at the same moment ------------------------------------------------------------------------------


def _merge_in_thread(survivor_id, merged_id, actor, barrier, results) -> None:
    try:
        survivor, merged = Account.objects.get(pk=survivor_id), Account.objects.get(pk=merged_id)
        barrier.wait(timeout=10)
        for _attempt in range(100):
            try:
                result = account_merge(actor=actor, survivor=survivor, merged=merged)
                results.append("again" if result.already else "merged")
                return
            except OperationalError as exc:
                # An in-memory SQLite test database answers "locked" at once instead of waiting.
                if "locked" not in str(exc):
                    raise
                time.sleep(0.02)
        results.append("gave up")
    except Exception as exc:  # report, do not hide, anything else
        results.append(f"error: {exc!r}")
    finally:
        connections.close_all()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_merges_of_the_same_pair_at_once_merge_once(staff):
    """Both rows are locked (PostgreSQL: FOR UPDATE, lower id first; SQLite: IMMEDIATE transactions)."""
    survivor, duplicate = make_account(staff.sales), make_account(staff.sales)
    make_order(staff.sales, duplicate)
    barrier = threading.Barrier(2)
    results: list[str] = []
    threads = [
        threading.Thread(target=_merge_in_thread, args=(survivor.pk, duplicate.pk, actor, barrier, results))
        for actor in (staff.manager, staff.admin)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["again", "merged"], results
    assert AuditEvent.objects.filter(action="ACCOUNT_MERGED").count() == 1
    assert Activity.objects.filter(kind="merge").count() == 1
    assert survivor.orders.count() == 1


@pytest.mark.django_db
def test_a_merged_account_takes_no_new_orders_or_payments(staff) -> None:
    survivor = make_account(staff.sales, code="S-1", name="甲")
    merged = make_account(staff.sales, code="M-1", name="甲二")
    account_merge(actor=staff.manager, survivor=survivor, merged=merged)
    with pytest.raises(Conflict, match="merged into another"):
        make_order(staff.sales, merged)
    with pytest.raises(Conflict, match="merged into another"):
        sales.payment_record(actor=staff.sales, account=merged, amount="10.00")
    assert not Order.objects.filter(account=merged).exists()
