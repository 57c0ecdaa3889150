"""Demo coupon campaigns, so a first run shows a dashboard with a hold-out, redemptions and a draft."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from patron.sales import services as sales
from patron.sales.models import Product
from patron.staff.models import User

from . import delivery, services
from .models import Campaign, Coupon


def install_demo_campaigns(today: dt.date) -> list[Campaign]:
    """Once: a second call finds campaigns there and does nothing."""
    if Campaign.objects.filter(internal=False).exists():
        return []
    admin = User.objects.filter(role="admin").order_by("id").first()
    if admin is None:
        return []
    start = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=20), dt.time(9)))
    spring = services.campaign_create(
        actor=admin,
        data={
            "name": "Spring tea: 10% off",
            "customer_text": "The new harvest is in: 10% off your next order of tea.",
            "prefix": "SPR",
            "starts_at": start,
            "ends_at": start + dt.timedelta(days=60),
            "terms": {
                "kind": "percent_off",
                "benefit": {"kind": "percent_off", "percent": "10"},
                "min_spend": "200",
                "valid_days": 45,
                "uses_per_account": 1,
                "budget": "50000",
            },
        },
    )
    spring = services.campaign_set_status(actor=admin, campaign=spring, status=Campaign.ACTIVE)
    delivery.campaign_run(actor=admin, campaign=spring, target={}, holdout_percent=10)
    product = Product.objects.filter(active=True, list_price__gte=80).order_by("list_price").first()
    for coupon in Coupon.objects.filter(campaign=spring).select_related("account").order_by("id")[:25]:
        account = coupon.account
        if product is None or account is None or account.merged_into_id is not None:
            continue
        try:
            sales.order_create(
                actor=admin,
                account=account,
                lines=[sales.LineInput(product=product, quantity="3")],
                coupons=[coupon.code],
                confirm=True,
            )
        except Exception:  # noqa: S112 - a demo order the rules refuse is simply left out
            continue
    draft = services.campaign_create(
        actor=admin,
        data={
            "name": "Spend 500, save 50",
            "prefix": "SAVE",
            "starts_at": start + dt.timedelta(days=30),
            "terms": {"kind": "spend_save", "benefit": {"kind": "spend_save", "spend": "500", "save": "50"}},
        },
    )
    birthday = services.campaign_create(
        actor=admin,
        data={
            "name": "Happy birthday: 50 off",
            "customer_text": "Happy birthday from all of us: 50 off an order of 300 or more this month.",
            "prefix": "BDAY",
            "starts_at": start,
            "auto_issue": True,
            "holdout_percent": 10,
            "terms": {
                "kind": "birthday",
                "benefit": {"kind": "cart_amount_off", "amount": "50"},
                "min_spend": "300",
                "valid_days": 30,
                "uses_per_account": 1,
            },
        },
    )
    birthday = services.campaign_set_status(actor=admin, campaign=birthday, status=Campaign.ACTIVE)
    from .automatic import auto_issue

    auto_issue(today)
    points = services.campaign_create(
        actor=admin,
        data={
            "name": "500 points for 30 off",
            "prefix": "PTS",
            "starts_at": start,
            "terms": {
                "kind": "points_exchange",
                "benefit": {"kind": "cart_amount_off", "amount": "30"},
                "points": "500",
                "valid_days": 90,
            },
        },
    )
    points = services.campaign_set_status(actor=admin, campaign=points, status=Campaign.ACTIVE)
    gift = None
    if product is not None:
        gift = services.campaign_create(
            actor=admin,
            data={
                "name": "A free gift with the new season",
                "starts_at": start,
                "ends_at": start + dt.timedelta(days=40),
                "terms": {
                    "kind": "gift",
                    "benefit": {"kind": "gift", "free": 1},
                    "what": {"products": [product.pk]},
                    "uses_per_account": 1,
                },
            },
        )
        gift = services.campaign_set_status(actor=admin, campaign=gift, status=Campaign.ACTIVE)
        services.shared_code_create(actor=admin, campaign=gift, code="SEASON2026")
    return [c for c in (spring, draft, birthday, points, gift) if c is not None]
