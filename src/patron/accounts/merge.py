"""Merge one account into another: everything the duplicate had moves over, and nothing is lost.

The account merged away is not deleted. Its row stays, marked ``merged_into``, so its
code still leads to the account it joined and the audit trail, which is append-only,
still points at something; the lists no longer show it (``access.scoped``). Its
orders, invoices, payments, contacts, timeline and anything a later app attaches to
an account move to the survivor: the relations are read from the model's metadata,
so a new app's records move without a change here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.audit.models import AuditEvent
from patron.audit.selectors import PRIVATE_FIELDS
from patron.audit.services import audit_record, diff, snapshot
from patron.core.errors import Conflict, FieldErrors
from patron.domain.access import Action

from . import duplicates
from .access import account_scope, require
from .models import Account, Contact, CustomField
from .services import ACCOUNT_FIELDS, activity_add

# The fields a user chooses between; the code stays the survivor's (the other keeps its own).
MERGE_FIELDS = tuple(f for f in ACCOUNT_FIELDS if f not in ("code", "custom"))
THIS, OTHER, BOTH = "this", "other", "both"
# Text fields whose two values may both be kept, one after the other.
JOINABLE = frozenset({"notes"})

# Records that describe an account rather than belong to it stay where they are: the
# audit trail is append-only (histories are read across merges instead, ``merged_history``),
# and the duplicate bookkeeping of the merged account is dropped or kept as it was decided.
# Segment memberships are dated history of that account; the next run closes them.
STAY = frozenset(
    {
        ("audit", "auditevent"),
        ("segments", "membership"),
        ("accounts", "accountmatchkey"),
        ("accounts", "accountmatchstate"),
        ("accounts", "duplicatepair"),
        ("accounts", "duplicatedismissal"),
    }
)


@dataclass(frozen=True)
class MergeResult:
    survivor: Account
    merged: Account
    already: bool  # the pair had been merged before; nothing was done this time
    moved: dict[str, int] = field(default_factory=dict)  # "app.model" -> rows moved


def custom_keys(survivor: Account, merged: Account) -> list[str]:
    """Custom field keys either account has a value for, in the admin's order."""
    keys = set(survivor.custom or {}) | set(merged.custom or {})
    ordered = [cf.key for cf in CustomField.objects.filter(key__in=keys)]
    return ordered + sorted(keys - set(ordered))


def _value(account: Account, name: str) -> Any:
    if name.startswith("custom."):
        return (account.custom or {}).get(name.removeprefix("custom."))
    model_field = Account._meta.get_field(name)
    if isinstance(model_field, models.ForeignKey):
        return getattr(account, model_field.attname)
    return getattr(account, name)


def _blank(value: Any) -> bool:
    return value is None or value == ""


def choosable(survivor: Account, merged: Account) -> list[str]:
    """The fields whose values differ, which the person merging chooses between."""
    names = [*MERGE_FIELDS, *(f"custom.{k}" for k in custom_keys(survivor, merged))]
    return [n for n in names if _value(survivor, n) != _value(merged, n)]


def default_choices(survivor: Account, merged: Account) -> dict[str, str]:
    """The survivor's values, with its blanks filled from the other account."""
    choices = {}
    for name in choosable(survivor, merged):
        choices[name] = OTHER if _blank(_value(survivor, name)) and not _blank(_value(merged, name)) else THIS
    kind = merged.kind if choices.get("kind") == OTHER else survivor.kind
    if choices.get("birthday") == OTHER and kind != Account.KIND_PERSON:
        choices["birthday"] = THIS  # only a person has a birthday
    return choices


def _check_choices(
    survivor: Account, merged: Account, choices: Mapping[str, Any], errors: FieldErrors
) -> dict[str, str]:
    allowed = set(choosable(survivor, merged))
    known = {*MERGE_FIELDS, *(f"custom.{k}" for k in custom_keys(survivor, merged))}
    result = default_choices(survivor, merged)
    if not isinstance(choices, Mapping):
        errors.add("fields", _("Give the fields as an object of field name and 'this' or 'other'."))
        return result
    for name, choice in choices.items():
        where = f"fields.{name}"
        if name not in known and not name.startswith("custom."):
            errors.add(where, _("Unknown field."))
        elif choice not in (THIS, OTHER, BOTH) or (choice == BOTH and name not in JOINABLE):
            options = "'this', 'other' or 'both'" if name in JOINABLE else "'this' or 'other'"
            errors.add(where, _("Choose %(options)s.") % {"options": options})
        elif name in allowed:
            result[name] = choice
        # A field both accounts have alike, or a custom field neither has: nothing to choose.
    return result


def _apply(survivor: Account, merged: Account, choices: Mapping[str, str], errors: FieldErrors) -> None:
    custom = dict(survivor.custom or {})
    for name, choice in choices.items():
        if choice == THIS:
            continue
        if name.startswith("custom."):
            key = name.removeprefix("custom.")
            value = (merged.custom or {}).get(key)
            if _blank(value):
                custom.pop(key, None)
            else:
                custom[key] = value
            continue
        if choice == BOTH:
            parts = [p for p in (survivor.notes.strip(), merged.notes.strip()) if p]
            setattr(survivor, name, "\n\n".join(parts))
            continue
        model_field = Account._meta.get_field(name)
        attname = model_field.attname if isinstance(model_field, models.ForeignKey) else name
        setattr(survivor, attname, getattr(merged, attname))
    # Values the other account never had still come over: the survivor's win where both have one.
    for key, value in (merged.custom or {}).items():
        if f"custom.{key}" not in choices and key not in custom and not _blank(value):
            custom[key] = value
    survivor.custom = custom
    if survivor.kind != Account.KIND_PERSON and survivor.birthday is not None:
        errors.add("fields.birthday", _("Only a person has a birthday; keep this account's empty birthday."))


def _account_snapshot(account: Account) -> dict[str, Any]:
    return snapshot(account, ACCOUNT_FIELDS) | {
        "tags": sorted(account.tags.values_list("name", flat=True)),
        "first_order_date": account.first_order_date,
        "last_order_date": account.last_order_date,
    }


def _model(rel: models.ForeignObjectRel) -> type[models.Model]:
    return cast(type[models.Model], rel.related_model)


def _reverse_relations() -> list[models.ForeignObjectRel]:
    """Every relation another model (or a join table) has to Account, hidden ones included."""
    relations = []
    for rel in Account._meta.get_fields(include_hidden=True):
        if not isinstance(rel, models.ForeignObjectRel) or rel.many_to_many:
            continue  # many-to-many rows are moved through their join table's own relation
        meta = _model(rel)._meta
        if (meta.app_label, meta.model_name) in STAY:
            continue
        relations.append(rel)
    return relations


def _move_contacts(survivor: Account, merged: Account) -> None:
    """The survivor's primary contact stays primary; the other's comes over as an ordinary contact."""
    if Contact.objects.filter(account=survivor, is_primary=True).exists():
        Contact.objects.filter(account=merged, is_primary=True).update(is_primary=False)


def _move(rel: models.ForeignObjectRel, survivor: Account, merged: Account) -> int:
    model = _model(rel)
    fk = rel.field
    rows = model._base_manager.filter(**{fk.name: merged})
    if model._meta.auto_created:
        # A join table (the survivor may already have the same tag): keep one row per pair.
        others = [f for f in model._meta.fields if isinstance(f, models.ForeignKey) and f.name != fk.name]
        if others:
            other = others[0].attname
            present = model._base_manager.filter(**{fk.name: survivor}).values(other)
            rows.filter(**{f"{other}__in": present}).delete()
    if rel.one_to_one and model._base_manager.filter(**{fk.name: survivor}).exists():
        return 0  # the survivor has its own; the other's stays with the merged account
    return int(rows.update(**{fk.attname: survivor.pk}))


def _earlier(survivor: Account, merged: Account) -> MergeResult:
    event = (
        AuditEvent.objects.filter(action="ACCOUNT_MERGED", account_id=survivor.pk, entity_id=str(survivor.pk))
        .order_by("-at", "-id")
        .filter(changes__merged_id=merged.pk)
        .first()
    )
    moved = dict((event.changes or {}).get("moved", {})) if event else {}
    return MergeResult(survivor=survivor, merged=merged, already=True, moved=moved)


@transaction.atomic
def account_merge(
    *, actor: Any, survivor: Account, merged: Account, choices: Mapping[str, Any] | None = None
) -> MergeResult:
    """Merge ``merged`` into ``survivor``; ``choices`` says per differing field whose value stays.

    Fields not chosen keep the survivor's value, blanks filled from the other account
    (``default_choices``); tags are united; custom fields keep the survivor's values and
    gain the other's. Needs ``MERGE_ACCOUNTS`` on both accounts. Merging a pair merged
    before returns that earlier result; merging into an account that was itself merged
    away is refused.
    """
    if survivor.pk == merged.pk:
        raise ValidationError({"other": [_("An account cannot be merged into itself.")]})
    # Both rows locked, lower id first, so two merges of the same pair queue rather than deadlock.
    locked = {
        a.pk: a
        for a in Account.objects.select_for_update(of=("self",))
        .select_related("owner__team")
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    require(actor, Action.MERGE_ACCOUNTS, survivor)
    require(actor, Action.MERGE_ACCOUNTS, merged)
    if merged.merged_into_id == survivor.pk:
        return _earlier(survivor, merged)
    if survivor.merged_into_id is not None:
        target = Account.objects.filter(pk=survivor.merged_into_id).values_list("code", flat=True).first()
        raise Conflict(
            _("%(code)s was merged into %(target)s; merge into that account instead.")
            % {"code": survivor.code, "target": target},
            field="account",
        )
    if merged.merged_into_id is not None:
        target = Account.objects.filter(pk=merged.merged_into_id).values_list("code", flat=True).first()
        raise Conflict(
            _("%(code)s was already merged into %(target)s.") % {"code": merged.code, "target": target},
            field="other",
        )

    errors = FieldErrors()
    chosen = _check_choices(survivor, merged, choices or {}, errors)
    errors.raise_if_any()
    before_survivor, before_merged = _account_snapshot(survivor), _account_snapshot(merged)
    _apply(survivor, merged, chosen, errors)
    errors.raise_if_any()
    errors.full_clean(survivor)
    errors.raise_if_any()

    _move_contacts(survivor, merged)
    moved: dict[str, int] = {}
    for rel in _reverse_relations():
        label = f"{_model(rel)._meta.app_label}.{_model(rel)._meta.model_name}"
        try:
            with transaction.atomic():
                count = _move(rel, survivor, merged)
        except IntegrityError as exc:
            raise Conflict(
                _("The %(records)s of %(code)s cannot be moved: the other account has the same ones.")
                % {"records": _model(rel)._meta.verbose_name_plural, "code": merged.code},
                field="other",
            ) from exc
        if count:
            moved[label] = moved.get(label, 0) + count

    dates = survivor.orders.filter(status="confirmed").aggregate(first=Min("order_date"), last=Max("order_date"))
    survivor.first_order_date, survivor.last_order_date = dates["first"], dates["last"]
    survivor.save()
    now = timezone.now()
    merged.merged_into, merged.merged_at, merged.merged_by = survivor, now, actor
    merged.save(update_fields=["merged_into", "merged_at", "merged_by", "updated_at"])
    duplicates.forget(merged)

    after = _account_snapshot(survivor)
    changes: dict[str, Any] = diff(before_survivor, after)
    changes |= {
        "merged_account": [None, f"{merged.code} {merged.name}"],
        "merged_id": merged.pk,
        "choices": chosen,
        "moved": moved,
        "snapshots": {"survivor": before_survivor, "merged": before_merged},
    }
    audit_record(actor=actor, action="ACCOUNT_MERGED", instance=survivor, account_id=survivor.pk, changes=changes)
    activity_add(
        account=survivor,
        kind="merge",
        event="account_merged",
        params={"number": f"{merged.code} {merged.name}"},
        actor=actor,
        occurred_at=now,
        ref=merged,
    )
    return MergeResult(survivor=survivor, merged=merged, already=False, moved=moved)


# --- reads across merges -----------------------------------------------------------------------


def reachable(user: Any) -> QuerySet[Account]:
    """The accounts ``user`` may see, merged ones included: to say what became of them."""
    q = account_scope(user, Action.VIEW_ACCOUNT)
    return Account.objects.none() if q is None else Account.objects.filter(q)


def merged_history(account: Account) -> QuerySet[AuditEvent]:
    """The account's audit trail with that of every account merged into it."""
    merged_ids = Account.objects.filter(merged_into=account).values("pk")
    return AuditEvent.objects.filter(Q(account=account) | Q(account__in=merged_ids)).select_related("actor")


def merged_target(queryset: QuerySet[Account], code: str) -> Account | None:
    """The account that the merged account ``code`` joined, if ``queryset`` holds it."""
    target_id = (
        Account.objects.filter(code=code, merged_into__isnull=False).values_list("merged_into", flat=True).first()
    )
    return queryset.filter(pk=target_id).first() if target_id else None


# Keys of a merge event that are not changes of one field.
MERGE_DETAILS = frozenset({"merged_account", "merged_id", "choices", "moved", "snapshots"})


def without_private_snapshots(changes: dict[str, Any]) -> dict[str, Any]:
    """A merge event's snapshots hold both accounts' private notes: leave them out for other readers."""
    snapshots = changes.get("snapshots")
    if not isinstance(snapshots, dict):
        return changes
    cleaned = {
        side: {k: v for k, v in values.items() if k not in PRIVATE_FIELDS} if isinstance(values, dict) else values
        for side, values in snapshots.items()
    }
    choices = changes.get("choices")
    result = {**changes, "snapshots": cleaned}
    if isinstance(choices, dict):
        result["choices"] = {k: v for k, v in choices.items() if k not in PRIVATE_FIELDS}
    return result
