"""Dates outside 1900-2999 are typing mistakes: each is a field error, never an overflow."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from patron.accounts import services as accounts
from patron.sales import services as sales
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_order

YEAR_ONE = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_a_note_dated_in_year_one_is_a_field_error(staff):
    account = make_account(staff.sales)
    with pytest.raises(ValidationError) as err:
        accounts.note_add(actor=staff.sales, account=account, kind="note", subject="x", occurred_at=YEAR_ONE)
    assert "occurred_at" in err.value.message_dict


def test_consent_dated_in_year_one_is_a_field_error(staff):
    account = make_account(staff.sales)
    with pytest.raises(ValidationError) as err:
        accounts.contact_create(
            actor=staff.sales,
            account=account,
            data={"name": "李", "email": "li@example.com", "email_consent": True, "email_consent_at": YEAR_ONE},
        )
    assert "email_consent_at" in err.value.message_dict


def test_an_invoice_issued_on_the_last_day_of_9999_is_refused_without_overflow(staff):
    order = make_order(staff.sales, make_account(staff.sales))
    with pytest.raises(ValidationError) as err:
        sales.invoice_create(actor=staff.finance, account=order.account, order=order, issue_date=dt.date(9999, 12, 31))
    assert "issue_date" in err.value.message_dict


def test_an_invoice_whose_terms_run_past_2999_is_refused(staff):
    account = make_account(staff.sales, payment_terms_days=3650)
    order = make_order(staff.sales, account)
    with pytest.raises(ValidationError) as err:
        sales.invoice_create(actor=staff.finance, account=account, order=order, issue_date=dt.date(2995, 1, 1))
    assert "due_date" in err.value.message_dict


def test_the_invoice_form_answers_a_far_date_with_a_field_error(client, staff):
    order = make_order(staff.sales, make_account(staff.sales))
    client.force_login(staff.finance)
    response = client.post(
        f"/sales/invoices/new/?order={order.number}", {"issue_date": "9999-12-31", "due_date": "", "amount": ""}
    )
    assert response.status_code == 200
    assert not order.invoices.exists()


def test_the_api_answers_a_year_one_note_with_422(staff):
    account = make_account(staff.sales)
    response = ApiClient(staff.sales).post(
        f"/api/accounts/{account.code}/notes", {"subject": "x", "occurred_at": "0001-01-01T00:00:00+08:00"}
    )
    assert response.status_code == 422
    assert "occurred_at" in error_fields(response)
