"""Creating and changing accounts and contacts: what is normalised, what is refused, and who may reassign."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patron.accounts import services
from patron.accounts.models import Account, Contact, CustomField
from patron.audit.models import AuditEvent
from tests.factories import make_account


def create(actor: Any, **data: Any) -> Account:
    data.setdefault("code", "C-001")
    data.setdefault("name", "深圳茶叶有限公司")
    return services.account_create(actor=actor, data=data)


def errors_of(call: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as err:
        call()
    return err.value.message_dict


# --- codes, phones, tax ids, emails ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "AB C",  # a space
        " ABC",  # leading space
        "ABC\u3000",  # ideographic space
        "ＡＢＣ",  # full-width letters typed with a Chinese input method
        "ABC１２３",  # full-width digits
        "客户一",  # Chinese characters
        "-ABC",  # must start with a letter or digit
        "A" * 41,  # too long
        "",
    ],
)
def test_a_bad_code_is_an_error_naming_code_and_nothing_is_written(staff, code):
    errors = errors_of(lambda: create(staff.sales, code=code))
    assert set(errors) == {"code"}
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_code_may_use_letters_digits_dash_underscore_and_dot(staff):
    assert create(staff.sales, code="SZ-2026_01.a").code == "SZ-2026_01.a"


def test_a_duplicate_code_is_refused_on_code(staff):
    create(staff.sales, code="DUP")
    assert "code" in errors_of(lambda: create(staff.sales, code="DUP", name="Other"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("０７５５－８８８８ ６６６６", "0755-8888 6666"),  # full-width digits and dash
        ("（０２０）１２３４５６７８", "(020)12345678"),  # full-width brackets
        ("+86 138 0013 8000", "+86 138 0013 8000"),
        ("  13800138000 ", "13800138000"),
        ("", ""),
    ],
)
def test_a_phone_is_folded_to_half_width(staff, typed, stored):
    assert create(staff.sales, phone=typed).phone == stored


@pytest.mark.parametrize("phone", ["call me", "138-ABCD-0000", "12", "电话13800138000"])
def test_a_phone_with_letters_or_too_short_is_an_error(staff, phone):
    assert set(errors_of(lambda: create(staff.sales, phone=phone))) == {"phone"}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("91440300ma5dxxxx1x", "91440300MA5DXXXX1X"),
        ("９１４４０３００ＭＡ５ＤＸＸＸＸ１Ｘ", "91440300MA5DXXXX1X"),
        (" 91440300MA5DXXXX1X ", "91440300MA5DXXXX1X"),
    ],
)
def test_a_tax_id_is_normalised_to_upper_case_half_width(staff, typed, stored):
    assert create(staff.sales, tax_id=typed).tax_id == stored


@pytest.mark.parametrize("tax_id", ["1234", "91440300-MA5DXXXX1X", "税号91440300MA5DXXX"])
def test_a_malformed_tax_id_is_an_error(staff, tax_id):
    assert set(errors_of(lambda: create(staff.sales, tax_id=tax_id))) == {"tax_id"}


def test_an_email_keeps_its_local_part_and_lowers_its_domain(staff):
    assert create(staff.sales, email="Li.Lei@Example.CN").email == "Li.Lei@example.cn"
    assert "email" in errors_of(lambda: create(staff.sales, code="C-2", email="lilei@例子"))


# --- birthday, credit limit, unknown fields ------------------------------------------------------------


def test_a_birthday_belongs_only_to_a_person(staff):
    assert "birthday" in errors_of(lambda: create(staff.sales, kind="company", birthday=dt.date(1990, 1, 1)))
    person = create(staff.sales, kind="person", birthday=dt.date(1990, 1, 1))
    assert person.birthday == dt.date(1990, 1, 1)


def test_a_birthday_cannot_be_in_the_future(staff):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert "birthday" in errors_of(lambda: create(staff.sales, kind="person", birthday=tomorrow))


@pytest.mark.parametrize("limit", ["100.001", "0.125", "1e-3"])
def test_a_credit_limit_with_more_than_two_decimals_is_an_error(staff, limit):
    assert set(errors_of(lambda: create(staff.sales, credit_limit=limit))) == {"credit_limit"}


def test_a_credit_limit_is_exact_and_not_negative(staff):
    assert create(staff.sales, credit_limit="1,000.50").credit_limit == Decimal("1000.50")
    assert "credit_limit" in errors_of(lambda: create(staff.sales, code="C-2", credit_limit="-1"))
    assert "credit_limit" in errors_of(lambda: create(staff.sales, code="C-3", credit_limit=0.1))  # a float


def test_an_unknown_field_is_named(staff):
    assert "colour" in errors_of(lambda: create(staff.sales, colour="green"))


def test_all_errors_come_back_at_once(staff):
    errors = errors_of(lambda: create(staff.sales, code="A B", phone="abc", credit_limit="1.234", tax_id="x"))
    assert set(errors) == {"code", "phone", "credit_limit", "tax_id"}


# --- custom fields --------------------------------------------------------------------------------------


@pytest.fixture
def custom_fields(db):
    CustomField.objects.create(key="positioning", label_zh="价值定位", kind="choice", choices=["premium", "value"])
    CustomField.objects.create(key="staff_count", label_zh="员工数", kind="number")
    CustomField.objects.create(key="founded", label_zh="成立日期", kind="date")
    CustomField.objects.create(key="standard", label_zh="采购标准", kind="text", required=True)
    CustomField.objects.create(key="retired", label_zh="已停用", kind="text", active=False)


def test_valid_custom_values_are_stored_as_json(staff, custom_fields):
    account = create(
        staff.sales,
        custom={"positioning": "premium", "staff_count": "120", "founded": "2001-09-01", "standard": " ISO 9001 "},
    )
    assert account.custom == {
        "positioning": "premium",
        "staff_count": "120",
        "founded": "2001-09-01",
        "standard": "ISO 9001",
    }


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ({"standard": "x", "colour": "green"}, "custom.colour"),  # unknown key
        ({"standard": "x", "retired": "yes"}, "custom.retired"),  # no longer active
        ({"standard": "x", "staff_count": "many"}, "custom.staff_count"),  # wrong type
        ({"standard": "x", "staff_count": "1.1234567"}, "custom.staff_count"),  # too precise
        ({"standard": "x", "founded": "2001-13-01"}, "custom.founded"),  # not a date
        ({"standard": "x", "positioning": "cheap"}, "custom.positioning"),  # not in the list
        ({"positioning": "value"}, "custom.standard"),  # required and missing
        ({"standard": ""}, "custom.standard"),  # required and empty
    ],
)
def test_a_bad_custom_value_is_named_by_its_key_and_nothing_is_written(staff, custom_fields, custom, field):
    errors = errors_of(lambda: create(staff.sales, custom=custom))
    assert set(errors) == {field}
    assert not Account.objects.exists()


def test_an_update_that_leaves_custom_values_alone_does_not_check_them(staff, custom_fields):
    account = make_account(staff.sales)  # made before "standard" was required of it
    services.account_update(actor=staff.sales, account=account, data={"name": "Renamed"})
    assert "custom.standard" in errors_of(
        lambda: services.account_update(actor=staff.sales, account=account, data={"custom": {"positioning": "value"}})
    )


def test_a_failed_update_writes_nothing(staff):
    account = make_account(staff.sales, name="Before", phone="123456")
    with pytest.raises(ValidationError):
        services.account_update(
            actor=staff.sales, account=account, data={"name": "After", "phone": "not a phone", "tags": ["new"]}
        )
    account.refresh_from_db()
    assert (account.name, account.phone) == ("Before", "123456")
    assert not account.tags.exists()
    assert not AuditEvent.objects.exists()


# --- owners ------------------------------------------------------------------------------------------------


def test_a_new_account_belongs_to_its_creator_unless_assigned(staff):
    assert create(staff.sales).owner == staff.sales
    assert create(staff.manager, code="C-2", owner=staff.sales2.pk).owner == staff.sales2


def test_a_salesperson_cannot_create_an_account_for_someone_else(staff):
    assert "owner" in errors_of(lambda: create(staff.sales, owner=staff.sales2.pk))
    assert not Account.objects.exists()


def test_a_salesperson_cannot_reassign_their_account(staff):
    account = make_account(staff.sales)
    errors = errors_of(
        lambda: services.account_update(actor=staff.sales, account=account, data={"owner": staff.sales2})
    )
    assert "owner" in errors
    account.refresh_from_db()
    assert account.owner == staff.sales


def test_keeping_the_same_owner_is_not_a_reassignment(staff):
    account = make_account(staff.sales)
    services.account_update(actor=staff.sales, account=account, data={"owner": staff.sales.pk, "name": "X"})
    account.refresh_from_db()
    assert account.name == "X"


def test_a_manager_reassigns_within_the_team_only(staff):
    account = make_account(staff.sales)
    services.account_update(actor=staff.manager, account=account, data={"owner": staff.sales2.pk})
    account.refresh_from_db()
    assert account.owner == staff.sales2
    services.account_update(actor=staff.manager, account=account, data={"owner": staff.manager.pk})
    account.refresh_from_db()
    assert account.owner == staff.manager
    assert "owner" in errors_of(
        lambda: services.account_update(actor=staff.manager, account=account, data={"owner": staff.sales3.pk})
    )


def test_an_admin_reassigns_to_anyone(staff):
    account = make_account(staff.sales)
    services.account_update(actor=staff.admin, account=account, data={"owner": staff.sales3})
    account.refresh_from_db()
    assert account.owner == staff.sales3


# --- contacts ----------------------------------------------------------------------------------------------


def test_the_first_contact_is_primary_and_a_second_primary_takes_over(staff):
    account = make_account(staff.sales)
    first = services.contact_create(actor=staff.sales, account=account, data={"name": "王芳"})
    assert first.is_primary
    second = services.contact_create(actor=staff.sales, account=account, data={"name": "李雷", "is_primary": True})
    first.refresh_from_db()
    assert second.is_primary
    assert not first.is_primary
    services.contact_update(actor=staff.sales, contact=first, data={"is_primary": True})
    second.refresh_from_db()
    assert list(account.contacts.filter(is_primary=True)) == [first]
    assert not second.is_primary


def test_a_contact_that_is_not_primary_stays_so(staff):
    account = make_account(staff.sales)
    services.contact_create(actor=staff.sales, account=account, data={"name": "王芳"})
    other = services.contact_create(actor=staff.sales, account=account, data={"name": "李雷"})
    assert not other.is_primary
    assert account.contacts.filter(is_primary=True).count() == 1


def test_consent_is_dated_when_given_and_the_date_cleared_when_withdrawn(staff):
    account = make_account(staff.sales)
    before = timezone.now()
    contact = services.contact_create(
        actor=staff.sales,
        account=account,
        data={"name": "王芳", "email": "wang@example.cn", "phone": "13800138000", "email_consent": True},
    )
    assert contact.email_consent_at is not None
    assert before <= contact.email_consent_at <= timezone.now()
    assert contact.sms_consent_at is None
    given = contact.email_consent_at
    contact = services.contact_update(actor=staff.sales, contact=contact, data={"sms_consent": True, "title": "经理"})
    assert contact.email_consent_at == given  # giving another consent keeps the first date
    assert contact.sms_consent_at is not None
    contact = services.contact_update(actor=staff.sales, contact=contact, data={"email_consent": False})
    contact.refresh_from_db()
    assert contact.email_consent is False
    assert contact.email_consent_at is None
    assert contact.sms_consent is True


def test_consent_needs_an_address_to_send_to(staff):
    account = make_account(staff.sales)
    errors = errors_of(
        lambda: services.contact_create(
            actor=staff.sales, account=account, data={"name": "王芳", "email_consent": True, "sms_consent": True}
        )
    )
    assert set(errors) == {"email_consent", "sms_consent"}
    assert not Contact.objects.exists()


def test_consent_cannot_be_dated_in_the_future(staff):
    account = make_account(staff.sales)
    errors = errors_of(
        lambda: services.contact_create(
            actor=staff.sales,
            account=account,
            data={
                "name": "王芳",
                "email": "wang@example.cn",
                "email_consent": True,
                "email_consent_at": timezone.now() + dt.timedelta(days=1),
            },
        )
    )
    assert "email_consent_at" in errors


def test_a_contact_phone_is_folded_and_a_bad_one_refused(staff):
    account = make_account(staff.sales)
    contact = services.contact_create(
        actor=staff.sales, account=account, data={"name": "王芳", "phone": "１３８ ００１３ ８０００"}
    )
    assert contact.phone == "138 0013 8000"
    assert "phone" in errors_of(
        lambda: services.contact_update(actor=staff.sales, contact=contact, data={"phone": "ask reception"})
    )
    contact.refresh_from_db()
    assert contact.phone == "138 0013 8000"


def test_notes_are_checked(staff):
    account = make_account(staff.sales)
    errors = errors_of(
        lambda: services.note_add(
            actor=staff.sales,
            account=account,
            kind="party",
            subject=" ",
            occurred_at=timezone.now() + dt.timedelta(days=2),
        )
    )
    assert set(errors) == {"kind", "subject", "occurred_at"}
    note = services.note_add(actor=staff.sales, account=account, kind="call", subject=" Called about Q3 ")
    assert (note.subject, note.private, note.actor) == ("Called about Q3", True, staff.sales)


def test_deactivated_custom_fields_keep_their_values_when_an_account_is_edited(staff):
    from patron.accounts.models import CustomField

    old = CustomField.objects.create(key="legacy_grade", label_zh="旧等级", kind="text")
    CustomField.objects.create(key="budget", label_zh="年度预算", kind="number")
    account = services.account_create(
        actor=staff.sales, data={"code": "KEEP1", "name": "Keep", "custom": {"legacy_grade": "A", "budget": "100"}}
    )
    old.active = False
    old.save()
    services.account_update(actor=staff.sales, account=account, data={"custom": {"budget": "200"}})
    account.refresh_from_db()
    assert account.custom == {"legacy_grade": "A", "budget": "200"}
    services.account_update(actor=staff.sales, account=account, data={"custom": {"budget": ""}})
    account.refresh_from_db()
    assert account.custom == {"legacy_grade": "A"}


@pytest.mark.parametrize("code", ["new", "NEW", "views"])
def test_codes_the_pages_use_are_reserved(staff, code):
    with pytest.raises(ValidationError) as err:
        services.account_create(actor=staff.sales, data={"code": code, "name": "Reserved"})
    assert "code" in err.value.message_dict


def test_emptied_text_fields_are_blank_not_an_error(staff):
    account = services.account_create(actor=staff.sales, data={"code": "NULLS", "name": "Nulls", "notes": "x"})
    services.account_update(actor=staff.sales, account=account, data={"notes": None, "address": None})
    account.refresh_from_db()
    assert (account.notes, account.address) == ("", "")


@pytest.mark.parametrize("custom", [[1, 2], "text", 5])
def test_custom_fields_that_are_not_an_object_are_a_field_error(staff, custom):
    with pytest.raises(ValidationError) as err:
        services.account_create(actor=staff.sales, data={"code": "CUST9", "name": "C", "custom": custom})
    assert "custom" in err.value.message_dict
