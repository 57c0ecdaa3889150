"""Emailing a contact: through the queue, after commit, to a real SMTP server; and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from patron.accounts import services
from patron.accounts.models import Activity, Contact
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp


def contact_of(account: Any, *, email: str = "wang.fang@example.cn", consent: bool = True, **extra: Any) -> Contact:
    return Contact.objects.create(
        account=account,
        name=extra.pop("name", "王芳"),
        email=email,
        email_consent=consent,
        email_consent_at=timezone.now() if consent else None,
        **extra,
    )


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpServer]:
    with serving_smtp(settings) as server:
        yield server


@pytest.fixture
def world(staff):
    account = make_account(staff.sales, name="深圳茶行")
    return account, contact_of(account)


def test_an_email_reaches_the_smtp_server_after_commit(
    staff, world, smtp_server: SmtpServer, settings, django_capture_on_commit_callbacks
):
    account, contact = world
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        activity = services.email_send(
            actor=staff.sales,
            account=account,
            contact=contact,
            subject="Your quote for Q3",
            body="Dear Ms Wang,\n\nplease find our prices below.\n",
        )
        assert smtp_server.messages == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ["wang.fang@example.cn"]
    assert received.mail_from == settings.DEFAULT_FROM_EMAIL
    assert received.subject == "Your quote for Q3"
    assert received.body.rstrip("\n") == "Dear Ms Wang,\n\nplease find our prices below."
    assert received.message["To"] == "wang.fang@example.cn"
    assert (activity.kind, activity.subject, activity.actor, activity.private) == (
        "email",
        "Your quote for Q3",
        staff.sales,
        False,
    )
    assert activity.ref_type == "contact"
    assert activity.ref_id == str(contact.pk)


def test_chinese_subject_and_body_arrive_intact(
    staff, world, smtp_server: SmtpServer, django_capture_on_commit_callbacks
):
    account, contact = world
    subject = "报价单：2026 年第三季度（龙井、碧螺春）"
    body = "王经理您好：\n\n随信附上新的价格表，请查收。\n——深圳茶行 李雷\n"
    with django_capture_on_commit_callbacks(execute=True):
        services.email_send(actor=staff.sales, account=account, contact=contact, subject=subject, body=body)
    received = smtp_server.messages[0]
    assert received.subject == subject
    assert received.body.rstrip("\n") == body.rstrip("\n")
    assert received.message.get_content_charset() == "utf-8"


def test_a_manager_emails_a_contact_of_the_team(
    staff, world, smtp_server: SmtpServer, django_capture_on_commit_callbacks
):
    account, contact = world
    with django_capture_on_commit_callbacks(execute=True):
        services.email_send(actor=staff.manager, account=account, contact=contact, subject="Hello", body="Hi")
    assert [m.rcpt_tos for m in smtp_server.messages] == [["wang.fang@example.cn"]]


def test_nothing_is_sent_when_the_transaction_rolls_back(
    staff, world, smtp_server: SmtpServer, django_capture_on_commit_callbacks
):
    account, contact = world

    def send_then_fail() -> None:
        with transaction.atomic():
            services.email_send(actor=staff.sales, account=account, contact=contact, subject="Hello", body="Hi")
            raise RuntimeError("the request failed later")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        send_then_fail()
    assert callbacks == []
    assert smtp_server.messages == []
    assert not Activity.objects.filter(kind="email").exists()


# --- refusals ---------------------------------------------------------------------------------------------


def refused(call: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as err:
        call()
    return err.value.message_dict


@pytest.mark.parametrize(
    ("contact_fields", "subject", "body", "fields"),
    [
        ({"consent": False}, "Hello", "Hi", {"contact"}),  # never consented
        ({"email": ""}, "Hello", "Hi", {"contact"}),  # no address (consent without one)
        ({}, "", "Hi", {"subject"}),
        ({}, "   ", "Hi", {"subject"}),
        ({}, "Hello", " \n ", {"body"}),
        ({"consent": False}, "", "", {"contact", "subject", "body"}),  # all at once
    ],
)
def test_refusals_name_the_field_and_send_nothing(
    staff,
    smtp_server: SmtpServer,
    django_capture_on_commit_callbacks,
    contact_fields,
    subject,
    body,
    fields,
):
    account = make_account(staff.sales)
    contact = contact_of(account, **contact_fields) if "email" not in contact_fields else None
    if contact is None:
        contact = Contact.objects.create(account=account, name="无邮箱", email="")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        errors = refused(
            lambda: services.email_send(actor=staff.sales, account=account, contact=contact, subject=subject, body=body)
        )
    assert set(errors) == fields
    assert callbacks == []
    assert smtp_server.messages == []
    assert not Activity.objects.filter(kind="email").exists()


def test_a_contact_who_withdrew_consent_is_not_emailed(staff, world, smtp_server: SmtpServer):
    account, contact = world
    contact = services.contact_update(actor=staff.sales, contact=contact, data={"email_consent": False})
    assert "contact" in refused(
        lambda: services.email_send(actor=staff.sales, account=account, contact=contact, subject="Hi", body="Hi")
    )
    assert smtp_server.messages == []


def test_a_contact_of_another_account_is_refused(
    staff, world, smtp_server: SmtpServer, django_capture_on_commit_callbacks
):
    account, _contact = world
    elsewhere = contact_of(make_account(staff.sales), email="someone@else.example")
    with django_capture_on_commit_callbacks(execute=True):
        errors = refused(
            lambda: services.email_send(actor=staff.sales, account=account, contact=elsewhere, subject="Hi", body="Hi")
        )
    assert set(errors) == {"contact"}
    assert smtp_server.messages == []


@pytest.mark.parametrize("who", ["sales2", "sales3", "finance", "marketing", "manager2"])
def test_only_who_may_edit_the_account_may_email_its_contacts(staff, world, smtp_server: SmtpServer, who):
    account, contact = world
    with pytest.raises(PermissionDenied):
        services.email_send(actor=getattr(staff, who), account=account, contact=contact, subject="Hi", body="Hi")
    assert smtp_server.messages == []
