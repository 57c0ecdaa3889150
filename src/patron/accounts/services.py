"""Writes to accounts, contacts and the timeline: one function per change, audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.audit.services import audit_record, diff, snapshot
from patron.core.errors import FieldErrors
from patron.core.messages import money_error, text_error
from patron.domain.access import Action
from patron.domain.money import MoneyError, check_places, to_decimal
from patron.domain.text import TextError, check_code, normalise_email, normalise_phone, normalise_tax_id

from .access import require
from .models import Account, Activity, Contact, CustomField, Tag
from .timeline import render_stored

ACCOUNT_FIELDS = (
    "code",
    "name",
    "kind",
    "region",
    "industry",
    "owner",
    "is_key_account",
    "payment_terms_days",
    "credit_limit",
    "preferred_channel",
    "language",
    "birthday",
    "tax_id",
    "phone",
    "email",
    "address",
    "notes",
    "custom",
)
# Words the account pages use in their addresses (/accounts/new/), so no account may be called that.
RESERVED_CODES = frozenset({"new", "views", "export", "duplicates"})
CONTACT_FIELDS = (
    "name",
    "role",
    "title",
    "phone",
    "email",
    "email_consent",
    "email_consent_at",
    "sms_consent",
    "sms_consent_at",
    "is_primary",
)


def _text(errors: FieldErrors, field: str, fn: Any, value: str) -> str:
    try:
        return str(fn(value))
    except TextError as exc:
        errors.add(field, text_error(exc))
        return value


def clean_custom(
    values: Mapping[str, Any], errors: FieldErrors, existing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Merge custom field values into ``existing``, checked against the admin's definitions.

    A key given empty is cleared; keys not given (including those of fields an admin
    has since deactivated) keep their stored values.
    """
    cleaned: dict[str, Any] = dict(existing or {})
    if not isinstance(values, Mapping):
        errors.add("custom", _("Give custom fields as an object of key and value."))
        return cleaned
    definitions = {f.key: f for f in CustomField.objects.filter(active=True)}
    for key, raw in values.items():
        field = definitions.get(key)
        name = f"custom.{key}"
        if field is None:
            errors.add(name, _("Unknown custom field."))
            continue
        if raw in (None, ""):
            cleaned.pop(key, None)
            continue
        if field.kind == "number":
            try:
                cleaned[key] = str(check_places(to_decimal(raw), 6, "number"))
            except MoneyError:
                errors.add(name, _("Enter a number."))
        elif field.kind == "date":
            try:
                cleaned[key] = (
                    raw.isoformat() if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw)).isoformat()
                )
            except ValueError:
                errors.add(name, _("Enter a date as YYYY-MM-DD."))
        elif field.kind == "choice":
            if str(raw) not in [str(c) for c in field.choices]:
                errors.add(name, _("Choose one of: %(choices)s.") % {"choices": ", ".join(map(str, field.choices))})
            else:
                cleaned[key] = str(raw)
        else:
            text = str(raw).strip()
            if len(text) > 500:
                errors.add(name, _("At most 500 characters."))
            cleaned[key] = text
    for key, field in definitions.items():
        if field.required and key not in cleaned:
            errors.add(f"custom.{key}", _("This field is required."))
    return cleaned


def _apply_account_fields(account: Account, data: Mapping[str, Any], errors: FieldErrors) -> list[Tag] | None:
    tags: list[Tag] | None = None
    for field, value in data.items():
        if field == "code":
            account.code = _text(errors, "code", check_code, str(value or ""))
            if account.code.lower() in RESERVED_CODES:
                errors.add("code", _("This code is reserved; choose another."))
        elif field == "tax_id":
            account.tax_id = _text(errors, "tax_id", normalise_tax_id, str(value or ""))
        elif field == "phone":
            account.phone = _text(errors, "phone", normalise_phone, str(value or ""))
        elif field == "email":
            account.email = _text(errors, "email", normalise_email, str(value or ""))
        elif field == "credit_limit":
            try:
                limit = check_places(to_decimal(value if value is not None else 0), 2, "credit limit")
                if limit < 0:
                    # Named on the field here; the table constraint alone reports it for no field.
                    errors.add("credit_limit", _("Must not be negative."))
                else:
                    # Stored with two places; keep the same form so "100" and "100.00" are no change.
                    account.credit_limit = limit.quantize(Decimal("0.01"))
            except MoneyError as exc:
                errors.add("credit_limit", money_error(exc, 2))
        elif field == "custom":
            account.custom = clean_custom(value or {}, errors, account.custom)
        elif field == "tags":
            names = [str(t).strip() for t in (value or []) if str(t).strip()]
            tags = [Tag.objects.get_or_create(name=n[:50])[0] for n in names]
        elif field in ("region", "industry", "owner"):
            setattr(account, f"{field}_id" if not hasattr(value, "pk") else field, value)
        elif field in ACCOUNT_FIELDS:
            if value is None and isinstance(Account._meta.get_field(field), models.CharField | models.TextField):
                value = ""  # an emptied text field is blank, not NULL
            setattr(account, field, value.strip() if isinstance(value, str) else value)
        else:
            errors.add(field, _("Unknown field."))
    if account.kind != Account.KIND_PERSON and account.birthday is not None:
        errors.add("birthday", _("Only a person has a birthday."))
    birthday_in_range = errors.check_date("birthday", account.birthday)
    if birthday_in_range and account.birthday and account.birthday > timezone.localdate():
        errors.add("birthday", _("A birthday cannot be in the future."))
    return tags


@transaction.atomic
def account_create(*, actor: Any, data: Mapping[str, Any]) -> Account:
    require(actor, Action.CREATE_ACCOUNT)
    data = dict(data)
    # A salesperson's new account is theirs unless a manager assigns it.
    if "owner" not in data or data["owner"] is None:
        data["owner"] = actor.pk
    elif getattr(data["owner"], "pk", data["owner"]) != actor.pk:
        _check_reassign(actor, getattr(data["owner"], "pk", data["owner"]))
    account = Account()
    errors = FieldErrors()
    tags = _apply_account_fields(account, data, errors)
    errors.full_clean(account)
    errors.raise_if_any()
    account.save()
    if tags is not None:
        account.tags.set(tags)
    audit_record(
        actor=actor,
        action="ACCOUNT_CREATED",
        instance=account,
        account_id=account.pk,
        changes=diff({}, snapshot(account, ACCOUNT_FIELDS) | {"tags": sorted(t.name for t in tags or [])}),
    )
    return account


@transaction.atomic
def account_update(*, actor: Any, account: Account, data: Mapping[str, Any]) -> Account:
    account = Account.objects.select_for_update(of=("self",)).select_related("owner__team").get(pk=account.pk)
    require(actor, Action.EDIT_ACCOUNT, account)
    if "owner" in data:
        owner_id = getattr(data["owner"], "pk", data["owner"])
        if owner_id != account.owner_id:
            _check_reassign(actor, owner_id)
    before = snapshot(account, ACCOUNT_FIELDS) | {"tags": sorted(account.tags.values_list("name", flat=True))}
    errors = FieldErrors()
    tags = _apply_account_fields(account, data, errors)
    errors.full_clean(account)
    errors.raise_if_any()
    account.save()
    if tags is not None:
        account.tags.set(tags)
    after = snapshot(account, ACCOUNT_FIELDS) | {"tags": sorted(account.tags.values_list("name", flat=True))}
    changes = diff(before, after)
    if changes:
        audit_record(actor=actor, action="ACCOUNT_UPDATED", instance=account, account_id=account.pk, changes=changes)
    return account


def _check_reassign(actor: Any, owner_id: Any) -> None:
    """Only managers and admins hand an account to someone else, within their reach."""
    from patron.accounts.access import role_of
    from patron.domain.access import Role
    from patron.staff.models import User

    role = role_of(actor)
    if role == Role.ADMIN:
        return
    if role == Role.SALES_MANAGER:
        target = User.objects.filter(pk=owner_id).select_related("team").first()
        if target is not None and (target.pk == actor.pk or (target.team and target.team.manager_id == actor.pk)):
            return
    raise ValidationError({"owner": [_("You may not assign this account to that owner.")]})


def _apply_contact(contact: Contact, data: Mapping[str, Any], errors: FieldErrors) -> None:
    now = timezone.now()
    for field, value in data.items():
        if field == "phone":
            contact.phone = _text(errors, "phone", normalise_phone, str(value or ""))
        elif field == "email":
            contact.email = _text(errors, "email", normalise_email, str(value or ""))
        elif field in CONTACT_FIELDS:
            if value is None and isinstance(Contact._meta.get_field(field), models.CharField):
                value = ""
            setattr(contact, field, value.strip() if isinstance(value, str) else value)
        else:
            errors.add(field, _("Unknown field."))
    # Consent carries the moment it was given; withdrawing it clears the date.
    for kind in ("email", "sms"):
        given = getattr(contact, f"{kind}_consent")
        at_field = f"{kind}_consent_at"
        if given and getattr(contact, at_field) is None:
            setattr(contact, at_field, now)
        if not given:
            setattr(contact, at_field, None)
        at = getattr(contact, at_field)
        if not errors.check_date(at_field, at):
            setattr(contact, at_field, None)
        elif at is not None and at > now + dt.timedelta(minutes=5):
            errors.add(at_field, _("Consent cannot be dated in the future."))
    if contact.email_consent and not contact.email:
        errors.add("email_consent", _("Consent to email needs an email address."))
    if contact.sms_consent and not contact.phone:
        errors.add("sms_consent", _("Consent to SMS needs a phone number."))


def _make_primary(contact: Contact) -> None:
    if contact.is_primary:
        Contact.objects.filter(account_id=contact.account_id, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False
        )


@transaction.atomic
def contact_create(*, actor: Any, account: Account, data: Mapping[str, Any]) -> Contact:
    account = Account.objects.select_for_update(of=("self",)).select_related("owner__team").get(pk=account.pk)
    require(actor, Action.EDIT_ACCOUNT, account)
    contact = Contact(account=account)
    errors = FieldErrors()
    _apply_contact(contact, data, errors)
    if not account.contacts.filter(is_primary=True).exists():
        contact.is_primary = True
    errors.full_clean(contact, exclude=["account"] + (["is_primary"] if contact.is_primary else []))
    errors.raise_if_any()
    if contact.is_primary:
        Contact.objects.filter(account=account, is_primary=True).update(is_primary=False)
    contact.save()
    audit_record(
        actor=actor,
        action="CONTACT_ADDED",
        instance=contact,
        account_id=account.pk,
        changes=diff({}, snapshot(contact, CONTACT_FIELDS)),
    )
    return contact


@transaction.atomic
def contact_update(*, actor: Any, contact: Contact, data: Mapping[str, Any]) -> Contact:
    contact = Contact.objects.select_for_update(of=("self",)).select_related("account__owner__team").get(pk=contact.pk)
    require(actor, Action.EDIT_ACCOUNT, contact.account)
    before = snapshot(contact, CONTACT_FIELDS)
    errors = FieldErrors()
    _apply_contact(contact, data, errors)
    errors.full_clean(contact, exclude=["account", "is_primary"])
    errors.raise_if_any()
    _make_primary(contact)
    contact.save()
    changes = diff(before, snapshot(contact, CONTACT_FIELDS))
    if changes:
        audit_record(
            actor=actor, action="CONTACT_UPDATED", instance=contact, account_id=contact.account_id, changes=changes
        )
    return contact


@transaction.atomic
def contact_remove(*, actor: Any, contact: Contact) -> None:
    contact = Contact.objects.select_for_update(of=("self",)).select_related("account__owner__team").get(pk=contact.pk)
    require(actor, Action.EDIT_ACCOUNT, contact.account)
    audit_record(
        actor=actor,
        action="CONTACT_REMOVED",
        instance=contact,
        account_id=contact.account_id,
        changes=diff(snapshot(contact, CONTACT_FIELDS), {}),
    )
    contact.delete()


def activity_add(
    *,
    account: Account,
    kind: str,
    subject: str = "",
    event: str = "",
    params: Mapping[str, Any] | None = None,
    actor: Any = None,
    body: str = "",
    occurred_at: dt.datetime | None = None,
    ref: Any = None,
) -> Activity:
    """Put an entry on the account's timeline (called by other services, not checked here).

    Services give an ``event`` from ``timeline.EVENTS`` with its ``params`` so each reader
    sees the entry in their own language; people's notes give a ``subject``.
    """
    params = {k: str(v) for k, v in (params or {}).items()}
    return Activity.objects.create(
        account=account,
        kind=kind,
        subject=(render_stored(event, params) if event else subject)[:200],
        event=event,
        params=params,
        body=body,
        actor=actor if getattr(actor, "pk", None) else None,
        occurred_at=occurred_at or timezone.now(),
        private=kind in Activity.PRIVATE_KINDS,
        ref_type=(ref._meta.model_name or "") if ref is not None else "",
        ref_id=str(ref.pk) if ref is not None else "",
    )


@transaction.atomic
def note_add(
    *, actor: Any, account: Account, kind: str, subject: str, body: str = "", occurred_at: dt.datetime | None = None
) -> Activity:
    """A salesperson logs a note, call or meeting."""
    require(actor, Action.EDIT_ACCOUNT, account)
    errors = FieldErrors()
    if kind not in {"note", "call", "meeting"}:
        errors.add("kind", _("Choose note, call or meeting."))
    if not subject.strip():
        errors.add("subject", _("This field is required."))
    if len(subject) > 200:
        errors.add("subject", _("At most 200 characters."))
    in_range = errors.check_date("occurred_at", occurred_at)
    if in_range and occurred_at is not None and occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors.add("occurred_at", _("A logged activity cannot be in the future."))
    errors.raise_if_any()
    activity = activity_add(
        account=account, kind=kind, subject=subject.strip(), body=body, actor=actor, occurred_at=occurred_at
    )
    audit_record(
        actor=actor,
        action=f"{kind.upper()}_LOGGED",
        instance=activity,
        account_id=account.pk,
        # Notes are private: the trail says one was logged, the timeline holds what it says.
        changes={"kind": [None, kind]},
    )
    return activity


@transaction.atomic
def email_send(*, actor: Any, account: Account, contact: Contact, subject: str, body: str) -> Activity:
    """Email a contact who consented; the message leaves through the queue after commit."""
    require(actor, Action.EDIT_ACCOUNT, account)
    errors = FieldErrors()
    if contact.account_id != account.pk:
        errors.add("contact", _("This contact belongs to another account."))
    elif not contact.email:
        errors.add("contact", _("This contact has no email address."))
    elif not contact.email_consent:
        errors.add("contact", _("This contact has not consented to email."))
    if not subject.strip():
        errors.add("subject", _("This field is required."))
    if not body.strip():
        errors.add("body", _("This field is required."))
    errors.raise_if_any()
    activity = activity_add(account=account, kind="email", subject=subject.strip(), body=body, actor=actor, ref=contact)
    audit_record(
        actor=actor,
        action="EMAIL_SENT",
        instance=activity,
        account_id=account.pk,
        changes={"to": [None, contact.email], "subject": [None, activity.subject]},
    )
    from .tasks import send_account_email

    transaction.on_commit(lambda: send_account_email(activity.pk, contact.email))
    return activity
