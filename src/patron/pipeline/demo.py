"""Demo opportunities on key accounts, so a first run shows a board, a forecast and stage histories that took
weeks (the moves are made through the services, then dated back as if they had happened over time)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from patron.accounts.models import Account

from . import services
from .models import Opportunity, StageChange


@dataclass(frozen=True)
class Plan:
    name: str
    amount: str
    path: tuple[str, ...]  # the stages it moved through after qualification
    age_days: int  # opened this long before today
    close_in_days: int  # expected close from today (negative: past)
    lost_reason: str = ""
    role: str = "decision_maker"


PLANS = (
    Plan("Staff canteen tea supply, next year", "186000.00", ("needs_analysis", "proposal"), 75, 45),
    Plan("Gift boxes for the Spring Festival", "92000.00", ("needs_analysis", "proposal", "negotiation"), 60, 20),
    Plan("Hotel chain: rooms' tea", "240000.00", ("needs_analysis",), 30, 110, role="technical_buyer"),
    Plan("Head office meeting rooms", "38000.00", ("needs_analysis", "proposal", "negotiation", "won"), 120, -10),
    Plan("Regional distributor listing", "310000.00", ("needs_analysis", "proposal", "lost"), 150, -30, "Price"),
    Plan("Tea ceremony training", "15000.00", (), 12, 70, role="influencer"),
    Plan("Mid-Autumn gift sets", "128000.00", ("needs_analysis", "proposal", "negotiation"), 90, -5),
    Plan("Airport lounges", "450000.00", ("needs_analysis", "proposal"), 100, 150, role="financial_buyer"),
)


def install_demo_opportunities(today: dt.date) -> list[Opportunity]:
    """Once: a second call finds opportunities there and does nothing."""
    if Opportunity.objects.exists():
        return []
    accounts = list(
        Account.objects.filter(is_key_account=True, merged_into__isnull=True, owner__is_active=True)
        .select_related("owner__team")
        .order_by("id")[: len(PLANS)]
    )
    now = timezone.make_aware(dt.datetime.combine(today, dt.time(17)))
    made = []
    for account, plan in zip(accounts, PLANS, strict=False):
        with transaction.atomic():
            made.append(_install(account, plan, today, now))
    return made


def _install(account: Account, plan: Plan, today: dt.date, now: dt.datetime) -> Opportunity:
    owner = account.owner
    opp = services.opportunity_create(
        actor=owner,
        account=account,
        data={
            "name": plan.name,
            "amount": plan.amount,
            "expected_close": today + dt.timedelta(days=plan.close_in_days),
            "next_step": "" if plan.path[-1:] in (("won",), ("lost",)) else "Visit with samples",
        },
    )
    contact = account.contacts.order_by("-is_primary", "id").first()
    if contact is not None:
        services.opportunity_contact_add(actor=owner, opportunity=opp, contact=contact, role=plan.role)
    for stage in plan.path:
        opp = services.opportunity_move(
            actor=owner, opportunity=opp, stage=stage, lost_reason=plan.lost_reason if stage == "lost" else ""
        )
    # Date the history back: opened ``age_days`` ago, each later stage entered at an even share of the time.
    created = now - dt.timedelta(days=plan.age_days)
    changes = list(StageChange.objects.filter(opportunity=opp).order_by("at", "id"))
    step = dt.timedelta(days=plan.age_days) / max(len(changes), 1)
    for i, change in enumerate(changes):
        change.at = created + step * i
        StageChange.objects.filter(pk=change.pk).update(at=change.at)
    last = changes[-1].at if changes else created
    Opportunity.objects.filter(pk=opp.pk).update(
        created_at=created, stage_since=last, closed_at=last if opp.closed_at else None
    )
    opp.refresh_from_db()
    return opp
