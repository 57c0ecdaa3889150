"""Writing coupon campaigns and issuing their codes; every change audited.

Codes are drawn by ``patron.domain.coupons.codes`` (unguessable, with a check character) and
written in batches; a clash with a code already stored (one in 2^49 per pair) is drawn again.
A rebate paid "as a discount on future orders" becomes one code bound to the account, worth
the rebate, usable once, in Patron's own campaign for such payouts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.audit.services import audit_record
from patron.core.bulk import BulkInsert
from patron.core.errors import Conflict
from patron.domain.access import Action
from patron.domain.coupons import codes
from patron.domain.coupons.terms import codes_within_budget, coupon_terms_to_dict, face_value, parse_coupon_terms
from patron.domain.problems import DefinitionError
from patron.sales.models import CURRENCY_CHOICES

from .models import CHANNELS, EMAIL, Campaign, Coupon
from .redemption import issued_until

Errors = dict[str, list[str]]
MAX_ISSUE = 1_000_000
BATCH = 5000
REBATE_CAMPAIGN = "Rebates paid as discounts"
REBATE_VALID_DAYS = 365


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_COUPONS):
        raise PermissionDenied(Action.EDIT_COUPONS.value)


def refuse_for_points(campaign: Campaign) -> None:
    """A points exchange's codes are had for points only: never issued, sent, shared or imported for free."""
    if campaign.kind == "points_exchange":
        raise Conflict(_("A points exchange's codes are had for points only."), "kind")


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
    kind = terms.kind if terms is not None else None
    if kind == "holiday" and ends is None and "ends_at" not in errors:
        errors["ends_at"] = [_("A holiday campaign ends: give the last day of the holiday.")]
    auto = bool(data.get("auto_issue"))
    if auto and kind in ("points_exchange", "rebate"):
        errors["auto_issue"] = [_("Points are exchanged for codes on request, not automatically.")]
    target = data.get("target") or {}
    target_problems(target, errors)
    try:
        holdout = int(data.get("holdout_percent") or 0)
    except (TypeError, ValueError):
        holdout = -1
    if not 0 <= holdout <= 50:
        errors["holdout_percent"] = [_("Must be between %(min)s and %(max)s.") % {"min": 0, "max": 50}]
    channel = data.get("channel") or EMAIL
    if channel not in dict(CHANNELS):
        errors["channel"] = [_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(CHANNELS))}]
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
        "auto_issue": auto,
        "target": dict(target),
        "holdout_percent": holdout,
        "channel": channel,
    }


def target_problems(target: Any, errors: Errors) -> None:
    from patron.discounts.messages import problem_text
    from patron.domain.pricing.rules import parse_who
    from patron.domain.problems import Reader

    reader = Reader()
    parse_who(reader, target, "target")
    for problem in reader.problems.items:
        errors.setdefault(problem.path, []).append(problem_text(problem))


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


def coupon_rows() -> BulkInsert:
    return BulkInsert(Coupon, ["campaign_id", "code", "account_id", "source", "issued_at", "valid_until"])


def within_budget(campaign: Campaign, terms: Any, count: int) -> None:
    """Refuse ``count`` more codes if the budget's worth of codes at face value would be out; the campaign's
    row is locked while they are counted."""
    if terms.budget is None:
        return
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    room = codes_within_budget(terms, Coupon.objects.filter(campaign=campaign, cancelled_at__isnull=True).count())
    if room is not None and count > room:
        raise Conflict(
            _("The budget covers %(room)s more codes at %(face)s each; %(count)s are asked for.")
            % {"room": room, "face": face_value(terms), "count": count},
            "budget",
        )


def write_codes(
    campaign: Campaign, count: int, accounts: Sequence[int | None], issued: dt.datetime, source: str
) -> list[str]:
    """``count`` new codes of the campaign (bound to ``accounts`` in order, if given), within its budget: a
    budget's worth of codes at their face value out, issuing stops (the campaign's row is locked while
    they are counted). In the caller's transaction."""
    terms = parse_coupon_terms(campaign.terms)
    until = issued_until(campaign, terms, issued)
    within_budget(campaign, terms, count)
    made: list[str] = []
    while len(made) < count:
        want = min(BATCH, count - len(made))
        batch = codes.new_codes(want, campaign.prefix)
        rows = [
            (campaign.pk, code, accounts[len(made) + i] if accounts else None, source, issued, until)
            for i, code in enumerate(batch)
        ]
        try:
            # COPY on PostgreSQL (a million codes in seconds); its errors read as Django's, so a clash is caught.
            with transaction.atomic(), connection.wrap_database_errors:
                coupon_rows().insert(rows)
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
    refuse_for_points(campaign)
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


def points_text(value: Decimal) -> str:
    """Points as people write them: 300, 12.5 (not 300.00)."""
    return format(value.normalize(), "f")


@transaction.atomic
def points_exchange(*, actor: Any, campaign: Campaign, account: Any) -> Coupon:
    """The account spends the campaign's points from its ledger for one code bound to it.

    The account's row is locked while its balance is read and the points taken, so two exchanges at
    once never spend the same points twice; a balance short of the cost refuses with how many are
    missing."""
    from patron.accounts.access import visible_accounts
    from patron.accounts.models import Account
    from patron.rebates.models import PointsEntry
    from patron.rebates.settlement import points_balance

    if not (can(actor, Action.EDIT_COUPONS) or visible_accounts(actor).filter(pk=account.pk).exists()):
        raise PermissionDenied(Action.EDIT_COUPONS.value)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.kind != "points_exchange":
        raise Conflict(_("This campaign does not exchange points."), "campaign")
    if campaign.status != Campaign.ACTIVE:
        raise Conflict(_("This coupon's campaign is not running."), "status")
    terms = parse_coupon_terms(campaign.terms)
    cost = terms.points or Decimal(0)
    Account.objects.select_for_update().filter(pk=account.pk).first()
    balance = points_balance(account.pk, timezone.localdate())
    if balance < cost:
        raise ValidationError(
            {
                "points": [
                    _("%(cost)s points are needed; the account has %(balance)s (%(missing)s missing).")
                    % {
                        "cost": points_text(cost),
                        "balance": points_text(balance),
                        "missing": points_text(cost - balance),
                    }
                ]
            }
        )
    now = timezone.now()
    (code,) = write_codes(campaign, 1, [account.pk], now, Coupon.GENERATED)
    coupon = Coupon.objects.get(code=code)
    PointsEntry.objects.create(account_id=account.pk, points=-cost, reason=f"coupon {campaign.name}"[:200])
    coupon.note = _("For %(points)s points") % {"points": points_text(cost)}
    coupon.save(update_fields=["note"])
    audit_record(
        actor=actor,
        action="COUPON_POINTS_EXCHANGED",
        instance=campaign,
        changes={"account": [None, account.pk], "points": [str(balance), str(balance - cost)], "code": [None, code]},
    )
    return coupon


SHARED_CODE = re.compile(r"^[A-Z0-9]{4,32}$")
IMPORTED_CODE = re.compile(r"^[A-Z0-9]{4,64}$")
MAX_IMPORT = 200_000


@transaction.atomic
def shared_code_create(*, actor: Any, campaign: Campaign, code: str) -> Coupon:
    """One public code anybody may give ("SPRING2026"): the campaign's uses per account and budget hold;
    its uses per code do not (it is meant for many)."""
    require_editor(actor)
    if campaign.status == Campaign.ENDED:
        raise Conflict(_("An ended campaign issues no codes."), "status")
    refuse_for_points(campaign)
    normalized = codes.normalize(code)
    if not SHARED_CODE.match(normalized):
        raise ValidationError({"code": [_("A shared code is 4 to 32 letters and digits.")]})
    if Coupon.objects.filter(code=normalized).exists():
        raise ValidationError({"code": [_("This code is taken.")]})
    terms = parse_coupon_terms(campaign.terms)
    coupon = Coupon.objects.create(
        campaign=campaign,
        code=normalized,
        source=Coupon.SHARED,
        issued_at=timezone.now(),
        valid_until=issued_until(campaign, terms, timezone.now()),
    )
    audit_record(actor=actor, action="COUPON_SHARED_CODE", instance=campaign, changes={"code": [None, normalized]})
    return coupon


@transaction.atomic
def codes_import(*, actor: Any, campaign: Campaign, data: bytes, file_name: str) -> int:
    """Codes printed or made by a partner, from a CSV or Excel file with a ``code`` column and, optionally,
    an ``account`` column (the account's code). All or nothing: every bad row is named."""
    from patron.accounts.models import Account
    from patron.imports.files import FileError, read_table
    from patron.imports.messages import file_error_text

    require_editor(actor)
    if campaign.status == Campaign.ENDED:
        raise Conflict(_("An ended campaign issues no codes."), "status")
    refuse_for_points(campaign)
    try:
        table = read_table(data, file_name)
    except FileError as exc:
        raise ValidationError({"file": [file_error_text(exc)]}) from exc
    headers = [h.strip().lower() for h in table.headers]
    if "code" not in headers:
        raise ValidationError({"file": [_("The file needs a column named “code”.")]})
    at_code, at_account = headers.index("code"), headers.index("account") if "account" in headers else None
    if len(table.rows) > MAX_IMPORT:
        raise ValidationError({"file": [_("At most %(n)s codes a file.") % {"n": MAX_IMPORT}]})
    errors: Errors = {}
    wanted: dict[str, tuple[int, str]] = {}
    for number, cells in table.rows:
        where = _("row %(n)s") % {"n": number}
        raw = str(cells[at_code] if at_code < len(cells) and cells[at_code] is not None else "")
        code = codes.normalize(raw)
        if not code:
            continue
        account = ""
        if at_account is not None and at_account < len(cells) and cells[at_account] is not None:
            account = str(cells[at_account]).strip()
        if not IMPORTED_CODE.match(code):
            errors.setdefault(where, []).append(_("“%(code)s”: 4 to 64 letters and digits.") % {"code": raw})
        elif code in wanted:
            errors.setdefault(where, []).append(
                _("“%(code)s” is given twice (first on row %(n)s).") % {"code": raw, "n": wanted[code][0]}
            )
        else:
            wanted[code] = (number, account)
    if not wanted and not errors:
        raise ValidationError({"file": [_("The file has no codes.")]})
    for start in range(0, len(wanted), 5000):
        chunk = list(wanted)[start : start + 5000]
        for taken in Coupon.objects.filter(code__in=chunk).values_list("code", flat=True):
            where = _("row %(n)s") % {"n": wanted[taken][0]}
            errors.setdefault(where, []).append(_("“%(code)s” is taken.") % {"code": taken})
    account_codes = {a for _n, a in wanted.values() if a}
    accounts = dict(Account.objects.filter(code__in=account_codes).values_list("code", "pk"))
    for number, account in wanted.values():
        if account and account not in accounts:
            where = _("row %(n)s") % {"n": number}
            errors.setdefault(where, []).append(_("No account has the code “%(code)s”.") % {"code": account})
    if errors:
        raise ValidationError(errors)
    terms = parse_coupon_terms(campaign.terms)
    now = timezone.now()
    within_budget(campaign, terms, len(wanted))
    until = issued_until(campaign, terms, now)
    Coupon.objects.bulk_create(
        [
            Coupon(
                campaign=campaign,
                code=code,
                account_id=accounts.get(account) if account else None,
                source=Coupon.IMPORTED,
                issued_at=now,
                valid_until=until,
            )
            for code, (_number, account) in wanted.items()
        ],
        batch_size=5000,
    )
    audit_record(actor=actor, action="COUPON_CODES_IMPORTED", instance=campaign, changes={"codes": [None, len(wanted)]})
    return len(wanted)


LIVE_FIELDS = ("name", "description", "customer_text", "ends_at")


@transaction.atomic
def campaign_update(*, actor: Any, campaign: Campaign, data: Mapping[str, Any]) -> Campaign:
    """A draft changes entirely; a running campaign only its words and its end (its codes are out on the
    terms they were given, and a later end may not cut short what was promised)."""
    require_editor(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.ENDED:
        raise Conflict(_("An ended campaign does not change."), "status")
    current = {
        "name": campaign.name,
        "description": campaign.description,
        "customer_text": campaign.customer_text,
        "terms": campaign.terms,
        "currency": campaign.currency,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "prefix": campaign.prefix,
        "auto_issue": campaign.auto_issue,
        "target": campaign.target,
        "holdout_percent": campaign.holdout_percent,
        "channel": campaign.channel,
    }
    if campaign.status == Campaign.ACTIVE:
        refused = sorted(k for k in data if k not in LIVE_FIELDS and data[k] != current.get(k))
        if refused:
            raise ValidationError({k: [_("A running campaign changes only its name, texts and end.")] for k in refused})
        values = _values({**current, **{k: data[k] for k in LIVE_FIELDS if k in data}})
        if values["ends_at"] is not None and values["ends_at"] < timezone.now():
            raise ValidationError({"ends_at": [_("A running campaign cannot end in the past: end it instead.")]})
    else:
        values = _values({**current, **data})
    changes = {k: [str(current[k]), str(v)] for k, v in values.items() if k in current and current[k] != v}
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.save()
    if changes:
        audit_record(actor=actor, action="COUPON_CAMPAIGN_CHANGED", instance=campaign, changes=changes)
    return campaign
