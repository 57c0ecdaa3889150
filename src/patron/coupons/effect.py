"""A campaign's numbers from its records: issued, delivered, failed, redeemed, what redeeming orders
sold and earned, what the discount cost, ROI, and the uplift of its last run against its hold-out.

Sales and margin count the redeeming orders' lines in the campaign's currency (net amount less
quantity times unit cost); the uplift compares each targeted and each held-out account's spend
on confirmed orders in that currency from the run to the campaign's end (or today).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from patron.domain.coupons.effect import Group, roi, uplift
from patron.sales.models import Order, OrderLine

from .models import Campaign, CampaignRecipient, CampaignSend, Coupon, Redemption

ZERO = Decimal(0)
CENT = Decimal("0.01")  # sums of stored amounts, shown as money (SQLite hands them back with float tails)


def campaign_effect(campaign: Campaign, *, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    issued = Coupon.objects.filter(campaign=campaign).count()
    rows = CampaignRecipient.objects.filter(send__campaign=campaign)
    by_status = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    live = Redemption.objects.filter(campaign=campaign, reversed_at__isnull=True)
    redeemed_codes = live.values("coupon").distinct().count()
    cost = (live.aggregate(t=Sum("amount"))["t"] or ZERO).quantize(CENT)
    orders = Order.objects.filter(pk__in=live.values("order_id"), currency=campaign.currency)
    lines = OrderLine.objects.filter(order__in=orders)
    sales = (lines.aggregate(t=Sum("line_total"))["t"] or ZERO).quantize(CENT)
    costs = lines.aggregate(t=Sum(F("quantity") * Coalesce(F("product__unit_cost"), ZERO)))["t"] or ZERO
    margin = sales - Decimal(costs).quantize(CENT)
    return {
        "issued": issued,
        "delivered": by_status.get(CampaignRecipient.SENT, 0),
        "failed": by_status.get(CampaignRecipient.FAILED, 0),
        "waiting": by_status.get(CampaignRecipient.QUEUED, 0),
        "redeemed": redeemed_codes,
        "redemption_rate": (Decimal(redeemed_codes) / issued * 100).quantize(Decimal("0.1")) if issued else None,
        "orders": orders.count(),
        "sales": sales,
        "margin": margin,
        "cost": cost,
        "roi": roi(margin, cost),
        "uplift": run_uplift(campaign, now=now),
    }


def run_uplift(campaign: Campaign, *, now: dt.datetime) -> Any:
    """The last run with a hold-out: each group's spend per account from the run on."""
    run = CampaignSend.objects.filter(campaign=campaign, held_out__gt=0).order_by("-created_at", "-id").first()
    if run is None:
        return None
    end = min(now, campaign.ends_at) if campaign.ends_at else now
    start_day, end_day = timezone.localtime(run.created_at).date(), timezone.localtime(end).date()
    members = dict(
        CampaignRecipient.objects.filter(send=run)
        .values_list("account_id", "status")
        .order_by("account_id", "status")
        .distinct()
    )
    spent = dict(
        Order.objects.filter(
            account_id__in=list(members),
            status=Order.CONFIRMED,
            currency=campaign.currency,
            order_date__gte=start_day,
            order_date__lte=end_day,
        )
        .values_list("account_id")
        .annotate(t=Sum("net_total"))
        .order_by()
    )
    treated = [spent.get(a, ZERO) for a, s in members.items() if s != CampaignRecipient.HELD_OUT]
    held = [spent.get(a, ZERO) for a, s in members.items() if s == CampaignRecipient.HELD_OUT]
    return uplift(Group.of(treated), Group.of(held))
