"""Every change to an account, a price, an order or a payment leaves an audit row; none can be rewritten."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from patron.accounts import services as accounts
from patron.audit.models import AuditEvent
from patron.discounts.models import DiscountLimit
from patron.sales import services as sales
from tests.factories import make_account, make_invoice, make_order, make_product


def only_event(**filters: object) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, events
    return events[0]


# --- accounts and contacts ---------------------------------------------------------------------


def test_creating_an_account_records_every_field_it_was_given(staff):
    account = accounts.account_create(
        actor=staff.sales, data={"code": "GZ-001", "name": "广州茶行", "credit_limit": "5000", "tags": ["VIP"]}
    )
    event = only_event(action="ACCOUNT_CREATED")
    assert (event.actor, event.entity_type, event.entity_id, event.account_id) == (
        staff.sales,
        "account",
        str(account.pk),
        account.pk,
    )
    assert event.changes["code"] == [None, "GZ-001"]
    assert event.changes["name"] == [None, "广州茶行"]
    assert event.changes["credit_limit"] == [None, "5000.00"]
    assert event.changes["owner"] == [None, staff.sales.pk]
    assert event.changes["tags"] == [None, ["VIP"]]


def test_updating_an_account_records_who_and_only_the_fields_that_changed(staff):
    account = make_account(staff.sales, name="Old name", credit_limit=Decimal("100.00"))
    accounts.account_update(
        actor=staff.manager,
        account=account,
        data={"name": "New name", "credit_limit": "100", "notes": "pays late", "tags": ["wholesale"]},
    )
    event = only_event(action="ACCOUNT_UPDATED")
    assert event.actor == staff.manager
    assert event.account_id == account.pk
    assert event.changes == {"name": ["Old name", "New name"], "notes": ["", "pays late"], "tags": [[], ["wholesale"]]}


def test_an_update_that_changes_nothing_writes_no_event(staff):
    account = make_account(staff.sales, name="Same", credit_limit=Decimal("100.00"))
    accounts.account_update(actor=staff.sales, account=account, data={"name": "Same", "credit_limit": "100.0"})
    assert not AuditEvent.objects.filter(action="ACCOUNT_UPDATED").exists()


def test_reassigning_an_account_records_the_old_and_new_owner(staff):
    account = make_account(staff.sales)
    accounts.account_update(actor=staff.manager, account=account, data={"owner": staff.sales2.pk})
    assert only_event(action="ACCOUNT_UPDATED").changes == {"owner": [staff.sales.pk, staff.sales2.pk]}


def test_contact_changes_are_audited_against_their_account(staff):
    account = make_account(staff.sales)
    contact = accounts.contact_create(
        actor=staff.sales, account=account, data={"name": "张伟", "email": "zhang@example.cn"}
    )
    accounts.contact_update(actor=staff.sales, contact=contact, data={"email_consent": True})
    accounts.contact_remove(actor=staff.sales, contact=contact)
    added = only_event(action="CONTACT_ADDED")
    updated = only_event(action="CONTACT_UPDATED")
    removed = only_event(action="CONTACT_REMOVED")
    assert {added.account_id, updated.account_id, removed.account_id} == {account.pk}
    assert added.changes["name"] == [None, "张伟"]
    assert updated.changes["email_consent"] == [False, True]
    assert updated.changes["email_consent_at"][0] is None
    assert removed.changes["name"] == ["张伟", None]


# --- products -----------------------------------------------------------------------------------


def test_a_price_change_is_recorded_with_before_and_after(staff):
    product = make_product(price="100.00", cost="60.00")
    sales.product_update(actor=staff.manager, product=product, data={"list_price": "120", "unit_cost": "60"})
    event = only_event(action="PRODUCT_PRICE_CHANGED")
    assert event.actor == staff.manager
    assert (event.entity_type, event.entity_id, event.account_id) == ("product", str(product.pk), None)
    assert event.changes == {"list_price": ["100.0000", "120.0000"]}


def test_a_product_change_without_a_price_is_a_plain_update(staff):
    product = make_product(price="100.00", name="Longjing")
    sales.product_update(actor=staff.admin, product=product, data={"name": "West Lake Longjing", "list_price": "100"})
    assert only_event(action="PRODUCT_UPDATED").changes == {"name": ["Longjing", "West Lake Longjing"]}
    assert not AuditEvent.objects.filter(action="PRODUCT_PRICE_CHANGED").exists()


# --- orders, invoices, payments ---------------------------------------------------------------------


def test_an_order_records_its_creation_confirmation_and_cancellation(staff):
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(10), amount=Decimal(1000))
    account = make_account(staff.sales)
    product = make_product(sku="TEA-1", price="80.00")
    order = sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=product, quantity="2", net_unit_price="75")],
        order_date=dt.date(2026, 5, 4),
    )
    sales.order_confirm(actor=staff.sales, order=order)
    sales.order_cancel(actor=staff.manager, order=order, reason="customer changed their mind")
    created = only_event(action="ORDER_CREATED")
    assert created.actor == staff.sales
    assert created.account_id == account.pk
    assert created.changes["net_total"] == [None, "150.00"]
    assert created.changes["lines"] == [None, [{"sku": "TEA-1", "quantity": "2", "net_unit_price": "75"}]]
    assert only_event(action="ORDER_CONFIRMED").changes == {"status": ["draft", "confirmed"]}
    cancelled = only_event(action="ORDER_CANCELLED")
    assert cancelled.actor == staff.manager
    assert cancelled.changes == {"status": ["confirmed", "cancelled"], "reason": [None, "customer changed their mind"]}


def test_an_invoice_and_a_payment_are_recorded_with_amounts_and_allocations(staff):
    account = make_account(staff.sales)
    invoice = make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="60.00"), "1")]))
    sales.payment_record(
        actor=staff.sales, account=account, amount="25.50", received_on=dt.date(2026, 1, 2), method="wechat_pay"
    )
    issued = only_event(action="INVOICE_ISSUED")
    assert issued.actor == staff.finance
    assert issued.changes["amount"] == [None, "60.00"]
    paid = only_event(action="PAYMENT_RECORDED")
    assert paid.actor == staff.sales
    assert paid.account_id == account.pk
    assert paid.changes == {
        "amount": [None, "25.50"],
        "currency": [None, "CNY"],
        "received_on": [None, "2026-01-02"],
        "allocations": [None, {invoice.number: "25.50"}],
    }


def test_a_refused_write_records_nothing(staff):
    account = make_account(staff.sales)
    with pytest.raises(ValidationError):
        accounts.account_update(actor=staff.sales, account=account, data={"code": "bad code"})
    with pytest.raises(ValidationError):
        sales.payment_record(actor=staff.finance, account=account, amount="1.00")  # nothing owed
    assert not AuditEvent.objects.exists()


# --- append-only ---------------------------------------------------------------------------------------


@pytest.fixture
def event(staff):
    account = make_account(staff.sales)
    accounts.account_update(actor=staff.sales, account=account, data={"name": "Renamed"})
    return only_event(action="ACCOUNT_UPDATED")


def test_the_model_refuses_to_save_or_delete_an_existing_event(event):
    event.action = "NOTHING_HAPPENED"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_querysets_cannot_update_or_delete_events(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="NOTHING_HAPPENED")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == "ACCOUNT_UPDATED"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'NOTHING_HAPPENED'",
        "UPDATE audit_auditevent SET changes = '{}' WHERE id = %(id)s",
        "DELETE FROM audit_auditevent WHERE id = %(id)s",
        "DELETE FROM audit_auditevent",
    ],
)
def test_not_even_raw_sql_can_rewrite_history(event, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql % {"id": int(event.pk)})
    event.refresh_from_db()
    assert event.action == "ACCOUNT_UPDATED"
    assert event.changes == {"name": [event.changes["name"][0], "Renamed"]}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE exists only on PostgreSQL")
def test_postgresql_refuses_truncate(event):
    with connection.cursor() as cursor:
        # Check the test's deferred foreign keys now, or PostgreSQL refuses TRUNCATE for that reason first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_triggers_exist_on_this_database(db):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
            assert {row[0] for row in cursor.fetchall()} == {"audit_event_no_update", "audit_event_no_delete"}
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass AND NOT tgisinternal"
            )
            assert {row[0] for row in cursor.fetchall()} == {"audit_event_no_change", "audit_event_no_truncate"}


def test_new_events_can_still_be_added_after_a_refused_rewrite(event, staff):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    account = make_account(staff.sales)
    accounts.account_update(actor=staff.sales, account=account, data={"name": "Again"})
    assert AuditEvent.objects.count() == 2


def test_logging_a_call_and_sending_an_email_are_audited_without_revealing_the_note(staff):
    from patron.accounts import services as account_services
    from tests.factories import make_account

    account = make_account(staff.sales)
    account_services.note_add(actor=staff.sales, account=account, kind="call", subject="secret price talk")
    contact = account.contacts.create(
        name="王", email="wang@example.com", email_consent=True, email_consent_at=timezone.now()
    )
    account_services.email_send(actor=staff.sales, account=account, contact=contact, subject="Hello", body="Hi")
    call = AuditEvent.objects.get(account=account, action="CALL_LOGGED")
    assert "secret" not in str(call.changes)
    assert AuditEvent.objects.filter(account=account, action="EMAIL_SENT", actor=staff.sales).exists()
