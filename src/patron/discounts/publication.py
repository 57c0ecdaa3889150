"""Publishing a policy to the accounts it targets, and sending what was published.

``policy_publish`` finds the accounts an active policy's rules target (in SQL, a chunk of
accounts at a time: a million accounts are never in memory together), writes one recipient
row per address (the account's email and its contacts' that consented), each with an
unguessable token for the customer's page, and after the commit hands the sending to the
queue. Publishing the same version again returns the publication already made. A policy
changed since it was published (its version moved on) is published again: only the accounts
the change concerns are written to, each told what changed for them, and from when; accounts
that a change no longer targets are told the offer no longer applies to them.

``publication_send`` is the worker's loop, ``patron.core.outbox``'s: one sender per publication
at a time, paced, each row marked sent right after its hand-off, so a worker stopped at any
point and started again sends nobody twice; outages and refusals are retried with back-off.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Case, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.addresses import Address, addresses_of, consenting_contacts, mail_language
from patron.accounts.models import Account, Region
from patron.audit.services import audit_record
from patron.core.bulk import BulkInsert
from patron.core.errors import Conflict
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.access import Action

from .describe import Names, rule_sentences
from .mappers import LIFECYCLE
from .models import Policy
from .publication_models import PolicyPublication, PublicationRecipient

logger = logging.getLogger("patron.discounts.publication")

CHUNK = 5000  # accounts read, and their rows written, at a time
TOKEN_BYTES = 32
CUSTOMER_PARTS = ("benefit", "what", "when", "stacking", "caps")


def require_editor(actor: Any) -> None:
    if not can(actor, Action.EDIT_DISCOUNTS):
        raise PermissionDenied(Action.EDIT_DISCOUNTS.value)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def base_url() -> str:
    return str(getattr(settings, "PATRON_BASE_URL", "") or "http://127.0.0.1:8000").rstrip("/")


def offer_link(token: str) -> str:
    return base_url() + reverse("offers:offer", args=[token])


# --- targeting ----------------------------------------------------------------------------------------------------


def _regions_below(ids: Sequence[int]) -> list[int]:
    """The regions named and every region below them (one query over the region tree)."""
    paths = list(Region.objects.filter(pk__in=ids).values_list("path", flat=True))
    if not paths:
        return []
    below = Q()
    for path in paths:
        below |= Q(path__startswith=path)
    return list(Region.objects.filter(below).values_list("pk", flat=True))


def _current_memberships(day: dt.date) -> QuerySet[Any]:
    from patron.segments.models import Membership

    return Membership.objects.filter(account_id=OuterRef("pk"), valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=day)
    )


def who_filter(who: Mapping[str, Any], *, day: dt.date) -> Q | None:
    """The accounts one rule's "who" targets, as a filter on Account; None when it targets everyone.

    As the pricing core reads it: every part given must hold, any value within a part."""
    from patron.segments.models import Classification

    parts: list[Q] = []
    nothing = Q(pk__in=[])
    if who.get("accounts"):
        parts.append(Q(pk__in=list(who["accounts"])))
    if who.get("regions"):
        regions = _regions_below(who["regions"])
        parts.append(Q(region_id__in=regions) if regions else nothing)
    if who.get("industries"):
        parts.append(Q(industry_id__in=list(who["industries"])))
    if who.get("tags"):
        tagged = Account.tags.through.objects.filter(account_id=OuterRef("pk"), tag_id__in=list(who["tags"]))
        parts.append(Q(Exists(tagged)))
    if who.get("classes"):
        pairs = [str(c).split(":", 1) for c in who["classes"] if ":" in str(c)]
        ids = dict(Classification.objects.filter(key__in={k for k, _c in pairs}).values_list("key", "pk"))
        wanted = Q(pk__in=[])
        for key, cls in pairs:
            if key in ids:
                wanted |= Q(classification_id=ids[key], class_key=cls)
        parts.append(Q(Exists(_current_memberships(day).filter(wanted))))
    if who.get("stages"):
        lifecycle = Classification.objects.filter(key=LIFECYCLE).values_list("pk", flat=True).first()
        if lifecycle is None:
            parts.append(nothing)
        else:
            staged = _current_memberships(day).filter(classification_id=lifecycle, class_key__in=list(who["stages"]))
            parts.append(Q(Exists(staged)))
    if who.get("new_customers"):
        parts.append(Q(first_order_date__isnull=True))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined &= part
    return combined


@dataclass
class Targeting:
    """Which accounts a set of rules targets, and a flag per rule to tell which rules concern each one."""

    everyone: list[int]  # rules with an empty "who"
    filters: dict[int, Q]  # rule id -> its filter

    @classmethod
    def of(cls, rules: Iterable[Mapping[str, Any]], *, day: dt.date) -> Targeting:
        everyone: list[int] = []
        filters: dict[int, Q] = {}
        for rule in rules:
            q = who_filter(rule["definition"].get("who") or {}, day=day)
            if q is None:
                everyone.append(rule["id"])
            else:
                filters[rule["id"]] = q
        return cls(everyone, filters)

    def accounts(self) -> QuerySet[Account]:
        """Every targeted account, merged ones left out."""
        accounts = Account.objects.filter(merged_into__isnull=True)
        if self.everyone:
            return accounts
        if not self.filters:
            return accounts.none()
        any_rule = Q()
        for q in self.filters.values():
            any_rule |= q
        return accounts.filter(any_rule)

    def flags(self) -> dict[str, Case]:
        return {
            f"rule_{rid}": Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
            for rid, q in self.filters.items()
        }

    def rules_of(self, row: Mapping[str, Any]) -> list[int]:
        return sorted([*self.everyone, *(rid for rid in self.filters if row[f"rule_{rid}"])])


def _chunks(queryset: QuerySet[Any], fields: Sequence[str], size: int) -> Iterator[list[dict[str, Any]]]:
    """``queryset``'s rows as dicts of ``fields`` (and its annotations), ``size`` at a time in id order."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values(*fields)[:size])
        if not rows:
            return
        yield rows
        last = rows[-1]["pk"]


def targeted_accounts(policy: Policy, *, day: dt.date | None = None) -> QuerySet[Account]:
    """The accounts the policy's rules target today (a queryset; nothing is loaded)."""
    rules = [{"id": r.pk, "definition": r.definition} for r in policy.rules.all()]
    return Targeting.of(rules, day=day or timezone.localdate()).accounts()


# --- what is published, and what changed ---------------------------------------------------------------------------


def policy_snapshot(policy: Policy) -> dict[str, Any]:
    rules = policy.rules.order_by("-priority", "id")
    return {
        "name": policy.name,
        "customer_text": policy.customer_text,
        "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
        "effective_to": policy.effective_to.isoformat() if policy.effective_to else None,
        "rules": [{"id": r.pk, "name": r.name, "priority": r.priority, "definition": r.definition} for r in rules],
    }


def _customer_part(definition: Mapping[str, Any]) -> dict[str, Any]:
    """What a customer reads of a rule: everything but who it is for."""
    part = {k: definition.get(k) for k in CUSTOMER_PARTS if definition.get(k)}
    if (definition.get("who") or {}).get("new_customers"):
        part["new_customers"] = True
    return part


def snapshot_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two publications: rules added, removed, reworded, re-aimed; name, text, dates."""
    old = {r["id"]: r for r in before.get("rules") or []}
    new = {r["id"]: r for r in after.get("rules") or []}
    both = [rid for rid in new if rid in old]
    return {
        "added": [rid for rid in new if rid not in old],
        "removed": [rid for rid in old if rid not in new],
        "changed": [
            rid for rid in both if _customer_part(old[rid]["definition"]) != _customer_part(new[rid]["definition"])
        ],
        "retargeted": [
            rid
            for rid in both
            if (old[rid]["definition"].get("who") or {}) != (new[rid]["definition"].get("who") or {})
        ],
        "name": before.get("name") != after.get("name"),
        "text": before.get("customer_text") != after.get("customer_text"),
        "dates": (before.get("effective_from"), before.get("effective_to"))
        != (after.get("effective_from"), after.get("effective_to")),
    }


def _anything(changes: Mapping[str, Any]) -> bool:
    return any(changes.get(k) for k in ("added", "removed", "changed", "retargeted", "name", "text", "dates"))


def _concerns_everyone(changes: Mapping[str, Any]) -> bool:
    return bool(changes.get("name") or changes.get("text") or changes.get("dates"))


def _affected(changes: Mapping[str, Any], before: Sequence[int] | None, now: Sequence[int]) -> bool:
    """Does a change publication tell this account anything new?"""
    if before is None or _concerns_everyone(changes):
        return True
    return set(before) != set(now) or bool(set(now) & set(changes.get("changed") or []))


# --- publishing ----------------------------------------------------------------------------------------------------


@dataclass
class PublishResult:
    publication: PolicyPublication
    created: bool


_RECIPIENT_COLUMNS = (
    "publication_id",
    "account_id",
    "contact_id",
    "email",
    "name",
    "language",
    "token",
    "rules",
    "previous_rules",
    "status",
    "queued_at",
)


def _previous_rules(policy: Policy, version: int, first: int, last: int) -> dict[int, list[int]]:
    """The rules of each account from ``first`` to ``last`` (ids) in the latest earlier publication that wrote to it.

    Ranges, not lists of ids: no statement carries thousands of parameters."""
    latest: dict[int, tuple[int, list[int]]] = {}
    rows = PublicationRecipient.objects.filter(
        publication__policy=policy, publication__version__lt=version, account_id__gte=first, account_id__lte=last
    ).values_list("account_id", "publication__version", "rules")
    for account_id, seen_version, rules in rows:
        if account_id not in latest or latest[account_id][0] < seen_version:
            latest[account_id] = (seen_version, list(rules or []))
    return {account_id: rules for account_id, (_v, rules) in latest.items()}


@dataclass
class _Counts:
    targeted: int = 0
    dropped: int = 0
    unchanged: int = 0
    recipients: int = 0
    without_address: int = 0


def _write_rows(
    publication: PolicyPublication,
    accounts: Sequence[Mapping[str, Any]],
    contacts: Mapping[int, list[Address]],
    rules_of: Mapping[int, list[int]],
    previous: Mapping[int, list[int]] | None,
    counts: _Counts,
    now: dt.datetime,
) -> None:
    rows: list[tuple[Any, ...]] = []
    for account in accounts:
        pk = account["pk"]
        before = previous.get(pk) if previous is not None else None
        language = mail_language(account["language"])
        rules, before_text = json.dumps(rules_of[pk]), None if before is None else json.dumps(before)
        addresses = addresses_of(account, contacts)
        for contact_id, email, name in addresses:
            queued = PublicationRecipient.QUEUED
            rows.append(
                (publication.pk, pk, contact_id, email, name, language, new_token(), rules, before_text, queued, now)
            )
        if not addresses:
            counts.without_address += 1
            nowhere = PublicationRecipient.NO_ADDRESS
            rows.append(
                (publication.pk, pk, None, "", account["name"], language, new_token(), rules, before_text, nowhere, now)
            )
        counts.recipients += len(addresses)
    if rows:
        BulkInsert(PublicationRecipient, _RECIPIENT_COLUMNS, raw=("rules", "previous_rules")).insert(rows)


def _prepare(publication: PolicyPublication, policy: Policy, *, day: dt.date) -> _Counts:
    """Write the recipient rows, a chunk of accounts at a time."""
    counts = _Counts()
    now = timezone.now()
    targeting = Targeting.of(publication.snapshot["rules"], day=day)
    changes = publication.changes if publication.kind == PolicyPublication.CHANGE else None
    fields = ("pk", "email", "name", "language", *targeting.flags())
    targeted = targeting.accounts()
    for chunk in _chunks(targeted.annotate(**targeting.flags()), fields, CHUNK):
        first, last = chunk[0]["pk"], chunk[-1]["pk"]
        counts.targeted += len(chunk)
        rules_of = {row["pk"]: targeting.rules_of(row) for row in chunk}
        previous = None
        if changes is not None:
            previous = _previous_rules(policy, publication.version, first, last)
            affected = [row for row in chunk if _affected(changes, previous.get(row["pk"]), rules_of[row["pk"]])]
            counts.unchanged += len(chunk) - len(affected)
            chunk = affected
        if chunk:
            contacts = consenting_contacts(targeted, first, last)
            _write_rows(publication, chunk, contacts, rules_of, previous, counts, now)
    if changes is not None and not targeting.everyone:
        # Accounts told of an earlier version that this one no longer targets.
        earlier = PublicationRecipient.objects.filter(
            publication__policy=policy, publication__version__lt=publication.version
        ).values("account_id")
        candidates = Account.objects.filter(merged_into__isnull=True, pk__in=earlier)
        for chunk in _chunks(candidates.annotate(**targeting.flags()), fields, CHUNK):
            first, last = chunk[0]["pk"], chunk[-1]["pk"]
            previous = _previous_rules(policy, publication.version, first, last)
            # Not those still targeted, nor those already told.
            gone = [row for row in chunk if not targeting.rules_of(row) and previous.get(row["pk"])]
            counts.dropped += len(gone)
            if gone:
                contacts = consenting_contacts(candidates, first, last)
                _write_rows(publication, gone, contacts, {row["pk"]: [] for row in gone}, previous, counts, now)
    return counts


def changes_from(policy: Policy, now: dt.datetime) -> dt.datetime:
    """Changes to a policy apply from when they were saved, or from its start if it has not started."""
    moments = [m for m in (policy.updated_at, policy.effective_from) if m is not None]
    return max(moments) if moments else now


@transaction.atomic
def policy_publish(*, actor: Any, policy: Policy, day: dt.date | None = None) -> PublishResult:
    """Publish the policy's current version to the accounts it targets; the emails leave after the commit."""
    require_editor(actor)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    now = timezone.now()
    if policy.status != Policy.ACTIVE:
        raise Conflict(_("Only an active policy can be published; activate it first."), "status")
    if policy.effective_to is not None and policy.effective_to <= now:
        raise Conflict(_("The policy has ended; there is nothing to announce."), "effective_to")
    existing = PolicyPublication.objects.filter(policy=policy, version=policy.version).first()
    if existing is not None:
        return PublishResult(existing, created=False)
    previous = policy.publications.order_by("-version").first()
    snapshot = policy_snapshot(policy)
    changes = snapshot_changes(previous.snapshot, snapshot) if previous is not None else {}
    if previous is not None and not _anything(changes):
        raise Conflict(
            _("Nothing customers see has changed since version %(version)s was published.")
            % {"version": previous.version},
            "version",
        )
    try:
        with transaction.atomic():
            publication = PolicyPublication.objects.create(
                policy=policy,
                version=policy.version,
                kind=PolicyPublication.CHANGE if previous is not None else PolicyPublication.FIRST,
                previous=previous,
                snapshot=snapshot,
                changes=changes,
                changes_from=changes_from(policy, now) if previous is not None else None,
                created_by=actor,
            )
    except IntegrityError:  # published a moment ago by someone else
        return PublishResult(PolicyPublication.objects.get(policy=policy, version=policy.version), created=False)
    counts = _prepare(publication, policy, day=day or timezone.localdate())
    publication.accounts_targeted = counts.targeted
    publication.accounts_dropped = counts.dropped
    publication.accounts_unchanged = counts.unchanged
    publication.recipients_count = counts.recipients
    publication.without_address = counts.without_address
    if not counts.recipients:
        publication.status, publication.finished_at = PolicyPublication.DONE, now
    publication.save()
    policy.published_at, policy.published_version = now, policy.version
    policy.save(update_fields=["published_at", "published_version"])
    audit_record(
        actor=actor,
        action="DISCOUNT_POLICY_PUBLISHED",
        instance=policy,
        changes={
            "published_version": [previous.version if previous else None, policy.version],
            "publication": [None, publication.pk],
            "accounts_targeted": [None, counts.targeted],
            "accounts_dropped": [None, counts.dropped],
            "recipients": [None, counts.recipients],
            "without_address": [None, counts.without_address],
        },
    )
    logger.info(
        "policy %s v%s published: %s accounts, %s recipients, %s without an address",
        policy.pk,
        policy.version,
        counts.targeted,
        counts.recipients,
        counts.without_address,
    )
    if counts.recipients:
        publication_id = publication.pk
        transaction.on_commit(lambda: enqueue_sending(publication_id))
    return PublishResult(publication, created=True)


def enqueue_sending(publication_id: int, *, delay: float | None = None) -> None:
    from .publication_tasks import send_publication

    if delay:
        send_publication.schedule((publication_id,), delay=delay)
    else:
        send_publication(publication_id)


# --- what a customer reads -------------------------------------------------------------------------------------------


def customer_rule_text(definition: Mapping[str, Any], names: Names, currency: str) -> str:
    """A rule in plain words for the customer it concerns: never who else it is for (other accounts'
    names, the classes and tags they are filed under), nor the internal names of stacking groups."""
    stacking = definition.get("stacking") or {}
    shown = {
        **definition,
        "who": {},
        "stacking": {"exclusive": bool(stacking.get("exclusive"))},
    }
    s = rule_sentences(shown, names, currency)
    text = _("%(benefit)s on %(what)s") % s
    if s["except"]:
        text += _(" (except %(except)s)") % s
    if (definition.get("who") or {}).get("new_customers"):
        text += _(", for new customers")
    if s["when"]:
        text += _("; %(when)s") % s
    if s["stacking"]:
        text += _("; %(stacking)s") % s
    return text + _(".")


def _moment_text(value: str | None) -> str:
    if not value:
        return ""
    moment = timezone.localtime(dt.datetime.fromisoformat(value))
    if moment.time() == dt.time.min:
        return formats.date_format(moment, "DATE_FORMAT")
    return formats.date_format(moment, "DATETIME_FORMAT")


def dates_text(snapshot: Mapping[str, Any]) -> str:
    start, end = _moment_text(snapshot.get("effective_from")), _moment_text(snapshot.get("effective_to"))
    if start and end:
        return _("Valid from %(start)s until %(end)s.") % {"start": start, "end": end}
    if start:
        return _("Valid from %(start)s, until further notice.") % {"start": start}
    if end:
        return _("Valid until %(end)s.") % {"end": end}
    return _("Valid until further notice.")


def names_for(*snapshots: Mapping[str, Any] | None) -> Names:
    """Names of what the rules mention, in the active language."""
    return Names.for_rules(r["definition"] for s in snapshots if s for r in s.get("rules") or [])


@dataclass
class OfferView:
    """One account's view of a publication, in the active language."""

    name: str
    customer_text: str
    rules: list[str]
    dates: str
    kind: str  # first | change | dropped
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)  # (now, before)
    removed: list[str] = field(default_factory=list)
    dates_before: str = ""
    name_before: str = ""
    text_changed: bool = False
    changes_from: str = ""


def offer_view(
    publication: PolicyPublication,
    rule_ids: Sequence[int],
    previous_rule_ids: Sequence[int] | None,
    names: Names,
    *,
    previous_snapshot: Mapping[str, Any] | None = None,
) -> OfferView:
    snapshot = publication.snapshot
    currency = settings.PATRON_COMPANY_CURRENCY
    by_id = {r["id"]: r for r in snapshot.get("rules") or []}
    texts = {rid: customer_rule_text(by_id[rid]["definition"], names, currency) for rid in rule_ids if rid in by_id}
    view = OfferView(
        name=snapshot.get("name") or "",
        customer_text=snapshot.get("customer_text") or "",
        rules=[texts[r["id"]] for r in snapshot.get("rules") or [] if r["id"] in texts],
        dates=dates_text(snapshot),
        kind=PolicyPublication.FIRST,
    )
    if publication.kind != PolicyPublication.CHANGE or previous_rule_ids is None:
        return view
    view.kind = PolicyPublication.CHANGE if rule_ids else "dropped"
    before_snapshot = previous_snapshot or {}
    old = {r["id"]: r for r in before_snapshot.get("rules") or []}
    changes = publication.changes or {}
    now, before = set(rule_ids), set(previous_rule_ids)
    reworded = set(changes.get("changed") or [])
    view.added = [texts[rid] for rid in texts if rid not in before]
    view.changed = [
        (texts[rid], customer_rule_text(old[rid]["definition"], names, currency))
        for rid in texts
        if rid in before and rid in reworded and rid in old
    ]
    view.removed = [
        customer_rule_text(old[rid]["definition"], names, currency)
        for rid in previous_rule_ids
        if rid not in now and rid in old
    ]
    if changes.get("dates"):
        view.dates_before = dates_text(before_snapshot)
    if changes.get("name"):
        view.name_before = before_snapshot.get("name") or ""
    view.text_changed = bool(changes.get("text"))
    if publication.changes_from:
        moment = timezone.localtime(publication.changes_from)
        view.changes_from = formats.date_format(moment, "DATE_FORMAT")
    return view


# --- the email ------------------------------------------------------------------------------------------------------


def build_message(
    recipient: PublicationRecipient,
    publication: PolicyPublication,
    names: Names,
    previous_snapshot: Mapping[str, Any] | None,
) -> EmailMultiAlternatives:
    """The email to one recipient, in its language (call it under ``translation.override``)."""
    view = offer_view(
        publication, recipient.rules or [], recipient.previous_rules, names, previous_snapshot=previous_snapshot
    )
    context = {"view": view, "recipient": recipient, "link": offer_link(recipient.token)}
    return email_message("discounts/email/publication", context, recipient.email, recipient.language)


# --- sending --------------------------------------------------------------------------------------------------------


class _Messages:
    """Names of regions, products ... per language, and the previous snapshot, read once per run."""

    def __init__(self, publication: PolicyPublication) -> None:
        self.publication = publication
        self.previous = publication.previous.snapshot if publication.previous_id and publication.previous else None
        self.names: dict[str, Names] = {}

    def build(self, row: PublicationRecipient) -> EmailMultiAlternatives:
        with translation.override(row.language):
            if row.language not in self.names:
                self.names[row.language] = names_for(self.publication.snapshot, self.previous)
            return build_message(row, self.publication, self.names[row.language], self.previous)


PUBLICATIONS = Outbox("publication", PolicyPublication, PublicationRecipient, "publication")


def publication_send(
    publication_id: int,
    *,
    stop_after: int | None = None,
    budget: float = RUN_BUDGET,
    outages: int = 0,
) -> SendReport:
    """Send what is due of one publication (``patron.core.outbox``)."""
    return outbox_send(
        PUBLICATIONS,
        publication_id,
        lambda publication: _Messages(publication).build,
        stop_after=stop_after,
        budget=budget,
        outages=outages,
    )


def publications_due(now: dt.datetime | None = None) -> list[int]:
    """Publications with recipients due and no sender (a worker that died, a retry whose task was lost)."""
    return outbox_due(PUBLICATIONS, now)


# --- reads ----------------------------------------------------------------------------------------------------------


def publication_list(policy: Policy) -> list[dict[str, Any]]:
    """The policy's publications, newest first, each with its recipients counted by status."""
    publications = list(policy.publications.select_related("created_by").order_by("-version"))
    counts: dict[int, dict[str, int]] = {}
    rows = (
        PublicationRecipient.objects.filter(publication__in=publications)
        .values_list("publication_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for publication_id, status, n in rows:
        counts.setdefault(publication_id, {})[status] = n
    viewed = dict(
        PublicationRecipient.objects.filter(publication__in=publications, viewed_at__isnull=False)
        .values_list("publication_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("publication_id", "n")
    )
    return [
        {
            "publication": p,
            "queued": counts.get(p.pk, {}).get(PublicationRecipient.QUEUED, 0),
            "sent": counts.get(p.pk, {}).get(PublicationRecipient.SENT, 0),
            "failed": counts.get(p.pk, {}).get(PublicationRecipient.FAILED, 0),
            "viewed": viewed.get(p.pk, 0),
        }
        for p in publications
    ]


def _offer_status(policy: Policy, snapshot: Mapping[str, Any], *, has_rules: bool) -> str:
    now = timezone.now()
    start, end = (snapshot.get(k) for k in ("effective_from", "effective_to"))
    ended = policy.effective_to is not None and policy.effective_to <= now
    if policy.status == Policy.ARCHIVED or ended or (end and dt.datetime.fromisoformat(end) <= now):
        return "ended"
    if policy.status != Policy.ACTIVE:
        return "paused"
    if not has_rules:
        return "no_longer"
    if start and dt.datetime.fromisoformat(start) > now:
        return "not_started"
    return "running"


@dataclass
class CustomerOffer:
    view: OfferView
    language: str
    status: str  # running | not_started | ended | paused | no_longer


def customer_offer(token: str, *, language: str | None = None) -> CustomerOffer | None:
    """What the holder of ``token`` may read: their account's view of the policy's latest publication."""
    recipient = (
        PublicationRecipient.objects.select_related("publication__policy").filter(token=token).first()
        if token
        else None
    )
    if recipient is None:
        return None
    policy = recipient.publication.policy
    latest = (
        PublicationRecipient.objects.filter(publication__policy=policy, account_id=recipient.account_id)
        .select_related("publication")
        .order_by("-publication__version", "id")
        .first()
    )
    row = latest or recipient
    publication = policy.publications.order_by("-version").first() or recipient.publication
    if recipient.viewed_at is None:
        PublicationRecipient.objects.filter(pk=recipient.pk, viewed_at__isnull=True).update(viewed_at=timezone.now())
    language = mail_language(language or recipient.language)
    with translation.override(language):
        names = names_for(publication.snapshot)
        view = offer_view(publication, row.rules or [], None, names)
    status = _offer_status(policy, publication.snapshot, has_rules=bool(view.rules))
    return CustomerOffer(view=view, language=language, status=status)
