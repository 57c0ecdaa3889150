"""Writing coupon campaigns and issuing their codes; every change audited.

Codes are drawn by ``patron.domain.coupons.codes`` (unguessable, with a check character) and
written in batches; a clash with a code already stored (one in 2^49 per pair) is drawn again.
A rebate paid "as a discount on future orders" becomes one code bound to the account, worth
the rebate, usable once, in Patron's own campaign for such payouts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.domain.access import Action
from patron.domain.coupons import codes
from patron.domain.coupons.terms import coupon_terms_to_dict, parse_coupon_terms
from patron.domain.problems import DefinitionError
from patron.sales.models import CURRENCY_CHOICES

from .models import Campaign, Coupon
from .redemption import issued_until

Errors = dict[str, list[str]]
MAX_ISSUE = 1_000_000
BATCH = 5000
REBATE_CAMPAIGN = "Rebates paid as discounts"
REBATE_VALID_DAYS = 365


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_COUPONS):
        raise PermissionDenied(Action.EDIT_COUPONS.value)


def _moment(value: Any, name: str, errors: Errors, *, required: bool = False) -> dt.datetime | None:
    if value in (None, ""):
        if required:
            errors.setdefault(name, []).append(_("This field is required."))
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            errors.setdefault(name, []).append(_("Give a date and time as YYYY-MM-DDTHH:MM."))
            return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    from patron.discounts.messages import problem_text

    errors: Errors = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most %(n)s characters.") % {"n": 200}]
    terms_data = data.get("terms")
    terms = None
    try:
        terms = parse_coupon_terms(terms_data)
    except DefinitionError as exc:
        for problem in exc.problems:
            errors.setdefault(f"terms.{problem.path}" if problem.path else "terms", []).append(problem_text(problem))
    currency = data.get("currency") or "CNY"
    if currency not in dict(CURRENCY_CHOICES):
        errors["currency"] = [_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(CURRENCY_CHOICES))}]
    starts = _moment(data.get("starts_at"), "starts_at", errors, required=True)
    ends = _moment(data.get("ends_at"), "ends_at", errors)
    if starts and ends and ends <= starts:
        errors.setdefault("ends_at", []).append(_("This window is empty: it ends before it starts."))
    prefix = ""
    try:
        prefix = codes.check_prefix(str(data.get("prefix") or ""))
    except codes.CodeError:
        errors["prefix"] = [_("Up to 12 letters and digits.")]
    if errors:
        raise ValidationError(errors)
    assert terms is not None
    return {
        "name": name,
        "description": str(data.get("description") or ""),
        "customer_text": str(data.get("customer_text") or ""),
        "kind": terms.kind,
        "terms": coupon_terms_to_dict(terms),
        "currency": currency,
        "starts_at": starts,
        "ends_at": ends,
        "prefix": prefix,
    }


@transaction.atomic
def campaign_create(*, actor: Any, data: Mapping[str, Any]) -> Campaign:
    require_editor(actor)
    campaign = Campaign.objects.create(owner=actor, **_values(data))
    audit_record(
        actor=actor,
        action="COUPON_CAMPAIGN_CREATED",
        instance=campaign,
        changes={"name": [None, campaign.name], "terms": [None, campaign.terms]},
    )
    return campaign


TRANSITIONS = {Campaign.DRAFT: {Campaign.ACTIVE}, Campaign.ACTIVE: {Campaign.ENDED}, Campaign.ENDED: set()}


@transaction.atomic
def campaign_set_status(*, actor: Any, campaign: Campaign, status: str) -> Campaign:
    require_editor(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == status:
        return campaign
    if status not in TRANSITIONS.get(campaign.status, set()):
        raise Conflict(
            _("A %(from)s campaign cannot become %(to)s.") % {"from": campaign.status, "to": status}, "status"
        )
    before, campaign.status = campaign.status, status
    campaign.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor, action=f"COUPON_CAMPAIGN_{status.upper()}", instance=campaign, changes={"status": [before, status]}
    )
    return campaign


def write_codes(
    campaign: Campaign, count: int, accounts: Sequence[int | None], issued: dt.datetime, source: str
) -> list[str]:
    terms = parse_coupon_terms(campaign.terms)
    until = issued_until(campaign, terms, issued)
    made: list[str] = []
    while len(made) < count:
        want = min(BATCH, count - len(made))
        batch = codes.new_codes(want, campaign.prefix)
        rows = [
            Coupon(
                campaign=campaign,
                code=code,
                account_id=accounts[len(made) + i] if accounts else None,
                source=source,
                issued_at=issued,
                valid_until=until,
            )
            for i, code in enumerate(batch)
        ]
        try:
            with transaction.atomic():
                Coupon.objects.bulk_create(rows)
        except IntegrityError:
            continue  # a code already stored: draw the batch again
        made += batch
    return made


@transaction.atomic
def codes_issue(
    *, actor: Any, campaign: Campaign, count: int | None = None, accounts: Sequence[int] | None = None
) -> list[str]:
    """``count`` codes for anyone, or one code bound to each of ``accounts``."""
    require_editor(actor)
    if campaign.status == Campaign.ENDED:
        raise Conflict(_("An ended campaign issues no codes."), "status")
    wanted = len(accounts) if accounts is not None else (count or 0)
    if not 1 <= wanted <= MAX_ISSUE:
        raise ValidationError({"count": [_("Must be between %(min)s and %(max)s.") % {"min": 1, "max": MAX_ISSUE}]})
    made = write_codes(campaign, wanted, list(accounts or []), timezone.now(), Coupon.GENERATED)
    audit_record(actor=actor, action="COUPON_CODES_ISSUED", instance=campaign, changes={"codes": [None, len(made)]})
    return made


def rebate_coupon_issue(*, account: Any, amount: Decimal, currency: str, reason: str, now: dt.datetime) -> Coupon:
    """A rebate paid as a discount on future orders: one code for the account, worth ``amount``, used once."""
    campaign, _created = Campaign.objects.get_or_create(
        internal=True,
        kind="rebate",
        currency=currency,
        defaults={
            "name": REBATE_CAMPAIGN,
            "terms": coupon_terms_to_dict(
                parse_coupon_terms(
                    {
                        "kind": "rebate",
                        "benefit": {"kind": "cart_amount_off", "amount": "1"},  # each code carries its own amount
                        "valid_days": REBATE_VALID_DAYS,
                    }
                )
            ),
            "starts_at": now,
            "status": Campaign.ACTIVE,
        },
    )
    (code,) = write_codes(campaign, 1, [account.pk], now, Coupon.REBATE)
    coupon = Coupon.objects.get(code=code)
    coupon.amount = amount
    coupon.note = reason[:200]
    coupon.save(update_fields=["amount", "note"])
    return coupon
