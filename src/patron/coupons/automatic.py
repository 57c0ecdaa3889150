"""Coupons Patron issues by itself, each day, to the accounts that come due.

A running campaign with ``auto_issue`` on gives a code, once a day, to each account of its
``target`` that has come due and has not had one yet:

- *birthday*: person accounts whose birthday falls in this month, once a year;
- *first order*: accounts that have not ordered yet, once;
- *loyal reward*: accounts in the loyal lifecycle stage (unless the target names other stages), once;
- any other kind: accounts of the target, once (a welcome for those who join a segment).

Each day's codes are one automatic run (at most one per campaign and day, a database constraint,
so a job started twice issues nothing twice): a random ``holdout_percent`` of the due accounts is
held out and recorded, so effect is measured as for a campaign sent by hand, and the others are
told on the campaign's channel.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from patron.accounts.models import Account
from patron.core.errors import Conflict

from .delivery import fill, targeted
from .models import Campaign, CampaignRecipient, CampaignSend

logger = logging.getLogger("patron.coupons.automatic")
AUTO_KINDS = ("birthday", "first_order", "loyal_reward")


def auto_target(campaign: Campaign) -> dict[str, Any]:
    """The campaign's target with what its kind implies (loyal accounts, new customers)."""
    target = dict(campaign.target or {})
    if campaign.kind == "loyal_reward" and not target.get("stages"):
        target["stages"] = ["loyal"]
    if campaign.kind == "first_order":
        target["new_customers"] = True
    return target


def due_accounts(campaign: Campaign, day: dt.date) -> QuerySet[Account]:
    """The accounts of the campaign's target due a code on ``day`` that no run of it has reached yet
    (this year, for a birthday)."""
    accounts = targeted(auto_target(campaign), day)
    reached = CampaignRecipient.objects.filter(send__campaign=campaign, account_id=OuterRef("pk"))
    if campaign.kind == "birthday":
        accounts = accounts.filter(kind=Account.KIND_PERSON, birthday__month=day.month)
        reached = reached.filter(send__day__year=day.year)
    return accounts.exclude(Exists(reached))


def auto_issue(day: dt.date | None = None) -> dict[int, CampaignSend]:
    """Today's automatic run of every running campaign that issues by itself (none twice a day)."""
    day = day or timezone.localdate()
    now = timezone.now()
    made: dict[int, CampaignSend] = {}
    campaigns = Campaign.objects.filter(auto_issue=True, status=Campaign.ACTIVE, internal=False, starts_at__lte=now)
    for campaign in campaigns.exclude(ends_at__lte=now):
        due = due_accounts(campaign, day)
        if not due.exists():
            continue
        try:
            with transaction.atomic():
                run = CampaignSend.objects.create(
                    campaign=campaign,
                    trigger=CampaignSend.AUTOMATIC,
                    day=day,
                    target=auto_target(campaign),
                    holdout_percent=campaign.holdout_percent,
                    channel=campaign.channel,
                    seed=secrets.token_hex(16),
                )
                made[campaign.pk] = fill(run, due)
        except IntegrityError:
            continue  # today's run exists: another worker made it
        except Conflict as exc:  # the budget is out: nothing issued today
            logger.warning("campaign %s: no automatic codes on %s: %s", campaign.pk, day, exc)
            continue
        logger.info("campaign %s: %s accounts due on %s", campaign.pk, made[campaign.pk].accounts, day)
    return made
