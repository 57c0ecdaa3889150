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
from django.utils.translation import ngettext

from patron.accounts.addresses import (
    Address,
    addresses_of,
    consenting_contacts,
    consenting_phones,
    in_chunks,
    mail_language,
)
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.channels import TextMessage
from patron.core.errors import Conflict
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.coupons.codes import shown
from patron.domain.coupons.terms import parse_coupon_terms

from .models import CHANNELS, EMAIL, PUSH, SMS, Campaign, CampaignRecipient, CampaignSend, Coupon
from .redemption import issued_until
from .services import refuse_for_points, require_editor, target_problems, write_codes

CHUNK = 2000
SENDS = Outbox("campaign run", CampaignSend, CampaignRecipient, "send", related=("coupon",))


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
    already: int = 0  # targeted, but reached by an earlier run: left out


def campaign_reach(
    target: Mapping[str, Any],
    *,
    holdout_percent: int = 0,
    channel: str = EMAIL,
    day: dt.date | None = None,
    campaign: Campaign | None = None,
) -> Reach:
    """How many accounts, and addresses on the channel, a target reaches: what the wizard shows before a run
    (accounts an earlier run of ``campaign`` reached are left out, and counted)."""
    from patron.accounts.models import Contact

    accounts = targeted(target, day or timezone.localdate())
    already = 0
    if campaign is not None:
        everyone = accounts.count()
        accounts = not_reached(campaign, accounts)
        already = everyone - accounts.count()
    total = accounts.count()
    held = round(total * holdout_percent / 100)
    if channel == PUSH:  # the shop's app knows its users by account
        return Reach(accounts=total, with_address=total, addresses=total, held_out=held, already=already)
    if channel == SMS:
        phones = Contact.objects.filter(account__in=accounts, sms_consent=True).exclude(phone="")
        texting = Contact.objects.filter(account=OuterRef("pk"), sms_consent=True).exclude(phone="")
        reached = accounts.filter(Exists(texting)).count()
        return Reach(accounts=total, with_address=reached, addresses=phones.count(), held_out=held, already=already)
    own = accounts.exclude(email="").count()
    contacts = Contact.objects.filter(account__in=accounts, email_consent=True).exclude(email="")
    consenting = Contact.objects.filter(account=OuterRef("pk"), email_consent=True).exclude(email="")
    reached = accounts.filter(~Q(email="") | Exists(consenting)).count()
    return Reach(accounts=total, with_address=reached, addresses=own + contacts.count(), held_out=held, already=already)


def not_reached(campaign: Campaign, accounts: QuerySet[Account]) -> QuerySet[Account]:
    """The accounts no earlier run of the campaign reached (given a code or held out): a campaign reaches each
    account once, and a held-out account stays held out."""
    reached = CampaignRecipient.objects.filter(send__campaign=campaign, account_id=OuterRef("pk"))
    return accounts.exclude(Exists(reached))


def held_out(seed: str, account_id: int, percent: int) -> bool:
    """Whether the account is in the hold-out: a hash of the run's seed and the account, under the percent."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


def _check_run(campaign: Campaign, holdout_percent: Any, channel: str, target: Mapping[str, Any]) -> int:
    if campaign.status != Campaign.ACTIVE:
        raise Conflict(_("Only a running campaign is sent."), "status")
    refuse_for_points(campaign)
    try:
        percent = int(holdout_percent)
    except (TypeError, ValueError):
        percent = -1
    if not 0 <= percent <= 50:
        raise ValidationError({"holdout_percent": [_("Must be between %(min)s and %(max)s.") % {"min": 0, "max": 50}]})
    if channel not in dict(CHANNELS):
        raise ValidationError({"channel": [_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(CHANNELS))}]})
    _check_target(target)
    return percent


@transaction.atomic
def campaign_run(
    *,
    actor: Any,
    campaign: Campaign,
    target: Mapping[str, Any] | None = None,
    holdout_percent: int = 0,
    channel: str = EMAIL,
    at: dt.datetime | None = None,
) -> CampaignSend:
    """Run the campaign to ``target`` now, or schedule it for ``at``: the hold-out is drawn, and the codes
    issued, when it runs."""
    require_editor(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    target = dict(target or {})
    percent = _check_run(campaign, holdout_percent, channel, target)
    now = timezone.now()
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at is not None and at < now - dt.timedelta(minutes=1):
        raise ValidationError({"at": [_("This time has passed: choose one ahead, or leave it empty to send now.")]})
    if at is not None and campaign.ends_at is not None and at >= campaign.ends_at:
        raise ValidationError({"at": [_("The campaign ends before then.")]})
    later = at is not None and at > now
    run = CampaignSend.objects.create(
        campaign=campaign,
        target=target,
        holdout_percent=percent,
        channel=channel,
        seed=secrets.token_hex(16),
        created_by=actor,
        status=CampaignSend.SCHEDULED if later else CampaignSend.SENDING,
        scheduled_for=at if later else None,
        day=timezone.localdate(at if later else now),
    )
    if later:
        audit_record(
            actor=actor,
            action="COUPON_CAMPAIGN_SCHEDULED",
            instance=campaign,
            changes={"at": [None, str(at)], "target": [None, target], "held_out": [None, percent]},
        )
        return run
    return fill(run, not_reached(campaign, targeted(target, timezone.localdate())), actor=actor)


def fill(run: CampaignSend, accounts: QuerySet[Account], *, actor: Any = None) -> CampaignSend:
    """Write the run: a chunk of accounts at a time, each held out or given a code and a row per address on
    the run's channel; then start sending. In the caller's transaction."""
    campaign = run.campaign
    now = timezone.now()
    terms = parse_coupon_terms(campaign.terms)
    until = issued_until(campaign, terms, now)
    for chunk in in_chunks(accounts, CHUNK):
        contacts: dict[int, list[Any]] = {}
        if run.channel == SMS:
            contacts = consenting_phones(accounts, chunk[0]["pk"], chunk[-1]["pk"])
        elif run.channel == EMAIL:
            contacts = consenting_contacts(accounts, chunk[0]["pk"], chunk[-1]["pk"])
        treated = [a for a in chunk if not held_out(run.seed, a["pk"], run.holdout_percent)]
        codes = (
            write_codes(campaign, len(treated), [a["pk"] for a in treated], now, Coupon.GENERATED) if treated else []
        )
        coupon_ids = dict(Coupon.objects.filter(code__in=codes).values_list("account_id", "pk"))
        rows = []
        for account in chunk:
            language = mail_language(account["language"])
            base = {"send": run, "account_id": account["pk"], "language": language, "channel": run.channel}
            if account["pk"] not in coupon_ids:
                rows.append(CampaignRecipient(**base, name=account["name"], status=CampaignRecipient.HELD_OUT))
                run.held_out += 1
                continue
            base["coupon_id"] = coupon_ids[account["pk"]]
            addresses: list[Address]
            if run.channel == PUSH:
                addresses = [(None, account["code"], account["name"])]
            elif run.channel == SMS:
                addresses = contacts.get(account["pk"], [])
            else:
                addresses = addresses_of(account, contacts)
            for contact_id, address, name in addresses:
                where = {"phone": address} if run.channel != EMAIL else {"email": address}
                rows.append(
                    CampaignRecipient(
                        **base, **where, contact_id=contact_id, name=name, token=secrets.token_urlsafe(24)
                    )
                )
            if not addresses:
                rows.append(CampaignRecipient(**base, name=account["name"], status=CampaignRecipient.NO_ADDRESS))
        CampaignRecipient.objects.bulk_create(rows, batch_size=1000)
        run.accounts += len(chunk)
    run.status = CampaignSend.SENDING
    if not run.recipients.filter(status=CampaignRecipient.QUEUED).exists():
        run.status, run.finished_at = CampaignSend.DONE, timezone.now()
    run.save(update_fields=["accounts", "held_out", "status", "finished_at"])
    audit_record(
        actor=actor,
        action="COUPON_CAMPAIGN_RUN",
        instance=campaign,
        changes={
            "accounts": [None, run.accounts],
            "held_out": [None, run.held_out],
            "channel": [None, run.channel],
            "until": [None, str(until)],
        },
    )
    if run.status == CampaignSend.SENDING:
        from .tasks import send_campaign

        run_id = run.pk
        transaction.on_commit(lambda: send_campaign(run_id))
    return run


def scheduled_runs_start(now: dt.datetime | None = None) -> list[int]:
    """Start the scheduled runs that are due (each in its own transaction; one already started is left)."""
    now = now or timezone.now()
    started = []
    due = CampaignSend.objects.filter(status=CampaignSend.SCHEDULED, scheduled_for__lte=now)
    for run_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            run = (
                CampaignSend.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("campaign", "created_by")
                .filter(pk=run_id, status=CampaignSend.SCHEDULED)
                .first()
            )
            if run is None:
                continue
            if run.campaign.status != Campaign.ACTIVE:
                run.status, run.finished_at = CampaignSend.DONE, timezone.now()
                run.save(update_fields=["status", "finished_at"])
                continue
            fill(run, not_reached(run.campaign, targeted(run.target, timezone.localdate())), actor=run.created_by)
            started.append(run_id)
    return started


@transaction.atomic
def scheduled_run_cancel(*, actor: Any, run: CampaignSend) -> None:
    require_editor(actor)
    deleted, _rows = CampaignSend.objects.filter(pk=run.pk, status=CampaignSend.SCHEDULED).delete()
    if not deleted:
        raise Conflict(_("This run has started already."), "status")
    audit_record(
        actor=actor,
        action="COUPON_CAMPAIGN_SCHEDULE_CANCELLED",
        instance=run.campaign,
        changes={"at": [str(run.scheduled_for), None]},
    )


def _check_target(target: Mapping[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    target_problems(target, errors)
    if errors:
        raise ValidationError(errors)


def rules_in_words(campaign: Campaign, coupon: Coupon | None = None) -> list[str]:
    """The coupon's rules as a customer reads them (under the reader's language)."""
    from patron.discounts.describe import Names, benefit_text, rule_sentences
    from patron.web.templatetags.patron_web import money

    terms = campaign.terms
    benefit = dict(terms["benefit"])
    if coupon is not None and coupon.amount is not None:
        benefit = {"kind": "cart_amount_off", "amount": str(coupon.amount)}
    text = benefit_text(benefit, campaign.currency)
    what = terms.get("what") or {}
    names = rule_sentences({"what": what}, Names.for_rules([{"what": what}]))["what"] if any(what.values()) else ""
    if benefit.get("kind") == "gift" and names:
        text = ngettext("%(n)s × %(product)s free", "%(n)s × %(product)s free", int(benefit["free"])) % {
            "n": benefit["free"],
            "product": names,
        }
    out = [_("%(sentence)s.") % {"sentence": text[:1].upper() + text[1:]}]  # "CNY 20.00 off", not "Cny 20.00 off"
    if names and benefit.get("kind") != "gift":
        out.append(_("On %(what)s.") % {"what": names})
    if terms.get("kind") == "first_order":
        out.append(_("On your first order."))
    if terms.get("points"):
        out.append(_("For %(points)s points.") % {"points": terms["points"]})
    if terms.get("min_spend"):
        out.append(_("On orders of at least %(amount)s.") % {"amount": money(terms["min_spend"], campaign.currency)})
    until = coupon.valid_until if coupon is not None else campaign.ends_at
    if coupon is None and terms.get("valid_days"):
        days = int(terms["valid_days"])
        out.append(
            ngettext(
                "Each code is valid for %(n)s day from issue.", "Each code is valid for %(n)s days from issue.", days
            )
            % {"n": days}
        )
    if until is not None:
        out.append(_("Valid until %(day)s.") % {"day": formats.date_format(timezone.localtime(until), "DATE_FORMAT")})
    if terms.get("uses_per_code") == 1:
        out.append(_("Once per code."))
    if not terms.get("with_coupons"):
        out.append(_("Not together with other coupons."))
    return out


@dataclass
class Written:
    """What a run's messages share, written once: the rules' words per language, end and amount, and the
    feedback link around its token."""

    rules: dict[tuple[Any, ...], list[str]]
    link: tuple[str, str] = ("", "")

    @classmethod
    def start(cls) -> Written:
        marker = "0TOKEN0"
        head, _marker, tail = feedback_link(marker).partition(marker)
        return cls({}, (head, tail))


def build_message(
    row: CampaignRecipient, run: CampaignSend, written: Written | None = None
) -> EmailMultiAlternatives | TextMessage:
    """The row's email, or its text (SMS, app push): the account's name, the code and the rules, in its language."""
    from django.template.loader import render_to_string
    from django.utils import translation

    campaign = run.campaign
    coupon = row.coupon  # queued rows always carry their code (read with the row)
    assert coupon is not None
    written = written or Written.start()
    with translation.override(row.language):
        key = (row.language, coupon.valid_until, coupon.amount)
        if key not in written.rules:
            written.rules[key] = rules_in_words(campaign, coupon)
        context = {
            "row": row,
            "campaign": campaign,
            "code": shown(coupon.code, campaign.prefix),
            "rules": written.rules[key],
            "feedback": written.link[0] + (row.token or "") + written.link[1],
        }
        if row.channel == EMAIL:
            return email_message("coupons/email/campaign", context, row.email, row.language)
        text = " ".join(render_to_string("coupons/text/campaign.txt", context).split())
    data = {"account": run_account_code(row), "code": context["code"], "campaign": campaign.pk}
    return TextMessage(row.channel, row.phone, text, key=f"campaign-recipient:{row.pk}", data=data)


def run_account_code(row: CampaignRecipient) -> str:
    return (
        row.phone
        if row.channel == PUSH
        else Account.objects.filter(pk=row.account_id).values_list("code", flat=True).first() or ""
    )


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
    written = Written.start()
    return lambda row: build_message(row, run, written)


def campaign_send(
    run_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(SENDS, run_id, _messages, stop_after=stop_after, budget=budget, outages=outages, quiet=True)


def campaign_sends_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(SENDS, now)
