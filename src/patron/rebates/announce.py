"""Telling the accounts a rebate program concerns about it, and about each change, in their language.

``program_announce`` writes one announcement per program version: a snapshot of what customers
are told (name, text, dates, terms in plain words, payout), and one recipient row per address
of each account concerned (the account's own, and its contacts who agreed to email), a chunk
of accounts at a time. The accounts concerned are those with an agreement still running, and,
when the program names who it is open to, those its eligibility targets. Announcing the same
version again returns the announcement already made; a later version is announced as a
change: each account is told what changed, and from when. The emails go through
``patron.core.outbox``: paced, retried, and never sent twice after a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from patron.accounts.addresses import Address, mailing_rows
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.rebates import RebateTerms, parse_terms
from patron.web.templatetags.patron_web import money

from .models import AnnouncementRecipient, RebateAgreement, RebateAnnouncement, RebateProgram
from .services import require_editor

CHUNK = 5000  # accounts read, and their rows written, at a time
CUSTOMER_FIELDS = (
    "name",
    "customer_text",
    "effective_from",
    "effective_to",
    "period_kind",
    "currency",
    "terms",
    "payout_form",
    "settlement_lag_days",
)
ANNOUNCEMENTS = Outbox("announcement", RebateAnnouncement, AnnouncementRecipient, "announcement")


def program_snapshot(program: RebateProgram) -> dict[str, Any]:
    values = {name: getattr(program, name) for name in CUSTOMER_FIELDS}
    for name in ("effective_from", "effective_to"):
        values[name] = values[name].isoformat() if values[name] else None
    return values


def snapshot_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after.get(k)] for k in CUSTOMER_FIELDS if before.get(k) != after.get(k)}


def concerned_accounts(program: RebateProgram, day: dt.date) -> QuerySet[Account]:
    """Accounts with an agreement not yet ended, and those the program's eligibility targets (if it names any)."""
    from patron.discounts.publication import who_filter

    running = RebateAgreement.objects.filter(program=program).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
    wanted = Q(pk__in=running.values("account_id"))
    if program.eligibility:
        targeted = who_filter(program.eligibility, day=day)
        if targeted is not None:
            wanted |= targeted
    return Account.objects.filter(wanted, merged_into__isnull=True)


@transaction.atomic
def program_announce(*, actor: Any, program: RebateProgram, day: dt.date | None = None) -> RebateAnnouncement:
    require_editor(actor)
    program = RebateProgram.objects.select_for_update().get(pk=program.pk)
    if program.status == RebateProgram.CLOSED:
        raise Conflict(_("A closed program is not announced."), "status")
    made = program.announcements.filter(version=program.version).first()
    if made is not None:
        return made
    day = day or timezone.localdate()
    previous = program.announcements.order_by("-version").first()
    snapshot = program_snapshot(program)
    changes = snapshot_changes(previous.snapshot, snapshot) if previous else {}
    if previous is not None and not changes:
        raise Conflict(_("Nothing customers are told has changed since the last announcement."), "version")
    start = program.effective_from
    made = RebateAnnouncement.objects.create(
        program=program,
        version=program.version,
        kind=RebateAnnouncement.CHANGE if previous else RebateAnnouncement.FIRST,
        snapshot=snapshot,
        changes=changes,
        effective_on=max(start, day) if previous else start,
        created_by=actor,
    )
    accounts = concerned_accounts(program, day)
    count = 0

    def row(account: Mapping[str, Any], address: Address | None, language: str) -> AnnouncementRecipient:
        if address is None:
            return AnnouncementRecipient(
                announcement=made,
                account_id=account["pk"],
                name=account["name"],
                language=language,
                status=AnnouncementRecipient.NO_ADDRESS,
            )
        contact_id, email, name = address
        return AnnouncementRecipient(
            announcement=made,
            account_id=account["pk"],
            contact_id=contact_id,
            email=email,
            name=name,
            language=language,
        )

    for rows, accounts_in_chunk in mailing_rows(accounts, CHUNK, row):
        AnnouncementRecipient.objects.bulk_create(rows, batch_size=1000)
        count += accounts_in_chunk
    made.accounts = count
    if not AnnouncementRecipient.objects.filter(announcement=made, status=AnnouncementRecipient.QUEUED).exists():
        made.status, made.finished_at = RebateAnnouncement.DONE, timezone.now()
    made.save(update_fields=["accounts", "status", "finished_at"])
    audit_record(
        actor=actor,
        action="REBATE_PROGRAM_ANNOUNCED",
        instance=program,
        changes={"version": [None, program.version], "accounts": [None, count]},
    )
    if made.status == RebateAnnouncement.SENDING:
        from .tasks import send_announcement

        transaction.on_commit(lambda: send_announcement(made.pk))
    return made


# --- the words ------------------------------------------------------------------------------------------------


def _volume(value: Decimal, terms: RebateTerms, currency: str) -> str:
    if terms.basis == "quantity":
        return _("%(count)s units") % {"count": f"{value.normalize():,f}"}
    return money(value, currency)


def terms_sentences(terms_data: Mapping[str, Any], currency: str, period_kind: str) -> list[str]:
    """The terms as a customer reads them (under the reader's language)."""
    terms = parse_terms(terms_data)
    period = str(dict(RebateProgram.PERIODS).get(period_kind, period_kind)).lower()
    counted = {
        "amount": _("Counted on your net purchases (after returns and cancellations) in each period (%(period)s)."),
        "quantity": _("Counted on the units you buy (after returns and cancellations) in each period (%(period)s)."),
        "profit": _("Counted on the gross profit of your purchases in each period (%(period)s)."),
    }[terms.basis] % {"period": period}
    out = [counted]
    if terms.documents == "invoiced":
        out.append(_("Only orders that have been invoiced count."))
    elif terms.documents == "paid":
        out.append(_("Only orders whose invoices are paid count."))
    if terms.threshold > 0:
        out.append(
            _("Nothing is earned below %(threshold)s.") % {"threshold": _volume(terms.threshold, terms, currency)}
        )
    steps = []
    for tier in terms.tiers:
        pays = f"{tier.percent.normalize():f}%" if tier.percent is not None else money(tier.amount, currency)
        steps.append(_("from %(start)s: %(pays)s") % {"start": _volume(tier.start, terms, currency), "pays": pays})
    steps_text = pgettext("between the tiers of a list", "; ").join(steps)
    if terms.mode == "incremental":
        out.append(_("Each band earns its own rate: %(steps)s.") % {"steps": steps_text})
    else:
        out.append(_("The rate reached pays on all of the period's volume: %(steps)s.") % {"steps": steps_text})
    if terms.cap is not None:
        out.append(_("At most %(cap)s per period.") % {"cap": money(terms.cap, currency)})
    return out


def payout_sentence(snapshot: Mapping[str, Any]) -> str:
    form = str(dict(RebateProgram.PAYOUTS).get(snapshot["payout_form"], snapshot["payout_form"]))
    return _("Paid as: %(form)s, %(days)s days after each period ends.") % {
        "form": form.lower() if translation.get_language() == "en" else form,
        "days": snapshot["settlement_lag_days"],
    }


def _day(value: str | None) -> str:
    return formats.date_format(dt.date.fromisoformat(value), "DATE_FORMAT") if value else _("no end date")


def _shown(name: str, snapshot: Mapping[str, Any]) -> str:
    value = snapshot.get(name)
    if name == "terms":
        return " ".join(terms_sentences(value or {}, snapshot["currency"], snapshot["period_kind"]))
    if name in ("effective_from", "effective_to"):
        return _day(value)
    if name == "period_kind":
        return str(dict(RebateProgram.PERIODS).get(str(value), value))
    if name in ("payout_form", "settlement_lag_days"):
        return payout_sentence(snapshot)
    return str(value or "")


LABELS = {
    "name": gettext_lazy("Name"),
    "customer_text": gettext_lazy("About the program"),
    "effective_from": gettext_lazy("Starts"),
    "effective_to": gettext_lazy("Ends"),
    "period_kind": gettext_lazy("Period"),
    "currency": gettext_lazy("Currency"),
    "terms": gettext_lazy("Terms"),
    "payout_form": gettext_lazy("Payout"),
    "settlement_lag_days": gettext_lazy("Payout"),
}


def change_lines(announcement: RebateAnnouncement, previous: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """What changed, before and after, in words; the payout's two fields make one line."""
    seen: set[str] = set()
    out = []
    for name in CUSTOMER_FIELDS:
        if name not in announcement.changes or previous is None:
            continue
        label = str(LABELS[name])
        if label in seen:
            continue
        seen.add(label)
        out.append({"label": label, "before": _shown(name, previous), "after": _shown(name, announcement.snapshot)})
    return out


def build_message(
    row: AnnouncementRecipient, announcement: RebateAnnouncement, previous: Any
) -> EmailMultiAlternatives:
    """One recipient's email, in its language."""
    snapshot = announcement.snapshot
    with translation.override(row.language):
        context = {
            "row": row,
            "announcement": announcement,
            "snapshot": snapshot,
            "starts": _day(snapshot["effective_from"]),
            "ends": _day(snapshot["effective_to"]) if snapshot.get("effective_to") else "",
            "effective_on": formats.date_format(announcement.effective_on, "DATE_FORMAT"),
            "sentences": terms_sentences(snapshot["terms"], snapshot["currency"], snapshot["period_kind"]),
            "payout": payout_sentence(snapshot),
            "changes": change_lines(announcement, previous),
        }
    return email_message("rebates/email/announcement", context, row.email, row.language)


def _messages(announcement: RebateAnnouncement) -> Any:
    previous = (
        announcement.program.announcements.filter(version__lt=announcement.version)
        .order_by("-version")
        .values_list("snapshot", flat=True)
        .first()
    )
    return lambda row: build_message(row, announcement, previous)


def announcement_send(
    announcement_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(ANNOUNCEMENTS, announcement_id, _messages, stop_after=stop_after, budget=budget, outages=outages)


def announcements_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(ANNOUNCEMENTS, now)


def announcement_counts(program: RebateProgram) -> list[dict[str, Any]]:
    """Each announcement with its recipients per status, newest first."""
    announcements = list(program.announcements.order_by("-version"))
    counts: dict[int, dict[str, int]] = {}
    rows = (
        AnnouncementRecipient.objects.filter(announcement__in=announcements)
        .values_list("announcement_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for pk, status, n in rows:
        counts.setdefault(pk, {})[status] = n
    return [{"announcement": a, "counts": counts.get(a.pk, {})} for a in announcements]
