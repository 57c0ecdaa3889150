"""Possible duplicate accounts: kept current as accounts change, listed per reader, dismissed for good.

The matching itself is pure (``patron.domain.duplicates``). Here it meets the tables:

* ``AccountMatchKey`` files every account under its blocking keys, so the duplicates
  of one record (``duplicates_of``, which the CSV import calls per row) are a few
  index lookups.
* ``DuplicatePair`` holds the pairs found, with their reasons, so the "Possible
  duplicates" list is one indexed query however many accounts there are.
* Both are brought up to date lazily (``refresh``): accounts whose ``updated_at``
  moved since their keys were made are worked out again, oldest change first, a
  bounded number per call. ``manage.py find_duplicates`` does all of them at once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils.translation import gettext as _

from patron.audit.services import audit_record
from patron.core.pagination import Page, keyset_page
from patron.domain import duplicates as matching
from patron.domain.access import Action
from patron.domain.explain import Reason

from .access import account_scope, can, visible_accounts
from .models import Account, AccountMatchKey, AccountMatchState, DuplicateDismissal, DuplicatePair

# Accounts worked out per transaction, and at most per ``refresh`` call from a page or the API.
CHUNK = 500
REFRESH_LIMIT = 1000
# Accounts changed this long before the newest one already worked out are checked again: a
# transaction that saved an account but committed later than others is still seen.
MARGIN = dt.timedelta(days=1)

CANDIDATE_FIELDS = ("pk", "name", "tax_id", "phone", "email")


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing account that looks like the record asked about, and why."""

    account: Account
    score: int  # percent
    reasons: tuple[Reason, ...]

    @property
    def reason_texts(self) -> list[str]:
        return [reason_text(r) for r in self.reasons]


def reason_text(reason: Reason | dict[str, Any]) -> str:
    """A reason in the reader's language (reasons are stored as data, see ``domain.explain``)."""
    code, params = (reason.code, reason.params) if isinstance(reason, Reason) else (reason["code"], reason["params"])
    params = dict(params)
    if code == "SAME_TAX_ID":
        return _("Same tax id %(tax_id)s") % params
    if code == "SAME_PHONE":
        return _("Same phone %(phone)s") % params
    if code == "SAME_EMAIL":
        return _("Same email %(email)s") % params
    if code == "SAME_NAME":
        return _("Same name, legal form and punctuation aside (%(name)s)") % params
    if code == "SIMILAR_NAME":
        percent = round(float(params.get("similarity", 0)) * 100)
        return _("Names %(percent)s%% alike (%(name)s / %(other)s)") % {**params, "percent": percent}
    if code == "TAX_ID_DIFFERS":
        return _("But the tax ids differ (%(tax_id)s / %(other)s)") % params
    return code


def reasons_data(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    return [{"code": r.code, "params": dict(r.params)} for r in reasons]


def _candidate(pk: int, name: str, tax_id: str, phone: str, email: str) -> matching.Candidate:
    return matching.Candidate(id=pk, name=name, tax_id=tax_id, phone=phone, email=email)


def _ordered(x: int, y: int) -> tuple[int, int]:
    return (x, y) if x < y else (y, x)


# --- keeping keys and pairs current ------------------------------------------------------------


def _stale(limit: int) -> list[int]:
    """Ids of live accounts changed since their keys were made, oldest change first."""
    watermark = AccountMatchState.objects.aggregate(m=Max("source_updated_at"))["m"]
    qs = Account.objects.filter(merged_into__isnull=True)
    if watermark is not None:
        qs = qs.filter(updated_at__gte=watermark - MARGIN)
    qs = qs.filter(Q(match_state__isnull=True) | ~Q(match_state__source_updated_at=F("updated_at")))
    return list(qs.order_by("updated_at", "pk").values_list("pk", flat=True)[:limit])


def _block_members(keys: set[str]) -> dict[str, list[int]]:
    """The accounts filed under each key, for keys of blocks small enough to compare pairwise."""
    if not keys:
        return {}
    sizes = (
        AccountMatchKey.objects.filter(key__in=keys)
        .values("key")
        .annotate(n=Count("id"))
        .filter(n__lte=matching.MAX_BLOCK)
    )
    usable = [row["key"] for row in sizes]
    members: dict[str, list[int]] = defaultdict(list)
    for key, account_id in AccountMatchKey.objects.filter(key__in=usable).values_list("key", "account_id"):
        members[key].append(account_id)
    return members


def _normalised(ids: Iterable[int]) -> dict[int, matching.Normalised]:
    rows = Account.objects.filter(pk__in=list(ids), merged_into__isnull=True).values_list(*CANDIDATE_FIELDS)
    return {row[0]: matching.normalise(_candidate(*row)) for row in rows}


def _work_out(ids: Sequence[int]) -> None:
    """Make the keys and pairs of these accounts afresh, in one transaction."""
    with transaction.atomic():
        rows = list(
            Account.objects.filter(pk__in=ids, merged_into__isnull=True).values_list(*CANDIDATE_FIELDS, "updated_at")
        )
        ids = [row[0] for row in rows]
        AccountMatchKey.objects.filter(account_id__in=ids).delete()
        DuplicatePair.objects.filter(Q(account_a_id__in=ids) | Q(account_b_id__in=ids)).delete()
        normalised = {row[0]: matching.normalise(_candidate(*row[:5])) for row in rows}
        keys = {pk: matching.blocking_keys(norm) for pk, norm in normalised.items()}
        AccountMatchKey.objects.bulk_create(
            [AccountMatchKey(account_id=pk, key=key) for pk, account_keys in keys.items() for key in account_keys],
            ignore_conflicts=True,
        )
        members = _block_members(set().union(*keys.values()) if keys else set())
        wanted: set[tuple[int, int]] = set()
        for pk, account_keys in keys.items():
            for key in account_keys:
                wanted.update(_ordered(pk, other) for other in members.get(key, ()) if other != pk)
        others = {pk for pair in wanted for pk in pair} - normalised.keys()
        normalised |= _normalised(others)
        dismissed = _dismissed(wanted)
        found = []
        for first, second in sorted(wanted - dismissed):
            if first not in normalised or second not in normalised:
                continue  # merged meanwhile
            match = matching.compare(normalised[first], normalised[second])
            if match is not None:
                found.append(
                    DuplicatePair(
                        account_a_id=first,
                        account_b_id=second,
                        score=match.percent,
                        reasons=reasons_data(match.reasons),
                    )
                )
        DuplicatePair.objects.bulk_create(found, ignore_conflicts=True)
        AccountMatchState.objects.bulk_create(
            [AccountMatchState(account_id=row[0], source_updated_at=row[5]) for row in rows],
            update_conflicts=True,
            unique_fields=["account"],
            update_fields=["source_updated_at"],
        )


def _dismissed(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    if not pairs:
        return set()
    ids = {pk for pair in pairs for pk in pair}
    rows = DuplicateDismissal.objects.filter(account_a_id__in=ids, account_b_id__in=ids).values_list(
        "account_a_id", "account_b_id"
    )
    return {pair for pair in rows if pair in pairs}


@dataclass(frozen=True)
class RefreshResult:
    worked_out: int
    more: bool  # accounts still wait to be worked out


def refresh(limit: int | None = REFRESH_LIMIT) -> RefreshResult:
    """Work out the accounts changed since last time (at most ``limit``; None: all of them)."""
    done = 0
    while True:
        batch = CHUNK if limit is None else min(CHUNK, limit - done)
        if batch <= 0:
            return RefreshResult(done, bool(_stale(1)))
        ids = _stale(batch)
        if not ids:
            return RefreshResult(done, False)
        _work_out(ids)
        done += len(ids)


def forget(account: Account) -> None:
    """Drop an account from matching (it was merged into another)."""
    AccountMatchKey.objects.filter(account=account).delete()
    DuplicatePair.objects.filter(Q(account_a=account) | Q(account_b=account)).delete()
    AccountMatchState.objects.filter(account=account).delete()


# --- reads -------------------------------------------------------------------------------------


def duplicates_of(
    *, name: str, tax_id: str = "", phone: str = "", email: str = "", exclude_id: int | None = None
) -> list[DuplicateMatch]:
    """Existing (not merged) accounts that look like this record, strongest evidence first.

    For a row about to become an account (the CSV import) or an account being edited
    (``exclude_id`` is its own id). Not scoped to a reader: callers show only what
    their user may see.
    """
    refresh()
    norm = matching.normalise(_candidate(0, name, tax_id, phone, email))
    members = _block_members(set(matching.blocking_keys(norm)))
    ids = {pk for block in members.values() for pk in block if pk != exclude_id}
    others = _normalised(ids)
    scored = []
    for pk, other in others.items():
        match = matching.compare(norm, other)
        if match is not None:
            scored.append((pk, match))
    accounts = Account.objects.select_related("owner").in_bulk([pk for pk, _match in scored])
    result = [
        DuplicateMatch(account=accounts[pk], score=match.percent, reasons=match.reasons)
        for pk, match in scored
        if pk in accounts
    ]
    result.sort(key=lambda m: (-m.score, m.account.code))
    return result


def duplicates_for(user: Any, account: Account) -> list[DuplicateMatch]:
    """The possible duplicates of one account that ``user`` may see, not dismissed."""
    matches = duplicates_of(
        name=account.name, tax_id=account.tax_id, phone=account.phone, email=account.email, exclude_id=account.pk
    )
    if not matches:
        return []
    visible = set(visible_accounts(user).filter(pk__in=[m.account.pk for m in matches]).values_list("pk", flat=True))
    dismissed = _dismissed({_ordered(account.pk, m.account.pk) for m in matches})
    return [m for m in matches if m.account.pk in visible and _ordered(account.pk, m.account.pk) not in dismissed]


def possible_duplicates(
    user: Any, *, account: Account | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[Page[DuplicatePair], RefreshResult]:
    """Pairs of accounts ``user`` may both see that look like one customer, strongest first.

    With ``account``, only the pairs it is in. Also says whether accounts changed
    recently are still waiting to be compared.
    """
    progress = refresh()
    # The reader's scope as joins on both accounts: read in score order, a page stops early. (As
    # "account_a IN (visible ids) AND account_b IN (visible ids)", SQLite probed every pair of ids.)
    scope_a = account_scope(user, Action.VIEW_ACCOUNT, "account_a__")
    scope_b = account_scope(user, Action.VIEW_ACCOUNT, "account_b__")
    if scope_a is None or scope_b is None:
        return Page(items=[], next_cursor=None), progress
    qs = DuplicatePair.objects.filter(
        scope_a, scope_b, account_a__merged_into__isnull=True, account_b__merged_into__isnull=True
    ).select_related("account_a__owner__team", "account_b__owner__team")
    if account is not None:
        qs = qs.filter(Q(account_a=account) | Q(account_b=account))
    return keyset_page(qs, sort="-score", cursor=cursor, limit=limit), progress


# --- dismissing --------------------------------------------------------------------------------


@transaction.atomic
def duplicate_dismiss(*, actor: Any, account: Account, other: Account) -> DuplicateDismissal:
    """Record that two accounts are different customers, so the pair is not suggested again.

    Whoever may edit both accounts may say so; saying it twice changes nothing.
    """
    if account.pk == other.pk:
        raise ValidationError({"other": [_("Choose another account.")]})
    if account.merged_into_id is not None or other.merged_into_id is not None:
        raise ValidationError({"other": [_("A merged account is no longer suggested as a duplicate.")]})
    first, second = sorted(
        Account.objects.select_for_update(of=("self",))
        .select_related("owner__team")
        .filter(pk__in=[account.pk, other.pk]),
        key=lambda a: a.pk,
    )
    if not (can(actor, Action.EDIT_ACCOUNT, first) and can(actor, Action.EDIT_ACCOUNT, second)):
        raise PermissionDenied(Action.EDIT_ACCOUNT.value)
    dismissal, created = DuplicateDismissal.objects.get_or_create(
        account_a=first, account_b=second, defaults={"dismissed_by": actor}
    )
    if created:
        DuplicatePair.objects.filter(account_a=first, account_b=second).delete()
        for this, that in ((first, second), (second, first)):
            audit_record(
                actor=actor,
                action="DUPLICATE_DISMISSED",
                instance=this,
                account_id=this.pk,
                changes={"not_duplicate_of": [None, that.code]},
            )
    return dismissal
