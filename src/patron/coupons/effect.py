"""A campaign's numbers from its records: issued, delivered, failed, redeemed, what redeeming orders
sold and earned, what the discount cost, ROI, and the uplift of its last run against its hold-out.

Sales and margin count the redeeming orders' lines in the campaign's currency (net amount, after the
coupon, less quantity times unit cost); ROI is what that margin is worth per unit of discount given
(the margin before the discount, less the discount, over the discount). The uplift compares every
account that got a code with every one held out, over all runs, by their spend on confirmed orders
in that currency from the first run to the campaign's end (or today).
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
        "roi": roi(margin + cost, cost),  # the orders' margin net of the discount, so before it: + cost
        "uplift": run_uplift(campaign, now=now),
    }


def run_uplift(campaign: Campaign, *, now: dt.datetime) -> Any:
    """Every run's accounts together: those that got a code against those held out (an account held out in
    one run and given a code in another counts as given), each one's spend from the first run on."""
    runs = CampaignSend.objects.filter(campaign=campaign).exclude(status=CampaignSend.SCHEDULED)
    first = runs.order_by("created_at", "id").first()
    if first is None or not runs.filter(held_out__gt=0).exists():
        return None
    end = min(now, campaign.ends_at) if campaign.ends_at else now
    start_day, end_day = timezone.localtime(first.created_at).date(), timezone.localtime(end).date()
    members: dict[int, bool] = {}  # account -> got a code
    for account_id, status in (
        CampaignRecipient.objects.filter(send__in=runs).values_list("account_id", "status").distinct().order_by()
    ):
        members[account_id] = members.get(account_id, False) or status != CampaignRecipient.HELD_OUT
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
    treated = [spent.get(a, ZERO) for a, given in members.items() if given]
    held = [spent.get(a, ZERO) for a, given in members.items() if not given]
    return uplift(Group.of(treated), Group.of(held))


def over_time(campaign: Campaign, *, now: dt.datetime | None = None, max_points: int = 26) -> dict[str, Any]:
    """Per week from the campaign's start (per month past ``max_points`` weeks): codes issued, codes redeemed,
    the discount they gave and what the redeeming orders sold."""
    now = now or timezone.now()
    first = timezone.localtime(campaign.starts_at).date()
    last = timezone.localtime(min(now, campaign.ends_at) if campaign.ends_at else now).date()
    if last < first:
        return {"labels": [], "issued": [], "redeemed": [], "cost": [], "sales": []}
    weekly = (last - first).days // 7 + 1 <= max_points

    def bucket(day: dt.date) -> dt.date:
        if weekly:
            return day - dt.timedelta(days=day.weekday())
        return day.replace(day=1)

    starts: list[dt.date] = []
    day = bucket(first)
    while day <= last:
        starts.append(day)
        day = day + dt.timedelta(days=7) if weekly else (day + dt.timedelta(days=32)).replace(day=1)
    index = {d: i for i, d in enumerate(starts)}
    issued = [0] * len(starts)
    redeemed = [0] * len(starts)
    cost = [ZERO] * len(starts)
    sales = [ZERO] * len(starts)
    for when in Coupon.objects.filter(campaign=campaign).values_list("issued_at", flat=True).iterator():
        i = index.get(bucket(timezone.localtime(when).date()))
        if i is not None:
            issued[i] += 1
    live = Redemption.objects.filter(campaign=campaign, reversed_at__isnull=True)
    for when, amount, total in live.values_list("redeemed_at", "amount", "order__net_total").iterator():
        i = index.get(bucket(timezone.localtime(when).date()))
        if i is not None:
            redeemed[i] += 1
            cost[i] += Decimal(amount)
            sales[i] += Decimal(total or 0)
    return {
        "labels": [d.isoformat() for d in starts],
        "weekly": weekly,
        "issued": issued,
        "redeemed": redeemed,
        "cost": [c.quantize(CENT) for c in cost],
        "sales": [s.quantize(CENT) for s in sales],
    }


def by_kind() -> list[dict[str, Any]]:
    """Every campaign kind's totals, in each campaign's currency: campaigns, codes issued, messages delivered
    and failed, codes redeemed, the discount given, what the redeeming orders sold and earned, ROI."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, currency, n in (
        Campaign.objects.filter(internal=False).values_list("kind", "currency").annotate(n=Count("id")).order_by()
    ):
        out[(kind, currency)] = {"kind": kind, "currency": currency, "campaigns": n, "issued": 0, "redeemed": 0}
        out[(kind, currency)].update(cost=ZERO, sales=ZERO)
    issued = Coupon.objects.filter(campaign__internal=False).values_list("campaign__kind", "campaign__currency")
    for kind, currency, n in issued.annotate(n=Count("id")).order_by():
        out[(kind, currency)]["issued"] = n
    live = Redemption.objects.filter(campaign__internal=False, reversed_at__isnull=True)
    for kind, currency, n, cost, sales in (
        live.values_list("campaign__kind", "campaign__currency")
        .annotate(n=Count("coupon", distinct=True), cost=Sum("amount"), sales=Sum("order__net_total"))
        .order_by()
    ):
        row = out[(kind, currency)]
        row.update(redeemed=n, cost=Decimal(cost or 0).quantize(CENT), sales=Decimal(sales or 0).quantize(CENT))
    rows = CampaignRecipient.objects.filter(send__campaign__internal=False, status__in=["sent", "failed"])
    for kind, currency, status, n in (
        rows.values_list("send__campaign__kind", "send__campaign__currency", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        out[(kind, currency)]["delivered" if status == "sent" else "failed"] = n
    for (kind, currency), row in out.items():
        orders = Order.objects.filter(
            pk__in=live.filter(campaign__kind=kind, campaign__currency=currency).values("order_id"), currency=currency
        )
        lines = OrderLine.objects.filter(order__in=orders)
        sales = Decimal(lines.aggregate(t=Sum("line_total"))["t"] or 0).quantize(CENT)
        costs = lines.aggregate(t=Sum(F("quantity") * Coalesce(F("product__unit_cost"), ZERO)))["t"] or ZERO
        row["margin"] = sales - Decimal(costs).quantize(CENT)
        row["roi"] = roi(row["margin"] + row["cost"], row["cost"])
        row.setdefault("delivered", 0)
        row.setdefault("failed", 0)
        row["rate"] = (
            (Decimal(row["redeemed"]) / row["issued"] * 100).quantize(Decimal("0.1")) if row["issued"] else None
        )
    return sorted(out.values(), key=lambda r: (r["kind"], r["currency"]))
