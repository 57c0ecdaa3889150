"""Writing rebate programs and agreements: each change checked field by field, audited, atomic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.discounts.messages import problem_text
from patron.discounts.services import check_references
from patron.domain.access import Action
from patron.domain.money import CURRENCIES
from patron.domain.pricing.rules import parse_who
from patron.domain.problems import DefinitionError, Reader

from . import accrual
from .mappers import merged_terms, period_of
from .models import RebateAgreement, RebateProgram

Errors = dict[str, list[str]]
PROGRAM_FIELDS = (
    "name",
    "description",
    "customer_text",
    "period_kind",
    "effective_from",
    "effective_to",
    "currency",
    "terms",
    "eligibility",
    "payout_form",
    "settlement_lag_days",
)


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_REBATES):
        raise PermissionDenied(Action.EDIT_REBATES.value)


def _definition_errors(exc: DefinitionError, errors: Errors, prefix: str) -> None:
    for problem in exc.problems:
        errors.setdefault(f"{prefix}.{problem.path}" if problem.path else prefix, []).append(problem_text(problem))


def check_terms(data: Any, errors: Errors, prefix: str = "terms") -> None:
    from patron.domain.rebates import parse_terms

    try:
        parse_terms(data)
    except DefinitionError as exc:
        _definition_errors(exc, errors, prefix)
        return
    check_references({"what": data.get("what") or {}}, errors, prefix=f"{prefix}.")


def _date(value: Any, name: str, errors: Errors, *, required: bool = False) -> dt.date | None:
    if value in (None, ""):
        if required:
            errors.setdefault(name, []).append(_("This is required."))
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(name, []).append(_("Give a date as YYYY-MM-DD."))
        return None


def _program_values(data: Mapping[str, Any], instance: RebateProgram | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if instance is not None:
        merged.update({f: getattr(instance, f) for f in PROGRAM_FIELDS})
    merged.update({k: v for k, v in data.items() if k in PROGRAM_FIELDS})
    errors: Errors = {}
    for name in sorted(set(data) - set(PROGRAM_FIELDS)):
        errors.setdefault(name, []).append(_("Unknown field."))
    name = str(merged.get("name") or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("This is required."))
    elif len(name) > 200:
        errors.setdefault("name", []).append(_("At most 200 characters."))
    kinds = dict(RebateProgram.PERIODS)
    if merged.get("period_kind", "quarter") not in kinds:
        errors.setdefault("period_kind", []).append(_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(kinds)})
    start = _date(merged.get("effective_from"), "effective_from", errors, required=True)
    end = _date(merged.get("effective_to"), "effective_to", errors)
    if start and end and end <= start:
        errors.setdefault("effective_to", []).append(_("This window is empty: it ends before it starts."))
    if merged.get("period_kind") == "custom" and end is None and "effective_to" not in errors:
        errors.setdefault("effective_to", []).append(_("A program with custom dates needs an end."))
    currency = merged.get("currency") or "CNY"
    if currency not in CURRENCIES:
        errors.setdefault("currency", []).append(_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(CURRENCIES)})
    forms = dict(RebateProgram.PAYOUTS)
    if merged.get("payout_form", "credit_note") not in forms:
        errors.setdefault("payout_form", []).append(_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(forms)})
    lag = merged.get("settlement_lag_days", 30)
    if isinstance(lag, bool) or not isinstance(lag, int) or not 0 <= lag <= 366:
        errors.setdefault("settlement_lag_days", []).append(
            _("Must be between %(min)s and %(max)s.") % {"min": 0, "max": 366}
        )
    terms = merged.get("terms")
    check_terms(terms, errors)
    eligibility = merged.get("eligibility") or {}
    reader = Reader()
    parse_who(reader, eligibility, "eligibility")
    for problem in reader.problems.items:
        errors.setdefault(problem.path, []).append(problem_text(problem))
    if isinstance(eligibility, Mapping) and not reader.problems.items:
        found: Errors = {}
        check_references({"who": eligibility}, found)
        errors.update({"eligibility" + k.removeprefix("who"): v for k, v in found.items()})
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "description": str(merged.get("description") or ""),
        "customer_text": str(merged.get("customer_text") or ""),
        "period_kind": merged.get("period_kind") or "quarter",
        "effective_from": start,
        "effective_to": end,
        "currency": currency,
        "terms": terms,
        "eligibility": dict(eligibility),
        "payout_form": merged.get("payout_form") or "credit_note",
        "settlement_lag_days": lag,
    }


def program_create(*, actor: Any, data: Mapping[str, Any]) -> RebateProgram:
    """A new program, always a draft: it earns nothing until activated."""
    require_editor(actor)
    values = _program_values(data, None)
    program = RebateProgram.objects.create(owner=actor, **values)
    audit_record(actor=actor, action="REBATE_PROGRAM_CREATED", instance=program, changes={"name": [None, program.name]})
    return program


@transaction.atomic
def program_update(*, actor: Any, program: RebateProgram, data: Mapping[str, Any]) -> RebateProgram:
    """Terms change only while a draft: what accounts earned must not move under them."""
    require_editor(actor)
    program = RebateProgram.objects.select_for_update().get(pk=program.pk)
    if program.status == RebateProgram.CLOSED:
        raise Conflict(_("A closed program cannot change."), "status")
    locked = {"terms", "period_kind", "effective_from", "currency"}
    if program.status == RebateProgram.ACTIVE and locked & set(data):
        message = _("An active program's terms, period, start and currency are fixed; close it and start a new one.")
        raise Conflict(message, "status")
    values = _program_values(data, program)
    changes = {k: [str(getattr(program, k)), str(v)] for k, v in values.items() if getattr(program, k) != v}
    if changes:
        for name, value in values.items():
            setattr(program, name, value)
        program.version += 1
        program.save()
        audit_record(actor=actor, action="REBATE_PROGRAM_UPDATED", instance=program, changes=changes)
    return program


TRANSITIONS = {
    RebateProgram.DRAFT: {RebateProgram.ACTIVE},
    RebateProgram.ACTIVE: {RebateProgram.CLOSED},
    RebateProgram.CLOSED: set(),
}


@transaction.atomic
def program_set_status(*, actor: Any, program: RebateProgram, status: str) -> RebateProgram:
    """Draft -> active -> closed. Activating sums what the agreements' accounts bought this period so far."""
    require_editor(actor)
    program = RebateProgram.objects.select_for_update().get(pk=program.pk)
    if status == program.status:
        return program
    if status not in TRANSITIONS.get(program.status, set()):
        raise Conflict(
            _("A %(from)s program cannot become %(to)s.") % {"from": program.get_status_display(), "to": status},
            "status",
        )
    before = program.status
    program.status = status
    program.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor, action=f"REBATE_PROGRAM_{status.upper()}", instance=program, changes={"status": [before, status]}
    )
    if status == RebateProgram.ACTIVE:
        accrual.accruals_rebuild(program, timezone.localdate())
    return program


@transaction.atomic
def agreement_create(
    *,
    actor: Any,
    program: RebateProgram,
    account: Account,
    signed_on: Any,
    valid_from: Any = None,
    valid_to: Any = None,
    terms: Mapping[str, Any] | None = None,
) -> RebateAgreement:
    """Tie an account to a program; orders already recorded in the current period count from ``valid_from``."""
    require_editor(actor)
    if not can(actor, Action.VIEW_ACCOUNT, account):
        raise PermissionDenied(Action.VIEW_ACCOUNT.value)
    errors: Errors = {}
    signed = _date(signed_on, "signed_on", errors, required=True)
    start = _date(valid_from, "valid_from", errors) or program.effective_from
    end = _date(valid_to, "valid_to", errors) or program.effective_to
    if start and end and end <= start:
        errors.setdefault("valid_to", []).append(_("This window is empty: it ends before it starts."))
    if program.status == RebateProgram.CLOSED:
        errors.setdefault("program", []).append(_("This program is closed."))
    if terms:
        unknown = sorted(set(terms) - {"tiers", "threshold", "cap", "mode"})
        for name in unknown:
            errors.setdefault(f"terms.{name}", []).append(
                _("Only tiers, threshold, cap and mode can differ per account.")
            )
        check_terms(merged_terms(program.terms, terms), errors)
    if RebateAgreement.objects.filter(program=program, account=account).exists():
        errors.setdefault("account", []).append(_("This account already has an agreement in this program."))
    if errors or signed is None:
        raise ValidationError(errors)
    agreement = RebateAgreement.objects.create(
        program=program,
        account=account,
        signed_on=signed,
        valid_from=start,
        valid_to=end,
        terms=dict(terms) if terms else None,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="REBATE_AGREEMENT_SIGNED",
        instance=agreement,
        account_id=account.pk,
        changes={"program": [None, program.name], "valid_from": [None, str(start)]},
    )
    if program.status == RebateProgram.ACTIVE:
        today = timezone.localdate()
        if period_of(program, today).start < (end or dt.date.max):
            accrual.accruals_rebuild(program, today, agreements=[agreement])
    return agreement


OWN_TERMS = ("tiers", "threshold", "cap", "mode")


@transaction.atomic
def agreement_update(
    *, actor: Any, agreement: RebateAgreement, valid_to: Any = None, terms: Mapping[str, Any] | None = None
) -> RebateAgreement:
    """An agreement's end and its own terms (none: the program's). What the account accrued in the open
    period is summed again under the new terms; settled periods stay as they were paid."""
    require_editor(actor)
    agreement = RebateAgreement.objects.select_for_update().select_related("program", "account").get(pk=agreement.pk)
    if not can(actor, Action.VIEW_ACCOUNT, agreement.account):
        raise PermissionDenied(Action.VIEW_ACCOUNT.value)
    program = agreement.program
    errors: Errors = {}
    end = _date(valid_to, "valid_to", errors)
    if end is not None and end <= agreement.valid_from:
        errors.setdefault("valid_to", []).append(_("This window is empty: it ends before it starts."))
    own = {k: v for k, v in (terms or {}).items() if k in OWN_TERMS} or None
    for name in sorted(set(terms or {}) - set(OWN_TERMS)):
        errors.setdefault(f"terms.{name}", []).append(_("Only tiers, threshold, cap and mode can differ per account."))
    if own:
        check_terms(merged_terms(program.terms, own), errors)
    if program.status == RebateProgram.CLOSED:
        errors.setdefault("program", []).append(_("This program is closed."))
    if errors:
        raise ValidationError(errors)
    before = {"valid_to": str(agreement.valid_to), "terms": agreement.terms}
    agreement.valid_to, agreement.terms = end, own
    agreement.save(update_fields=["valid_to", "terms"])
    after = {"valid_to": str(end), "terms": own}
    audit_record(
        actor=actor,
        action="REBATE_AGREEMENT_CHANGED",
        instance=agreement,
        account_id=agreement.account_id,
        changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
    )
    if program.status == RebateProgram.ACTIVE:
        accrual.accruals_rebuild(program, timezone.localdate(), agreements=[agreement])
    return agreement
