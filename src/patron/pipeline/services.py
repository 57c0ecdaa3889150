"""Writing opportunities: open one on an account, change it, move it through the stages, name who decides it,
attach the quotes and bids.

Whoever may edit an account may work on its opportunities; the owner must be a colleague who may edit it
too. Every change is audited and goes on the account's timeline. Moving to the stage it is in, adding a
decision maker already there with the same role, or removing one already gone changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can, require
from patron.accounts.models import Account, Contact
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.domain import pipeline as rules
from patron.domain.access import Action
from patron.domain.money import CURRENCIES, Money, MoneyError
from patron.staff.models import User

from .models import STAGES, Opportunity, OpportunityContact, OpportunityDocument, StageChange

# Documents: what may be attached, and how large (PATRON_PIPELINE_DOCUMENT_MAX_MB overrides the size).
DOCUMENT_EXTENSIONS = (
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".odt",
    ".ods",
    ".txt",
    ".csv",
    ".png",
    ".jpg",
    ".jpeg",
)
DOCUMENT_MAX_MB = 20

TIMELINE_KIND = "note"
MOVE_EVENTS = {
    rules.QUALIFICATION: "opportunity_to_qualification",
    rules.NEEDS_ANALYSIS: "opportunity_to_needs_analysis",
    rules.PROPOSAL: "opportunity_to_proposal",
    rules.NEGOTIATION: "opportunity_to_negotiation",
    rules.WON: "opportunity_won",
    rules.LOST: "opportunity_lost",
}


def document_max_bytes() -> int:
    return int(getattr(settings, "PATRON_PIPELINE_DOCUMENT_MAX_MB", DOCUMENT_MAX_MB)) * 1024 * 1024


def document_dir() -> Path:
    path = Path(settings.VAR_DIR) / "pipeline"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stage_label(stage: str) -> str:
    return str(dict(STAGES).get(stage, stage))


def _choose(errors: FieldErrors, field: str, value: Any, choices: list[tuple[str, Any]]) -> str:
    if value not in dict(choices):
        errors.add(field, _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(choices))})
    return str(value)


def _day(value: Any, field: str, errors: FieldErrors) -> dt.date | None:
    if value in (None, ""):
        errors.add(field, _("This field is required."))
        return None
    if isinstance(value, dt.datetime):
        day: dt.date = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            errors.add(field, _("Give a date as YYYY-MM-DD."))
            return None
    return day if errors.check_date(field, day) else None


def _probability(value: Any, errors: FieldErrors) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 100:
        errors.add("probability", _("A whole percent from 0 to 100."))
        return None
    return number


def _owner(actor: Any, account: Account, value: Any, errors: FieldErrors) -> User | None:
    owner = value
    if not isinstance(owner, User):
        owner = User.objects.filter(username=str(owner), is_active=True).first() if owner else actor
    if owner is None or not owner.is_active:
        errors.add("owner", _("No active user has this name."))
        return None
    if not can(owner, Action.EDIT_ACCOUNT, account):
        errors.add("owner", _("%(name)s may not work on this account.") % {"name": owner.display_name()})
        return None
    return owner


def _values(actor: Any, account: Account, data: Mapping[str, Any], errors: FieldErrors) -> dict[str, Any]:
    """The fields of ``data`` given, checked; stage, probability and lost reason are the caller's."""
    out: dict[str, Any] = {}
    if "name" in data:
        name = str(data.get("name") or "").strip()
        if not name:
            errors.add("name", _("This field is required."))
        elif len(name) > 200:
            errors.add("name", _("At most %(n)s characters.") % {"n": 200})
        out["name"] = name
    if "currency" in data:
        currency = str(data.get("currency") or "CNY").upper()
        if currency not in CURRENCIES:
            errors.add("currency", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(CURRENCIES)})
        out["currency"] = currency
    if "amount" in data:
        currency = out.get("currency") or str(data.get("_currency") or "CNY")
        raw = data.get("amount")
        if raw in (None, ""):
            errors.add("amount", _("This field is required."))
        elif currency in CURRENCIES:
            try:
                money = Money.parse(raw, currency)  # a float is refused: not exact
            except MoneyError:
                errors.add("amount", _("Give an amount such as 120000.00, with at most the currency's decimals."))
            else:
                if money.amount < 0:
                    errors.add("amount", _("The amount cannot be negative."))
                out["amount"] = money.rounded().amount  # as stored: to the minor unit
    if "expected_close" in data:
        out["expected_close"] = _day(data.get("expected_close"), "expected_close", errors)
    if "owner" in data:
        out["owner"] = _owner(actor, account, data.get("owner"), errors)
    if "next_step" in data:
        next_step = str(data.get("next_step") or "").strip()
        if len(next_step) > 300:
            errors.add("next_step", _("At most %(n)s characters.") % {"n": 300})
        out["next_step"] = next_step
    if "description" in data:
        out["description"] = str(data.get("description") or "")[:10000]
    if "probability" in data:
        out["probability"] = _probability(data.get("probability"), errors)
    return out


def _money_text(opportunity: Opportunity) -> str:
    return str(Money(opportunity.amount, opportunity.currency))


def _timeline(opportunity: Opportunity, event: str, actor: Any, params: Mapping[str, Any] | None = None) -> None:
    from patron.accounts.services import activity_add

    activity_add(
        account=opportunity.account,
        kind=TIMELINE_KIND,
        event=event,
        params={"subject": opportunity.name, **(params or {})},
        actor=actor,
        ref=opportunity,
    )


@transaction.atomic
def opportunity_create(*, actor: Any, account: Account, data: Mapping[str, Any]) -> Opportunity:
    """Open an opportunity on ``account`` in its first stage (qualification unless ``stage`` says otherwise)."""
    require(actor, Action.EDIT_ACCOUNT, account)
    if account.merged_into_id is not None:
        raise PermissionDenied(Action.EDIT_ACCOUNT.value)
    errors = FieldErrors()
    given = {"owner": account.owner if account.owner and can(account.owner, Action.EDIT_ACCOUNT, account) else actor}
    values = _values(actor, account, {**given, "currency": "CNY", **data}, errors)
    for required in ("name", "amount", "expected_close"):
        if required not in values and required not in errors.errors:
            errors.add(required, _("This field is required."))
    stage = _choose(errors, "stage", data.get("stage") or rules.QUALIFICATION, STAGES)
    lost_reason = str(data.get("lost_reason") or "").strip()
    if stage == rules.LOST and not lost_reason:
        errors.add("lost_reason", _("Say why it was lost."))
    if len(lost_reason) > rules.MAX_REASON:
        errors.add("lost_reason", _("At most %(n)s characters.") % {"n": rules.MAX_REASON})
    errors.raise_if_any()
    probability = values.pop("probability", None)
    if stage in rules.CLOSED_STAGES or probability is None:
        probability = rules.DEFAULT_PROBABILITY[stage]
    now = timezone.now()
    opportunity = Opportunity.objects.create(
        account=account,
        stage=stage,
        probability=probability,
        lost_reason=lost_reason if stage == rules.LOST else "",
        stage_since=now,
        closed_at=now if stage in rules.CLOSED_STAGES else None,
        created_by=actor,
        **values,
    )
    StageChange.objects.create(opportunity=opportunity, from_stage="", to_stage=stage, at=now, by=actor)
    _timeline(opportunity, "opportunity_created", actor, {"amount": _money_text(opportunity)})
    audit_record(
        actor=actor,
        action="OPPORTUNITY_CREATED",
        instance=opportunity,
        account_id=account.pk,
        changes={
            "name": [None, opportunity.name],
            "stage": [None, stage],
            "amount": [None, f"{opportunity.amount} {opportunity.currency}"],
            "expected_close": [None, opportunity.expected_close],
            "owner": [None, opportunity.owner_id],
        },
    )
    return opportunity


def _locked(opportunity: Opportunity) -> Opportunity:
    return (
        Opportunity.objects.select_for_update(of=("self",))
        .select_related("account", "account__owner__team")
        .get(pk=opportunity.pk)
    )


def may_work_on(actor: Any, opportunity: Opportunity) -> bool:
    """The opportunity's owner, or whoever may edit its account."""
    return getattr(actor, "pk", None) == opportunity.owner_id or can(actor, Action.EDIT_ACCOUNT, opportunity.account)


def _require_worker(actor: Any, opportunity: Opportunity) -> None:
    if not may_work_on(actor, opportunity) or not getattr(actor, "is_active", False):
        raise PermissionDenied(Action.EDIT_ACCOUNT.value)


@transaction.atomic
def opportunity_update(*, actor: Any, opportunity: Opportunity, data: Mapping[str, Any]) -> Opportunity:
    """Change the name, amount, currency, expected close, probability, owner, next step or description.

    The stage changes only by ``opportunity_move``; a closed opportunity's probability stays its stage's.
    """
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    errors = FieldErrors()
    if "stage" in data and data["stage"] not in (None, "", opportunity.stage):
        errors.add("stage", _("Move the opportunity to change its stage."))
    fields = {k: v for k, v in data.items() if k not in ("stage", "lost_reason")}
    if "amount" in fields and "currency" not in fields:
        fields["_currency"] = opportunity.currency
    elif "currency" in fields and "amount" not in fields:
        fields["amount"] = str(opportunity.amount)
    values = _values(actor, opportunity.account, fields, errors)
    if "lost_reason" in data and opportunity.stage == rules.LOST:
        reason = str(data.get("lost_reason") or "").strip()
        if not reason:
            errors.add("lost_reason", _("Say why it was lost."))
        elif len(reason) > rules.MAX_REASON:
            errors.add("lost_reason", _("At most %(n)s characters.") % {"n": rules.MAX_REASON})
        values["lost_reason"] = reason
    if "probability" in values:
        if values["probability"] is None:
            values["probability"] = rules.DEFAULT_PROBABILITY[opportunity.stage]
        if not opportunity.is_open and values["probability"] != rules.DEFAULT_PROBABILITY[opportunity.stage]:
            errors.add("probability", _("A won opportunity is certain and a lost one is not coming."))
    errors.raise_if_any()
    changes = {k: [getattr(opportunity, k), v] for k, v in values.items() if getattr(opportunity, k) != v}
    if not changes:
        return opportunity
    for key in changes:
        setattr(opportunity, key, values[key])
    opportunity.save(update_fields=[*changes, "updated_at"])
    if "owner" in changes:
        changes["owner"] = [changes["owner"][0].pk, changes["owner"][1].pk]
    _timeline(opportunity, "opportunity_changed", actor)
    audit_record(
        actor=actor,
        action="OPPORTUNITY_CHANGED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes=changes,
    )
    return opportunity


def _move_errors(move: rules.Move, current: str, target: str) -> None:
    errors = FieldErrors()
    codes = {r.code for r in move.reasons}
    if rules.UNKNOWN_STAGE in codes:
        errors.add("stage", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(rules.STAGES)})
    if rules.REASON_REQUIRED in codes:
        errors.add("lost_reason", _("Say why it was lost."))
    if rules.BAD_PROBABILITY in codes:
        errors.add("probability", _("A whole percent from 0 to 100."))
    errors.raise_if_any()
    if rules.CLOSED_TO_CLOSED in codes:
        raise Conflict(
            _("A %(from)s opportunity is closed: reopen it to an open stage before marking it %(to)s.")
            % {"from": stage_label(current).lower(), "to": stage_label(target).lower()},
            "stage",
        )


@transaction.atomic
def opportunity_move(
    *,
    actor: Any,
    opportunity: Opportunity,
    stage: str,
    probability: int | str | None = None,
    lost_reason: str = "",
    note: str = "",
) -> Opportunity:
    """Move to ``stage``, recording the change; the probability becomes the stage's default unless given.

    Won and lost close it (lost needs a reason); a closed one reopens to an open stage. Moving to the
    stage it is in changes nothing.
    """
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    errors = FieldErrors()
    given = _probability(probability, errors)
    if len(lost_reason.strip()) > rules.MAX_REASON:
        errors.add("lost_reason", _("At most %(n)s characters.") % {"n": rules.MAX_REASON})
    errors.raise_if_any()
    current = opportunity.stage
    move = rules.check_move(
        current,
        stage,
        probability=given,
        lost_reason=lost_reason,
        current_probability=opportunity.probability,
    )
    if not move.allowed:
        _move_errors(move, current, stage)
    if not move.changed:
        return opportunity
    now = timezone.now()
    before = {"stage": current, "probability": opportunity.probability, "closed_at": opportunity.closed_at}
    opportunity.stage, opportunity.probability, opportunity.stage_since = stage, move.probability, now
    if move.closes:
        opportunity.closed_at = now
    elif move.reopens or stage in rules.OPEN_STAGES:
        opportunity.closed_at = None
    opportunity.lost_reason = lost_reason.strip() if stage == rules.LOST else ""
    opportunity.save(update_fields=["stage", "probability", "stage_since", "closed_at", "lost_reason", "updated_at"])
    StageChange.objects.create(
        opportunity=opportunity,
        from_stage=current,
        to_stage=stage,
        at=now,
        by=actor,
        note=(lost_reason.strip() if stage == rules.LOST else note.strip())[:500],
    )
    params = {"amount": _money_text(opportunity)}
    if stage == rules.LOST:
        params = {"reason": opportunity.lost_reason}
    _timeline(opportunity, MOVE_EVENTS[stage], actor, params)
    audit_record(
        actor=actor,
        action="OPPORTUNITY_MOVED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes={
            "stage": [before["stage"], stage],
            "probability": [before["probability"], opportunity.probability],
            "closed_at": [before["closed_at"], opportunity.closed_at],
            **({"lost_reason": [None, opportunity.lost_reason]} if stage == rules.LOST else {}),
        },
    )
    return opportunity


# --- decision makers -------------------------------------------------------------------------------------------


@transaction.atomic
def opportunity_contact_add(
    *,
    actor: Any,
    opportunity: Opportunity,
    contact: Contact | int | str | None,
    role: str,
    attitude: str = "unknown",
    notes: str = "",
) -> OpportunityContact:
    """Name one of the account's contacts as a decision maker with their role; again: their role changes."""
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    errors = FieldErrors()
    contact_id = str(contact.pk if isinstance(contact, Contact) else contact or "")
    found = (
        Contact.objects.filter(pk=int(contact_id), account_id=opportunity.account_id).first()
        if contact_id.isdigit() and len(contact_id) < 19
        else None
    )
    if found is None:
        errors.add("contact", _("Choose one of the account's contacts."))
    _choose(errors, "role", role, OpportunityContact.ROLES)
    _choose(errors, "attitude", attitude or "unknown", OpportunityContact.ATTITUDES)
    if len(notes) > 500:
        errors.add("notes", _("At most %(n)s characters.") % {"n": 500})
    errors.raise_if_any()
    assert found is not None
    attitude = attitude or "unknown"
    existing = OpportunityContact.objects.filter(opportunity=opportunity, contact=found).first()
    if existing is not None:
        wanted = {"role": role, "attitude": attitude, "notes": notes.strip()}
        changes = {k: [getattr(existing, k), v] for k, v in wanted.items() if getattr(existing, k) != v}
        if changes:
            for key, (_old, new) in changes.items():
                setattr(existing, key, new)
            existing.save(update_fields=list(changes))
            audit_record(
                actor=actor,
                action="OPPORTUNITY_CONTACT_CHANGED",
                instance=opportunity,
                account_id=opportunity.account_id,
                changes={"contact": [found.pk, found.pk], **changes},
            )
        return existing
    made = OpportunityContact.objects.create(
        opportunity=opportunity,
        contact=found,
        role=role,
        attitude=attitude,
        notes=notes.strip(),
        added_by=actor,
    )
    _timeline(opportunity, "opportunity_contact_added", actor, {"name": found.name})
    audit_record(
        actor=actor,
        action="OPPORTUNITY_CONTACT_ADDED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes={"contact": [None, found.pk], "role": [None, role], "attitude": [None, attitude]},
    )
    return made


@transaction.atomic
def opportunity_contact_remove(*, actor: Any, opportunity: Opportunity, contact: Contact | int) -> bool:
    """Take a contact off the decision makers; False if they were not on it."""
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    contact_id = contact.pk if isinstance(contact, Contact) else contact
    row = (
        OpportunityContact.objects.filter(opportunity=opportunity, contact_id=contact_id)
        .select_related("contact")
        .first()
    )
    if row is None:
        return False
    name, role = row.contact.name, row.role
    row.delete()
    _timeline(opportunity, "opportunity_contact_removed", actor, {"name": name})
    audit_record(
        actor=actor,
        action="OPPORTUNITY_CONTACT_REMOVED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes={"contact": [contact_id, None], "role": [role, None]},
    )
    return True


# --- documents -------------------------------------------------------------------------------------------------


@transaction.atomic
def opportunity_document_attach(
    *, actor: Any, opportunity: Opportunity, file_name: str, data: bytes, kind: str = "quote", name: str = ""
) -> OpportunityDocument:
    """Keep a quote, bid or contract with the opportunity: a known kind of office file or image, not too large."""
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    errors = FieldErrors()
    _choose(errors, "kind", kind, OpportunityDocument.KINDS)
    base = Path(str(file_name or "").replace("\\", "/")).name.strip()
    suffix = Path(base).suffix.lower()
    if not base:
        errors.add("file", _("Choose a file."))
    elif suffix not in DOCUMENT_EXTENSIONS:
        errors.add(
            "file",
            _("Attach a document of one of these kinds: %(allowed)s.") % {"allowed": ", ".join(DOCUMENT_EXTENSIONS)},
        )
    if not data:
        errors.add("file", _("The file is empty."))
    elif len(data) > document_max_bytes():
        errors.add("file", _("The file is larger than %(mb)s MB.") % {"mb": document_max_bytes() // (1024 * 1024)})
    title = (str(name or "").strip() or Path(base).stem or base)[:200]
    errors.raise_if_any()
    stored_as = f"{uuid.uuid4().hex}{suffix}"
    path = document_dir() / stored_as
    path.write_bytes(data)  # as imports keep theirs; a rolled-back attach leaves an unreferenced file at worst
    document = OpportunityDocument.objects.create(
        opportunity=opportunity,
        kind=kind,
        name=title,
        file_name=base[:255],
        file_size=len(data),
        stored_as=stored_as,
        uploaded_by=actor,
    )
    _timeline(opportunity, "opportunity_document_attached", actor, {"name": document.name})
    audit_record(
        actor=actor,
        action="OPPORTUNITY_DOCUMENT_ATTACHED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes={"document": [None, document.pk], "file": [None, document.file_name], "size": [None, len(data)]},
    )
    return document


@transaction.atomic
def opportunity_document_remove(*, actor: Any, opportunity: Opportunity, document: OpportunityDocument) -> bool:
    """Remove a document and, once committed, its file; False if it was gone already."""
    opportunity = _locked(opportunity)
    _require_worker(actor, opportunity)
    row = OpportunityDocument.objects.filter(pk=document.pk, opportunity=opportunity).first()
    if row is None:
        return False
    path = document_dir() / row.stored_as
    name = row.name
    row.delete()
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
    _timeline(opportunity, "opportunity_document_removed", actor, {"name": name})
    audit_record(
        actor=actor,
        action="OPPORTUNITY_DOCUMENT_REMOVED",
        instance=opportunity,
        account_id=opportunity.account_id,
        changes={"document": [document.pk, None], "file": [row.file_name, None]},
    )
    return True


def document_path(document: OpportunityDocument) -> Path:
    return document_dir() / document.stored_as
