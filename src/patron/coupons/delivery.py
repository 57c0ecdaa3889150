"""Running a campaign: the accounts it targets, a random hold-out, a code for each, and the emails.

``campaign_reach`` says beforehand how many accounts and addresses a target reaches.
``campaign_run`` writes, a chunk of accounts at a time: for each account targeted, either a
``held_out`` row (chosen by a seeded hash of the account, so the choice is recorded, not
redrawn) or a code bound to the account and one row per address (its own, and its contacts'
who agreed to email). The emails go through ``patron.core.outbox``: paced, retried with
back-off, logged per recipient, and nobody is sent twice after a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from patron.accounts.addresses import addresses_of, consenting_contacts, in_chunks, mail_language
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.errors import Conflict
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.coupons.codes import shown
from patron.domain.coupons.terms import parse_coupon_terms

from .models import Campaign, CampaignRecipient, CampaignSend, Coupon
from .redemption import issued_until
from .services import require_editor, write_codes

CHUNK = 2000
SENDS = Outbox("campaign run", CampaignSend, CampaignRecipient, "send")


def targeted(target: Mapping[str, Any], day: dt.date) -> QuerySet[Account]:
    from patron.discounts.publication import who_filter

    wanted = who_filter(target or {}, day=day)
    live = Account.objects.filter(merged_into__isnull=True)
    return live if wanted is None else live.filter(wanted)


@dataclass(frozen=True)
class Reach:
    accounts: int
    with_address: int
    addresses: int
    held_out: int  # expected, at the percent asked


def campaign_reach(target: Mapping[str, Any], *, holdout_percent: int = 0, day: dt.date | None = None) -> Reach:
    """How many accounts, and addresses, a target reaches: what the wizard shows before a run."""
    accounts = targeted(target, day or timezone.localdate())
    total = accounts.count()
    own = accounts.exclude(email="").count()
    from patron.accounts.models import Contact

    contacts = Contact.objects.filter(account__in=accounts, email_consent=True).exclude(email="")
    consenting = Contact.objects.filter(account=OuterRef("pk"), email_consent=True).exclude(email="")
    reached = accounts.filter(~Q(email="") | Exists(consenting)).count()
    return Reach(
        accounts=total,
        with_address=reached,
        addresses=own + contacts.count(),
        held_out=round(total * holdout_percent / 100),
    )


def held_out(seed: str, account_id: int, percent: int) -> bool:
    """Whether the account is in the hold-out: a hash of the run's seed and the account, under the percent."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


@transaction.atomic
def campaign_run(
    *, actor: Any, campaign: Campaign, target: Mapping[str, Any] | None = None, holdout_percent: int = 0
) -> CampaignSend:
    require_editor(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.ACTIVE:
        raise Conflict(_("Only a running campaign is sent."), "status")
    if not 0 <= int(holdout_percent) <= 50:
        raise ValidationError({"holdout_percent": [_("Must be between %(min)s and %(max)s.") % {"min": 0, "max": 50}]})
    target = dict(target or {})
    _check_target(target)
    run = CampaignSend.objects.create(
        campaign=campaign,
        target=target,
        holdout_percent=int(holdout_percent),
        seed=secrets.token_hex(16),
        created_by=actor,
    )
    now = timezone.now()
    terms = parse_coupon_terms(campaign.terms)
    until = issued_until(campaign, terms, now)
    accounts = targeted(target, timezone.localdate())
    for chunk in in_chunks(accounts, CHUNK):
        contacts = consenting_contacts(accounts, chunk[0]["pk"], chunk[-1]["pk"])
        treated = [a for a in chunk if not held_out(run.seed, a["pk"], run.holdout_percent)]
        codes = (
            write_codes(campaign, len(treated), [a["pk"] for a in treated], now, Coupon.GENERATED) if treated else []
        )
        coupon_ids = dict(Coupon.objects.filter(code__in=codes).values_list("account_id", "pk"))
        rows = []
        for account in chunk:
            language = mail_language(account["language"])
            if account["pk"] not in coupon_ids:
                rows.append(
                    CampaignRecipient(
                        send=run,
                        account_id=account["pk"],
                        name=account["name"],
                        language=language,
                        status=CampaignRecipient.HELD_OUT,
                    )
                )
                run.held_out += 1
                continue
            addresses = addresses_of(account, contacts)
            for contact_id, email, name in addresses:
                rows.append(
                    CampaignRecipient(
                        send=run,
                        account_id=account["pk"],
                        contact_id=contact_id,
                        coupon_id=coupon_ids[account["pk"]],
                        email=email,
                        name=name,
                        language=language,
                        token=secrets.token_urlsafe(24),
                    )
                )
            if not addresses:
                rows.append(
                    CampaignRecipient(
                        send=run,
                        account_id=account["pk"],
                        coupon_id=coupon_ids[account["pk"]],
                        name=account["name"],
                        language=language,
                        status=CampaignRecipient.NO_ADDRESS,
                    )
                )
        CampaignRecipient.objects.bulk_create(rows, batch_size=1000)
        run.accounts += len(chunk)
    if not run.recipients.filter(status=CampaignRecipient.QUEUED).exists():
        run.status, run.finished_at = CampaignSend.DONE, timezone.now()
    run.save(update_fields=["accounts", "held_out", "status", "finished_at"])
    audit_record(
        actor=actor,
        action="COUPON_CAMPAIGN_RUN",
        instance=campaign,
        changes={"accounts": [None, run.accounts], "held_out": [None, run.held_out], "until": [None, str(until)]},
    )
    if run.status == CampaignSend.SENDING:
        from .tasks import send_campaign

        transaction.on_commit(lambda: send_campaign(run.pk))
    return run


def _check_target(target: Mapping[str, Any]) -> None:
    from patron.discounts.messages import problem_text
    from patron.domain.pricing.rules import parse_who
    from patron.domain.problems import Reader

    reader = Reader()
    parse_who(reader, target, "target")
    errors: dict[str, list[str]] = {}
    for problem in reader.problems.items:
        errors.setdefault(problem.path, []).append(problem_text(problem))
    if errors:
        raise ValidationError(errors)


def rules_in_words(campaign: Campaign, coupon: Coupon | None = None) -> list[str]:
    """The coupon's rules as a customer reads them (under the reader's language)."""
    from patron.discounts.describe import benefit_text
    from patron.web.templatetags.patron_web import money

    terms = campaign.terms
    benefit = dict(terms["benefit"])
    if coupon is not None and coupon.amount is not None:
        benefit = {"kind": "cart_amount_off", "amount": str(coupon.amount)}
    out = [benefit_text(benefit, campaign.currency).capitalize() + "."]
    if terms.get("min_spend"):
        out.append(_("On orders of at least %(amount)s.") % {"amount": money(terms["min_spend"], campaign.currency)})
    until = coupon.valid_until if coupon is not None else campaign.ends_at
    if until is not None:
        out.append(_("Valid until %(day)s.") % {"day": formats.date_format(timezone.localtime(until), "DATE_FORMAT")})
    if terms.get("uses_per_code") == 1:
        out.append(_("Once per code."))
    if not terms.get("with_coupons"):
        out.append(_("Not together with other coupons."))
    return out


def build_message(row: CampaignRecipient, run: CampaignSend) -> EmailMultiAlternatives:
    campaign = run.campaign
    coupon = Coupon.objects.get(pk=row.coupon_id or 0)  # queued rows always carry their code
    from django.utils import translation

    with translation.override(row.language):
        context = {
            "row": row,
            "campaign": campaign,
            "code": shown(coupon.code, campaign.prefix),
            "rules": rules_in_words(campaign, coupon),
            "feedback": feedback_link(row.token or ""),
        }
    return email_message("coupons/email/campaign", context, row.email, row.language)


def feedback_link(token: str) -> str:
    from django.conf import settings
    from django.urls import reverse

    return settings.PATRON_BASE_URL.rstrip("/") + reverse("coupons:feedback", args=[token])


@transaction.atomic
def feedback_record(token: str, rating: Any, comment: str) -> CampaignRecipient:
    """A customer's rating (1 to 5) and comment on an offer, from the email's link: the first answer counts."""
    row = CampaignRecipient.objects.select_for_update().filter(token=token).first()
    if row is None:
        raise CampaignRecipient.DoesNotExist
    if row.rated_at is not None:
        return row
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        raise ValidationError({"rating": [_("Choose from 1 to 5 stars.")]})
    row.rating, row.comment, row.rated_at = value, (comment or "").strip()[:2000], timezone.now()
    row.save(update_fields=["rating", "comment", "rated_at"])
    return row


def _messages(run: CampaignSend) -> Any:
    run = CampaignSend.objects.select_related("campaign").get(pk=run.pk)
    return lambda row: build_message(row, run)


def campaign_send(
    run_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(SENDS, run_id, _messages, stop_after=stop_after, budget=budget, outages=outages)


def campaign_sends_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(SENDS, now)
